"""``make bench``: bankrec end to end on a broker of its own, each figure beside its baseline.

    make bench
    uv run python -m bankrec.devstack.bench [--lines 100000] [--rate 100] [--probes 60]
        [--profile DIR] [--skip-stages]

It starts what it needs: a Kafka broker on free ports (deploy/local/kafka.sh, so a shared
broker's load does not pollute the figures), PostgreSQL through deploy/local/postgres.sh with a
fresh database per service, and the four services as processes. Then, in one run:

- **end-to-end bulk**: the matcher's quality generator makes a tenant (``--lines`` statement
  lines, seeded, with the open items they pay plus the generator's decoys); the items go into
  the ledger through its CSV import, the statement (camt.053) is uploaded to ingest, and the
  clock runs from the upload until the ledger has applied every decision (read from the
  postings and refused-decisions topics). Baseline: raw aiokafka producing and consuming the
  same number of messages of the same size (the mean statement-line message) through one hop
  on the same broker, keyed like the lines (one account: one partition);
- **latency**: once every service has worked off the bulk run's backlog (each under a tenth
  of a core over two seconds, waited for up to ten minutes), single-line webhooks (one every
  1/``--probe-rate`` s) while background webhooks
  bring ``--rate`` lines/s; from the webhook call to the arrival of the line's posting
  (matched by the file's SHA-256, the envelopes' correlation id). Baseline: a raw
  produce-to-consume hop at the same rate;
- **matcher through Kafka**: with ingest, ledger and reconciler stopped, lines published
  straight onto the statement-lines topic; lines/s until their decisions are on the
  decisions topic. Baseline: the raw hop above;
- **stages**: the per-stage benches, run as they are (``services/*/bench``) at a smaller size:
  parse (ingest) vs bare lxml iterparse, match (offline) vs a naive scan, apply (ledger) vs
  SQLAlchemy Core inserts;
- **peak RSS** of every service process (``VmHWM``).

Prints one table with ok/below against the issue's targets (bulk >= 10,000 lines/s and >=
0.25x the raw hop; p99 <= 50 ms at 100 lines/s), writes ``var/bench/e2e.json`` and plots
``docs/bench.png``. ``--profile DIR`` runs each service under pyinstrument and writes its
text profile there. A command, not a test: it never fails on a figure. The machine's load
average is recorded with the figures: on a shared machine they are low by that much.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bankrec.contracts import DECISIONS, POSTINGS, REFUSED_DECISIONS, STATEMENT_LINES
from bankrec.devstack.processes import (
    SERVICE_NAMES,
    ServiceProcess,
    StackConfig,
    free_port,
)
from bankrec.devstack.topics import json_object, topic_end_offsets

REPO_ROOT = Path(__file__).resolve().parents[5]
JSON_OUT = REPO_ROOT / "var" / "bench" / "e2e.json"
PLOT_OUT = REPO_ROOT / "docs" / "bench.png"

# The acceptance targets.
BULK_LINES_PER_S_MIN = 10_000.0
BULK_TO_RAW_MIN = 0.25
P99_MS_MAX = 50.0
LATENCY_RATE = 100.0  # the background rate the p99 target is stated at

# The services' producer guarantees, which the raw baseline keeps too (a fair hop).
RAW_PRODUCER_OPTIONS: dict[str, Any] = {"acks": "all", "enable_idempotence": True}
CSV_CHUNK_ITEMS = 20_000  # the ledger's import takes at most 20 MB per request by default
READY_TIMEOUT_SECONDS = 900.0
BACKGROUND_FILE_LINES = 50  # ten files of ten lines a second overran ingest's connection pool
PROBE_WAIT_SECONDS = 600.0  # a probe not posted by then counts as missing (and fails p99)


class BenchError(RuntimeError):
    """The benchmark could not run (a service, the broker or the database failed)."""


# ------------------------------------------------------------------------ pure figures


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the two nearest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(milliseconds),
        "p50_ms": round(percentile(milliseconds, 50), 2),
        "p95_ms": round(percentile(milliseconds, 95), 2),
        "p99_ms": round(percentile(milliseconds, 99), 2),
        "max_ms": round(max(milliseconds), 2) if milliseconds else math.nan,
    }


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure beside its baseline, and the target if there is one."""

    measure: str
    value: float
    baseline: float
    unit: str
    baseline_name: str
    target: str = ""
    met: bool | None = None  # None: no target

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("ok" if self.met else "below")


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "ms":
        return f"{value:,.1f} ms"
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def _ratio(value: float) -> str:
    """Two decimals, or two significant digits for a ratio too small to show in two."""
    if math.isnan(value):
        return "-"
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.2g}x"


