"""Property-based test of the ledger's use cases on SQLite (hypothesis).

Random programs of invoices and bills (NOK and EUR, on two bank accounts), decisions (match,
match with a left-over, partial, suspense), suspense allocations and their reversals,
unmatches, registered and removed payments, adjustments (bank fee, interest) and their
reversals, reversal pairs (a later line reversing an applied one: ``reversal_pair``), and
redeliveries of earlier decisions (the same message again, or the same decision in a new
envelope) run against ``Ledger`` and ``ManualWork``. Invariants:

1. after every step the trial balance sums to zero in every currency (debits = credits);
2. after every step each item's remaining amount is what a model of the program says
   (amount minus what was allocated to it and not taken back), and at the end
   amount - remaining equals the sum of its allocations in the journal (credit - debit on the
   receivable or payable lines that name it);
3. a decision the model says no longer fits is refused, and a refusal changes nothing but
   the refusal messages; a manual action that is refused changes nothing at all;
4. a redelivered decision changes nothing: no entry, no item change, no message;
5. the bank GL accounts moved by exactly the applied lines plus the registered payments not
   removed plus the adjustments not reversed (an unmatch never moves them), and the interim
   account holds exactly the open suspense postings (minus the sum of their remaining);
6. an allocation or adjustment is reversed once: a second reversal is refused and changes
   nothing;
7. a reversal pair settles the earlier line's suspense posting when it is still wholly parked
   (both ``settled_by_reversal``, nothing left on either), and otherwise waits open on the
   interim account for its full amount.

Profiles: ``BANKREC_HYPOTHESIS_PROFILE=default`` (50 programs of up to 24 steps, about
15 s) or ``long`` (1000 programs, on demand). A failure prints the seed and a reproduction
blob: rerun it with ``--hypothesis-seed=<seed>`` or the ``@reproduce_failure`` it prints.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    Envelope,
    MatchDecision,
    Money,
    OpenItemStatus,
)
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import outbox
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.ledger.domain import parse_draft
from bankrec.ledger.domain.suspense import AllocationTarget, SuspenseStatus
from bankrec.ledger.errors import LedgerError
from bankrec.ledger.manual_work import ManualWork
from bankrec.ledger.ports import DecisionOutcome
from bankrec.ledger.use_cases import Ledger
from bankrec.runtime import create_engine, session_factory, upgrade_database

T = TypeVar("T")

# hypothesis keeps a cache of source constants even without an example database: keep it
# out of the work tree, under the ignored .cache/
set_hypothesis_home_dir(Path(__file__).resolve().parents[4] / ".cache" / "hypothesis")

settings.register_profile(
    "ledger-default",
    max_examples=50,
    deadline=None,
    database=None,  # nothing written into the work tree; a failure prints its blob and seed
    print_blob=True,
    # ``make`` is a function-scoped fixture of stateless factories: sharing it is safe
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
settings.register_profile(
    "ledger-long", parent=settings.get_profile("ledger-default"), max_examples=1000
)
PROFILE = settings.get_profile(f"ledger-{os.environ.get('BANKREC_HYPOTHESIS_PROFILE', 'default')}")
"""Applied to this test only (a global profile would change other suites' tests)."""

ACCOUNTS = {"NOK": "acc-prop-nok", "EUR": "acc-prop-eur"}
BY = {"actor": "property-test", "reason": "randomised manual work"}


# --- the program ------------------------------------------------------------------------

cents = st.integers(min_value=1, max_value=50_000)
pick = st.integers(min_value=0, max_value=10_000)
currencies = st.sampled_from(sorted(ACCOUNTS))
new_item = st.tuples(st.just("item"), st.sampled_from(["invoice", "bill"]), currencies, cents)
allocate = st.tuples(
    st.just("allocate"),
    pick,
    st.sampled_from(["open_item", "open_item", "customer", "gl_account"]),
    pick,
    st.one_of(st.none(), cents),
)
reverse_allocation = st.tuples(st.just("reverse_allocation"), pick)
suspense = st.tuples(st.just("suspense"), currencies, cents, st.booleans())
steps = st.one_of(
    new_item,
    st.tuples(st.just("match"), pick, st.sampled_from([0, 0, 0, 1, 250])),
    st.tuples(st.just("partial"), pick, cents),
    suspense,
    suspense,  # suspense and allocations weigh more: a reversal needs an allocation first
    allocate,
    allocate,
    allocate,
    st.tuples(st.just("unmatch"), pick),
    st.tuples(st.just("redeliver"), pick, st.booleans()),
    st.tuples(st.just("pay"), pick, cents),
    st.tuples(st.just("remove_payment"), pick),
    reverse_allocation,
    reverse_allocation,
    st.tuples(
        st.just("adjust"),
        currencies,
        cents,
        st.booleans(),
        st.sampled_from([AdjustmentKind.BANK_FEE, AdjustmentKind.INTEREST]),
    ),
    st.tuples(st.just("reverse_adjustment"), pick),
    st.tuples(st.just("reverse_line"), pick),
)
programs = st.tuples(
    st.lists(new_item, min_size=1, max_size=4), st.lists(steps, min_size=4, max_size=20)
)


# --- the model --------------------------------------------------------------------------


@dataclass
class ModelItem:
    item_id: str
    amount: Decimal
    currency: str
    remaining: Decimal


@dataclass
class SentDecision:
    envelope: Envelope[MatchDecision]
    allocations: list[tuple[str, Decimal]]
    applied: bool
    unmatched: bool = False


@dataclass
class ModelPayment:
    payment_id: str
    item_id: str
    amount: Decimal
    removed: bool = False


@dataclass
class ModelAdjustment:
    adjustment_id: str
    currency: str
    amount: Decimal
    reversed: bool = False


@dataclass
class Model:
    items: dict[str, ModelItem] = field(default_factory=dict)
    decisions: list[SentDecision] = field(default_factory=list)
    payments: list[ModelPayment] = field(default_factory=list)
    adjustments: list[ModelAdjustment] = field(default_factory=list)
    bank: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(ACCOUNTS, Decimal(0)))
    refused: int = 0
    applied: int = 0

    def item_at(self, index: int) -> ModelItem | None:
        ids = sorted(self.items)
        return self.items[ids[index % len(ids)]] if ids else None


