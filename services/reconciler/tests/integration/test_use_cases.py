"""The use cases against every storage adapter: in memory, SQLite and PostgreSQL (one suite).

The PostgreSQL runs need the ``database_url`` fixture of the repo-root conftest and are marked
``integration``; the in-memory and SQLite runs need nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from reconciler_factories import Messages
from sqlalchemy import select, text

from bankrec.contracts import (
    PERIOD_EVENTS,
    DecisionKind,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    PeriodEvent,
    StatementHeader,
    StatementLine,
)
from bankrec.reconciler.adapters import (
    MemoryStore,
    outbox,
    reconciler_engine,
    sql_units_of_work,
)
from bankrec.reconciler.adapters.sql import SqlPeriodRepository
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR
from bankrec.reconciler.domain import (
    ReconciliationPeriod,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    figures,
    open_period,
)
from bankrec.reconciler.errors import AccountNotFoundError, CurrencyMismatchError
from bankrec.reconciler.use_cases import Outcome, Reconciler
from bankrec.runtime import decode_payload, session_factory, upgrade_database


@dataclass
class Backend:
    name: str
    reconciler: Reconciler
    staged_events: Callable[[], Awaitable[list[tuple[str, Envelope[PeriodEvent]]]]]
    other_instance: Reconciler  # a second service instance on the same storage


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        store = MemoryStore()

        async def memory_events() -> list[tuple[str, Envelope[PeriodEvent]]]:
            return [
                (m.key, decode_payload(PeriodEvent, m.envelope.model_dump_json()))
                for m in store.outbox
                if m.topic is PERIOD_EVENTS
            ]

        yield Backend(
            "memory",
            Reconciler(store.units_of_work()),
            memory_events,
            Reconciler(store.units_of_work()),
        )
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reconciler.sqlite'}"
    else:
        url = request.getfixturevalue("database_url")("reconciler")
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    engine = reconciler_engine(url)
    sessions = session_factory(engine)

    async def sql_events() -> list[tuple[str, Envelope[PeriodEvent]]]:
        async with sessions() as session:
            rows = await session.execute(
                select(outbox.c.message_key, outbox.c.value)
                .where(outbox.c.topic == PERIOD_EVENTS.name)
                .order_by(outbox.c.id)
            )
            return [(row.message_key, decode_payload(PeriodEvent, row.value)) for row in rows]

    try:
        yield Backend(
            request.param,
            Reconciler(sql_units_of_work(sessions)),
            sql_events,
            Reconciler(sql_units_of_work(sessions)),  # its own period cache
        )
    finally:
        await engine.dispose()


async def record(backend: Backend, envelope: Envelope[Any]) -> Outcome:
    reconciler = backend.reconciler
    match envelope.payload:
        case StatementHeader():
            return await reconciler.record_statement(envelope)
        case StatementLine():
            return await reconciler.record_line(envelope)
        case MatchDecision():
            return await reconciler.record_decision(envelope)
        case JournalEntryPosted():
            return await reconciler.record_posting(envelope)
    raise TypeError(envelope.payload)


def apply_in_memory(period: ReconciliationPeriod, envelope: Envelope[Any]) -> ReconciliationPeriod:
    match envelope.payload:
        case StatementHeader() as header:
            return apply_statement(period, header)
        case StatementLine() as line:
            return apply_line(period, line)
        case MatchDecision() as decision:
            return apply_decision(period, decision, envelope.occurred_at)
        case JournalEntryPosted() as entry:
            return apply_posting(period, entry)
    raise TypeError(envelope.payload)


def month_of_messages(make: Messages, rng: random.Random) -> list[Envelope[Any]]:
    """A statement, lines of both signs, decisions (some re-decided), postings, a reversal."""
    payloads: list[tuple[BaseModel, int]] = [(make.header(opening="10000.00", closing="0"), 0)]
    for index in range(12):
        line_id = f"line-{index}"
        amount = str(Decimal(rng.randrange(-500_000, 500_000)) / 100)
        payloads.append((make.line(line_id, amount, sequence=index), index))
        kind = rng.choice(list(DecisionKind))
        payloads.append((make.decision(line_id, amount, kind, decision_id=f"d-{index}"), 50))
        if index % 4 == 0:
            payloads.append((make.decision(line_id, amount, decision_id=f"d-{index}-again"), 60))
        if index % 3 != 2:
            payloads.append((make.posting(line_id, amount, entry_id=f"je-{index}"), 70))
    payloads.append((make.posting("line-0", "1.00", entry_id="je-x"), 80))
    payloads.append((make.posting("line-0", "-1.00", entry_id="je-x-rev", reverses="je-x"), 81))
    return [make.envelope(payload, occurred_at=make.at(minute)) for payload, minute in payloads]


def expected_period(make: Messages, envelopes: list[Envelope[Any]]) -> ReconciliationPeriod:
    period = open_period(make.tenant_id, make.account_id, "NOK")
    for envelope in envelopes:
        period = apply_in_memory(period, envelope)
    return period


async def test_messages_in_any_order_give_the_same_period(
    backend: Backend, messages: Messages
) -> None:
    seed = int(os.environ.get("RECONCILER_TEST_SEED", random.randrange(2**32)))
    print(f"{backend.name}: RECONCILER_TEST_SEED={seed}")
    rng = random.Random(seed)
    envelopes = month_of_messages(messages, rng)
    want = expected_period(messages, envelopes)
    rng.shuffle(envelopes)

    for envelope in envelopes:
        await record(backend, envelope)

    stored = await backend.reconciler.period(messages.tenant_id, messages.account_id)
    assert stored == want, "the stored period reads back exactly (ids, amounts, dates, times)"
    assert figures(stored) == figures(want)
    assert figures(stored).lines == 12


async def test_a_redelivered_message_is_a_duplicate(backend: Backend, messages: Messages) -> None:
    line = messages.envelope(messages.line("l1", "100.00"))
    assert await record(backend, line) is Outcome.APPLIED
    assert await record(backend, line) is Outcome.DUPLICATE
    again = messages.envelope(messages.line("l1", "100.00"))  # same line, new message id
    assert await record(backend, again) is Outcome.UNCHANGED
    assert len(await backend.staged_events()) == 1


async def test_each_change_stages_an_updated_event_with_the_figures(
    backend: Backend, messages: Messages
) -> None:
    header = messages.envelope(messages.header(opening="100.00", closing="150.00"))
    posting = messages.envelope(messages.posting("l1", "50.00"))
    await record(backend, header)
    await record(backend, posting)

    staged = await backend.staged_events()
    assert [key for key, _ in staged] == [f"{messages.tenant_id}:{messages.account_id}"] * 2
    first, last = (envelope for _, envelope in staged)
    assert first.payload.difference == messages.money("50.00")
    assert last.payload.event.value == "updated"
    assert last.payload.reconciled_balance == messages.money("150.00")
    assert last.payload.difference == messages.money("0.00")
    assert (last.tenant_id, last.correlation_id) == (messages.tenant_id, messages.correlation_id)
    assert last.causation_id == posting.message_id


async def test_one_posting_updates_every_bank_account_it_touches(
    backend: Backend, messages: Messages
) -> None:
    other = Messages(tenant_id=messages.tenant_id, iban="NO8330001234567")
    transfer = messages.posting("out-1", "-200.00", entry_id="je-transfer")
    incoming = other.posting("in-1", "200.00").lines[0]
    transfer = transfer.model_copy(update={"lines": [transfer.lines[0], incoming]})

    assert await record(backend, messages.envelope(transfer)) is Outcome.APPLIED

    periods = await backend.reconciler.periods(messages.tenant_id)
    totals = {p.account_id: figures(p).reconciled_total for p in periods}
    assert totals == {
        messages.account_id: messages.money("-200.00"),
        other.account_id: messages.money("200.00"),
    }
    assert len(await backend.staged_events()) == 2


async def test_concurrent_messages_for_one_account_lose_nothing(
    backend: Backend, messages: Messages
) -> None:
    envelopes = [messages.envelope(messages.header(opening="0.00", closing="55.00"))]
    for index in range(1, 11):
        envelopes.append(messages.envelope(messages.line(f"l{index}", f"{index}.00")))
        envelopes.append(messages.envelope(messages.posting(f"l{index}", f"{index}.00")))

    outcomes = await asyncio.gather(*(record(backend, envelope) for envelope in envelopes))

    assert set(outcomes) == {Outcome.APPLIED}
    result = figures(await backend.reconciler.period(messages.tenant_id, messages.account_id))
    assert (result.lines, result.reconciled, result.outstanding) == (10, 10, 0)
    assert result.difference == messages.money("0.00")


async def test_writes_by_another_instance_are_never_hidden_by_a_cache(
    backend: Backend, messages: Messages
) -> None:
    one, two = backend.reconciler, backend.other_instance
    await one.record_statement(messages.envelope(messages.header(opening="0", closing="6.00")))
    await one.record_line(messages.envelope(messages.line("l1", "1.00")))
    await two.record_posting(messages.envelope(messages.posting("l2", "2.00")))
    await one.record_posting(messages.envelope(messages.posting("l3", "3.00")))
    await two.enter_opening_balance(messages.tenant_id, messages.account_id, Decimal("1.00"))
    await one.record_posting(messages.envelope(messages.posting("l1", "1.00")))

    last_event = (await backend.staged_events())[-1][1].payload
    assert last_event.opening_balance == messages.money("1.00")
    assert last_event.reconciled_balance == messages.money("7.00")
    for instance in (one, two):
        result = figures(await instance.period(messages.tenant_id, messages.account_id))
        assert (result.lines, result.reconciled, result.outstanding) == (1, 3, 0)
        assert result.difference == messages.money("-1.00")


async def test_balances_entered_by_hand(backend: Backend, messages: Messages) -> None:
    await record(backend, messages.envelope(messages.line("l1", "25.00")))
    await record(backend, messages.envelope(messages.posting("l1", "25.00")))
    tenant, account = messages.tenant_id, messages.account_id

    await backend.reconciler.enter_opening_balance(tenant, account, Decimal("100.00"))
    period = await backend.reconciler.enter_statement_balance(
        tenant, account, Decimal("125.00"), "NOK", correlation_id="req-1"
    )

    assert figures(period).difference == messages.money("0.00")
    stored = figures(await backend.reconciler.period(tenant, account))
    assert (stored.opening_balance, stored.statement_balance) == (
        messages.money("100.00"),
        messages.money("125.00"),
    )
    events = await backend.staged_events()
    assert events[-1][1].correlation_id == "req-1"
    assert events[-1][1].payload.reason == "statement balance entered by hand"
    unchanged = await backend.reconciler.enter_statement_balance(tenant, account, Decimal("125"))
    assert unchanged == period
    assert len(await backend.staged_events()) == len(events)
    with pytest.raises(CurrencyMismatchError):
        await backend.reconciler.enter_opening_balance(tenant, account, Decimal("1"), "SEK")
    with pytest.raises(AccountNotFoundError):
        await backend.reconciler.enter_opening_balance(tenant, "acc-unknown", Decimal("1"))


async def test_a_refused_message_stores_nothing_and_is_refused_again(
    backend: Backend, messages: Messages
) -> None:
    await record(backend, messages.envelope(messages.line("l1", "1.00")))
    sek = Messages(tenant_id=messages.tenant_id, iban=messages.iban, currency="SEK")
    refused = sek.envelope(sek.line("l2", "1.00"))
    for _ in range(2):  # the inbox claim was rolled back with the effect
        with pytest.raises(CurrencyMismatchError):
            await record(backend, refused)
    period = await backend.reconciler.period(messages.tenant_id, messages.account_id)
    assert set(period.lines) == {"l1"}


async def test_each_tenant_sees_only_its_own_accounts(backend: Backend, messages: Messages) -> None:
    second = Messages(tenant_id=messages.tenant_id, iban="NO8330001234567")
    stranger = Messages.for_tenant(f"{messages.tenant_id}-other")
    for make in (messages, second, stranger):
        await record(backend, make.envelope(make.header()))

    periods = await backend.reconciler.periods(messages.tenant_id)

    assert [p.account_id for p in periods] == sorted([messages.account_id, second.account_id])
    with pytest.raises(AccountNotFoundError):
        await backend.reconciler.period(messages.tenant_id, stranger.account_id)


@pytest.mark.integration
async def test_postgresql_tables_live_in_the_reconciler_schema(
    database_url: Callable[[str], str],
) -> None:
    url = database_url("reconciler_schema")
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)  # a second run is a no-op
    engine = reconciler_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT table_name, table_schema FROM information_schema.tables "
                    "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                )
            )
            tables = {row.table_name: row.table_schema for row in rows}
    finally:
        await engine.dispose()
    expected = {
        "alembic_version",
        "periods",
        "period_statements",
        "period_lines",
        "period_postings",
        "period_removed_lines",
        "period_item_marks",
        "period_adjustments",
        "period_match_requests",
        "period_audit",
        "inbox",
        "inbox_before_rebuild",
        "outbox",
    }
    assert tables == dict.fromkeys(expected, "reconciler")


async def test_batches_store_what_one_message_at_a_time_does(
    backend: Backend, messages: Messages
) -> None:
    """A month's messages shuffled, then recorded in batches (runs of one topic, up to 5):
    the stored period is the one the messages give one at a time, with one event per batch
    that changed it, carrying the figures after the batch and naming its last change."""
    seed = int(os.environ.get("RECONCILER_TEST_SEED", random.randrange(2**32)))
    print(f"{backend.name}: RECONCILER_TEST_SEED={seed}")
    rng = random.Random(seed)
    envelopes = month_of_messages(messages, rng)
    want = expected_period(messages, envelopes)
    rng.shuffle(envelopes)
    batches: list[list[Envelope[Any]]] = []
    for envelope in envelopes:
        last = batches[-1] if batches else None
        if last and type(last[0].payload) is type(envelope.payload) and len(last) < 5:
            last.append(envelope)
        else:
            batches.append([envelope])

    changing: list[tuple[list[Envelope[Any]], Any]] = []  # each batch that changed the period
    for batch in batches:
        outcomes = await backend.reconciler.record_batch(batch)
        if Outcome.APPLIED in outcomes:
            applied = [e for e, o in zip(batch, outcomes, strict=True) if o is Outcome.APPLIED]
            after = await backend.reconciler.period(messages.tenant_id, messages.account_id)
            changing.append((applied, figures(after)))

    stored = await backend.reconciler.period(messages.tenant_id, messages.account_id)
    assert stored == want, "the stored period reads back exactly (ids, amounts, dates, times)"
    assert figures(stored) == figures(want)
    events = [event for _, event in await backend.staged_events()]
    assert len(events) == len(changing)
    for event, (applied, after) in zip(events, changing, strict=True):
        assert event.causation_id == applied[-1].message_id
        assert event.payload.difference == after.difference
        assert event.payload.reconciled_balance == after.reconciled_balance
        if len(applied) > 1:
            assert event.payload.reason.startswith(f"{len(applied)} messages, the last ")
    again = await backend.reconciler.record_batch(batches[0])
    assert again == [Outcome.DUPLICATE] * len(batches[0])


async def test_a_batch_claims_each_message_once_and_hands_back_refusals(
    backend: Backend, messages: Messages
) -> None:
    before = messages.envelope(messages.line("l0", "5.00"))
    await record(backend, before)
    sek = Messages(tenant_id=messages.tenant_id, iban=messages.iban, currency="SEK")
    line = messages.envelope(messages.line("l1", "1.00"))
    refused = sek.envelope(sek.line("l2", "2.00"))
    batch = [line, refused, messages.envelope(messages.line("l3", "3.00")), line, before]

    results = await backend.reconciler.record_batch(batch)

    assert results[0] is Outcome.APPLIED
    assert isinstance(results[1], CurrencyMismatchError)
    assert results[2:] == [Outcome.APPLIED, Outcome.DUPLICATE, Outcome.DUPLICATE]
    period = await backend.reconciler.period(messages.tenant_id, messages.account_id)
    assert set(period.lines) == {"l0", "l1", "l3"}
    assert figures(period).lines == 3
    with pytest.raises(CurrencyMismatchError):  # its claim was taken back: refused again
        await record(backend, refused)
    # one event for l0's message, one for the batch (l1 and l3 changed the period)
    events = [event for _, event in await backend.staged_events()]
    assert [event.causation_id for event in events] == [before.message_id, batch[2].message_id]


@pytest.mark.parametrize(
    "backend",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
    indirect=True,  # the cache is the SQL adapter's
)
async def test_concurrent_batches_of_one_process_do_not_read_the_period_back(
    backend: Backend, messages: Messages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconciler's consumers (lines, decisions, postings) take turns on one period row;
    each must find the period the previous one committed in the process's cache, not read it
    back whole (before: about every second batch did, at the moment the database let it read
    the new version and before the committing coroutine had cached it)."""
    loads: list[int] = []
    load = SqlPeriodRepository._load

    async def counted(
        self: SqlPeriodRepository, tenant_id: str, rows: list[Any]
    ) -> list[ReconciliationPeriod]:
        loaded = await load(self, tenant_id, rows)
        loads.extend(len(period.lines) for period in loaded)
        return loaded

    monkeypatch.setattr(SqlPeriodRepository, "_load", counted)
    reconciler = backend.reconciler
    await reconciler.record_statement(messages.envelope(messages.header(opening="0", closing="0")))
    lines = [messages.envelope(messages.line(f"l{n}", "1.00")) for n in range(120)]
    decisions = [
        messages.envelope(messages.decision(f"l{n}", "1.00", DecisionKind.SUSPENSE))
        for n in range(120)
    ]
    postings = [messages.envelope(messages.posting(f"l{n}", "1.00")) for n in range(120)]
    assert loads == []  # the statement opened the period: nothing read back

    async def consume(envelopes: list[Envelope[Any]]) -> None:
        for start in range(0, len(envelopes), 10):
            await reconciler.record_batch(envelopes[start : start + 10])

    await asyncio.gather(consume(lines), consume(decisions), consume(postings))

    assert loads == [], f"{len(loads)} of 36 batches read the period back"
    result = figures(await reconciler.period(messages.tenant_id, messages.account_id))
    assert (result.lines, result.in_suspense, result.reconciled) == (120, 120, 120)