def table(rows: Sequence[Row], rss_mb: dict[str, float]) -> str:
    """The one table ``make bench`` prints."""
    header = ("measure", "bankrec", "baseline", "baseline is", "ratio", "target", "")
    cells = [header] + [
        (
            row.measure,
            _number(row.value, row.unit),
            _number(row.baseline, row.unit),
            row.baseline_name,
            _ratio(row.ratio),
            row.target,
            row.verdict,
        )
        for row in rows
    ]
    cells += [
        (f"peak RSS {name}", f"{mb:,.0f} MB", "", "", "", "", "") for name, mb in rss_mb.items()
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for number, row in enumerate(cells):
        lines.append(
            "  ".join(
                cell.ljust(width) if i in (0, 3, 5) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def rows_from(figures: dict[str, Any]) -> list[Row]:
    """The table's rows from the figures (the JSON written), with the targets checked."""
    rows: list[Row] = []
    bulk = figures.get("bulk")
    if bulk:
        rate, raw = bulk["lines_per_s"], bulk["raw_hop_lines_per_s"]
        rows.append(
            Row(
                f"end-to-end bulk, {bulk['lines']:,} lines",
                rate,
                raw,
                "lines/s",
                "raw aiokafka hop",
                f">= {BULK_LINES_PER_S_MIN:,.0f}/s, >= {BULK_TO_RAW_MIN}x",
                rate >= BULK_LINES_PER_S_MIN and rate / raw >= BULK_TO_RAW_MIN,
            )
        )
    latency = figures.get("latency")
    if latency:
        at_target_rate = latency["rate_lines_per_s"] >= LATENCY_RATE
        all_posted = latency.get("probes_posted", 0) >= latency.get("probes", 0)
        for name in ("p50", "p95", "p99"):
            value = latency["webhook_to_posting"][f"{name}_ms"]
            target = f"<= {P99_MS_MAX:.0f} ms" if name == "p99" else ""
            rows.append(
                Row(
                    f"latency {name} at {latency['rate_lines_per_s']:.0f} lines/s",
                    value,
                    latency["raw_hop"][f"{name}_ms"],
                    "ms",
                    "raw produce->consume",
                    target,
                    (value <= P99_MS_MAX and at_target_rate and all_posted)
                    if name == "p99"
                    else None,
                )
            )
    matcher = figures.get("matcher_on_kafka")
    if matcher:
        rows.append(
            Row(
                f"match on Kafka, {matcher['lines']:,} lines",
                matcher["lines_per_s"],
                matcher["raw_hop_lines_per_s"],
                "lines/s",
                "raw aiokafka hop",
            )
        )
    stages = figures.get("stages", {})
    if "parse" in stages:
        parse = stages["parse"]
        rows.append(
            Row(
                f"parse (ingest), {parse['size_mb']:.0f} MB",
                parse["parser_mb_per_s"],
                parse["baseline_mb_per_s"],
                "MB/s",
                "bare lxml iterparse",
            )
        )
    if "match" in stages:
        match = stages["match"]
        rows.append(
            Row(
                f"match offline, {match['open_items']:,} items",
                match["lines_per_s"],
                match["naive_lines_per_s"],
                "lines/s",
                "naive scan",
            )
        )
    if "apply" in stages:
        apply = stages["apply"]
        rows.append(
            Row(
                f"apply (ledger), {apply['decisions']:,} decisions, 200 a transaction",
                apply["batched_decisions_per_s"],
                apply["core_batched_decisions_per_s"],
                "decisions/s",
                "SQLAlchemy Core, same rows",
            )
        )
    return rows


def plot(figures: dict[str, Any], path: Path) -> None:
    """Throughput (log scale, bankrec beside its baseline) and latency percentiles as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    rows = [row for row in rows_from(figures) if not row.measure.startswith("latency")]
    latency = figures.get("latency")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(3, 2))
    positions = range(len(rows))
    left.bar([p - 0.2 for p in positions], [r.value for r in rows], 0.4, label="bankrec")
    left.bar([p + 0.2 for p in positions], [r.baseline for r in rows], 0.4, label="baseline")
    left.set_xticks(
        list(positions), [f"{r.measure}\n({r.unit})" for r in rows], fontsize=7, rotation=15
    )
    left.set_yscale("log")
    left.set_title("throughput (each against its baseline)")
    left.legend()
    if latency:
        names = ("p50", "p95", "p99")
        ours = [latency["webhook_to_posting"][f"{n}_ms"] for n in names]
        raw = [latency["raw_hop"][f"{n}_ms"] for n in names]
        spots = range(len(names))
        right.bar([p - 0.2 for p in spots], ours, 0.4, label="webhook -> posting")
        right.bar([p + 0.2 for p in spots], raw, 0.4, label="raw produce -> consume")
        right.axhline(P99_MS_MAX, color="red", linestyle="--", label=f"p99 target {P99_MS_MAX} ms")
        right.set_xticks(list(spots), list(names))
        right.set_yscale("log")
        right.set_ylabel("ms")
        right.set_title(f"latency at {latency['rate_lines_per_s']:.0f} lines/s")
        right.legend(fontsize=8)
    load = figures.get("machine", {}).get("load_average_start", [math.nan])[0]
    fig.suptitle(
        f"bankrec make bench, {figures.get('date', '')}, "
        f"{figures.get('machine', {}).get('cpus', '?')} CPUs, load {load:.1f} at start"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -------------------------------------------------------------------- generated files


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature ingest checks: HMAC-SHA256 over ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def small_statement(run: str, number: int, lines: int, iban: str) -> bytes:
    """A camt.053 with ``lines`` entries no open item pays (each becomes a suspense posting);
    bank references unique per ``run`` and ``number``, balances that add up."""
    entries = []
    total = Decimal(0)
    for position in range(lines):
        amount = Decimal(f"{(number * 7 + position) % 9000 + 100}.{position % 100:02d}")
        total += amount
        entries.append(
            f'<Ntry><Amt Ccy="NOK">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            "<BookgDt><Dt>2026-11-20</Dt></BookgDt><ValDt><Dt>2026-11-20</Dt></ValDt>"
            f"<AcctSvcrRef>{run}-{number}-{position}</AcctSvcrRef>"
            "<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>BENCH PAYER</Nm></Dbtr></RltdPties>"
            f"<RmtInf><Ustrd>bench {run} {number} {position}</Ustrd></RmtInf></TxDtls>"
            "</NtryDtls></Ntry>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{run}-{number}</MsgId><CreDtTm>2026-11-20T23:00:00+00:00</CreDtTm>"
        f"</GrpHdr><Stmt><Id>{run}-{number}</Id><CreDtTm>2026-11-20T23:00:00+00:00</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>NOK</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="NOK">0.00</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="NOK">{total}</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()


# ------------------------------------------------------------------ infrastructure


@dataclass
class BenchService(ServiceProcess):
    """A service process with the bench's limits, optionally under pyinstrument."""

    profile_dir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {**super().environment(), **self.extra_env}

    def start(self) -> None:
        if self.profile_dir is None:
            super().start()
            return
        from bankrec.devstack.processes import _console_script

        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyinstrument",
                "--renderer",
                "pstats",  # read with pstats: sorted by own or cumulative time
                "--outfile",
                str(self.profile_dir / f"{self.name}.pstats"),
                _console_script(self.name),
                "serve",
            ],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def stop(self, timeout_seconds: float = 20.0) -> None:
        # uvicorn re-raises the signal it stopped on: SIGTERM would end the process before
        # pyinstrument writes its profile, SIGINT reaches it as KeyboardInterrupt
        running = self.process is not None and self.process.poll() is None
        if self.profile_dir is not None and self.process is not None and running:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_seconds)
        super().stop(timeout_seconds)

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (``VmHWM``), in MB."""
        if self.process is None:
            return math.nan
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
        return math.nan


@contextlib.contextmanager
def private_broker(root: Path) -> Iterator[str]:
    """A Kafka broker of our own on free ports (stopped and removed afterwards)."""
    from bankrec.devstack.private_infra import PrivateKafka

    broker = PrivateKafka(root)
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def postgres_admin_url() -> str:
    script = REPO_ROOT / "deploy" / "local" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], check=True, capture_output=True)
    done = subprocess.run(
        ["bash", str(script), "url", "bankrec_test"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@contextlib.contextmanager
def fresh_databases(admin_url: str, services: Sequence[str]) -> Iterator[dict[str, str]]:
    """A new PostgreSQL database per service, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    names = {name: f"bench_{name}_{uuid.uuid4().hex[:8]}" for name in services}

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=admin.host,
            port=admin.port or 5432,
            user=admin.username,
            password=admin.password,
            dbname=admin.database,
            autocommit=True,
        )

    with connect() as conn:
        for db in names.values():
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield {
            name: admin.set(database=db, drivername="postgresql+psycopg").render_as_string(
                hide_password=False
            )
            for name, db in names.items()
        }
    finally:
        with connect() as conn:
            for db in names.values():
                with contextlib.suppress(psycopg.Error):
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