def money(value: Decimal, _currency: str) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


# --- the machinery ----------------------------------------------------------------------


@dataclass
class Harness:
    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    ledger: Ledger
    manual: ManualWork
    views: SqlLedgerViews

    def run(self, work: Awaitable[T]) -> T:
        return self.loop.run_until_complete(work)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger-properties') / 'ledger.sqlite'}"
    upgrade_database(url, MIGRATIONS_DIR)
    loop = asyncio.new_event_loop()
    engine = create_engine(url)
    sessions = session_factory(engine)
    transactions, views = sql_transactions(sessions), SqlLedgerViews(sessions)
    harness = Harness(
        loop, engine, Ledger(transactions, views), ManualWork(transactions, views), views
    )
    try:
        yield harness
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


@dataclass(frozen=True)
class Snapshot:
    entries: int
    messages: int
    items: tuple[tuple[str, int, Decimal, str], ...]
    suspense: tuple[tuple[str, int, Decimal], ...]


async def snapshot(h: Harness, tenant_id: str) -> Snapshot:
    counts = await h.views.counts(tenant_id)
    async with session_factory(h.engine)() as session:
        messages = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.message_key.startswith(f"{tenant_id}:"))
        )
    items = await h.views.open_items(tenant_id, status=None, limit=10_000, offset=0)
    postings = await h.views.suspense_postings(tenant_id, status=None, limit=10_000, offset=0)
    return Snapshot(
        entries=counts.journal_entries,
        messages=int(messages or 0),
        items=tuple((i.item_id, i.version, i.remaining.amount, i.status.value) for i in items),
        suspense=tuple((p.suspense_id, p.version, p.remaining.amount) for p in postings),
    )


