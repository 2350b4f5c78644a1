"""The period workflow's use cases against every storage adapter: in memory, SQLite and
PostgreSQL (one suite). Every piece of workflow state must read back exactly as the domain
made it, and messages must go to the right period after a release or void."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, adjustment_entry, bank_line, entry

from bankrec.contracts import AdjustmentKind, EntrySource, PeriodStatus
from bankrec.reconciler.adapters import MemoryStore, reconciler_engine, sql_units_of_work
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR
from bankrec.reconciler.domain import ItemKind, ItemRef, figures
from bankrec.reconciler.errors import (
    AdjustmentConflictError,
    DifferenceNotZeroError,
    NotLatestReleasedError,
)
from bankrec.reconciler.period_workflow import PeriodWorkflow
from bankrec.reconciler.ports import UnitOfWorkFactory
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import session_factory, upgrade_database


class Clock:
    """A clock that ticks a minute per reading, so audit times are distinct and known."""

    def __init__(self) -> None:
        self.now = datetime(2017, 1, 31, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@dataclass
class Backend:
    name: str
    reconciler: Reconciler
    workflow: PeriodWorkflow
    other: PeriodWorkflow  # a second instance on the same storage (its own cache)


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    def build(name: str, one: UnitOfWorkFactory, two: UnitOfWorkFactory) -> Backend:
        reconciler = Reconciler(one)
        return Backend(
            name,
            reconciler,
            PeriodWorkflow.sharing(reconciler),
            PeriodWorkflow(two, clock=Clock()),
        )

    if request.param == "memory":
        store = MemoryStore()
        backend = build("memory", store.units_of_work(), store.units_of_work())
        backend.workflow = PeriodWorkflow(store.units_of_work(), clock=Clock())
        yield backend
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reconciler.sqlite'}"
    else:
        url = request.getfixturevalue("database_url")("reconciler_workflow")
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    engine = reconciler_engine(url)
    sessions = session_factory(engine)
    try:
        backend = build(request.param, sql_units_of_work(sessions), sql_units_of_work(sessions))
        backend.workflow = PeriodWorkflow(sql_units_of_work(sessions), clock=Clock())
        yield backend
    finally:
        await engine.dispose()


async def january(backend: Backend, make: Messages) -> None:
    """A statement 25,000 -> -172,550 with four lines; three matched entries, a manual entry
    not on the statement, and the bank fee only on the statement."""
    record = backend.reconciler
    header = make.header(
        opening="25000",
        closing="-172550",
        opening_date=date(2017, 1, 1),
        closing_date=date(2017, 1, 31),
    )
    await record.record_statement(make.envelope(header))
    for line_id, amount in (("l-out", "-250000"), ("l-in", "62500"), ("l-journal", "-10000")):
        await record.record_line(
            make.envelope(bank_line(make, line_id, amount, counterparty="Acme AS"))
        )
        posting = entry(make, f"je-{line_id}", amount, line_id=line_id, source=EntrySource.DECISION)
        await record.record_posting(make.envelope(posting))
    await record.record_line(make.envelope(bank_line(make, "l-fee", "-50", text="Gebyr")))
    await record.record_posting(
        make.envelope(entry(make, "je-cheque", "-700", description="cheque"))
    )


async def test_the_workflow_reads_back_exactly(backend: Backend, messages: Messages) -> None:
    make, flow = messages, backend.workflow
    tenant, account = make.tenant_id, make.account_id
    await january(backend, make)
    await flow.mark_items(
        tenant,
        account,
        None,
        refs=[ItemRef(ItemKind.LEDGER_ENTRY, "je-cheque")],
        cleared=True,
        actor=ACTOR,
    )
    requested = await flow.request_adjustment(
        tenant,
        account,
        1,
        kind=AdjustmentKind.BANK_FEE,
        amount=Decimal("-50"),
        currency=None,
        actor=ACTOR,
        reason="fee",
        statement_line_id="l-fee",
    )
    (adjustment_id,) = requested.period.adjustments
    await flow.add_manual_line(
        tenant,
        account,
        1,
        amount=Decimal("1.00"),
        currency="NOK",
        booking_date=date(2017, 1, 2),
        text="typo",
        actor=ACTOR,
        reason="testing",
    )
    await flow.remove_line(
        tenant, account, 1, f"{account}-p1-manual-1", actor=ACTOR, reason="typed by mistake"
    )
    await backend.reconciler.record_posting(
        make.envelope(adjustment_entry(make, adjustment_id, "-50", line_id="l-fee"))
    )
    state = await backend.other.state(tenant, account, 1)
    assert state.period == (await flow.state(tenant, account, None)).period  # read back exactly
    assert figures(state.period).difference == make.money("0.00")
    assert state.release_blockers == ()

    released = await flow.release(tenant, account, 1, actor=ACTOR)
    assert released.period.sequence_no == 1
    assert released.next_period is not None
    stored_next = (await backend.other.state(tenant, account, None)).period
    assert stored_next == released.next_period
    assert list(stored_next.postings) == ["je-cheque"]
    assert stored_next.postings["je-cheque"].carried_from == 1
    assert (await backend.other.state(tenant, account, 1)).period == released.period
    assert [r.sequence_no for r in await flow.history(tenant, account)] == [1, None]


async def test_messages_after_a_release_go_to_the_next_period(
    backend: Backend, messages: Messages
) -> None:
    make, flow = messages, backend.workflow
    tenant, account = make.tenant_id, make.account_id
    await backend.reconciler.record_statement(make.envelope(make.header(opening="0", closing="0")))
    await flow.release(tenant, account, None, actor=ACTOR)
    await backend.reconciler.record_line(make.envelope(make.line("feb-1", "10.00")))
    periods = {p.period_no: p for p in (await flow.state(tenant, account, None)).account_periods}
    assert "feb-1" in periods[2].lines
    assert "feb-1" not in periods[1].lines
    assert periods[1].status is PeriodStatus.RELEASED


async def test_an_adjustment_posting_goes_to_the_period_it_was_requested_from(
    backend: Backend, messages: Messages
) -> None:
    """January released, then voided to add a fee: the ledger's posting reaches January, not
    February (the current period), and January releases again as number 2."""
    make, flow = messages, backend.workflow
    tenant, account = make.tenant_id, make.account_id
    await backend.reconciler.record_statement(make.envelope(make.header(opening="0", closing="0")))
    await flow.release(tenant, account, 1, actor=ACTOR)
    await flow.void(tenant, account, 1, actor=ACTOR, reason="a fee was missed")
    await backend.reconciler.enter_statement_balance(tenant, account, Decimal("0"))  # February
    requested = await flow.request_adjustment(
        tenant,
        account,
        1,
        kind=AdjustmentKind.BANK_FEE,
        amount=Decimal("-5"),
        currency=None,
        actor=ACTOR,
        reason="missed fee",
    )
    (adjustment_id,) = requested.period.adjustments
    with pytest.raises(AdjustmentConflictError):
        await flow.request_adjustment(
            tenant,
            account,
            2,
            kind=AdjustmentKind.BANK_FEE,
            amount=Decimal("-5"),
            currency=None,
            actor=ACTOR,
            reason="again",
            adjustment_id=adjustment_id,
        )
    await backend.reconciler.record_posting(
        make.envelope(adjustment_entry(make, adjustment_id, "-5"))
    )
    january_now = (await flow.state(tenant, account, 1)).period
    assert f"je-{adjustment_id}" in january_now.postings
    with pytest.raises(DifferenceNotZeroError, match=r"5\.00 NOK"):
        await flow.release(tenant, account, 1, actor=ACTOR)
    # the bank's statement said -5 (the fee): correct January's statement balance by hand
    await flow.enter_balance(
        tenant, account, 1, which="statement", amount=Decimal("-5"), currency=None, actor=ACTOR
    )
    again = await flow.release(tenant, account, 1, actor=ACTOR)
    assert again.period.sequence_no == 2
    assert again.next_period is not None
    assert figures(again.next_period).opening_balance == make.money("-5.00")


async def test_void_is_refused_for_a_period_not_the_latest_released(
    backend: Backend, messages: Messages
) -> None:
    make, flow = messages, backend.workflow
    tenant, account = make.tenant_id, make.account_id
    await backend.reconciler.record_statement(make.envelope(make.header(opening="0", closing="0")))
    await flow.release(tenant, account, 1, actor=ACTOR)
    await backend.reconciler.enter_statement_balance(tenant, account, Decimal("0"))
    await flow.release(tenant, account, 2, actor=ACTOR)
    with pytest.raises(NotLatestReleasedError):
        await flow.void(tenant, account, 1, actor=ACTOR, reason="r")
    voided = await flow.void(tenant, account, 2, actor=ACTOR, reason="r")
    assert voided.period.status is PeriodStatus.VOID
    again = await flow.release(tenant, account, 2, actor=ACTOR)
    assert again.period.sequence_no == 3