# ----------------------------------------------------------------------- topic watching


@dataclass
class TenantTraffic:
    """What one tenant's messages on the watched topics came to, and when they arrived."""

    lines: dict[str, float] = field(default_factory=dict)  # line id -> arrival (wall clock)
    line_bytes: list[int] = field(default_factory=list)
    decided: dict[str, float] = field(default_factory=dict)  # line id -> last decision arrival
    decision_kinds: dict[str, str] = field(default_factory=dict)
    posts_nothing: set[str] = field(default_factory=set)  # lines whose decision posts nothing
    applied: dict[str, float] = field(default_factory=dict)  # line id -> posting or refusal
    by_correlation: dict[str, float] = field(default_factory=dict)  # file sha -> first posting
    # file sha -> the first line and the first decision of that file (where the time goes)
    lines_by_correlation: dict[str, float] = field(default_factory=dict)
    decided_by_correlation: dict[str, float] = field(default_factory=dict)
    last_arrival: float = 0.0


class TopicWatcher:
    """Reads the lines, decisions, postings and refused-decisions topics from their current
    ends and files each of the watched tenants' messages as it arrives."""

    TOPICS = (STATEMENT_LINES.name, DECISIONS.name, POSTINGS.name, REFUSED_DECISIONS.name)

    def __init__(self, bootstrap: str, tenants: Sequence[str]) -> None:
        self.bootstrap = bootstrap
        self.traffic = {tenant: TenantTraffic() for tenant in tenants}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> TopicWatcher:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 60)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=5,  # arrival times should not wait on a full fetch
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self.TOPICS
                for p in await topic_end_offsets(self.bootstrap, topic)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:  # resolve the end offsets now, before anything is sent
                await consumer.position(partition)
            self._ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                arrived = time.time()
                for part, records in batch.items():
                    for record in records:
                        self._file(part.topic, record.value, arrived)
        finally:
            await consumer.stop()

    def _file(self, topic: str, value: bytes | None, arrived: float) -> None:
        message = json_object(value)
        if message is None:
            return
        traffic = self.traffic.get(str(message.get("tenant_id")))
        if traffic is None:
            return
        payload = message.get("payload") or {}
        traffic.last_arrival = arrived
        correlation = str(message.get("correlation_id"))
        if topic == STATEMENT_LINES.name:
            traffic.lines[str(payload.get("line_id"))] = arrived
            traffic.lines_by_correlation.setdefault(correlation, arrived)
            traffic.line_bytes.append(len(value or b""))
        elif topic == DECISIONS.name:
            decided = str(payload.get("line_id"))
            traffic.decided[decided] = arrived
            traffic.decided_by_correlation.setdefault(correlation, arrived)
            traffic.decision_kinds[decided] = str(payload.get("kind"))
            if posts_nothing(payload):
                traffic.posts_nothing.add(decided)
            else:
                traffic.posts_nothing.discard(decided)
        else:
            applied = payload.get("statement_line_id") or payload.get("line_id")
            if applied:
                traffic.applied.setdefault(str(applied), arrived)
            traffic.by_correlation.setdefault(correlation, arrived)


# --------------------------------------------------------------------------- raw hops