async def check_every_step(h: Harness, tenant_id: str, model: Model) -> None:
    """Invariants 1, 2 (against the model) and 5."""
    trial = await h.ledger.trial_balance(tenant_id)
    assert trial.balanced
    net: dict[str, Decimal] = {}
    bank: dict[str, Decimal] = {}
    interim: dict[str, Decimal] = {}
    for row in trial.accounts:
        net[row.currency] = net.get(row.currency, Decimal(0)) + row.debit - row.credit
        if row.role is AccountRole.BANK:
            bank[row.currency] = bank.get(row.currency, Decimal(0)) + row.debit - row.credit
        if row.role is AccountRole.INTERIM:
            interim[row.currency] = interim.get(row.currency, Decimal(0)) + row.debit - row.credit
    assert all(total == 0 for total in net.values()), net
    for currency, expected in model.bank.items():
        assert bank.get(currency, Decimal(0)) == expected, (currency, bank, model.bank)
    parked: dict[str, Decimal] = {}
    for posting in await h.views.suspense_postings(tenant_id, status=None, limit=10_000, offset=0):
        if posting.status is not SuspenseStatus.REVERSED:
            currency = posting.remaining.currency
            parked[currency] = parked.get(currency, Decimal(0)) + posting.remaining.amount
    for currency in set(interim) | set(parked):
        assert interim.get(currency, Decimal(0)) == -parked.get(currency, Decimal(0)), currency
    for item in await h.views.open_items(tenant_id, status=None, limit=10_000, offset=0):
        modelled = model.items.get(item.item_id)
        if modelled is None:  # a registered payment's own item
            continue
        assert item.remaining.amount == modelled.remaining, (item.item_id, item.remaining)
        paid = item.remaining.amount == 0
        assert (item.status is OpenItemStatus.PAID) == paid


async def check_journal(h: Harness, tenant_id: str, model: Model) -> None:
    """Invariant 2 against the journal: an item's allocations are its receivable/payable
    lines (credit - debit), decisions, suspense allocations, payments and their reversals."""
    allocated: dict[str, Decimal] = {}
    for posted in await h.ledger.journal(tenant_id, limit=100_000):
        for line in posted.entry.lines:
            if line.open_item_id and line.account_role in (
                AccountRole.RECEIVABLE,
                AccountRole.PAYABLE,
            ):
                allocated[line.open_item_id] = (
                    allocated.get(line.open_item_id, Decimal(0)) + line.credit - line.debit
                )
    for item_id in model.items:
        item = await h.views.open_item(tenant_id, item_id)
        assert item is not None
        assert item.amount.amount - item.remaining.amount == allocated.get(item_id, Decimal(0)), (
            item_id
        )


# --- the interpreter --------------------------------------------------------------------


