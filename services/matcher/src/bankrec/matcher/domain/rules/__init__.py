"""The matching rules, one module each, and what a rule returns.

A rule looks at one statement line, the tenant's open-item index and the tenant's matching
policy and returns a ``RuleOutcome``: a ``Proof`` (the engine turns it into the decision, or
into a proposal when the policy does not let it confirm) or what it found (proposals for a
person and notes for the explanation). ``final`` stops the cascade: a weaker rule must not
override what a stronger one found (a valid KID naming a paid invoice is a double payment,
not a match by amount with another invoice). ``hold`` lets the cascade go on but no later
proof be confirmed automatically, unless it allocates only to items in ``hold_unless`` (the
payer named something that does not fit as it stands: a KID with a typo, an invoice number
with another amount; a later rule proving that same item corroborates it, a proof of any
other item contradicts the payer) or pays every item in ``hold_unless_paying`` (a KID naming
one of several invoices the line pays). ``fallback`` is a proof to take only when no rule proves
anything (a known payer's money on their account).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from bankrec.contracts import (
    Allocation,
    DecisionKind,
    Difference,
    Evidence,
    Money,
    PostingRule,
    Proposal,
    ReferenceKind,
    StatementLine,
    currency_exponent,
)
from bankrec.matcher.domain.document_numbers import WrittenNumber, numbers_in
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import MatchingPolicy
from bankrec.matcher.domain.references import check_reference
from bankrec.matcher.domain.texts import FieldAgreement

NAMES_SHOWN_MAX = 5


@dataclass(frozen=True, slots=True)
class Proof:
    """What a rule proved: the decision's kind, confidence, evidence and allocations."""

    kind: DecisionKind
    confidence: Decimal
    evidence: tuple[Evidence, ...]
    allocations: tuple[Allocation, ...]
    explanation: str
    counterparty_id: str | None = None  # whose account an on_account decision posts to
    # what the allocations leave of the line within the tolerance (a deducted fee, rounding)
    differences: tuple[Difference, ...] = ()
    gl_account: str | None = None  # a rule posting's account
    posting_rule: PostingRule | None = None  # the posting rule version that decided
    paired_line_id: str | None = None  # the line a reversal pair cancels


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """A proof, or the proposals and notes a rule leaves when it proves nothing."""

    proof: Proof | None = None
    proposals: tuple[Proposal, ...] = ()
    notes: tuple[Evidence, ...] = ()
    final: bool = False
    hold: Evidence | None = None  # why no later proof may be confirmed without a person ...
    hold_unless: frozenset[str] = frozenset()  # ... unless it allocates only to these items
    hold_unless_paying: frozenset[str] = frozenset()  # ... or unless it pays all of these
    fallback: Proof | None = None  # taken only when no rule proves anything


# what a rule with nothing to say returns: one frozen outcome, not a new one per line (a
# frozen dataclass costs about a microsecond to build, and most rules say nothing on most lines)
NOTHING = RuleOutcome()


class Rule(Protocol):
    """One step of the cascade. ``name`` is what decisions carry in ``rule``."""

    @property
    def name(self) -> str: ...

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy
    ) -> RuleOutcome: ...


@lru_cache(maxsize=256)
def _minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def shown(money: Money) -> str:
    """An amount as a person reads it: ``500.00 NOK`` (the currency's minor unit)."""
    try:  # quantized here rather than by Money.quantized: no model to build for a string
        if not money.amount:  # 0 and -0 are equal keys but shown apart: not cached
            return f"{money.amount.quantize(_minor_unit(money.currency)):f} {money.currency}"
        return _shown(money.amount, money.currency)
    except ArithmeticError:  # more digits than a Decimal context holds: show it as it is
        return str(money)


# one line's amount is shown in several pieces of evidence and the explanation; equal
# non-zero amounts (500.0 and 500.00) quantize alike, so either may be the cached one
@lru_cache(maxsize=4096)
def _shown(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(_minor_unit(currency)):f} {currency}"


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


def line_date(line: StatementLine) -> date | None:
    """The line's transaction date: its booking date, else its value date."""
    return line.booking_date or line.value_date