async def _raw_topic(bootstrap: str, partitions: int) -> str:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    name = f"bench.raw-hop.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def raw_hop_bulk(bootstrap: str, count: int, size: int, key: bytes) -> dict[str, float]:
    """Raw aiokafka: ``count`` messages of ``size`` bytes produced (the services' producer
    guarantees and linger) and consumed back, one key like one account's lines."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from bankrec.runtime.kafka import producer_settings

    topic = await _raw_topic(bootstrap, STATEMENT_LINES.partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=producer_settings().linger_ms,
        **RAW_PRODUCER_OPTIONS,
    )
    await consumer.start()
    await producer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(STATEMENT_LINES.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        body = b"x" * size
        received = 0

        async def consume() -> None:
            nonlocal received
            while received < count:
                batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
                received += sum(len(records) for records in batch.values())

        started = time.perf_counter()
        reader = asyncio.create_task(consume())
        pending = []
        for _ in range(count):
            pending.append(await producer.send(topic, body, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        await asyncio.wait_for(reader, 600)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
        await consumer.stop()
    return {"messages": count, "bytes_each": size, "seconds": seconds, "per_s": count / seconds}


async def raw_hop_latency(
    bootstrap: str, rate: float, count: int, size: int, key: bytes
) -> list[float]:
    """Raw produce -> consume at ``rate`` messages/s; milliseconds from send to arrival."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from bankrec.runtime.kafka import producer_settings

    topic = await _raw_topic(bootstrap, STATEMENT_LINES.partitions)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        fetch_max_wait_ms=5,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=producer_settings().linger_ms,
        **RAW_PRODUCER_OPTIONS,
    )
    await consumer.start()
    await producer.start()
    sent: dict[bytes, float] = {}
    delays: list[float] = []
    try:
        parts = [TopicPartition(topic, p) for p in range(STATEMENT_LINES.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)

        async def consume() -> None:
            while len(delays) < count:
                batch = await consumer.getmany(timeout_ms=100)
                arrived = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        delays.append(1000 * (arrived - sent[record.value[:16]]))

        reader = asyncio.create_task(consume())
        started = time.perf_counter()
        for number in range(count):
            await asyncio.sleep(max(0.0, started + number / rate - time.perf_counter()))
            stamp = f"{number:016d}".encode()
            sent[stamp] = time.perf_counter()
            await producer.send(topic, stamp + b"x" * max(0, size - 16), key=key)
        await asyncio.wait_for(reader, 120)
    finally:
        await producer.stop()
        await consumer.stop()
    return delays


# ------------------------------------------------------------------------- the phases


class Tenant:
    """A tenant's calls to the services (async HTTP, the admin token issues its key)."""

    def __init__(self, config: StackConfig, http: httpx.AsyncClient, tenant_id: str) -> None:
        self.config, self.http, self.tenant_id = config, http, tenant_id
        self.api_key = ""
        self.webhook_secret = ""

    def url(self, service: str, path: str) -> str:
        return f"{self.config.base_url(service)}/v1/tenants/{self.tenant_id}{path}"

    async def register(self) -> None:
        admin = {"authorization": f"Bearer {self.config.admin_token}"}
        base = self.config.base_url("ingest")
        issued = await self.http.post(
            f"{base}/v1/admin/tenants/{self.tenant_id}/api-keys", headers=admin
        )
        issued.raise_for_status()
        self.api_key = issued.json()["api_key"]
        secret = await self.http.post(
            f"{base}/v1/admin/tenants/{self.tenant_id}/webhook-secret", headers=admin
        )
        secret.raise_for_status()
        self.webhook_secret = secret.json()["webhook_secret"]
        for service, path in (("ledger", "/status"), ("matcher", "/index")):
            await self._until_known(service, path)

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}

    async def _until_known(self, service: str, path: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = await self.http.get(self.url(service, path), headers=self.auth)
            if answer.status_code not in (401, 503):
                return
            await asyncio.sleep(0.2)
        raise BenchError(f"{service} did not learn the key of {self.tenant_id} within 60 s")

    async def import_open_items(self, csv_text: str) -> int:
        header, *rows = csv_text.splitlines(keepends=True)
        imported = 0
        for first in range(0, len(rows), CSV_CHUNK_ITEMS):
            answer = await self.http.post(
                self.url("ledger", "/open-items/import"),
                content="".join([header, *rows[first : first + CSV_CHUNK_ITEMS]]).encode(),
                headers={"content-type": "text/csv", **self.auth},
                timeout=600,
            )
            if answer.status_code >= 400:
                raise BenchError(f"ledger refused the open items: {answer.text[:500]}")
            result = answer.json()
            if result["errors"]:
                raise BenchError(f"open items with errors: {result['errors'][:3]}")
            imported += int(result["imported"])
        return imported

    async def wait_for_index(self, items: int) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            answer = await self.http.get(self.url("matcher", "/index"), headers=self.auth)
            if answer.status_code == 200 and answer.json()["open_items"] >= items:
                return
            await asyncio.sleep(1.0)
        raise BenchError(f"the matcher did not index {items} open items in time")

    async def upload(self, body: bytes) -> None:
        answer = await self.http.post(
            self.url("ingest", "/statements"),
            content=body,
            params={"filename": "bench.camt053.xml"},
            headers={"content-type": "application/octet-stream", **self.auth},
            timeout=1800,
        )
        if answer.status_code != 202:
            raise BenchError(f"ingest refused the statement: {answer.text[:500]}")

    async def webhook(self, body: bytes) -> None:
        moment = str(int(time.time()))
        answer = await self.http.post(
            f"{self.config.base_url('ingest')}/v1/webhooks/{self.tenant_id}/statements",
            content=body,
            headers={
                "x-bankrec-timestamp": moment,
                "x-bankrec-signature": signature(self.webhook_secret, moment, body),
            },
        )
        if answer.status_code != 202:
            raise BenchError(f"ingest refused a webhook: {answer.text[:300]}")


REGISTERED_ITEM_KINDS = frozenset({"payment", "journal"})


def posts_nothing(decision: dict[str, Any]) -> bool:
    """Whether the ledger applies the decision without a journal entry, so no posting will
    name its line (ledger README, posting math): a reversal pair, and a match or partial
    whose allocations take the whole line to payments or journal lines the books registered
    (they are on the bank GL account already), with no difference to post."""
    if decision.get("kind") == "reversal_pair":
        return True
    allocations = decision.get("allocations") or []
    if decision.get("kind") not in ("match", "partial") or not allocations:
        return False
    if decision.get("differences") or any(
        allocation.get("item_kind") not in REGISTERED_ITEM_KINDS for allocation in allocations
    ):
        return False
    allocated = sum(Decimal(str(allocation["amount"]["amount"])) for allocation in allocations)
    return allocated == Decimal(str(decision["amount"]["amount"]))


async def wait_applied(
    traffic: TenantTraffic, lines: int, timeout_seconds: float, quiet_seconds: float = 30.0
) -> dict[str, Any]:
    """Until the ledger applied (posted or refused) a decision for every line that posts;
    a run that stops moving for ``quiet_seconds`` after every line was decided ends too."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        waiting = [
            line
            for line in traffic.decision_kinds
            if line not in traffic.posts_nothing and line not in traffic.applied
        ]
        if len(traffic.decided) >= lines and not waiting:
            return {"complete": True, "lines_without_posting": 0}
        if len(traffic.decided) >= lines and time.time() - traffic.last_arrival > quiet_seconds:
            return {"complete": False, "lines_without_posting": len(waiting)}
        await asyncio.sleep(0.2)
    return {
        "complete": False,
        "lines_decided": len(traffic.decided),
        "lines_applied": len(traffic.applied),
    }


QUIET_CPU_SHARE = 0.10  # of one core, per service, over QUIET_WINDOW_SECONDS
QUIET_WINDOW_SECONDS = 2.0
QUIET_WAIT_SECONDS_MAX = 600.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_of_processes(services: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of each service process, of PostgreSQL's server processes (its
    backends that ended counted in their parent's children time), of the Kafka broker JVMs
    and of this bench process: where a line's CPU goes on a machine the stack shares."""
    ticks = os.sysconf("SC_CLK_TCK")
    sample = {"bench": sum(os.times()[:2])}
    for name, pid in services.items():
        with contextlib.suppress(OSError, ValueError, IndexError):
            sample[name] = cpu_seconds(pid)
    postgres = kafka = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            fields = _stat_fields(int(entry.name))
            comm = (entry / "comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        own = (int(fields[11]) + int(fields[12])) / ticks
        if comm == "postgres":
            postgres += own
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent = Path(f"/proc/{fields[1]}/comm").read_text().strip()
                if parent != "postgres":  # the postmaster: what its ended backends used
                    postgres += (int(fields[13]) + int(fields[14])) / ticks
        elif b"kafka.Kafka" in command:
            kafka += own
    sample["postgresql"] = postgres
    sample["kafka broker"] = kafka
    return sample


def cpu_ms_per_line(
    before: Mapping[str, float], after: Mapping[str, float], lines: int
) -> dict[str, float]:
    """Milliseconds of CPU per line each process used between two ``cpu_of_processes``
    samples, and their total."""
    per_line = {
        name: round((after[name] - before.get(name, after[name])) * 1000 / max(lines, 1), 2)
        for name in after
    }
    per_line["total"] = round(sum(per_line.values()), 2)
    return per_line


def cpu_per_line_text(per_line: Mapping[str, float]) -> str:
    """One line: each process's CPU per line, and the rate the machine's cores would allow at
    that total."""
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_line.items() if name != "total")
    total = per_line.get("total", 0.0)
    ceiling = (os.cpu_count() or 1) * 1000 / total if total > 0 else math.nan
    return (
        f"CPU ms per line: {parts}; total {total:.2f} "
        f"(all {os.cpu_count()} cores at that cost: {ceiling:,.0f} lines/s)"
    )


def busy(before: dict[str, float], after: dict[str, float], seconds: float) -> list[str]:
    """The services that used more than ``QUIET_CPU_SHARE`` of a core between two samples."""
    return sorted(
        name for name in after if (after[name] - before.get(name, 0.0)) / seconds > QUIET_CPU_SHARE
    )


async def until_quiet(services: Iterable[BenchService]) -> float:
    """Wait until no service uses more than ``QUIET_CPU_SHARE`` of a core over a window (its
    backlog is worked off); returns the seconds waited (bounded: a service still busy after
    ``QUIET_WAIT_SECONDS_MAX`` is left busy and the wait is reported)."""
    running = {s.name: s.process.pid for s in services if s.process and s.process.poll() is None}
    started = time.monotonic()
    while time.monotonic() - started < QUIET_WAIT_SECONDS_MAX:
        before = {name: cpu_seconds(pid) for name, pid in running.items()}
        await asyncio.sleep(QUIET_WINDOW_SECONDS)
        after = {name: cpu_seconds(pid) for name, pid in running.items()}
        if not busy(before, after, QUIET_WINDOW_SECONDS):
            break
    waited = time.monotonic() - started
    print(f"latency: the services were quiet after {waited:.0f} s", flush=True)
    return round(waited, 1)


async def _until(done: Callable[[], bool], seconds: float) -> bool:
    """Whether ``done()`` came true within ``seconds`` (checked five times a second)."""
    for _ in range(int(seconds * 5)):
        if done():
            return True
        await asyncio.sleep(0.2)
    return done()


def _span_rate(stamps: Sequence[float]) -> float:
    """Messages per second between the first and the last arrival."""
    if len(stamps) < 2:
        return math.nan
    return (len(stamps) - 1) / (max(stamps) - min(stamps))


async def bulk_phase(
    config: StackConfig,
    http: httpx.AsyncClient,
    lines: int,
    seed: int,
    cpu: Callable[[], dict[str, float]] = dict,
) -> dict[str, Any]:
    """``cpu``: a ``cpu_of_processes`` sample, taken at the upload and when the last decision
    is applied."""
    from bankrec.matcher.quality.camt_writer import statement_xml
    from bankrec.matcher.quality.generator import generate_case
    from bankrec.matcher.quality.open_item_csv import open_items_csv

    tenant = Tenant(config, http, f"bench-bulk-{uuid.uuid4().hex[:8]}")
    print(f"bulk: generating {lines:,} lines (seed {seed}) ...", flush=True)
    case = generate_case(lines, seed, tenant_id=tenant.tenant_id)
    statement = statement_xml(case)
    await tenant.register()
    print(f"bulk: importing {len(case.items):,} open items into the ledger ...", flush=True)
    imported = await tenant.import_open_items(open_items_csv(case.items))
    await tenant.wait_for_index(imported)
    async with TopicWatcher(config.kafka_bootstrap_servers, [tenant.tenant_id]) as watcher:
        traffic = watcher.traffic[tenant.tenant_id]
        print(f"bulk: uploading {len(statement) / 1e6:.0f} MB ...", flush=True)
        cpu_before = cpu()
        started = time.time()
        await tenant.upload(statement)
        uploaded = time.time()
        outcome = await wait_applied(traffic, lines, READY_TIMEOUT_SECONDS * 4)
        cpu_after = cpu()
        finished = max(traffic.applied.values(), default=time.time())
    seconds = finished - started
    return {
        "lines": lines,
        "open_items": imported,
        "statement_mb": round(len(statement) / 1e6, 1),
        "seconds": round(seconds, 2),
        "upload_answered_after_s": round(uploaded - started, 2),
        "lines_per_s": round(lines / seconds, 1),
        "lines_on_topic": len(traffic.lines),
        "lines_decided": len(traffic.decided),
        "lines_applied": len(traffic.applied),
        "decision_kinds": _count(traffic.decision_kinds.values()),
        "lines_whose_decision_posts_nothing": len(traffic.posts_nothing),
        "line_message_bytes_mean": round(statistics.fmean(traffic.line_bytes or [0])),
        # each stage's own pace: messages/s between its first and last output
        "stage_rates_per_s": {
            "ingest_lines_published": round(_span_rate(list(traffic.lines.values())), 1),
            "matcher_decisions": round(_span_rate(list(traffic.decided.values())), 1),
            "ledger_applied": round(_span_rate(list(traffic.applied.values())), 1),
        },
        "key": f"{tenant.tenant_id}:{case.account.account_id}",
        # from the upload until the last decision is applied (the reconciler goes on after)
        "cpu_ms_per_line": cpu_ms_per_line(cpu_before, cpu_after, lines),
        **outcome,
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


async def latency_phase(
    config: StackConfig, http: httpx.AsyncClient, rate: float, probes: int, probe_rate: float
) -> dict[str, Any]:
    """Single-line webhooks timed to their postings while background webhooks bring ``rate``
    lines/s (files of ``BACKGROUND_FILE_LINES`` lines: ingest's cost is per file as much as
    per line). Every call is sent on its own schedule, not after the previous answer, so a
    slow pipeline shows as latency, not as a lower rate; a refused call is counted."""
    tenant = Tenant(config, http, f"bench-latency-{uuid.uuid4().hex[:8]}")
    await tenant.register()
    run = uuid.uuid4().hex[:8]
    iban_probe, iban_background = "NO9386011117947", "NO8330001234567"
    sent: dict[str, float] = {}
    refused: list[str] = []
    in_flight: set[asyncio.Task[None]] = set()

    async def call(body: bytes) -> None:
        try:
            await tenant.webhook(body)
        except (BenchError, httpx.HTTPError) as exc:
            refused.append(str(exc)[:200])

    def send(body: bytes) -> None:
        in_flight.add(task := asyncio.create_task(call(body)))
        task.add_done_callback(in_flight.discard)

    per_file = max(1, min(BACKGROUND_FILE_LINES, round(rate)))
    warm_up, seconds = 5.0, probes / probe_rate
    files = round((warm_up + seconds) * rate / per_file)
    moments = sorted(
        [(number * per_file / rate, "background", number) for number in range(files)]
        + [(warm_up + number / probe_rate, "probe", number) for number in range(probes)]
    )
    async with TopicWatcher(config.kafka_bootstrap_servers, [tenant.tenant_id]) as watcher:
        traffic = watcher.traffic[tenant.tenant_id]
        started = time.perf_counter()
        for moment, kind, number in moments:
            await asyncio.sleep(max(0.0, started + moment - time.perf_counter()))
            if kind == "probe":
                body = small_statement(f"probe{run}", number, 1, iban_probe)
                sent[hashlib.sha256(body).hexdigest()] = time.time()
            else:
                body = small_statement(f"bg{run}", number, per_file, iban_background)
            send(body)
        paced_seconds = time.perf_counter() - started
        await asyncio.gather(*in_flight)
        # a backlog (the pipeline slower than the rate) drains before the last probes post
        await _until(lambda: all(s in traffic.by_correlation for s in sent), PROBE_WAIT_SECONDS)
    delays = [
        1000 * (traffic.by_correlation[sha] - moment)
        for sha, moment in sent.items()
        if sha in traffic.by_correlation
    ]
    return {
        "rate_lines_per_s": rate,
        "background_file_lines": per_file,
        "background_files": files,
        "paced_seconds": round(paced_seconds, 1),
        "probes": probes,
        "probes_posted": len(delays),
        "webhooks_refused": len(refused),
        "refusals": sorted(set(refused))[:5],
        "webhook_to_posting": latency_summary(delays),
        "by_stage": latency_by_stage(traffic, sent),
        "samples_ms": [round(d, 1) for d in delays],
    }


def latency_by_stage(traffic: TenantTraffic, sent: dict[str, float]) -> dict[str, Any]:
    """Where a probe's time went, from the watched topics' arrival times: the webhook call to
    its line on the lines topic (ingest), to its decision (matcher), to its posting (ledger).
    Only probes seen on all three topics count (a posting-less decision has no third stage)."""
    stages: dict[str, list[float]] = {"ingest": [], "matcher": [], "ledger": []}
    for sha, moment in sent.items():
        line = traffic.lines_by_correlation.get(sha)
        decided = traffic.decided_by_correlation.get(sha)
        posted = traffic.by_correlation.get(sha)
        if line is None or decided is None or posted is None:
            continue
        stages["ingest"].append(1000 * (line - moment))
        stages["matcher"].append(1000 * (decided - line))
        stages["ledger"].append(1000 * (posted - decided))
    return {name: latency_summary(values) for name, values in stages.items() if values}


async def matcher_phase(
    config: StackConfig, http: httpx.AsyncClient, lines: int, seed: int
) -> dict[str, Any]:
    """The matcher alone: its open items and lines published straight onto its topics (the
    other services stopped), timed from the first line sent to the last decision seen."""
    from aiokafka import AIOKafkaProducer

    from bankrec.contracts import OPEN_ITEMS, envelope_for
    from bankrec.matcher.quality.generator import generate_case

    tenant_id = f"bench-matcher-{uuid.uuid4().hex[:8]}"
    case = generate_case(lines, seed + 1, tenant_id=tenant_id)
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for item in case.items:
            envelope = envelope_for(item, tenant_id=tenant_id, correlation_id="bench")
            await producer.send(
                OPEN_ITEMS.name,
                envelope.model_dump_json().encode(),
                key=f"{tenant_id}:{item.item_id}".encode(),
            )
        await producer.flush()
        await asyncio.sleep(5)  # the index reads them (no key to ask: ingest is stopped)
        async with TopicWatcher(config.kafka_bootstrap_servers, [tenant_id]) as watcher:
            traffic = watcher.traffic[tenant_id]
            started = time.time()
            key = f"{tenant_id}:{case.account.account_id}".encode()
            for line in case.iter_lines():
                envelope = envelope_for(line, tenant_id=tenant_id, correlation_id="bench")
                await producer.send(
                    STATEMENT_LINES.name, envelope.model_dump_json().encode(), key=key
                )
            await producer.flush()
            await _until(lambda: len(traffic.decided) >= lines, READY_TIMEOUT_SECONDS)
            finished = max(traffic.decided.values(), default=time.time())
    finally:
        await producer.stop()
    seconds = finished - started
    return {
        "lines": lines,
        "lines_decided": len(traffic.decided),
        "seconds": round(seconds, 2),
        "lines_per_s": round(len(traffic.decided) / seconds, 1),
    }


# ----------------------------------------------------------------------- stage benches


def run_stage_benches(admin_url: str, quick: bool) -> dict[str, Any]:
    """The per-stage benches, run as they are, each writing its JSON where we read it."""
    stages: dict[str, Any] = {}
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="bankrec-bench-") as scratch:
        out = Path(scratch)
        commands = {
            "parse": [
                python, str(REPO_ROOT / "services/ingest/bench/parse_bench.py"),
                "--sizes-mb", "5" if quick else "20", "--repeat", "1" if quick else "2",
                "--out", str(out / "parse.json"),
            ],
            "match": [
                python, str(REPO_ROOT / "services/matcher/bench/match_bench.py"),
                "--items", "50000" if quick else "200000", "--lines", "2000" if quick else "10000",
                "--naive-lines", "20" if quick else "50", "--out", str(out / "match.json"),
            ],
            "apply": [
                python, str(REPO_ROOT / "services/ledger/bench/apply_bench.py"),
                "--decisions", "200" if quick else "1000", "--database-url", admin_url,
                "--json", str(out / "apply.json"),
            ],
        }  # fmt: skip
        for name, command in commands.items():
            print(f"stage bench: {name} ...", flush=True)
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
            if done.returncode != 0:
                stages[name] = {"error": done.stderr[-1000:]}
                print(f"stage bench {name} failed:\n{done.stderr[-1000:]}", file=sys.stderr)
                continue
            figures = json.loads((out / f"{name}.json").read_text())
            if name == "parse":
                size = figures["sizes"][0]
                stages[name] = {
                    "size_mb": size["size_mb"],
                    "lines": size["lines"],
                    "parser_mb_per_s": size["parser_mb_per_s"],
                    "baseline_mb_per_s": size["baseline_mb_per_s"],
                    "parser_lines_per_s": size["parser_lines_per_s"],
                }
            elif name == "match":
                stages[name] = {
                    "open_items": figures["open_items"],
                    "lines": figures["lines"],
                    "lines_per_s": figures["engine"]["lines_per_second"],
                    "naive_lines_per_s": figures["naive_scan"]["lines_per_second"],
                }
            else:
                stages[name] = {
                    key: figures[key]
                    for key in (
                        "decisions",
                        "ledger_decisions_per_s",
                        "core_decisions_per_s",
                        # what the decisions consumer runs: a batch per transaction
                        "batched_decisions_per_s",
                        "core_batched_decisions_per_s",
                    )
                }
    return stages


# ------------------------------------------------------------------------------- main


def _save_partial(path: Path, figures: dict[str, Any]) -> None:
    """The figures so far (a long run that fails later keeps what it measured)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**figures, "partial": True}, indent=2) + "\n")


def _stop_all(services: dict[str, BenchService], rss: dict[str, float]) -> None:
    for name in reversed(list(services)):
        service = services[name]
        rss.setdefault(name, service.peak_rss_mb())
        service.stop(timeout_seconds=60)


async def run_pipeline(args: argparse.Namespace, root: Path, admin_url: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    rss: dict[str, float] = {}
    with private_broker(root) as bootstrap, fresh_databases(admin_url, SERVICE_NAMES) as urls:
        print(f"broker {bootstrap}; databases {', '.join(urls)} on PostgreSQL", flush=True)
        config = StackConfig(
            kafka_bootstrap_servers=bootstrap,
            state_dir=root / "stack",
            ports={name: free_port() for name in SERVICE_NAMES},
            database_urls=urls,
            log_level="WARNING",
        )
        limits = {
            "BANKREC_INGEST_UPLOAD_BYTES_MAX": str(2 * 1024**3),  # the 100,000-line file: 75 MB
            "BANKREC_INGEST_BANK_PULL_ENABLED": "false",
        }
        services = {
            name: BenchService(name, config, profile_dir=args.profile, extra_env=limits)
            for name in SERVICE_NAMES
        }
        try:
            for service in services.values():
                service.start()
            for service in services.values():
                service.wait_healthy(180)
            async with httpx.AsyncClient(timeout=60) as http:
                pids = {
                    name: service.process.pid
                    for name, service in services.items()
                    if service.process is not None
                }
                figures["bulk"] = await bulk_phase(
                    config, http, args.lines, args.seed, cpu=lambda: cpu_of_processes(pids)
                )
                print(f"bulk: {figures['bulk']['lines_per_s']:,.0f} lines/s", flush=True)
                print(f"bulk: {cpu_per_line_text(figures['bulk']['cpu_ms_per_line'])}", flush=True)
                size = figures["bulk"]["line_message_bytes_mean"] or 1500
                key = figures["bulk"]["key"].encode()
                raw = await raw_hop_bulk(bootstrap, args.lines, size, key)
                figures["bulk"]["raw_hop_lines_per_s"] = round(raw["per_s"], 1)
                figures["bulk"]["raw_hop"] = raw
                _save_partial(args.json, figures)
                if args.probes:
                    # the bulk run's backlog (the matcher's item states, the reconciler's
                    # messages, the relays) drains first: the probes meet 100 lines/s alone
                    quiet_after = await until_quiet(services.values())
                    latency = await latency_phase(
                        config, http, args.rate, args.probes, args.probe_rate
                    )
                    latency["waited_for_quiet_s"] = quiet_after
                    hop = await raw_hop_latency(bootstrap, args.rate, args.probes * 10, size, key)
                    latency["raw_hop"] = latency_summary(hop)
                    figures["latency"] = latency
                    _save_partial(args.json, figures)
                    print(f"latency: {latency['webhook_to_posting']}", flush=True)
                    print(f"latency by stage: {latency['by_stage']}", flush=True)
                for name in ("ingest", "reconciler", "ledger"):
                    rss[name] = services[name].peak_rss_mb()
                    services[name].stop(timeout_seconds=60)
                matcher = await matcher_phase(config, http, args.matcher_lines, args.seed)
                matcher["raw_hop_lines_per_s"] = figures["bulk"]["raw_hop_lines_per_s"]
                figures["matcher_on_kafka"] = matcher
        finally:
            _stop_all(services, rss)
    figures["peak_rss_mb"] = {name: round(mb, 1) for name, mb in rss.items()}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="statement lines, bulk run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=LATENCY_RATE, help="background lines/s")
    parser.add_argument("--probes", type=int, default=60, help="single-line webhooks timed")
    parser.add_argument("--probe-rate", type=float, default=2.0, help="probes per second")
    parser.add_argument("--matcher-lines", type=int, default=None, help="default: --lines / 5")
    parser.add_argument("--profile", type=Path, default=None, help="pyinstrument text profiles")
    parser.add_argument("--skip-stages", action="store_true", help="no per-stage benches")
    parser.add_argument("--logs", type=Path, default=None, help="keep the services' logs here")
    parser.add_argument("--json", type=Path, default=JSON_OUT)
    parser.add_argument("--plot", type=Path, default=PLOT_OUT)
    args = parser.parse_args(argv)
    args.matcher_lines = args.matcher_lines or max(500, args.lines // 5)
    load_start = os.getloadavg()
    admin_url = postgres_admin_url()
    with tempfile.TemporaryDirectory(prefix="bankrec-bench-") as scratch:
        try:
            figures = asyncio.run(run_pipeline(args, Path(scratch), admin_url))
        finally:
            if args.logs is not None:  # kept however the run ended
                args.logs.mkdir(parents=True, exist_ok=True)
                for log in (Path(scratch) / "stack").glob("*.log"):
                    shutil.copy(log, args.logs / log.name)
    if not args.skip_stages:
        figures["stages"] = run_stage_benches(admin_url, quick=args.lines < 100_000)
    figures["date"] = dt.datetime.now(dt.UTC).date().isoformat()
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    figures["targets"] = {
        "bulk_lines_per_s_min": BULK_LINES_PER_S_MIN,
        "bulk_to_raw_min": BULK_TO_RAW_MIN,
        "p99_ms_max": P99_MS_MAX,
        "at_lines_per_s": LATENCY_RATE,
    }
    rows = rows_from(figures)
    figures["verdicts"] = {row.measure: row.verdict for row in rows if row.met is not None}
    print()
    print(table(rows, figures["peak_rss_mb"]))
    print(
        f"\n{figures['machine']['cpus']} CPUs, load average {load_start[0]:.1f} at start, "
        f"{figures['machine']['load_average_end'][0]:.1f} at end (a shared machine: the "
        "figures are low by that much)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    plot(figures, args.plot)
    print(f"figures in {args.json}, plot in {args.plot}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop the stack on kill too
    raise SystemExit(main())