class Program:
    def __init__(self, h: Harness, tenant_id: str, make: Any) -> None:
        self.h, self.tenant_id, self.make, self.model = h, tenant_id, make, Model()
        self.counter = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    async def step(self, step: tuple[Any, ...]) -> None:
        handler = getattr(self, f"do_{step[0]}")
        outcome = await handler(*step[1:])
        event(f"{step[0]}: {outcome or 'skipped'}")  # --hypothesis-show-statistics
        await check_every_step(self.h, self.tenant_id, self.model)

    async def do_item(self, kind: str, currency: str, amount_cents: int) -> str:
        sign = 1 if kind == "invoice" else -1
        amount = Decimal(sign * amount_cents).scaleb(-2)
        item_id = self.next_id(kind.upper())
        draft = parse_draft(
            {
                "item_id": item_id,
                "kind": kind,
                "amount": money(amount, currency),
                "currency": currency,
            }
        )
        await self.h.ledger.register_open_item(self.tenant_id, draft, correlation_id="prop")
        self.model.items[item_id] = ModelItem(item_id, amount, currency, amount)
        return "registered"

    async def decide(
        self,
        kind: str,
        currency: str,
        line: Decimal,
        allocations: list[tuple[str, Decimal]],
        fits: bool,
    ) -> None:
        decision = self.make.decision(
            kind,
            money(line, currency),
            [(item_id, money(amount, currency)) for item_id, amount in allocations],
            currency=currency,
            account_id=ACCOUNTS[currency],
        )
        envelope = self.make.envelope(decision, self.tenant_id)
        before = await snapshot(self.h, self.tenant_id)
        result = await self.h.ledger.apply_decision(envelope)
        if not fits:
            assert result.outcome is DecisionOutcome.REFUSED, (kind, allocations, result)
            after = await snapshot(self.h, self.tenant_id)
            assert (after.entries, after.items, after.suspense) == (
                before.entries,
                before.items,
                before.suspense,
            )
            assert after.messages == before.messages + 2  # DecisionRefused + dead letter
            self.model.refused += 1
        else:
            assert result.outcome is not DecisionOutcome.REFUSED, (kind, allocations, result)
            for item_id, amount in allocations:
                self.model.items[item_id].remaining -= amount
            self.model.bank[currency] += line
            self.model.applied += 1
        self.model.decisions.append(SentDecision(envelope, allocations, applied=fits))
        return "applied" if fits else f"refused ({result.reason_code})"

    async def do_match(self, index: int, extra_cents: int) -> str | None:
        item = self.model.item_at(index)
        if item is None:
            return None
        sign = 1 if item.amount > 0 else -1
        allocation = item.remaining if item.remaining else item.amount  # paid: over-allocates
        fits = item.remaining != 0
        line = allocation + Decimal(sign * extra_cents).scaleb(-2)
        return await self.decide("match", item.currency, line, [(item.item_id, allocation)], fits)

    async def do_partial(self, index: int, amount_cents: int) -> str | None:
        item = self.model.item_at(index)
        if item is None:
            return None
        amount = Decimal((1 if item.amount > 0 else -1) * amount_cents).scaleb(-2)
        fits = abs(amount) <= abs(item.remaining)
        return await self.decide("partial", item.currency, amount, [(item.item_id, amount)], fits)

    async def do_suspense(self, currency: str, amount_cents: int, money_in: bool) -> str | None:
        amount = Decimal(amount_cents if money_in else -amount_cents).scaleb(-2)
        return await self.decide("suspense", currency, amount, [], fits=True)

    async def refused_changes_nothing(self, work: Awaitable[Any]) -> Any | None:
        """Run a manual action; if the books refuse it, assert that it changed nothing."""
        before = await snapshot(self.h, self.tenant_id)
        try:
            return await work
        except LedgerError:
            assert await snapshot(self.h, self.tenant_id) == before
            return None

    async def do_allocate(
        self, index: int, target: str, target_index: int, amount_cents: int | None
    ) -> str | None:
        postings = [
            p
            for p in await self.h.views.suspense_postings(
                self.tenant_id, status=None, limit=10_000, offset=0
            )
            if p.remaining.amount != 0 and p.status is not SuspenseStatus.REVERSED
        ]
        if not postings:
            return None
        posting = postings[index % len(postings)]
        currency = posting.amount.currency
        target_id = {"customer": "C-1", "gl_account": "8040"}.get(target)
        item = None
        if target_id is None:
            # mostly an item that can take it (same currency and direction, still open)
            fitting = [
                candidate
                for candidate in self.model.items.values()
                if candidate.currency == currency
                and candidate.remaining * posting.amount.amount > 0
            ]
            pool = fitting if fitting and target_index % 4 else list(self.model.items.values())
            item = sorted(pool, key=lambda candidate: candidate.item_id)[target_index % len(pool)]
            target_id = item.item_id
        sign = 1 if posting.amount.amount > 0 else -1
        amount = (
            None
            if amount_cents is None
            else Money.of(Decimal(sign * amount_cents).scaleb(-2), currency)
        )
        done = await self.refused_changes_nothing(
            self.h.manual.allocate_suspense(
                self.tenant_id,
                posting.suspense_id,
                target=AllocationTarget(target),
                target_id=target_id,
                amount=amount,
                correlation_id="prop",
                **BY,
            )
        )
        if done is not None and item is not None:
            moved = Decimal(done.answer["allocation"]["amount"]["amount"])
            item.remaining -= moved
        return f"{target} {'done' if done is not None else 'refused'}"

    async def do_unmatch(self, index: int) -> str | None:
        if not self.model.decisions:
            return None
        undoable = [
            d
            for d in self.model.decisions
            if d.applied and not d.unmatched and d.envelope.payload.kind.value != "suspense"
        ]
        pool = undoable if undoable and index % 4 else self.model.decisions
        sent = pool[index % len(pool)]
        done = await self.refused_changes_nothing(
            self.h.manual.unmatch_decision(
                self.tenant_id, sent.envelope.payload.decision_id, correlation_id="prop", **BY
            )
        )
        if done is None:
            return "refused"
        assert sent.applied, "only an applied decision is unmatched"
        assert not sent.unmatched, "a decision is unmatched once"
        assert sent.envelope.payload.kind.value != "suspense"
        sent.unmatched = True
        for item_id, amount in sent.allocations:
            self.model.items[item_id].remaining += amount
        return "done"

    async def do_redeliver(self, index: int, same_message: bool) -> str | None:
        if not self.model.decisions:
            return None
        sent = self.model.decisions[index % len(self.model.decisions)]
        envelope = (
            sent.envelope
            if same_message
            else self.make.envelope(sent.envelope.payload, self.tenant_id)
        )
        before = await snapshot(self.h, self.tenant_id)
        result = await self.h.ledger.apply_decision(envelope)
        assert result.already_applied
        assert (result.outcome is DecisionOutcome.REFUSED) == (not sent.applied)
        assert await snapshot(self.h, self.tenant_id) == before
        return "unchanged"

    async def do_pay(self, index: int, amount_cents: int) -> str | None:
        open_items = sorted(
            (i for i in self.model.items.values() if i.remaining), key=lambda i: i.item_id
        )
        item = open_items[index % len(open_items)] if open_items and index % 4 else None
        item = item or self.model.item_at(index)
        if item is None:
            return None
        amount = Decimal((1 if item.amount > 0 else -1) * amount_cents).scaleb(-2)
        payment_id = self.next_id("PAY")
        done = await self.refused_changes_nothing(
            self.h.manual.register_payment(
                self.tenant_id,
                item.item_id,
                payment_id=payment_id,
                amount=Money.of(amount, item.currency),
                bank_account_id=ACCOUNTS[item.currency],
                correlation_id="prop",
                **BY,
            )
        )
        fits = item.remaining != 0 and abs(amount) <= abs(item.remaining)
        assert (done is not None) == fits, (item, amount)
        if done is not None:
            item.remaining -= amount
            self.model.bank[item.currency] += amount
            self.model.payments.append(ModelPayment(payment_id, item.item_id, amount))
        return "done" if done is not None else "refused"

    async def do_remove_payment(self, index: int) -> str | None:
        if not self.model.payments:
            return None
        standing = [p for p in self.model.payments if not p.removed]
        pool = standing if standing and index % 4 else self.model.payments
        payment = pool[index % len(pool)]
        done = await self.refused_changes_nothing(
            self.h.manual.remove_payment(
                self.tenant_id, payment.item_id, payment.payment_id, correlation_id="prop", **BY
            )
        )
        assert (done is not None) == (not payment.removed)
        if done is not None:
            payment.removed = True
            item = self.model.items[payment.item_id]
            item.remaining += payment.amount
            self.model.bank[item.currency] -= payment.amount
        return "done" if done is not None else "refused"

    async def do_reverse_allocation(self, index: int) -> str | None:
        allocations = []
        for posting in await self.h.views.suspense_postings(
            self.tenant_id, status=None, limit=10_000, offset=0
        ):
            allocations.extend(
                await self.h.views.suspense_allocations(self.tenant_id, posting.suspense_id)
            )
        if not allocations:
            return None
        standing = [a for a in allocations if not a.reversed]
        pool = standing if standing and index % 4 else allocations
        allocation = pool[index % len(pool)]
        done = await self.refused_changes_nothing(
            self.h.manual.reverse_suspense_allocation(
                self.tenant_id,
                allocation.suspense_id,
                allocation.allocation_id,
                correlation_id="prop",
                **BY,
            )
        )
        # an allocation takes back exactly what it moved, so only a second reversal fails
        assert (done is not None) == (not allocation.reversed), allocation
        if done is not None and allocation.target is AllocationTarget.OPEN_ITEM:
            self.model.items[allocation.target_id].remaining += allocation.amount.amount
        return "done" if done is not None else "refused"

    async def do_reverse_line(self, index: int) -> str | None:
        """A later line reverses an applied one (invariant 7)."""
        lines = [
            d.envelope.payload
            for d in self.model.decisions
            if d.applied and d.envelope.payload.kind.value != "reversal_pair"
        ]
        if not lines:
            return None
        before = await self.h.views.suspense_postings(
            self.tenant_id, status=None, limit=10_000, offset=0
        )

        def wholly_parked(line: MatchDecision) -> list[Any]:
            return [
                p
                for p in before
                if p.statement_line_id == line.line_id
                and p.status is SuspenseStatus.OPEN
                and p.remaining == p.amount == line.amount
            ]

        # mostly a line still parked whole (the settling case), else any applied line
        settling = [line for line in lines if wholly_parked(line)]
        pool = settling if settling and index % 3 else lines
        earlier = pool[index % len(pool)]
        currency = earlier.amount.currency
        parked = wholly_parked(earlier)
        reversal = self.make.decision(
            "reversal_pair",
            money(-earlier.amount.amount, currency),
            currency=currency,
            account_id=ACCOUNTS[currency],
            paired_line_id=earlier.line_id,
        )
        envelope = self.make.envelope(reversal, self.tenant_id)
        result = await self.h.ledger.apply_decision(envelope)
        assert result.outcome is DecisionOutcome.POSTED, result
        self.model.bank[currency] -= earlier.amount.amount
        self.model.applied += 1
        self.model.decisions.append(SentDecision(envelope, [], applied=True))
        postings = {
            p.suspense_id: p
            for p in await self.h.views.suspense_postings(
                self.tenant_id, status=None, limit=10_000, offset=0
            )
        }
        [mine] = [p for p in postings.values() if p.statement_line_id == reversal.line_id]
        assert mine.amount.amount == -earlier.amount.amount
        if parked:
            settled = postings[parked[0].suspense_id]
            for posting in (mine, settled):
                assert posting.status is SuspenseStatus.SETTLED_BY_REVERSAL, posting
                assert posting.remaining.amount == 0
            return "settled"
        assert (mine.status, mine.remaining) == (SuspenseStatus.OPEN, mine.amount), mine
        return "waiting"

    async def do_adjust(
        self, currency: str, amount_cents: int, money_in: bool, kind: AdjustmentKind
    ) -> str:
        amount = Decimal(amount_cents if money_in else -amount_cents).scaleb(-2)
        done = await self.h.manual.create_adjustment(
            self.tenant_id,
            kind=kind,
            amount=Money.of(amount, currency),
            bank_account_id=ACCOUNTS[currency],
            correlation_id="prop",
            **BY,
        )
        self.model.bank[currency] += amount
        adjustment_id = done.answer["adjustment_id"]
        self.model.adjustments.append(ModelAdjustment(adjustment_id, currency, amount))
        return "done"

    async def do_reverse_adjustment(self, index: int) -> str | None:
        if not self.model.adjustments:
            return None
        standing = [a for a in self.model.adjustments if not a.reversed]
        pool = standing if standing and index % 4 else self.model.adjustments
        adjustment = pool[index % len(pool)]
        done = await self.refused_changes_nothing(
            self.h.manual.reverse_adjustment(
                self.tenant_id, adjustment.adjustment_id, correlation_id="prop", **BY
            )
        )
        assert (done is not None) == (not adjustment.reversed), adjustment
        if done is not None:
            adjustment.reversed = True
            self.model.bank[adjustment.currency] -= adjustment.amount
        return "done" if done is not None else "refused"


