"""How many statement lines per second the matcher decides through Kafka and PostgreSQL: a
batch of lines per transaction against one line per transaction, in the same run.

    make bench-match-consume
    uv run python services/matcher/bench/consume_bench.py [--lines 5000] [--batch 200]
        [--seed 1] [--modes batch line] [--bootstrap 127.0.0.1:9092] [--database-url URL]

Per mode (``batch``: ``--batch`` records per poll; ``line``: ``batch_records=1``, one line
per transaction as before issue 9) on a fresh PostgreSQL database (migrated by the matcher's
own Alembic migrations) and topics of its own on the shared broker (a lines topic and a
decisions topic named after this process; deleted at the end):

- not timed: the generated tenant's open items and posting rules go into the matcher's index
  (``quality.generator``, ``--seed``; its policy: an amount tolerance of 50 NOK), and its
  ``--lines`` statement lines onto the lines topic, keyed by account as ingest keys them;
- timed, from the first poll that hands the consumer lines (the group join is not counted)
  to the last decision acknowledged by Kafka: the real subscriber
  (``subscribe_statement_lines``, a consumer group of its own) decides and commits them, and
  the outbox relay publishes the decisions (to the bench's decisions topic).

It prints lines/s decided and committed and lines/s published, the relay's passes (how many
decisions each published) and the transactions, and checks that both modes stored the same
decisions. Figures in ``var/bench/match-consume.json``. A command, not a test: it never fails
on a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url

from bankrec.contracts import DECISIONS, STATEMENT_LINES, MatchingSettings, envelope_for
from bankrec.matcher.adapters import matcher_engine, outbox, sql_units_of_work
from bankrec.matcher.adapters.tables import decided_lines
from bankrec.matcher.bootstrap import MIGRATIONS_DIR
from bankrec.matcher.consumers import subscribe_statement_lines
from bankrec.matcher.quality.generator import generate_case
from bankrec.matcher.quality.truth import QualityCase
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import (
    OutboxRelay,
    create_broker,
    encode_envelope,
    session_factory,
    upgrade_database,
)
from bankrec.runtime.kafka import key_bytes

REPO_ROOT = Path(__file__).resolve().parents[3]
MODES = ("batch", "line")
RUN_SECONDS_MAX = 1_800.0  # one line per transaction on a busy machine: ~15 lines/s


class RenamedTopics:
    """Publishes through the broker to the bench's own topics instead of the shared ones."""

    def __init__(self, broker: KafkaBroker, names: dict[str, str]) -> None:
        self._broker = broker
        self._names = names

    async def publish(self, message: Any, topic: str = "", **options: Any) -> Any:
        return await self._broker.publish(message, topic=self._names.get(topic, topic), **options)


@dataclass
class Run:
    """What one mode measured."""

    mode: str
    records_per_poll: int
    first_poll: float = 0.0
    first_poll_cpu: float = 0.0
    decided_at: float = 0.0
    published_at: float = 0.0
    published_at_cpu: float = 0.0
    in_use_case_seconds: float = 0.0  # wall time inside Matcher.decide_lines
    transactions: int = 0
    decided: int = 0
    relay_passes: list[int] = field(default_factory=list)

    def summary(self, lines: int) -> dict[str, Any]:
        decided_seconds = self.decided_at - self.first_poll
        published_seconds = self.published_at - self.first_poll
        return {
            "records_per_poll_max": self.records_per_poll,
            "transactions": self.transactions,
            "decided_seconds": round(decided_seconds, 3),
            "decided_per_s": round(lines / decided_seconds, 1),
            "published_seconds": round(published_seconds, 3),
            "published_per_s": round(lines / published_seconds, 1),
            "in_use_case_seconds": round(self.in_use_case_seconds, 3),
            # this process's CPU (consumer, matcher, relay, producer), not the database's
            "cpu_seconds": round(self.published_at_cpu - self.first_poll_cpu, 3),
            "published_per_cpu_s": round(
                lines / max(1e-9, self.published_at_cpu - self.first_poll_cpu), 1
            ),
            "relay_passes": len(self.relay_passes),
            "decisions_per_relay_pass_max": max(self.relay_passes, default=0),
            "decisions_per_relay_pass_mean": round(
                sum(self.relay_passes) / max(1, len(self.relay_passes)), 1
            ),
        }


