"""A batch of decisions in one transaction (``Ledger.apply_decisions``), on SQLite and
PostgreSQL: each decision is applied exactly as ``apply_decision`` would apply it alone
(inbox claim per message, idempotent decision ids, superseding decisions, refusals); a
refused decision is rolled back to its savepoint and its neighbours stay posted."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from faststream.kafka.response import KafkaPublishMessage

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    POSTINGS,
    REFUSED_DECISIONS,
    Envelope,
    MatchDecision,
    OpenItemStatus,
)
from bankrec.ledger.adapters import SqlLedgerViews, sql_transactions
from bankrec.ledger.domain.suspense import SuspenseStatus
from bankrec.ledger.errors import ConcurrentUpdate
from bankrec.ledger.ports import DecisionOutcome, LedgerTransaction
from bankrec.ledger.use_cases import TRANSACTION_ATTEMPTS, Ledger
from bankrec.runtime import JSON_HEADERS, encode_envelope

ACCOUNT = "acc-0000000000000000demo"
SEED = 20261123


async def register(books: Any, make: Any, item_id: str, amount: str) -> None:
    draft = make.draft(item_id, amount=amount)
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")


def summary(results: list[Any]) -> list[tuple[str, DecisionOutcome, bool, str | None]]:
    return [(r.decision_id, r.outcome, r.already_applied, r.reason_code) for r in results]


async def test_a_redelivered_message_in_a_batch_is_applied_once(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", "100.00")
    match = make.envelope(make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id)
    parked = make.envelope(make.decision("suspense", "7.50"), books.tenant_id)

    results = await books.ledger.apply_decisions([match, parked, match])
    again = await books.ledger.apply_decisions([parked, match])  # the whole batch redelivered

    assert [(r.outcome, r.already_applied) for r in results] == [
        (DecisionOutcome.POSTED, False),
        (DecisionOutcome.POSTED, False),
        (DecisionOutcome.POSTED, True),
    ]
    assert results[2].entry_id == results[0].entry_id
    assert all(r.already_applied for r in again)
    assert len(await books.ledger.journal(books.tenant_id)) == 2
    assert len(await books.staged(POSTINGS)) == 2
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.version) == (OpenItemStatus.PAID, 2)


async def test_a_repeated_decision_id_in_a_batch_is_applied_once(books: Any, make: Any) -> None:
    await register(books, make, "INV-1", "100.00")
    decision = make.decision("partial", "40.00", [("INV-1", "40.00")])
    changed = make.decision(
        "partial", "50.00", [("INV-1", "50.00")], decision_id=decision.decision_id
    )

    results = await books.ledger.apply_decisions(
        [
            make.envelope(decision, books.tenant_id),
            make.envelope(decision, books.tenant_id),  # the same decision in a new message
            make.envelope(changed, books.tenant_id),  # the same id with other content
        ]
    )

    assert summary(results) == [
        (decision.decision_id, DecisionOutcome.POSTED, False, None),
        (decision.decision_id, DecisionOutcome.POSTED, True, None),
        (decision.decision_id, DecisionOutcome.REFUSED, False, "idempotency_conflict"),
    ]
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert invoice.remaining.amount == Decimal("60.00")
    record = await books.manual.decision(books.tenant_id, decision.decision_id)
    assert record.outcome is DecisionOutcome.POSTED  # the conflict keeps the first record


async def test_a_refused_decision_in_the_middle_leaves_its_neighbours_posted(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "100.00")
    await register(books, make, "INV-2", "200.00")
    first = make.envelope(make.decision("match", "100.00", [("INV-1", "100.00")]), books.tenant_id)
    # two allocations, the second over what is open: nothing of it may stay
    refused = make.envelope(
        make.decision("match", "300.00", [("INV-2", "100.00"), ("INV-1", "200.00")]),
        books.tenant_id,
    )
    last = make.envelope(make.decision("match", "200.00", [("INV-2", "200.00")]), books.tenant_id)

    results = await books.ledger.apply_decisions([first, refused, last])

    assert [(r.outcome, r.reason_code) for r in results] == [
        (DecisionOutcome.POSTED, None),
        (DecisionOutcome.REFUSED, "over_allocation"),
        (DecisionOutcome.POSTED, None),
    ]
    for item_id in ("INV-1", "INV-2"):
        item = await books.ledger.open_item(books.tenant_id, item_id)
        assert (item.status, item.remaining.amount, item.version) == (OpenItemStatus.PAID, 0, 2)
    journal = await books.ledger.journal(books.tenant_id)
    assert [posted.entry.source_ref for posted in journal] == [
        first.payload.decision_id,
        last.payload.decision_id,
    ]
    [(key, message)] = await books.staged(REFUSED_DECISIONS)
    assert key == f"{books.tenant_id}:{ACCOUNT}"
    assert message["causation_id"] == refused.message_id
    # the refusal shows the items as the books held them when it was refused
    states = {i["item_id"]: i["remaining"]["amount"] for i in message["payload"]["open_items"]}
    assert states == {"INV-1": "0.00", "INV-2": "200.00"}
    assert len(await books.staged(DEAD_LETTERS)) == 1
    assert [m["payload"]["version"] for _k, m in await books.staged(OPEN_ITEMS)] == [1, 1, 2, 2]
    counts = await books.ledger.counts(books.tenant_id)
    assert (counts.decisions_applied, counts.decisions_refused) == (2, 1)
    # redelivering the batch changes nothing, the refusal included
    again = await books.ledger.apply_decisions([first, refused, last])
    assert [(r.outcome, r.already_applied) for r in again] == [
        (DecisionOutcome.POSTED, True),
        (DecisionOutcome.REFUSED, True),
        (DecisionOutcome.POSTED, True),
    ]
    assert len(await books.staged(REFUSED_DECISIONS)) == 1


async def test_a_superseding_decision_after_its_parked_decision_in_one_batch(
    books: Any, make: Any
) -> None:
    await register(books, make, "INV-1", "4200.00")
    parked = make.decision("suspense", "4200.00")
    matched = make.decision(
        "match",
        "4200.00",
        [("INV-1", "4200.00", 1)],
        line_id=parked.line_id,
        decision_id=f"{parked.decision_id}-2",
        supersedes_decision_id=parked.decision_id,
    )

    results = await books.ledger.apply_decisions(
        [make.envelope(parked, books.tenant_id), make.envelope(matched, books.tenant_id)]
    )

    assert [(r.outcome, r.already_applied) for r in results] == [
        (DecisionOutcome.POSTED, False),
        (DecisionOutcome.POSTED, False),
    ]
    trial = await books.ledger.trial_balance(books.tenant_id)
    totals = {row.account_code: row.debit - row.credit for row in trial.accounts}
    assert trial.balanced
    assert (totals["1920"], totals["2900"], totals["1500"]) == (
        Decimal("4200.00"),
        0,
        Decimal("-4200.00"),
    )
    [posting] = await books.manual.suspense_postings(books.tenant_id)
    assert posting.status is SuspenseStatus.ALLOCATED
    invoice = await books.ledger.open_item(books.tenant_id, "INV-1")
    assert (invoice.status, invoice.version) == (OpenItemStatus.PAID, 2)


async def test_a_batch_that_keeps_losing_races_is_applied_one_by_one(books: Any, make: Any) -> None:
    """Another ledger instance wins every attempt at the batch's transaction (its commit
    raises ConcurrentUpdate): the batch is tried ``TRANSACTION_ATTEMPTS`` times, then each
    decision is applied in a transaction of its own."""
    real = sql_transactions(books.sessions)
    opened: list[int] = []

    @asynccontextmanager
    async def losing_at_first() -> AsyncIterator[LedgerTransaction]:
        opened.append(len(opened))
        async with real() as tx:
            if len(opened) > TRANSACTION_ATTEMPTS:
                yield tx
                return

            class Loses:
                def __getattr__(self, name: str) -> Any:
                    return getattr(tx, name)

                async def commit(self) -> None:
                    raise ConcurrentUpdate("another instance won the race")

            yield Loses()  # type: ignore[misc]  # stands in for the transaction

    ledger = Ledger(losing_at_first, SqlLedgerViews(books.sessions))
    envelopes = [
        make.envelope(make.decision("suspense", amount), books.tenant_id)
        for amount in ("1.00", "2.00")
    ]

    results = await ledger.apply_decisions(envelopes)

    assert [(r.outcome, r.already_applied) for r in results] == [
        (DecisionOutcome.POSTED, False),
        (DecisionOutcome.POSTED, False),
    ]
    assert len(opened) == TRANSACTION_ATTEMPTS + len(envelopes)
    assert len(await books.ledger.journal(books.tenant_id)) == 2


# --- the same as one by one, on a seeded batch ----------------------------------------


@dataclasses.dataclass(frozen=True)
class Step:
    """One delivery: a decision under a message name (a redelivery reuses the name)."""

    message: str
    decision: MatchDecision


def scenario(make: Any, rng: random.Random, invoices: dict[str, str]) -> list[Step]:
    """Matches, partials, over-allocations, unknown items, suspense lines and later matches
    of them, redeliveries and repeated decisions, in a seeded order."""
    steps: list[Step] = []
    parked: list[MatchDecision] = []
    for number in range(60):
        roll = rng.random()
        item_id = rng.choice(sorted(invoices))
        amount = Decimal(invoices[item_id])
        if steps and roll < 0.1:
            steps.append(rng.choice(steps))  # a redelivered message
            continue
        if steps and roll < 0.15:
            earlier = rng.choice(steps).decision  # the same decision in a new message
            steps.append(Step(f"m{number}", earlier))
            continue
        if roll < 0.4:
            decision = make.decision("match", str(amount), [(item_id, str(amount))])
        elif roll < 0.6:
            part = (amount * Decimal(rng.choice(("0.25", "0.5", "0.75")))).quantize(Decimal("0.01"))
            decision = make.decision("partial", str(part), [(item_id, str(part))])
        elif roll < 0.65:
            decision = make.decision("match", "10.00", [("INV-404", "10.00")])
        elif parked and roll < 0.8:
            earlier = parked.pop(rng.randrange(len(parked)))
            decision = make.decision(
                "partial",
                str(earlier.amount.amount),
                [(item_id, str(earlier.amount.amount))],
                line_id=earlier.line_id,
                decision_id=f"{earlier.decision_id}-2",
                supersedes_decision_id=earlier.decision_id,
            )
        else:
            decision = make.decision("suspense", rng.choice(("25.00", "60.00", "150.00")))
            parked.append(decision)
        steps.append(Step(f"m{number}", decision))
    return steps


async def state(books: Any) -> dict[str, Any]:
    """What a tenant's books hold, without the ids that name the tenant."""
    tenant_id = books.tenant_id
    items = await books.ledger.open_items(tenant_id)
    journal = await books.ledger.journal(tenant_id)
    trial = await books.ledger.trial_balance(tenant_id)
    staged = {
        topic.name: [
            (m["type"], m["causation_id"] is not None, m["payload"].get("decision_id"))
            for _key, m in await books.staged(topic)
        ]
        for topic in (OPEN_ITEMS, POSTINGS, REFUSED_DECISIONS, DEAD_LETTERS)
    }
    return {
        "items": [(i.item_id, i.status, i.remaining.amount, i.version) for i in items],
        "journal": [
            (
                posted.entry.idempotency_key,
                posted.entry.source_ref,
                [(line.account_code, line.debit, line.credit) for line in posted.entry.lines],
            )
            for posted in journal
        ],
        "trial_balance": [(a.account_code, a.debit, a.credit) for a in trial.accounts],
        "suspense": sorted(  # suspense ids name the tenant: in line order
            (p.statement_line_id, p.status, p.remaining.amount)
            for p in await books.manual.suspense_postings(tenant_id)
        ),
        "counts": await books.ledger.counts(tenant_id),
        "staged": staged,
    }


