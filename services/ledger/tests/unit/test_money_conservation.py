"""Seeded property test: random decisions never make money appear or vanish.

Invariants checked after every step (a refused decision must change nothing):
1. every journal entry balances per currency, so the whole journal does;
2. the bank GL account moved by exactly the amounts of the applied lines that post
   (registered-payment allocations and reversal pairs do not post);
3. for every open item, amount - remaining = the sum of allocations applied to it,
   remaining never changes sign and never grows past the amount;
4. receivable (1500) and payable (2400) moved by exactly the invoice and bill allocations
   plus the on-account amounts; interim (2900) by what was left unallocated or suspended.

Run one seed again with BANKREC_TEST_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import DecisionKind, OpenItem, OpenItemKind, OpenItemStatus
from bankrec.ledger.domain import JournalEntry, post_decision, totals_by_currency
from bankrec.ledger.errors import LedgerError

SEEDS = (
    [int(os.environ["BANKREC_TEST_SEED"])]
    if "BANKREC_TEST_SEED" in os.environ
    else [
        1,
        7,
        20261123,
        4242424242,
    ]
)
STEPS = 400


def cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


def random_items(rng: random.Random, make: Any) -> dict[str, OpenItem]:
    items: dict[str, OpenItem] = {}
    for number in range(30):
        kind = rng.choice(["invoice", "invoice", "bill", "payment"])
        amount = cents(rng, 1, 500_000)
        signed = amount if kind == "invoice" else -amount
        item_id = f"{kind.upper()}-{number}"
        items[item_id] = {
            "invoice": make.invoice,
            "bill": make.bill,
            "payment": make.payment,
        }[kind](item_id, format(signed, "f"))
    return items


def random_decision(rng: random.Random, make: Any, items: dict[str, OpenItem]) -> Any:
    kind = rng.choice(list(DecisionKind))
    if kind in (DecisionKind.MATCH, DecisionKind.PARTIAL):
        chosen = rng.sample(sorted(items), k=rng.randint(1, 3))
        sign = 1 if items[chosen[0]].amount.amount > 0 else -1
        allocations = []
        for item_id in chosen:
            remaining = abs(items[item_id].remaining.amount)
            # sometimes more than is open, sometimes the wrong sign: those must be refused
            scale = rng.choice([Decimal(1), Decimal("0.5"), Decimal("1.2")])
            value = max((remaining * scale).quantize(Decimal("0.01")), Decimal("0.01"))
            allocations.append((item_id, format(value * sign, "f")))
        total = sum(Decimal(value) for _id, value in allocations)
        extra = cents(rng, 0, 5000) * sign if rng.random() < 0.3 else Decimal(0)
        return make.decision(kind, format(total + extra, "f"), allocations)
    amount = cents(rng, -300_000, 300_000) or Decimal("1.00")
    fields: dict[str, Any] = {}
    if kind is DecisionKind.ON_ACCOUNT:
        fields["counterparty_id"] = "C-9"
    if kind is DecisionKind.RULE_POSTING:
        fields["gl_account"] = rng.choice(["7770", "8040", "8140", "7790", "3000"])
    return make.decision(kind, format(amount, "f"), **fields)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_decisions_conserve_money(make: Any, seed: int) -> None:
    print(f"seed={seed} (rerun: BANKREC_TEST_SEED={seed})")
    rng = random.Random(seed)
    chart = make.chart()
    items = random_items(rng, make)
    originals = dict(items)
    journal: list[JournalEntry] = []
    allocated: dict[str, Decimal] = defaultdict(Decimal)
    expected_bank = expected_counter = expected_interim = Decimal(0)
    applied = refused = 0

    for _step in range(STEPS):
        decision = random_decision(rng, make, items)
        try:
            posting = post_decision("t-prop", decision, items, chart, posted_on=date(2026, 12, 1))
        except LedgerError:
            refused += 1
            continue  # nothing to undo: the domain returns values, it changes nothing
        applied += 1
        if posting.entry is not None:
            journal.append(posting.entry)
        for item in posting.items:
            assert item.version == items[item.item_id].version + 1
            items[item.item_id] = item
        line = decision.amount.amount
        if decision.kind in (DecisionKind.MATCH, DecisionKind.PARTIAL):
            on_bank_gl = Decimal(0)
            for allocation in decision.allocations:
                allocated[allocation.item_id] += allocation.amount.amount
                if originals[allocation.item_id].kind is OpenItemKind.PAYMENT:
                    on_bank_gl += allocation.amount.amount
                else:
                    expected_counter += allocation.amount.amount
            expected_bank += line - on_bank_gl
            expected_interim += line - sum(a.amount.amount for a in decision.allocations)
        elif decision.kind is DecisionKind.ON_ACCOUNT:
            expected_bank += line
            expected_counter += line
        elif decision.kind in (
            DecisionKind.SUSPENSE,
            DecisionKind.PROPOSAL,
            DecisionKind.REVERSAL_PAIR,  # bank vs interim, like suspense (posting_math)
        ):
            expected_bank += line
            expected_interim += line
        elif decision.kind is DecisionKind.RULE_POSTING:
            expected_bank += line

    lines = [line for entry in journal for line in entry.lines]
    for _currency, (debits, credits) in totals_by_currency(lines).items():
        assert debits == credits, f"seed={seed}"

    def net(*codes: str) -> Decimal:
        return sum(
            (line.debit - line.credit for line in lines if line.account_code in codes), Decimal(0)
        )

    assert net("1920") == expected_bank, f"seed={seed}"
    assert -net("1500", "2400") == expected_counter, f"seed={seed}"
    assert -net("2900") == expected_interim, f"seed={seed}"
    for item_id, item in items.items():
        original = originals[item_id]
        assert item.amount == original.amount
        assert item.amount.amount - item.remaining.amount == allocated[item_id], f"seed={seed}"
        assert item.remaining.amount * item.amount.amount >= 0, f"seed={seed}"
        assert abs(item.remaining.amount) <= abs(item.amount.amount), f"seed={seed}"
        if item.remaining.amount == 0:
            assert item.status is OpenItemStatus.PAID
    assert applied > STEPS // 4, f"seed={seed}: too few decisions applied to prove anything"
    assert refused > 0, f"seed={seed}: no refusal was exercised"