# ---------------------------------------------------------------------------- one mode


async def _produce_lines(bootstrap: str, topic: str, case: QualityCase) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        for line in case.lines:
            envelope = envelope_for(line, tenant_id=case.tenant_id, correlation_id="bench-file")
            key = STATEMENT_LINES.key_for(case.tenant_id, line.account.account_id)
            await producer.send(topic, encode_envelope(envelope), key=key_bytes(key))
        await producer.flush()
    finally:
        await producer.stop()
    return len(case.lines)


async def _run_mode(
    run: Run, case: QualityCase, bootstrap: str, url: str, topics: dict[str, str], group: str
) -> list[tuple[str, str, str]]:
    """Consume the lines topic until every decision is published; returns (line id, decision
    id, kind) of every stored line."""
    lines = len(case.lines)
    engine = matcher_engine(url)
    sessions = session_factory(engine)
    broker = create_broker(bootstrap, client_id=f"bench-matcher-{run.mode}")
    relay = OutboxRelay(
        RenamedTopics(broker, {DECISIONS.name: topics["decisions"]}), sessions, outbox
    )
    matcher = Matcher(sql_units_of_work(sessions), on_committed=relay.wake)
    await matcher.save_matching_settings(
        case.tenant_id,
        MatchingSettings(amount_tolerance=Decimal(50)),  # the generated policy
    )
    for item in case.items:
        await matcher.record_open_item(
            envelope_for(item, tenant_id=case.tenant_id, correlation_id="i")
        )
    for rule in case.posting_rules:
        matcher.record_posting_rule(
            envelope_for(rule, tenant_id=case.tenant_id, correlation_id="r")
        )
    await _count_work(run, matcher, relay)
    subscribe_statement_lines(
        broker,
        matcher,
        batch_records=run.records_per_poll,
        topic_name=topics["lines"],
        group_id=group,
    )
    published = 0
    await broker.start()
    relay_task = asyncio.create_task(relay.run(), name="bench-relay")
    try:
        deadline = time.perf_counter() + RUN_SECONDS_MAX
        while published < lines + 1:  # the settings message is staged first
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"{run.mode}: {run.decided} of {lines} lines in {RUN_SECONDS_MAX} s"
                )
            await asyncio.sleep(0.01)
            published = sum(run.relay_passes)
            if run.decided >= lines and not run.decided_at:
                run.decided_at = time.perf_counter()
        run.published_at, run.published_at_cpu = time.perf_counter(), time.process_time()
    finally:
        relay.stop()
        await relay_task
        await broker.stop()
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        decided_lines.c.line_id, decided_lines.c.decision_id, decided_lines.c.kind
                    ).order_by(decided_lines.c.line_id)
                )
            ).all()
            unpublished = (
                await conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert len(rows) == lines, f"{len(rows)} of {lines} lines stored"
    assert unpublished == 0, f"{unpublished} decisions left unpublished"
    return [(row.line_id, row.decision_id, row.kind) for row in rows]


async def _count_work(run: Run, matcher: Matcher, relay: OutboxRelay) -> None:
    """Wraps the use case and the relay pass to count transactions, lines and passes."""
    decide_lines = matcher.decide_lines
    relay_once = relay.relay_once

    async def counted_decide(envelopes: Sequence[Any]) -> Any:
        started = time.perf_counter()
        if not run.first_poll:
            run.first_poll, run.first_poll_cpu = started, time.process_time()
        decisions = await decide_lines(envelopes)
        run.in_use_case_seconds += time.perf_counter() - started
        run.transactions += 1
        run.decided += len(envelopes)
        return decisions

    async def counted_pass() -> int:
        published = await relay_once()
        if published:
            run.relay_passes.append(published)
        return published

    matcher.decide_lines = counted_decide  # type: ignore[method-assign]
    relay.relay_once = counted_pass  # type: ignore[method-assign]


# ---------------------------------------------------------------------------- set-up


def _admin_url(given: str | None) -> str:
    if given:
        return given
    script = REPO_ROOT / "deploy" / "local" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run(
        ["bash", str(script), "url", "bankrec_test"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _recreate_database(admin: Engine, name: str, *, create: bool = True) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))


async def _topics(bootstrap: str, names: Sequence[str], *, create: bool) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-matcher-admin")
    await admin.start()
    try:
        if create:
            await admin.create_topics(
                [NewTopic(name, num_partitions=1, replication_factor=1) for name in names]
            )
        else:
            await admin.delete_topics(list(names))
    finally:
        await admin.close()


def run(
    lines: int,
    batch: int,
    seed: int,
    bootstrap: str,
    admin_url: str,
    modes: Sequence[str] = MODES,
) -> dict[str, Any]:
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    suffix = os.getpid()
    case = generate_case(lines, seed, tenant_id=f"t-bench-{suffix}")
    runs = {mode: Run(mode, batch if mode == "batch" else 1) for mode in modes}
    stored: dict[str, list[tuple[str, str, str]]] = {}
    topic_names: list[str] = []
    try:
        for mode, measured in runs.items():
            database = f"bench_match_{mode}_{suffix}"
            url = (
                make_url(admin_url)
                .set(database=database, drivername="postgresql+psycopg")
                .render_as_string(hide_password=False)
            )
            _recreate_database(admin, database)
            upgrade_database(url, MIGRATIONS_DIR)
            topics = {
                "lines": f"bench.matcher.{suffix}.{mode}.statement-lines",
                "decisions": f"bench.matcher.{suffix}.{mode}.decisions",
            }
            topic_names.extend(topics.values())
            asyncio.run(_topics(bootstrap, list(topics.values()), create=True))
            asyncio.run(_produce_lines(bootstrap, topics["lines"], case))
            print(f"{mode}: {lines} lines on {topics['lines']}; consuming", file=sys.stderr)
            stored[mode] = asyncio.run(
                _run_mode(measured, case, bootstrap, url, topics, f"bench-matcher-{suffix}-{mode}")
            )
    finally:
        if topic_names:
            asyncio.run(_topics(bootstrap, topic_names, create=False))
        for mode in runs:
            _recreate_database(admin, f"bench_match_{mode}_{suffix}", create=False)
        admin.dispose()
    first, *others = stored.values()
    assert all(other == first for other in others), "the modes stored other decisions"
    summaries = {mode: measured.summary(lines) for mode, measured in runs.items()}
    return {
        "lines": lines,
        "seed": seed,
        "open_items": len(case.items),
        "kinds": dict(sorted(Counter(kind for _, _, kind in first).items())),
        "same_decisions_in_every_mode": True,
        "modes": summaries,
        "batch_over_line": round(
            summaries["batch"]["published_per_s"] / summaries["line"]["published_per_s"], 1
        )
        if len(summaries) == len(MODES)
        else None,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }


def _print(figures: dict[str, Any]) -> None:
    print(
        f"{figures['lines']} lines (seed {figures['seed']}, {figures['open_items']} open items): "
        f"{figures['kinds']}"
    )
    header = f"{'mode':<8}{'per poll':>9}{'txns':>7}{'decided/s':>11}{'published/s':>13}"
    print(
        header + f"{'per CPU s':>11}{'in use case':>13}{'relay passes':>14}{'per pass max':>14}"
        f"{'mean':>7}"
    )
    for mode, row in figures["modes"].items():
        print(
            f"{mode:<8}{row['records_per_poll_max']:>9}{row['transactions']:>7}"
            f"{row['decided_per_s']:>11}{row['published_per_s']:>13}"
            f"{row['published_per_cpu_s']:>11}{row['in_use_case_seconds']:>12}s"
            f"{row['relay_passes']:>14}{row['decisions_per_relay_pass_max']:>14}"
            f"{row['decisions_per_relay_pass_mean']:>7}"
        )
    print(
        f"batch / line: {figures['batch_over_line'] or '-'}x (published lines/s); load average "
        f"{figures['machine']['load_average']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=200, help="records per poll, batched mode")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    parser.add_argument("--database-url", help="PostgreSQL admin URL (default: the local one)")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "var" / "bench" / "match-consume.json"
    )
    args = parser.parse_args(argv)
    figures = run(
        args.lines,
        args.batch,
        args.seed,
        args.bootstrap,
        _admin_url(args.database_url),
        args.modes,
    )
    _print(figures)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