@dataclass(frozen=True, slots=True)
class DateAgreement:
    """The item date a line date was within tolerance of, and how many days apart."""

    field: str
    value: date
    days: int


def date_agreement(
    line: StatementLine, entry: IndexedItem, tolerance_days: int
) -> DateAgreement | None:
    """Whether the line's date is within ``tolerance_days`` of the item's posting date or due
    date (the nearer one), seed 002's "Transaction Date Tolerance (Days)"."""
    when = line_date(line)
    if when is None:
        return None
    best: DateAgreement | None = None
    for field, value in (
        ("posting_date", entry.item.posting_date),
        ("due_date", entry.item.due_date),
    ):
        if value is None:
            continue
        days = abs((when - value).days)
        if days <= tolerance_days and (best is None or days < best.days):
            best = DateAgreement(field=field, value=value, days=days)
    return best


def fitting(line: StatementLine, entries: Iterable[IndexedItem]) -> list[IndexedItem]:
    """The entries that can take the line's money (see ``misfit``)."""
    return [entry for entry in entries if misfit(line, entry) is None]


def amount_evidence(rule: str, line: StatementLine, entry: IndexedItem, note: str) -> Evidence:
    """``field=amount`` against the item's ``remaining``, both amounts shown."""
    return Evidence(
        rule=rule,
        field="amount",
        line_value=shown(line.amount),
        item_field="remaining",
        item_value=shown(entry.remaining),
        note=note,
    )


def date_evidence(rule: str, line: StatementLine, agreement: DateAgreement) -> Evidence:
    when = line_date(line)
    return Evidence(
        rule=rule,
        field="booking_date" if line.booking_date is not None else "value_date",
        line_value=when.isoformat() if when else None,
        item_field=agreement.field,
        item_value=agreement.value.isoformat(),
        note=f"{agreement.days} days apart, within the tolerance"
        if agreement.days
        else "the same day",
    )


def proposal_of(
    rule: str, entry: IndexedItem, confidence: Decimal, evidence: Sequence[Evidence]
) -> Proposal:
    return Proposal(
        item_id=entry.item_id, rule=rule, confidence=confidence, evidence=list(evidence)
    )


NOT_PROVIDED = "NOTPROVIDED"  # camt's placeholder for an absent end-to-end id


def written_numbers(line: StatementLine) -> list[WrittenNumber]:
    """The document numbers in every text of the line, in the order a person reads them."""
    found: list[WrittenNumber] = []
    found += numbers_in(line.remittance_text, "remittance_text")
    for document in line.referred_documents:
        found += numbers_in(document, "referred_documents", all_named=True)
    reference = line.structured_reference
    if (
        reference is not None
        and reference.kind is ReferenceKind.OTHER  # a KID, RF or OCR is checkable by kind
        and not check_reference(reference.value, reference.kind).checkable
    ):
        found += numbers_in(reference.value, "structured_reference")  # free text sent as one
    found += numbers_in(line.additional_info, "additional_info")
    if line.end_to_end_id and line.end_to_end_id.upper() != NOT_PROVIDED:
        found += numbers_in(line.end_to_end_id, "end_to_end_id")
    found += numbers_in(line.customer_reference, "customer_reference")
    return found


def line_texts(line: StatementLine) -> list[tuple[str, str | None]]:
    """The line's texts by seed 002's groups: the description (remittance text), the payer's
    details (name), the transaction's details (additional info, the ids the payer or the
    account owner gave it)."""
    end_to_end = line.end_to_end_id if (line.end_to_end_id or "").upper() != NOT_PROVIDED else None
    return [
        ("remittance_text", line.remittance_text),
        ("counterparty.name", line.counterparty.name if line.counterparty else None),
        ("additional_info", line.additional_info),
        ("end_to_end_id", end_to_end),
        ("customer_reference", line.customer_reference),
    ]


def text_evidence(rule: str, agreement: FieldAgreement) -> Evidence:
    return Evidence(
        rule=rule,
        field=agreement.line_field,
        line_value=agreement.line_value,
        item_field=agreement.item_field,
        item_value=agreement.item_value,
        note="identical"
        if agreement.score >= 100
        else f"almost the same ({agreement.score:.0f}/100)",
    )
