"""Adjustments reach the ledger by themselves: requesting one stages ``PostAdjustment`` in the
same transaction; the ledger's posting makes it ``posted``, its refusal ``refused`` with the
reason. On memory and SQLite (the PostgreSQL path runs in the seed-003 end-to-end test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reconciler_factories import Messages
from workflow_factories import ACTOR, adjustment_entry

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    PERIOD_EVENTS,
    AdjustmentKind,
    AdjustmentRefused,
    Envelope,
)
from bankrec.reconciler.adapters import MemoryStore, reconciler_engine, sql_units_of_work
from bankrec.reconciler.adapters.tables import outbox
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR
from bankrec.reconciler.domain import AdjustmentState, adjustment_views, figures
from bankrec.reconciler.period_workflow import PeriodWorkflow, adjustment_request_message_id
from bankrec.reconciler.use_cases import Outcome, Reconciler
from bankrec.runtime import session_factory, upgrade_database

Staged = Callable[[], Awaitable[list[tuple[str, str, dict[str, Any]]]]]


@pytest.fixture(params=["memory", "sqlite"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Reconciler, PeriodWorkflow, Staged]]:
    """The use cases and a look at the outbox: (topic, key, envelope as JSON) in order."""
    if request.param == "memory":
        store = MemoryStore()
        reconciler = Reconciler(store.units_of_work())

        async def staged_in_memory() -> list[tuple[str, str, dict[str, Any]]]:
            return [(m.topic.name, m.key, m.envelope.model_dump(mode="json")) for m in store.outbox]

        yield reconciler, PeriodWorkflow.sharing(reconciler), staged_in_memory
        return
    url = f"sqlite:///{tmp_path / 'reconciler.sqlite'}"
    await asyncio.to_thread(upgrade_database, url, MIGRATIONS_DIR)
    engine = reconciler_engine(url)
    sessions = session_factory(engine)
    reconciler = Reconciler(sql_units_of_work(sessions))

    async def staged_in_sql() -> list[tuple[str, str, dict[str, Any]]]:
        import json

        from sqlalchemy import select

        async with sessions() as session:
            rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
        return [(r.topic, r.message_key, json.loads(r.value)) for r in rows]

    try:
        yield reconciler, PeriodWorkflow.sharing(reconciler), staged_in_sql
    finally:
        await engine.dispose()


async def _period_with_fee_line(reconciler: Reconciler, make: Messages) -> None:
    """Statement 100 -> 100: a line of 50 posted and a fee of -50 only on the statement."""
    await reconciler.record_statement(
        make.envelope(make.header(opening="100.00", closing="100.00"))
    )
    await reconciler.record_line(make.envelope(make.line("l1", "50.00")))
    await reconciler.record_posting(make.envelope(make.posting("l1", "50.00", entry_id="je-l1")))
    await reconciler.record_line(make.envelope(make.line("fee", "-50.00")))


async def test_requesting_an_adjustment_stages_the_command_for_the_ledger_once(
    backend: tuple[Reconciler, PeriodWorkflow, Staged], messages: Messages
) -> None:
    reconciler, workflow, staged = backend
    make = messages
    await _period_with_fee_line(reconciler, make)
    request: dict[str, Any] = {
        "kind": AdjustmentKind.BANK_FEE,
        "amount": Decimal("-50.00"),
        "currency": None,
        "actor": ACTOR,
        "reason": "fee on the statement",
        "statement_line_id": "fee",
        "adjustment_id": "adj-fee-1",
    }
    await workflow.request_adjustment(make.tenant_id, make.account_id, None, **request)
    await workflow.request_adjustment(make.tenant_id, make.account_id, None, **request)  # again

    commands = [m for m in await staged() if m[0] == ADJUSTMENT_REQUESTS.name]
    assert len(commands) == 1, "asked twice with the same content: sent once"
    _topic, key, envelope = commands[0]
    assert key == f"{make.tenant_id}:{make.account_id}"
    assert envelope["type"] == "adjustment.post"
    assert envelope["message_id"] == adjustment_request_message_id(make.tenant_id, "adj-fee-1")
    payload = envelope["payload"]
    assert payload["adjustment_id"] == "adj-fee-1"
    assert payload["period_id"] == f"{make.account_id}-p1"
    assert payload["bank_account_id"] == make.account_id
    assert payload["kind"] == "bank_fee"
    assert payload["amount"] == {"amount": "-50.00", "currency": "NOK"}
    assert payload["statement_line_id"] == "fee"
    assert payload["requested_by"] == ACTOR
    assert payload["reason"] == "fee on the statement"
    events = [m for m in await staged() if m[0] == PERIOD_EVENTS.name]
    assert events, "the period event is staged in the same transaction"

    period = await reconciler.period(make.tenant_id, make.account_id)
    assert figures(period).adjustments_not_posted == 1
    assert figures(period).difference is not None
    assert figures(period).difference.amount == Decimal("-50.00")

    # the ledger's posting comes back: posted, difference 0
    posted = adjustment_entry(make, "adj-fee-1", "-50.00", line_id="fee")
    assert await reconciler.record_posting(make.envelope(posted)) is Outcome.APPLIED
    period = await reconciler.period(make.tenant_id, make.account_id)
    [view] = adjustment_views(period)
    assert view.state is AdjustmentState.POSTED
    assert figures(period).adjustments_not_posted == 0
    assert figures(period).difference is not None
    assert figures(period).difference.amount == Decimal("0.00")


async def test_a_refused_adjustment_shows_the_reason_and_no_longer_blocks(
    backend: tuple[Reconciler, PeriodWorkflow, Staged], messages: Messages
) -> None:
    reconciler, workflow, _ = backend
    make = messages
    await _period_with_fee_line(reconciler, make)
    await workflow.request_adjustment(
        make.tenant_id,
        make.account_id,
        None,
        kind=AdjustmentKind.OTHER,
        amount=Decimal("-50.00"),
        currency="NOK",
        actor=ACTOR,
        reason="difference to a journal",
        gl_account="9999",
        adjustment_id="adj-other-1",
    )
    refused = AdjustmentRefused(
        adjustment_id="adj-other-1",
        period_id=f"{make.account_id}-p1",
        bank_account_id=make.account_id,
        reason_code="unknown_account",
        reason="no GL account 9999 in the chart of tenant t",
        refused_at=datetime(2017, 1, 31, 17, 0, tzinfo=UTC),
    )
    envelope: Envelope[AdjustmentRefused] = make.envelope(refused)
    assert await reconciler.record_adjustment_refusal(envelope) is Outcome.APPLIED
    assert await reconciler.record_adjustment_refusal(envelope) is Outcome.DUPLICATE

    period = await reconciler.period(make.tenant_id, make.account_id)
    [view] = adjustment_views(period)
    assert view.state is AdjustmentState.REFUSED
    assert view.adjustment.refusal_code == "unknown_account"
    assert view.adjustment.refusal_reason == "no GL account 9999 in the chart of tenant t"
    assert view.adjustment.refused_at == datetime(2017, 1, 31, 17, 0, tzinfo=UTC)
    assert figures(period).adjustments_not_posted == 0
    # a refusal of an adjustment the period does not have changes nothing
    other = refused.model_copy(update={"adjustment_id": "adj-unknown"})
    assert await reconciler.record_adjustment_refusal(make.envelope(other)) is Outcome.UNCHANGED