REVERSALS = (
    [("item", "invoice", "NOK", 10_000)],
    [
        ("suspense", "NOK", 10_000, True),
        ("allocate", 0, "open_item", 1, None),  # pays the invoice in full
        ("reverse_allocation", 1),  # reopens it, 100.00 back on the interim account
        ("reverse_allocation", 0),  # the same allocation again: refused
        ("redeliver", 0, True),
        ("allocate", 0, "customer", 0, 4_000),
        ("match", 0, 250),  # the reopened invoice is matched by a bank line now
        ("reverse_allocation", 1),
        ("adjust", "NOK", 12_500, False, AdjustmentKind.BANK_FEE),
        ("reverse_adjustment", 1),
        ("reverse_adjustment", 0),  # refused
        ("adjust", "EUR", 310, True, AdjustmentKind.INTEREST),
    ],
)
"""A program that surely reverses (random ones reverse an allocation in few programs: one
needs a suspense posting and an allocation before it)."""

REVERSAL_PAIRS = (
    [("item", "invoice", "NOK", 10_000)],
    [
        ("suspense", "NOK", 5_000, True),
        ("reverse_line", 0),  # the parked line: both postings settle
        ("redeliver", 1, True),
        ("match", 0, 0),
        ("reverse_line", 1),  # the matched line (a returned payment): waits on 2900
        ("unmatch", 1),  # the match: the invoice reopens, the waiting reversal settles
        ("redeliver", 3, False),
        ("reverse_line", 0),  # the parked line again: nothing left to settle, waits
    ],
)
"""A program with reversal pairs of each kind (settled at once, waiting, settled by an
unmatch)."""


@PROFILE
@example(program=REVERSALS)
@example(program=REVERSAL_PAIRS)
@given(program=programs)
def test_random_programs_keep_the_books_straight(
    harness: Harness, make: Any, program: tuple[list[Any], list[Any]]
) -> None:
    tenant_id = f"p-{uuid.uuid4().hex[:12]}"
    interpreter = Program(harness, tenant_id, make)
    items, steps_ = program

    async def run() -> None:
        for step in [*items, *steps_]:
            await interpreter.step(step)
        await check_journal(harness, tenant_id, interpreter.model)

    harness.run(run())
