# bankrec: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
BOOTSTRAP := .cache/bootstrap
UV := $(BOOTSTRAP)/bin/uv
UV_VERSION := 0.13.9
KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:9092
export KAFKA_BOOTSTRAP_SERVERS

.PHONY: help install kafka postgres stack stop demo test test-unit lint schemas docs kcat bench-parse \
	bench-ledger bench-match bench-match-quality deploy-check bench-reconcile soak \
	bench-reconcile-consume bench-match-consume

help:
	@echo "make demo   - install, start Kafka, run the four services on a sample statement, print the report"
	@echo "make test   - install, start PostgreSQL (Kafka starts per test session), lint, run every test"
	@echo "make stop   - stop the local Kafka broker and PostgreSQL"

$(UV):
	@$(PYTHON) -m venv $(BOOTSTRAP)
	@$(BOOTSTRAP)/bin/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

# The Python environment: every workspace package plus the dev tools, exactly as locked.
install: $(UV)
	@$(UV) sync --all-packages --locked --quiet

kafka:
	@bash deploy/local/kafka.sh start

postgres:
	@bash deploy/local/postgres.sh start

stack: kafka postgres

stop:
	@bash deploy/local/kafka.sh stop
	@bash deploy/local/postgres.sh stop

demo: install kafka
	@$(UV) run --all-packages --locked bankrec-demo

lint: install audit
	@$(UV) run --locked ruff check .
	@$(UV) run --locked ruff format --check contracts libs services tests conftest.py
	@$(UV) run --locked mypy

# Known vulnerabilities in the locked dependencies: pip-audit over uv.lock exported with its
# hashes (every workspace package's dependencies and the dev tools; nothing is resolved, built
# or installed). A vulnerability, or a package the service cannot audit, fails (exit 1). When
# the advisory service (PyPI's JSON API, /pypi/<name>/<version>/json) cannot be reached, no
# package is audited: a warning says so and the target passes, so an offline machine can
# still lint; AUDIT_REQUIRED=1 makes that an error (exit 2) for a CI that must audit.
AUDIT_REQUIRED ?= 0
.PHONY: audit
audit: install
	@requirements=$$(mktemp); report=$$(mktemp); trap 'rm -f "$$requirements" "$$report"' EXIT; \
	started=$$(date +%s); \
	$(UV) export --frozen --all-packages --all-groups --no-emit-workspace --format requirements-txt \
		--output-file "$$requirements" --quiet; \
	status=0; $(UV) run --locked pip-audit --requirement "$$requirements" --disable-pip \
		--require-hashes --progress-spinner off --format json --output "$$report" >/dev/null \
		|| status=$$?; \
	$(UV) run --locked python -c "$$AUDIT_VERDICT" "$$report" "$$status" "$(AUDIT_REQUIRED)" \
		"$$(( $$(date +%s) - started ))"

# pip-audit says "No known vulnerabilities found" also when it could audit nothing (every
# package skipped): the verdict is taken from its JSON report instead.
define AUDIT_VERDICT
import json, sys
report, status, required, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
try:
    with open(report) as found:
        packages = json.load(found)["dependencies"]
except (OSError, ValueError, KeyError):
    packages = []
if not packages or all("skip_reason" in p for p in packages):
    reason = packages[0]["skip_reason"] if packages else f"pip-audit exited with {status}"
    print(
        "WARNING: make audit audited nothing: the vulnerability service (PyPI's JSON API) "
        f"cannot be reached from here ({reason}). Run it where https://pypi.org is reachable; "
        "AUDIT_REQUIRED=1 makes this an error.",
        file=sys.stderr,
    )
    sys.exit(2 if required else 0)
skipped = [p for p in packages if "skip_reason" in p]
vulnerable = [(p, v) for p in packages for v in p.get("vulns", [])]
for p, v in vulnerable:
    fixed = ", ".join(v["fix_versions"]) or "no fixed release yet"
    print(f"{p['name']} {p['version']}: {v['id']} (fixed in {fixed})")
for p in skipped:
    print(f"not audited: {p['skip_reason']}")
print(
    f"audit: {len(packages) - len(skipped)} of {len(packages)} locked packages audited, "
    f"{len(vulnerable)} known vulnerabilities, {seconds} s"
)
sys.exit(1 if vulnerable or skipped else 0)
endef
export AUDIT_VERDICT

schemas: install
	@$(UV) run --locked bankrec-contracts export-schemas --out contracts/schemas

# Every service's OpenAPI and AsyncAPI documents, as served, into docs/api/ (committed; a test
# fails when they are stale). Builds each app without starting it: needs no broker or database.
docs: install
	@$(UV) run --all-packages --locked python -m bankrec.devstack.api_documents export --out docs/api

# KAFKA_BOOTSTRAP_SERVERS is not passed to pytest unless the caller set it: without it the
# test session starts its own broker on free ports, so it never clashes with a demo broker.
# kcat is the outside Kafka client the tests read every topic with (Debian package).
kcat:
	@command -v kcat >/dev/null || { apt-get update -qq && apt-get install -y -qq kcat >/dev/null; } \
		|| echo "could not install kcat; its test will be skipped"

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; no browser download).
.PHONY: browser
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; } \
		|| echo "could not install chromium; the dashboard's browser test will be skipped"

test: install postgres kcat browser
	@bash deploy/local/kafka.sh fetch
	@$(MAKE) --no-print-directory lint
	@env -u KAFKA_BOOTSTRAP_SERVERS $(if $(filter command line environment,$(origin KAFKA_BOOTSTRAP_SERVERS)),KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_BOOTSTRAP_SERVERS),) \
		$(UV) run --locked pytest