async def test_a_seeded_batch_gives_what_one_by_one_gives(books: Any, make: Any) -> None:
    print(f"seed {SEED}")
    rng = random.Random(SEED)
    invoices = {f"INV-{n}": f"{rng.randint(50, 900)}.{rng.randint(0, 99):02d}" for n in range(12)}
    steps = scenario(make, rng, invoices)
    one_by_one = dataclasses.replace(books, tenant_id=f"{books.tenant_id}-single")
    results: dict[str, list[Any]] = {}
    for tenant_books in (books, one_by_one):
        for item_id, amount in invoices.items():
            await register(tenant_books, make, item_id, amount)
        # the inbox is per consumer, not per tenant: each tenant's messages get their own ids
        ids = {step.message: str(uuid.uuid4()) for step in steps}
        envelopes: list[Envelope[MatchDecision]] = [
            make.envelope(step.decision, tenant_books.tenant_id, ids[step.message])
            for step in steps
        ]
        if tenant_books is books:
            applied = []
            for start in range(0, len(envelopes), 25):  # three batches, the last one short
                applied += await books.ledger.apply_decisions(envelopes[start : start + 25])
        else:
            applied = [await books.ledger.apply_decision(envelope) for envelope in envelopes]
        results[tenant_books.tenant_id] = applied

    batched, single = results[books.tenant_id], results[one_by_one.tenant_id]
    assert summary(batched) == summary(single)
    outcomes = {(r.outcome, r.already_applied) for r in batched}
    assert (DecisionOutcome.REFUSED, False) in outcomes  # the scenario covers refusals
    assert (DecisionOutcome.POSTED, True) in outcomes  # and redeliveries
    assert await state(books) == await state(one_by_one)


async def test_the_consumer_applies_a_batch_and_dead_letters_its_undecodable_record(
    service: Any, make: Any
) -> None:
    key = f"{service.tenant_id}:{ACCOUNT}".encode()
    parked = [make.decision("suspense", amount) for amount in ("1.00", "2.00")]
    bodies = [
        encode_envelope(make.envelope(parked[0], service.tenant_id)),
        b"{not json",
        encode_envelope(make.envelope(parked[1], service.tenant_id)),
    ]
    await service.broker.publish_batch(
        *(KafkaPublishMessage(body, key=key) for body in bodies),
        topic=DECISIONS.name,
        headers=JSON_HEADERS,
    )

    status = (await service.http.get(service.url("/status"))).json()
    assert (status["decisions_applied"], status["journal_entries"]) == (2, 2)
    # the tenant is taken from the record's own key: it is this test's dead letter
    [letter] = service.mine(DEAD_LETTERS.name)
    assert letter["payload"]["reason_code"] == "undecodable_message"
    assert letter["payload"]["original_key"] == key.decode()
