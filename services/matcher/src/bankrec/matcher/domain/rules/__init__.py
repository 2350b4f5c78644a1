"""The matching rules, one module each, and what a rule returns.

A rule looks at one statement line and the tenant's open-item index and returns a
``RuleOutcome``: a ``Proof`` (the engine turns it into the decision) or what it found
(proposals for a person and notes for the explanation). ``final`` stops the cascade: a
weaker rule must not override what a stronger one found (a valid KID naming a paid invoice
is a double payment, not a match by amount with another invoice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from bankrec.contracts import (
    Allocation,
    DecisionKind,
    Evidence,
    Money,
    Proposal,
    StatementLine,
)
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex

NAMES_SHOWN_MAX = 5


@dataclass(frozen=True, slots=True)
class Proof:
    """What a rule proved: the decision's kind, confidence, evidence and allocations."""

    kind: DecisionKind
    confidence: Decimal
    evidence: tuple[Evidence, ...]
    allocations: tuple[Allocation, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """A proof, or the proposals and notes a rule leaves when it proves nothing."""

    proof: Proof | None = None
    proposals: tuple[Proposal, ...] = ()
    notes: tuple[Evidence, ...] = ()
    final: bool = False


class Rule(Protocol):
    """One step of the cascade. ``name`` is what decisions carry in ``rule``."""

    @property
    def name(self) -> str: ...

    def evaluate(self, line: StatementLine, index: OpenItemIndex) -> RuleOutcome: ...


def shown(money: Money) -> str:
    """An amount as a person reads it: ``500.00 NOK`` (the currency's minor unit)."""
    try:
        return str(money.quantized())
    except ArithmeticError:  # more digits than a Decimal context holds: show it as it is
        return str(money)


def sign(amount: Decimal) -> int:
    return (amount > 0) - (amount < 0)


def misfit(line: StatementLine, entry: IndexedItem) -> str | None:
    """Why an open item cannot take the line's money (None: it can).

    The remaining amount must have the line's currency and sign (+ money in for an invoice,
    - money out for a bill), and an item tied to a bank account must be on the line's.
    """
    remaining = entry.remaining
    if remaining.currency != line.amount.currency:
        return f"is in {remaining.currency}, the line in {line.amount.currency}"
    if sign(remaining.amount) != sign(line.amount.amount):
        return (
            f"has remaining {shown(remaining)}, the other sign than the line's {shown(line.amount)}"
        )
    account = entry.item.bank_account_id
    if account is not None and account != line.account.account_id:
        return f"belongs to bank account {account}, the line to {line.account.account_id}"
    return None


def allocation_to(entry: IndexedItem, amount: Money) -> Allocation:
    return Allocation(
        item_id=entry.item_id,
        amount=amount,
        item_kind=entry.item.kind.value,
        counterparty_id=entry.item.counterparty_id,
    )


def labels(entries: Sequence[IndexedItem]) -> str:
    """``INV-1, INV-2`` (at most a few names, then how many more)."""
    names = [entry.label for entry in entries[:NAMES_SHOWN_MAX]]
    more = len(entries) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")
