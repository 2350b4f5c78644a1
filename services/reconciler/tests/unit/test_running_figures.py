"""The running sums (updated per message) always give the figures a full recount gives.

Invariants, after every step of a random program of lines, decisions, postings (reversals,
reversals of reversals, adjustment entries), flags and adjustments requested:

- ``figures(period) == recount(period)`` (every figure, money exact);
- a message keeps the running sums current (no recount needed), a command leaves them stale
  and ``figures`` recounts;
- a period without running sums (as loaded from storage) gets the same figures.

Hypothesis runs derandomized (the same examples every run); a failure prints the program.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from reconciler_factories import Messages
from workflow_factories import ACTOR, AT, adjustment_entry, entry

from bankrec.contracts import AdjustmentKind, DecisionKind, EntrySource
from bankrec.reconciler.domain import (
    BankPosting,
    ItemKind,
    ItemRef,
    PeriodLine,
    ReconciliationPeriod,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    figures,
    mark_items,
    open_period,
    request_adjustment,
)
from bankrec.reconciler.domain.period import recount, running_figures

LINES = 6
AMOUNTS = st.sampled_from(["10.00", "-25.50", "100.00", "-0.01", "7.25"])

line_step = st.tuples(st.just("line"), st.integers(0, LINES - 1), AMOUNTS)
decision_step = st.tuples(
    st.just("decision"),
    st.integers(0, LINES - 1),
    st.sampled_from(list(DecisionKind)),
    st.integers(0, 5),
)
posting_step = st.tuples(
    st.just("posting"),
    st.one_of(st.none(), st.integers(0, LINES - 1)),
    AMOUNTS,
    st.one_of(st.none(), st.integers(0, 30)),  # reverses an earlier entry (by index)
)
adjustment_entry_step = st.tuples(st.just("adjustment_entry"), st.integers(0, 2), AMOUNTS)
mark_step = st.tuples(
    st.just("mark"),
    st.sampled_from([ItemKind.STATEMENT_LINE, ItemKind.LEDGER_ENTRY]),
    st.integers(0, 30),
    st.one_of(st.none(), st.booleans()),
)
request_step = st.tuples(st.just("request"), st.integers(0, 2))
programs = st.lists(
    st.one_of(
        line_step, decision_step, posting_step, adjustment_entry_step, mark_step, request_step
    ),
    max_size=40,
)


def _step(
    period: ReconciliationPeriod, make: Messages, step: tuple[object, ...]
) -> ReconciliationPeriod:
    kind = step[0]
    entries = list(period.postings)
    if kind == "line":
        _, index, amount = step
        return apply_line(period, make.line(f"l{index}", str(amount)))
    if kind == "decision":
        _, index, decided, minute = step
        assert isinstance(decided, DecisionKind)
        assert isinstance(minute, int)
        decision = make.decision(f"l{index}", "10.00", decided, decision_id=f"d{index}-{minute}")
        return apply_decision(period, decision, AT + timedelta(minutes=minute))
    if kind == "posting":
        _, index, amount, reverses = step
        reversed_id = entries[reverses % len(entries)] if entries and reverses is not None else None
        posted = entry(
            make,
            f"je-{len(entries)}",
            str(amount),
            line_id=None if index is None else f"l{index}",
            source=EntrySource.REVERSAL if reversed_id else EntrySource.DECISION,
            reverses=reversed_id,
        )
        return apply_posting(period, posted)
    if kind == "adjustment_entry":
        _, index, amount = step
        posted = adjustment_entry(make, f"adj-{index}", str(amount), entry_id=f"je-{len(entries)}")
        return apply_posting(period, posted)
    if kind == "mark":
        _, item_kind, index, reconciled = step
        ids = list(period.lines) if item_kind is ItemKind.STATEMENT_LINE else entries
        if not ids or reconciled is None:
            return period
        assert isinstance(item_kind, ItemKind)
        assert isinstance(index, int)
        ref = ItemRef(item_kind, ids[index % len(ids)])
        return mark_items(period, [ref], reconciled=bool(reconciled), actor=ACTOR, at=AT)
    _, index = step
    return request_adjustment(
        period,
        adjustment_id=f"adj-{index}",
        kind=AdjustmentKind.BANK_FEE,
        amount=make.money("-10.00"),
        actor=ACTOR,
        reason="fee",
        at=AT,
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(program=programs)
def test_running_figures_equal_a_full_recount(program: list[tuple[object, ...]]) -> None:
    make = Messages.for_tenant("t-running")
    period = open_period(make.tenant_id, make.account_id, make.currency)
    period = apply_statement(period, make.header(opening="1000.00", closing="1100.00"))
    for step in program:
        before = period
        period = _step(period, make, step)
        assert figures(period) == recount(period), step
        if step[0] in ("line", "decision", "posting", "adjustment_entry") and (
            period is not before
        ):
            assert period.running is not None, step
            assert period.running.is_current(period), step
    assert figures(replace(period, running=None)) == recount(period)


def large_period(make: Messages, lines: int) -> ReconciliationPeriod:
    """A period with ``lines`` lines of 1.00, each posted, its running sums counted once
    (built from the facts directly: applying 2 x 10,000 messages one by one copies the maps
    each time)."""
    empty = open_period(make.tenant_id, make.account_id, make.currency)
    known: dict[str, PeriodLine] = {}
    posted: dict[str, BankPosting] = {}
    for i in range(lines):
        known.update(apply_line(empty, make.line(f"l{i}", "1.00")).lines)
        entry_id = f"je-{i}"
        posted.update(
            apply_posting(empty, make.posting(f"l{i}", "1.00", entry_id=entry_id)).postings
        )
    period = apply_statement(empty, make.header(opening="0.00", closing=f"{lines}.00"))
    period = replace(period, lines=known, postings=posted)
    return replace(period, running=running_figures(period))


def test_one_decision_on_a_large_period_updates_without_a_recount() -> None:
    """10,000 lines, each posted: a new decision touches one line of the running sums."""
    make = Messages.for_tenant("t-large")
    period = large_period(make, 10_000)
    decided = apply_decision(
        period, make.decision("l42", "1.00", DecisionKind.SUSPENSE), AT + timedelta(minutes=1)
    )
    assert decided.running is not None
    assert decided.running.is_current(decided)
    result = figures(decided)
    assert (result.lines, result.reconciled, result.in_suspense, result.outstanding) == (
        10_000,
        10_000,
        1,
        0,
    )
    assert result.difference is not None
    assert result.difference.amount == Decimal("0.00")
    assert result == recount(decided)
