"""How many messages per second the reconciler consumes on PostgreSQL, against plain
SQLAlchemy Core inserts in the same run, and whether the time per message grows with the
period.

    make bench-reconcile-consume
    uv run python services/reconciler/bench/consume_bench.py [--lines 1000 10000]
        [--accounts 1 10] [--modes message batch] [--batch 200] [--database-url URL]

Starts the local PostgreSQL (``deploy/local/postgres.sh``) unless ``--database-url`` names
an admin URL, and per run creates two fresh databases, both migrated by the reconciler's own
Alembic migrations:

- **reconciler**: one statement per account (not timed), then ``lines`` statement lines,
  ``lines`` decisions (match and suspense in turn) and ``lines`` bank-side postings, the
  lines spread over ``accounts`` accounts in turn, all in one period each. Mode
  ``message``: one message after another through ``Reconciler.record_line`` /
  ``record_decision`` / ``record_posting`` (one transaction each: inbox claim, the period row
  locked, the rows the message changes, the period event in the outbox). Mode ``batch``:
  ``Reconciler.record_batch`` on ``--batch`` messages at a time, as the consumers call it
  (one transaction per batch, still one inbox claim and one event per message). Each mode
  gets its own fresh database.
- **baseline**: per message, one transaction of plain Core inserts: its inbox row and one
  row (the outbox row of its period event, the same bytes the reconciler staged). The
  floor of a write path with one transaction per message on this machine.

Per phase (lines, decisions, postings) it times the first and the last tenth of the
messages, in wall-clock time and in this process's CPU time (the reconciler's own work,
without the database's, and less moved by other load on the machine): at 10,000 lines in
one period the last tenth of the lines meets a period of 9,000 lines, so a time per message
that grows with the period shows as a ratio above 1.
The figures read back at the end must be the expected ones (every line reconciled, half
matched). Prints one table and writes ``var/bench/reconcile-consume.json``. A command, not a
test: it never fails on a speed.
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
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Engine, make_url

from bankrec.contracts import (
    AccountRole,
    Balance,
    BankAccountRef,
    DecisionKind,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    Money,
    PostingLine,
    StatementHeader,
    StatementLine,
    envelope_for,
)
from bankrec.reconciler.adapters import outbox, reconciler_engine, sql_units_of_work
from bankrec.reconciler.adapters.tables import inbox
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR
from bankrec.reconciler.domain import figures
from bankrec.reconciler.use_cases import Outcome, Reconciler
from bankrec.runtime import session_factory, upgrade_database

REPO_ROOT = Path(__file__).resolve().parents[3]
TENANT = "t-bench"
CURRENCY = "NOK"
DAY = date(2026, 11, 15)
DECIDED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PHASES = ("lines", "decisions", "postings")


# ---------------------------------------------------------------------------- messages


def _account(number: int) -> BankAccountRef:
    return BankAccountRef(
        account_id=f"acc-bench{number:015d}", iban=f"NO93860111{number:05d}", currency=CURRENCY
    )


def _nok(amount: Decimal) -> Money:
    return Money(amount=amount, currency=CURRENCY)


def _amount(number: int) -> Decimal:
    return Decimal(f"{100 + number % 9_000}.{number % 100:02d}")


def _envelope(payload: Any, number: int, phase: int) -> Envelope[Any]:
    return envelope_for(
        payload,
        tenant_id=TENANT,
        correlation_id="bench-file",
        message_id=str(uuid.UUID(int=phase << 64 | number)),
    )


def _header(account: BankAccountRef) -> StatementHeader:
    return StatementHeader(
        statement_id=f"stmt-{account.account_id}",
        source_format="camt.053.001.02",
        account=account,
        opening_booked=Balance(amount=_nok(Decimal("0.00")), date=date(2026, 11, 1)),
        closing_booked=Balance(amount=_nok(Decimal("0.00")), date=date(2026, 11, 30)),
        entry_count=0,
        line_count=0,
        sum_credits=Decimal(0),
        sum_debits=Decimal(0),
        file_sha256="0" * 64,
    )


@dataclass(frozen=True)
class Workload:
    headers: list[Envelope[StatementHeader]]
    phases: dict[str, list[Envelope[Any]]]


def _workload(lines: int, accounts: int) -> Workload:
    refs = [_account(number) for number in range(accounts)]
    line_messages: list[Envelope[Any]] = []
    decisions: list[Envelope[Any]] = []
    postings: list[Envelope[Any]] = []
    for number in range(lines):
        account = refs[number % accounts]
        line_id = f"line-{number:07d}"
        amount = _amount(number)
        statement_id = f"stmt-{account.account_id}"
        line = StatementLine(
            line_id=line_id,
            statement_id=statement_id,
            account=account,
            sequence=number,
            amount=_nok(amount),
            booking_date=DAY,
            remittance_text=f"Invoice {number}",
        )
        decision = MatchDecision(
            decision_id=f"dec-{number:07d}",
            kind=DecisionKind.SUSPENSE if number % 2 else DecisionKind.MATCH,
            line_id=line_id,
            statement_id=statement_id,
            account=account,
            amount=_nok(amount),
            booking_date=DAY,
            rule="bench",
            confidence=Decimal(1),
            explanation="bench",
        )
        entry = JournalEntryPosted(
            entry_id=f"je-{number:07d}",
            idempotency_key=f"je-{number:07d}",
            posting_date=DAY,
            source=EntrySource.DECISION,
            source_ref=decision.decision_id,
            description="bench",
            lines=[
                PostingLine(
                    account_code="1920",
                    account_role=AccountRole.BANK,
                    debit=amount,
                    credit=Decimal(0),
                    currency=CURRENCY,
                    bank_account_id=account.account_id,
                    statement_line_id=line_id,
                ),
                PostingLine(
                    account_code="1500",
                    account_role=AccountRole.RECEIVABLE,
                    debit=Decimal(0),
                    credit=amount,
                    currency=CURRENCY,
                ),
            ],
        )
        line_messages.append(_envelope(line, number, 1))
        decisions.append(_envelope(decision, number, 2))
        postings.append(_envelope(entry, number, 3))
    headers = [_envelope(_header(ref), number, 0) for number, ref in enumerate(refs)]
    return Workload(headers, {"lines": line_messages, "decisions": decisions, "postings": postings})


# ---------------------------------------------------------------------------- the runs


@dataclass(frozen=True)
class PhaseTimes:
    seconds: float
    first_tenth_ms: float  # mean per message over the phase's first tenth
    last_tenth_ms: float
    first_tenth_cpu_ms: float  # the same in this process's CPU time (not the database's)
    last_tenth_cpu_ms: float


async def _timed(
    messages: Sequence[Envelope[Any]],
    apply: Callable[[Sequence[Envelope[Any]]], Awaitable[Any]],
    batch: int = 1,
) -> PhaseTimes:
    """Applies ``batch`` messages at a time; the tenths are rounded to whole batches."""
    chunks = [messages[i : i + batch] for i in range(0, len(messages), batch)]
    tenth = max(1, len(chunks) // 10)
    marks: list[tuple[float, float]] = []
    started = (time.perf_counter(), time.process_time())
    for position, chunk in enumerate(chunks):
        if position in (tenth, len(chunks) - tenth):
            marks.append((time.perf_counter(), time.process_time()))
        await apply(chunk)
    ended = (time.perf_counter(), time.process_time())
    first_n = sum(len(c) for c in chunks[:tenth])
    last_n = sum(len(c) for c in chunks[-tenth:])
    return PhaseTimes(
        ended[0] - started[0],
        (marks[0][0] - started[0]) / first_n * 1000,
        (ended[0] - marks[-1][0]) / last_n * 1000,
        (marks[0][1] - started[1]) / first_n * 1000,
        (ended[1] - marks[-1][1]) / last_n * 1000,
    )


async def _run_reconciler(
    url: str, work: Workload, lines: int, batch: int | None
) -> dict[str, PhaseTimes]:
    """``batch`` None: one message per transaction through the per-topic use cases."""
    engine = reconciler_engine(url)
    reconciler = Reconciler(sql_units_of_work(session_factory(engine)))
    records: dict[str, Callable[[Envelope[Any]], Awaitable[Outcome]]] = {
        "lines": reconciler.record_line,
        "decisions": reconciler.record_decision,
        "postings": reconciler.record_posting,
    }

    def applied(
        record: Callable[[Envelope[Any]], Awaitable[Outcome]],
    ) -> Callable[[Sequence[Envelope[Any]]], Awaitable[None]]:
        async def apply(envelopes: Sequence[Envelope[Any]]) -> None:
            outcomes: list[Any] = (
                [await record(envelope) for envelope in envelopes]
                if batch is None
                else await reconciler.record_batch(envelopes)
            )
            assert outcomes == [Outcome.APPLIED] * len(envelopes), outcomes

        return apply

    try:
        for header in work.headers:
            await reconciler.record_statement(header)
        times = {
            phase: await _timed(work.phases[phase], applied(records[phase]), batch or 1)
            for phase in PHASES
        }
        # a fresh instance reads the periods from the database: the figures must add up
        reread = Reconciler(sql_units_of_work(session_factory(engine)))
        periods = await reread.periods(TENANT)
        counted = [figures(period) for period in periods]
        assert sum(f.lines for f in counted) == lines, counted
        assert sum(f.reconciled for f in counted) == lines, counted
        assert sum(f.matched for f in counted) == (lines + 1) // 2, counted
        assert sum(f.reconciled_total.amount for f in counted) == sum(
            _amount(number) for number in range(lines)
        )
        return times
    finally:
        await engine.dispose()


async def _outbox_rows(url: str) -> list[dict[str, Any]]:
    """The period events the reconciler staged, in order (one per message)."""
    engine = reconciler_engine(url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(outbox).order_by(outbox.c.id))
            return [dict(row._mapping) for row in found]
    finally:
        await engine.dispose()


async def _run_baseline(
    url: str, work: Workload, staged: list[dict[str, Any]]
) -> dict[str, PhaseTimes]:
    engine = reconciler_engine(url)
    events = iter(row for row in staged[len(work.headers) :])  # the statements' go first

    def consumer_of(phase: str) -> str:
        return f"{phase}-baseline"

    try:
        times: dict[str, PhaseTimes] = {}
        for phase in PHASES:
            rows = {
                envelope.message_id: {k: v for k, v in next(events).items() if k != "id"}
                for envelope in work.phases[phase]
            }

            async def apply(
                envelopes: Sequence[Envelope[Any]],
                phase: str = phase,
                rows: dict[str, dict[str, Any]] = rows,
            ) -> None:
                (envelope,) = envelopes
                async with engine.begin() as conn:
                    await conn.execute(
                        insert(inbox).values(
                            consumer=consumer_of(phase),
                            message_id=envelope.message_id,
                            processed_at=datetime.now(UTC),
                        )
                    )
                    await conn.execute(insert(outbox).values(rows[envelope.message_id]))

            times[phase] = await _timed(work.phases[phase], apply)
        return times
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------- databases


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


def run(
    lines: int, accounts: int, modes: Sequence[str], batch: int, admin_url: str
) -> dict[str, Any]:
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    suffix = os.getpid()
    names = {mode: f"bench_rec_{mode}_{suffix}" for mode in modes}
    names["baseline"] = f"bench_rec_core_{suffix}"
    urls = {
        role: make_url(admin_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
        for role, name in names.items()
    }
    work = _workload(lines, accounts)
    try:
        for name, url in zip(names.values(), urls.values(), strict=True):
            _recreate_database(admin, name)
            upgrade_database(url, MIGRATIONS_DIR)
        timed = {
            mode: asyncio.run(
                _run_reconciler(urls[mode], work, lines, batch if mode == "batch" else None)
            )
            for mode in modes
        }
        staged = asyncio.run(_outbox_rows(urls[modes[0]]))
        timed["baseline"] = asyncio.run(_run_baseline(urls["baseline"], work, staged))
    finally:
        for name in names.values():
            _recreate_database(admin, name, create=False)
        admin.dispose()
    messages = lines * len(PHASES)

    def summary(times: dict[str, PhaseTimes]) -> dict[str, Any]:
        seconds = sum(t.seconds for t in times.values())
        return {
            "seconds": round(seconds, 3),
            "messages_per_s": round(messages / seconds, 1),
            "per_message_ms": {
                phase: {
                    "first_tenth": round(t.first_tenth_ms, 3),
                    "last_tenth": round(t.last_tenth_ms, 3),
                    "first_tenth_cpu": round(t.first_tenth_cpu_ms, 3),
                    "last_tenth_cpu": round(t.last_tenth_cpu_ms, 3),
                }
                for phase, t in times.items()
            },
        }

    result: dict[str, Any] = {
        "lines": lines,
        "accounts": accounts,
        "messages": messages,
        "batch_size": batch,
    }
    for role, times in timed.items():
        result[role] = summary(times)
    result["ratio_to_baseline"] = {
        mode: round(result[mode]["messages_per_s"] / result["baseline"]["messages_per_s"], 3)
        for mode in modes
    }
    return result


def _print(run: dict[str, Any]) -> None:
    print(
        f"\n{run['lines']} lines + decisions + postings over {run['accounts']} account(s): "
        f"{run['messages']} messages"
    )
    print(f"{'':30}{'msg/s':>9}{'s':>9}   ms/message first -> last tenth (CPU ms)")
    for role in (*run["ratio_to_baseline"], "baseline"):
        row = run[role]
        tenths = "  ".join(
            f"{phase} {t['first_tenth']:.2f}->{t['last_tenth']:.2f} "
            f"({t['first_tenth_cpu']:.2f}->{t['last_tenth_cpu']:.2f})"
            for phase, t in row["per_message_ms"].items()
        )
        name = f"reconciler, {role}" if role != "baseline" else "baseline (Core inserts)"
        print(f"{name:30}{row['messages_per_s']:>9}{row['seconds']:>9}   {tenths}")
    print(f"ratio to baseline: {run['ratio_to_baseline']} (batch of {run['batch_size']})")


def _server_version(admin_url: str) -> str:
    engine = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 10])
    parser.add_argument(
        "--modes", nargs="+", choices=("message", "batch"), default=["message", "batch"]
    )
    parser.add_argument("--batch", type=int, default=200, help="messages per batch")
    parser.add_argument("--database-url", help="an admin PostgreSQL URL (default: local)")
    parser.add_argument(
        "--json", type=Path, default=REPO_ROOT / "var" / "bench" / "reconcile-consume.json"
    )
    args = parser.parse_args(argv)
    admin_url = _admin_url(args.database_url)
    runs = []
    for lines in args.lines:
        for accounts in args.accounts:
            runs.append(run(lines, accounts, args.modes, args.batch, admin_url))
            _print(runs[-1])
    result = {
        "runs": runs,
        "database": "PostgreSQL " + _server_version(admin_url),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
