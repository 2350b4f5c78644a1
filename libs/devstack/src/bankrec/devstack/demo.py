"""`make demo`: a real camt.053 statement through all four services to a reconciliation report.

Expects a Kafka broker at KAFKA_BOOTSTRAP_SERVERS (the Makefile starts the local one). Runs the
services on SQLite under var/demo/, issues the demo tenant an API key through ingest's admin API
(sent with every call), loads the sample open items, uploads the sample statement, waits until
every line is posted and prints the reconciler's report. The services stop at the
end; the broker keeps running (`make stop` stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bankrec.contracts import DECISIONS
from bankrec.devstack.client import BankrecClient, ServiceCallError, WaitTimeoutError
from bankrec.devstack.processes import (
    ServiceStack,
    ServiceStartError,
    StackConfig,
    start_groups_at_end,
)
from bankrec.devstack.topics import tenant_messages, topic_end_offsets

REPO_ROOT = Path(__file__).resolve().parents[5]
DEMO_DIR = REPO_ROOT / "deploy" / "demo"


def render_decisions(decisions: list[dict[str, Any]]) -> str:
    """One row per decision: amount, kind, rule, confidence, items, the matcher's explanation."""
    rows = [("amount", "kind", "rule", "conf.", "items", "why")]
    for decision in sorted(decisions, key=lambda d: d["line_id"]):
        items = ",".join(a["item_id"] for a in decision["allocations"]) or "-"
        why = decision["explanation"]
        rows.append(
            (
                decision["amount"]["amount"],
                decision["kind"],
                decision["rule"],
                decision["confidence"],
                items,
                why if len(why) <= 70 else why[:67] + "...",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(
            cell.rjust(widths[i]) if i == 0 else cell.ljust(widths[i])
            for i, cell in enumerate(row[:5])
        )
        + "  "
        + row[5]
        for row in rows
    )


def render_topic_counters(config: StackConfig) -> str:
    """FastStream's received/published counters of every running service, per topic."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    rows: list[str] = []
    for name in ("ingest", "matcher", "reconciler", "ledger"):
        text = httpx.get(f"{config.base_url(name)}/metrics", timeout=10.0).text
        for family in text_string_to_metric_families(text):
            direction = {
                "faststream_received_messages": ("in ", "handler"),
                "faststream_published_messages": ("out", "destination"),
            }.get(family.name)
            if direction is None:
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    topic = sample.labels.get(direction[1], "?")
                    rows.append(f"  {name:<10} {direction[0]} {topic:<42} {sample.value:>6.0f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--statement", type=Path, default=DEMO_DIR / "statement-2026-11.camt053.xml"
    )
    parser.add_argument("--open-items", type=Path, default=DEMO_DIR / "open-items.csv")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / "var" / "demo")
    parser.add_argument("--tenant", default=None, help="default: a new demo tenant per run")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="before stopping, print each service's messages in/out per topic from its /metrics",
    )
    args = parser.parse_args(argv)

    # A new tenant per run: the broker keeps earlier runs' messages, the databases are new.
    tenant_id = args.tenant or f"demo-{datetime.now(UTC):%Y%m%d%H%M%S}"
    shutil.rmtree(args.state_dir, ignore_errors=True)
    config = StackConfig(
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        state_dir=args.state_dir,
    )
    print(f"bankrec demo: tenant {tenant_id}, broker {config.kafka_bootstrap_servers}")
    stack = ServiceStack(config)
    client = BankrecClient(config, tenant_id)
    try:
        print("starting ledger, matcher, reconciler, ingest (SQLite under var/demo/) ...")
        # new databases: the services start at the topics' ends, not at what earlier runs
        # (or anything else on this broker) left behind
        asyncio.run(start_groups_at_end(config.kafka_bootstrap_servers))
        stack.start()
        print(
            f"issued API key {client.key_id} for {tenant_id} through ingest's admin API; "
            "every call to the services sends it"
        )
        imported = client.import_open_items(args.open_items)
        decisions_from = asyncio.run(
            topic_end_offsets(config.kafka_bootstrap_servers, DECISIONS.name)
        )
        print(
            f"loaded open items: {imported['imported']} imported, {len(imported['errors'])} errors"
        )
        client.wait_for_matcher_index(imported["imported"])
        response = client.upload_statement(args.statement)
        if response.status_code >= 300:
            raise ServiceCallError("ingest", response)
        upload = response.json()
        print(
            f"uploaded {args.statement.name}: {upload['lines']} lines "
            f"in {len(upload['statements'])} statement(s)"
        )
        for statement in upload["statements"]:
            client.wait_for_reconciliation(statement["account_id"], statement["line_count"])
        decisions = asyncio.run(
            tenant_messages(
                config.kafka_bootstrap_servers,
                DECISIONS.name,
                tenant_id,
                upload["lines"],
                from_offsets=decisions_from,
            )
        )
        print(f"\ndecisions on {DECISIONS.name}:")
        print(render_decisions([message["payload"] for message in decisions]))
        for statement in upload["statements"]:
            print()
            print(client.report_text(statement["account_id"]))
        trial = client.get("ledger", "/trial-balance")
        print(f"ledger journal balanced: {trial['balanced']}")
        if args.metrics:
            print("\nmessages per topic, from each service's GET /metrics:")
            print(render_topic_counters(config))
        return 0
    except (ServiceStartError, ServiceCallError, WaitTimeoutError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        for name, service in stack.services.items():
            print(
                f"--- {name} log ({service.log_path}) ---\n{service.log_tail(15)}", file=sys.stderr
            )
        return 1
    finally:
        client.close()
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
