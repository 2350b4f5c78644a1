"""How many match decisions per second the ledger applies on PostgreSQL, one transaction per
decision and one per batch, against plain SQLAlchemy Core inserts of the same rows in the
same run.

    make bench-ledger
    uv run python services/ledger/bench/apply_bench.py [--decisions 5000] [--database-url URL]

Starts the local PostgreSQL (``deploy/local/postgres.sh``) unless ``--database-url`` names
an admin URL, and creates four fresh databases, all migrated by the ledger's own Alembic
migrations:

- **ledger**: ``Ledger.apply_decision`` for each decision, one after another (one
  transaction each: inbox claim, decision record, journal entry and lines, open-item
  update, outbox rows, suspense posting for a suspense line). Four decisions in five are
  matches that pay an invoice in full, one in five a suspense posting; the invoices are
  imported first (not timed).
- **batched**: the same decisions through ``Ledger.apply_decisions`` in batches of
  ``BATCH_SIZE`` (200, what the decisions consumer takes per poll): one transaction per
  batch, each decision in a savepoint scope that costs a statement only when the decision
  reads the database, its writes kept back and written per table (the transaction's
  write-behind). It must write exactly the rows the ledger wrote (``same_rows``).
- **baseline**: the rows the ledger wrote for those decisions (read back from its
  database) written again with SQLAlchemy Core: per decision, one transaction inserting
  that decision's rows and updating its invoice to the state the ledger left. It is the
  write work without the ledger's reads, checks and message building: the floor the
  ledger's write path could reach with one transaction per decision.
- **baseline per batch**: the same rows, one transaction per ``BATCH_SIZE`` decisions
  holding one insert per table and one executemany update of the invoices: the floor of
  the batched path.

Prints the rates, the ratios and rows per decision, and writes them to
``var/bench/ledger.json``. A command, not a test: it never fails on a figure.
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
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, bindparam, create_engine, func, select, text, update
from sqlalchemy.engine import Engine, make_url

from bankrec.contracts import (
    Allocation,
    BankAccountRef,
    DecisionKind,
    Envelope,
    MatchDecision,
    Money,
    envelope_for,
)
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import journal_entries, metadata, open_items
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.ledger.use_cases import Ledger
from bankrec.runtime import create_engine as create_async_engine
from bankrec.runtime import session_factory, sync_url, upgrade_database

REPO_ROOT = Path(__file__).resolve().parents[3]
TENANT = "t-bench"
ACCOUNT_ID = "acc-bench000000000000001"
CURRENCY = "NOK"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SUSPENSE_EVERY = 5  # one decision in five parks a line on the interim account
BATCH_SIZE = 200  # decisions per transaction on the batched path (the consumer's max_records)
CSV_HEADER = (
    "item_id,kind,counterparty_id,counterparty_name,counterparty_accounts,document_no,"
    "external_document_no,reference,description,amount,currency,posting_date,due_date"
)


# ---------------------------------------------------------------------------- databases


def _admin_url(given: str | None) -> str:
    if given:
        return given
    script = REPO_ROOT / "deploy" / "local" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], check=True, stdout=subprocess.DEVNULL)
    return subprocess.run(
        ["bash", str(script), "url", "bankrec_test"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _create_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------------------- the work


def _invoices_csv(count: int) -> str:
    rows = [CSV_HEADER]
    for number in range(count):
        rows.append(
            f"INV-{number:07d},invoice,C-{number % 500:04d},Customer {number % 500},,"
            f"{10_000 + number},,,Invoice {number},{_amount(number)},{CURRENCY},2026-11-01,"
            "2026-11-20"
        )
    return "\n".join(rows) + "\n"


def _amount(number: int) -> str:
    return f"{100 + number % 9_000}.{number % 100:02d}"


def _decisions(count: int) -> list[Envelope[MatchDecision]]:
    account = BankAccountRef(account_id=ACCOUNT_ID, currency=CURRENCY)
    envelopes: list[Envelope[MatchDecision]] = []
    for number in range(count):
        amount = Money.of(_amount(number), CURRENCY)
        suspense = number % SUSPENSE_EVERY == SUSPENSE_EVERY - 1
        decision = MatchDecision(
            decision_id=f"dec-{number:07d}",
            kind=DecisionKind.SUSPENSE if suspense else DecisionKind.MATCH,
            line_id=f"line-{number:07d}",
            statement_id="stmt-bench",
            account=account,
            amount=amount,
            booking_date=date(2026, 11, 20),
            rule="suspense" if suspense else "structured_reference",
            confidence="0" if suspense else "1",
            allocations=[]
            if suspense
            else [Allocation(item_id=f"INV-{number:07d}", amount=amount, item_kind="invoice")],
            explanation="bench",
        )
        envelopes.append(
            envelope_for(
                decision,
                tenant_id=TENANT,
                correlation_id="bench-file",
                message_id=str(uuid.UUID(int=number)),
            )
        )
    return envelopes


async def _apply_with_ledger(
    url: str,
    decisions: Sequence[Envelope[MatchDecision]],
    after_import: Callable[[], None] = lambda: None,
    *,
    batch_size: int | None = None,
) -> float:
    """Seconds to apply the decisions: one per transaction, or ``batch_size`` per one."""
    engine = create_async_engine(url)
    sessions = session_factory(engine)
    ledger = Ledger(sql_transactions(sessions), SqlLedgerViews(sessions), clock=lambda: NOW)
    try:
        report = await ledger.import_open_items(
            TENANT, _invoices_csv(len(decisions)), correlation_id="bench-import"
        )
        assert not report.errors, report.errors[:3]
        await asyncio.to_thread(after_import)
        started = time.perf_counter()
        if batch_size is None:
            for envelope in decisions:
                result = await ledger.apply_decision(envelope)
                assert not result.already_applied
        else:
            for start in range(0, len(decisions), batch_size):
                results = await ledger.apply_decisions(decisions[start : start + batch_size])
                assert not any(result.already_applied for result in results)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in metadata.sorted_tables
        }


def _snapshot(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Every table's primary keys: what existed before the decisions were applied."""
    keys: dict[str, set[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            keys[table.name] = {tuple(row) for row in conn.execute(select(*pk))}
    return keys


def _rows_by_decision(
    engine: Engine, before: dict[str, set[tuple[Any, ...]]], count: int
) -> tuple[list[list[tuple[Table, list[dict[str, Any]]]]], list[dict[str, Any]]]:
    """The rows the decisions added, split into each decision's share in the order written,
    and the invoices' final states. Journal lines go with their entry (by its serial id);
    what fewer than one row per decision wrote (the chart and the bank account's link, made
    by the first decision) goes with the first decision, so every foreign key finds its row
    in the same or an earlier share."""
    shares: list[list[tuple[Table, list[dict[str, Any]]]]] = [[] for _ in range(count)]
    with engine.connect() as conn:
        new_entries = [
            row.entry_id
            for row in conn.execute(
                select(journal_entries.c.entry_id, journal_entries.c.id).order_by(
                    journal_entries.c.id
                )
            )
            if (row.id,) not in before["journal_entries"]
        ]
        entry_position = {entry_id: position for position, entry_id in enumerate(new_entries)}
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            new = [
                dict(row._mapping)
                for row in conn.execute(select(table).order_by(*pk))
                if tuple(row._mapping[c.name] for c in pk) not in before[table.name]
            ]
            if not new:
                continue
            for share, rows in enumerate(_split(table, new, count, entry_position)):
                if rows:
                    shares[share].append((table, rows))
        invoices = [
            dict(row._mapping)
            for row in conn.execute(select(open_items).where(open_items.c.tenant_id == TENANT))
        ]
    return shares, invoices


def _split(
    table: Table, rows: list[dict[str, Any]], count: int, entry_position: dict[str, int]
) -> Iterator[list[dict[str, Any]]]:
    """``count`` consecutive shares of a table's new rows (see ``_rows_by_decision``)."""
    if len(rows) < count:
        yield rows
        return
    tied_to_entries = (
        table is not journal_entries
        and "entry_id" in table.c
        and bool(entry_position)
        and all(row["entry_id"] in entry_position for row in rows)
    )
    if tied_to_entries:
        by_share: list[list[dict[str, Any]]] = [[] for _ in range(count)]
        for row in rows:
            by_share[entry_position[row["entry_id"]] * count // len(entry_position)].append(row)
        yield from by_share
        return
    for share in range(count):
        yield rows[share * len(rows) // count : (share + 1) * len(rows) // count]


def _apply_with_core(
    engine: Engine,
    shares: list[list[tuple[Table, list[dict[str, Any]]]]],
    invoices: list[dict[str, Any]],
    *,
    batch_size: int = 1,
) -> float:
    """Seconds to write each decision's share of rows, ``batch_size`` decisions per
    transaction: per transaction one insert per table (all its rows, as the ledger's
    write-behind does) and one executemany update of the invoices the matches paid."""
    by_id = {row["item_id"]: row for row in invoices}
    values = [c.name for c in open_items.columns if c.name not in ("tenant_id", "item_id")]
    paying = (
        update(open_items)
        .where(
            and_(
                open_items.c.tenant_id == bindparam("w_tenant_id"),
                open_items.c.item_id == bindparam("w_item_id"),
            )
        )
        .values({name: bindparam(name) for name in values})
    )
    started = time.perf_counter()
    for start in range(0, len(shares), batch_size):
        numbers = range(start, min(start + batch_size, len(shares)))
        rows_by_table: dict[Table, list[dict[str, Any]]] = {}
        for number in numbers:
            for table, rows in shares[number]:
                rows_by_table.setdefault(table, []).extend(rows)
        paid = [
            {"w_tenant_id": TENANT, "w_item_id": invoice["item_id"]}
            | {name: invoice[name] for name in values}
            for number in numbers
            if number % SUSPENSE_EVERY != SUSPENSE_EVERY - 1
            and (invoice := by_id.get(f"INV-{number:07d}")) is not None
        ]
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                if table in rows_by_table:
                    conn.execute(table.insert(), rows_by_table[table])
            if paid:
                conn.execute(paying, paid)
    return time.perf_counter() - started


def _copy_before_state(source: Engine, target: Engine, before: dict[str, set[Any]]) -> None:
    """The baseline database starts where the ledger's did: the chart and the invoices."""
    with source.connect() as read, target.begin() as write:
        for table in metadata.sorted_tables:
            pk = list(table.primary_key.columns)
            rows = [
                dict(row._mapping)
                for row in read.execute(select(table))
                if tuple(row._mapping[c.name] for c in pk) in before[table.name]
            ]
            if rows:
                write.execute(table.insert(), rows)
        for table in metadata.sorted_tables:  # serials continue after the copied ids
            if "id" in table.c and target.dialect.name == "postgresql":
                write.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                    )
                )


def run(decision_count: int, admin_url: str) -> dict[str, Any]:
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    suffix = os.getpid()
    names = {
        "ledger": f"bench_ledger_{suffix}",
        "batched": f"bench_batched_{suffix}",
        "baseline": f"bench_core_{suffix}",
        "baseline_batched": f"bench_core_batched_{suffix}",
    }
    urls = {
        role: make_url(admin_url)
        .set(database=name, drivername="postgresql+psycopg")
        .render_as_string(hide_password=False)
        for role, name in names.items()
    }
    for name in names.values():
        _create_database(admin, name)
    try:
        for url in urls.values():
            upgrade_database(url, MIGRATIONS_DIR)
        decisions = _decisions(decision_count)
        syncs = {role: create_engine(sync_url(url)) for role, url in urls.items()}
        try:
            before: dict[str, set[tuple[Any, ...]]] = {}

            def after_import() -> None:  # the baselines start where the ledger's database is
                before.update(_snapshot(syncs["ledger"]))
                _copy_before_state(syncs["ledger"], syncs["baseline"], before)
                _copy_before_state(syncs["ledger"], syncs["baseline_batched"], before)

            seconds_ledger = asyncio.run(
                _apply_with_ledger(urls["ledger"], decisions, after_import)
            )
            seconds_batched = asyncio.run(
                _apply_with_ledger(urls["batched"], decisions, batch_size=BATCH_SIZE)
            )
            same_rows = _row_counts(syncs["ledger"]) == _row_counts(syncs["batched"])
            shares, invoices = _rows_by_decision(syncs["ledger"], before, decision_count)
            seconds_core = _apply_with_core(syncs["baseline"], shares, invoices)
            seconds_core_batched = _apply_with_core(
                syncs["baseline_batched"], shares, invoices, batch_size=BATCH_SIZE
            )
            rows = sum(len(rows) for share in shares for _, rows in share)
        finally:
            for engine in syncs.values():
                engine.dispose()
    finally:
        for name in names.values():
            _drop_database(admin, name)
        admin.dispose()
    ledger_rate = decision_count / seconds_ledger
    batched_rate = decision_count / seconds_batched
    core_rate = decision_count / seconds_core
    core_batched_rate = decision_count / seconds_core_batched
    return {
        "decisions": decision_count,
        "batch_size": BATCH_SIZE,
        "suspense_share": f"1/{SUSPENSE_EVERY}",
        "rows_inserted_per_decision": round(rows / decision_count, 2),
        "same_rows": same_rows,
        "ledger_seconds": round(seconds_ledger, 3),
        "ledger_decisions_per_s": round(ledger_rate, 1),
        "batched_seconds": round(seconds_batched, 3),
        "batched_decisions_per_s": round(batched_rate, 1),
        "core_seconds": round(seconds_core, 3),
        "core_decisions_per_s": round(core_rate, 1),
        "core_batched_seconds": round(seconds_core_batched, 3),
        "core_batched_decisions_per_s": round(core_batched_rate, 1),
        "ratio": round(ledger_rate / core_rate, 3),
        "batched_ratio": round(batched_rate / core_batched_rate, 3),
        "batched_speedup": round(batched_rate / ledger_rate, 2),
        "database": "PostgreSQL " + _server_version(admin_url),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def _server_version(admin_url: str) -> str:
    engine = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar_one())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=5_000)
    parser.add_argument("--database-url", help="an admin PostgreSQL URL (default: local)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "var" / "bench" / "ledger.json")
    args = parser.parse_args(argv)
    figures = run(args.decisions, _admin_url(args.database_url))
    print(f"ledger apply benchmark ({figures['database']}, {figures['cpus']} CPUs)")
    batch = figures["batch_size"]
    rows = [
        ("ledger, one per transaction (apply_decision)", "ledger"),
        (f"ledger, {batch} per transaction (apply_decisions)", "batched"),
        ("baseline (Core inserts, same rows)", "core"),
        (f"baseline, {batch} per transaction", "core_batched"),
    ]
    print(f"{'':50}{'decisions/s':>12}{'seconds':>10}")
    for label, name in rows:
        print(f"{label:50}{figures[name + '_decisions_per_s']:>12}{figures[name + '_seconds']:>10}")
    print(
        f"batched {figures['batched_speedup']}x one by one; ratio to Core {figures['ratio']}x "
        f"one by one, {figures['batched_ratio']}x batched; same rows: {figures['same_rows']}"
    )
    print(
        f"{figures['decisions']} decisions ({figures['suspense_share']} suspense), "
        f"{figures['rows_inserted_per_decision']} rows inserted per decision plus one invoice "
        "update per match"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