test-unit: install
	@$(UV) run --locked pytest -m "not integration"

# The Dockerfiles, the compose file and the Kubernetes manifests cannot run here (no Docker
# engine, no cluster): the consistency test always runs (topics, settings, consumer groups,
# ports against the code), then each validator that is installed (deploy/k8s/validate.sh says
# how to install them and skips an absent one with a message).
deploy-check: install
	@$(UV) run --locked pytest tests/deploy -q -p no:randomly
	@bash deploy/k8s/validate.sh

# Parse speed and memory of ingest's streaming camt.053 reader on generated 10 MB and 200 MB
# files, as ratios to bare lxml iterparse in the same run; figures in var/bench/parse.json.
bench-parse: install
	@$(UV) run --locked python services/ingest/bench/parse_bench.py

# Match decisions applied per second by the ledger on PostgreSQL, against SQLAlchemy Core
# inserts of the same rows in the same run; figures in var/bench/ledger.json.
bench-ledger: install postgres
	@$(UV) run --locked python services/ledger/bench/apply_bench.py

# Matching quality on a generated statement with ground truth (10,000 lines, seed 1): the
# engine beside an exact-amount baseline, per scenario; figures in var/bench/match-quality.json.
bench-match-quality: install
	@$(UV) run --locked bankrec-matcher quality --lines 10000 --seed 1 --json var/bench/match-quality.json

# Matching speed offline: 20,000 lines through the engine against 1,000,000 open items, beside
# a naive scan of every item per line (on a sample); figures in var/bench/match.json.
bench-match: install
	@$(UV) run --locked python services/matcher/bench/match_bench.py

# Recomputing a 10,000-line period's difference after one new decision: the running sums
# (incremental) beside a full recount of the same period; figures in var/bench/reconcile.json.
bench-reconcile: install
	@$(UV) run --locked python services/reconciler/bench/recompute_bench.py

# The reconciler consuming lines, decisions and postings on PostgreSQL (1,000 and 10,000 lines,
# 1 and 10 accounts), one message and a batch per transaction, beside plain Core inserts of the
# inbox row + one row per message; figures in var/bench/reconcile-consume.json.
bench-reconcile-consume: install postgres
	@$(UV) run --locked python services/reconciler/bench/consume_bench.py

# The matcher deciding 5,000 generated lines from Kafka on PostgreSQL (topics and databases of
# its own on the local broker), a batch of 200 lines per transaction beside one line per
# transaction, decisions published by the outbox relay; figures in var/bench/match-consume.json.
bench-match-consume: install postgres kafka
	@$(UV) run --locked python services/matcher/bench/consume_bench.py

# End to end on a broker of its own (free ports) and fresh PostgreSQL databases: a 100,000-line
# statement from upload to applied decisions beside a raw aiokafka hop, webhook-to-posting
# latency at 100 lines/s, the per-stage benches above, peak memory per service. Prints one
# table; figures in var/bench/e2e.json, plot in docs/bench.png. BENCH_ARGS="--lines 5000" for
# a quick run (`python -m bankrec.devstack.bench --help` lists the options).
.PHONY: bench
bench: install postgres
	@bash deploy/local/kafka.sh fetch
	@$(UV) run --all-packages --locked python -m bankrec.devstack.bench $(BENCH_ARGS)

# A bounded soak: the four services as processes on a broker of their own and fresh PostgreSQL
# databases, signed webhooks at a fixed rate on loopback; RSS per service and consumer lag are
# sampled, figures in var/soak/soak.json. Defaults (tests/soak/soak.py): 10 min at 2 webhooks/s;
# `make soak SOAK_ARGS="--minutes 3 --rate 5"` to change them.
SOAK_ARGS ?=
soak: install postgres
	@bash deploy/local/kafka.sh fetch
	@$(UV) run --all-packages --locked python tests/soak/soak.py $(SOAK_ARGS)

# The long fault run (tests/fault): FAULT_LINES statement lines uploaded over FAULT_LOAD_SECONDS
# while every service is killed with SIGKILL FAULT_KILLS times and the broker and PostgreSQL
# restart, on a private broker and cluster (never the shared ones); then the audit and the
# figures. The same FAULT_SEED gives the same schedule.
FAULT_SEED ?= 1
FAULT_LINES ?= 20000
FAULT_KILLS ?= 5
FAULT_RESTARTS ?= 2
FAULT_LOAD_SECONDS ?= 900
FAULT_SETTLE_SECONDS ?= 1800
.PHONY: fault
fault: install postgres
	@bash deploy/local/kafka.sh fetch
	@BANKREC_FAULT_SEED=$(FAULT_SEED) BANKREC_FAULT_LINES=$(FAULT_LINES) \
		BANKREC_FAULT_KILLS_PER_SERVICE=$(FAULT_KILLS) BANKREC_FAULT_BROKER_RESTARTS=$(FAULT_RESTARTS) \
		BANKREC_FAULT_DATABASE_RESTARTS=$(FAULT_RESTARTS) BANKREC_FAULT_LOAD_SECONDS=$(FAULT_LOAD_SECONDS) \
		BANKREC_FAULT_SETTLE_SECONDS=$(FAULT_SETTLE_SECONDS) \
		$(UV) run --locked pytest tests/fault -q -p no:randomly -s -m fault
