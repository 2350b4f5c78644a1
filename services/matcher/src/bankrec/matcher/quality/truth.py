"""The truth of a generated statement: what each line really pays, and the case around it.

Every line carries one ``LineTruth``: the open items it pays with the amounts (outcome
``items``), or why it pays none: ``suspense`` (an unknown payer), ``fee`` and ``interest``
(the bank's own lines, for a rule posting), ``reversal`` (a payment and the line that
reverses it; they cancel out).

Invariants (``check_truth`` asserts them): the allocations of a line have its sign and add up
to at most its amount, every allocated item exists and is never allocated more than its
amount over all lines, outcome ``items`` has allocations and no other outcome has any, the
two lines of a reversal name each other, and every item's KID or RF reference has valid
check digits (only a line's reference may be mistyped).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from stdnum import iso11649

from bankrec.contracts import (
    BankAccountRef,
    BankTransactionCode,
    OpenItem,
    PostingRule,
    ReferenceKind,
    StatementLine,
)
from bankrec.matcher.quality.bank_numbers import is_valid_kid


class Scenario(StrEnum):
    """What a generated line exercises; the generator's docstring gives each one's share."""

    KID_FULL = "kid_full"
    OCR_BATCH = "ocr_batch"
    RF_FULL = "rf_full"
    INVOICE_TEXT = "invoice_text"
    MULTI_INVOICE = "multi_invoice"
    PARTIAL = "partial"
    INSTALMENTS = "instalments"
    FEE_DEDUCTED = "fee_deducted"
    LATE_PAYMENT = "late_payment"
    AMOUNT_DECOY = "amount_decoy"
    DUPLICATE_AMOUNTS = "duplicate_amounts"
    MISTYPED_KID = "mistyped_kid"
    BILL_PAYMENT = "bill_payment"
    REGISTERED_PAYMENT = "registered_payment"
    REVERSAL = "reversal"
    BANK_FEE = "bank_fee"
    INTEREST = "interest"
    UNKNOWN_PAYER = "unknown_payer"


class Outcome(StrEnum):
    """What a line truly is."""

    ITEMS = "items"  # it pays the named open items
    SUSPENSE = "suspense"  # nobody can tell what it pays (an unknown payer)
    FEE = "fee"  # a bank fee: a rule posting, no open item
    INTEREST = "interest"  # interest: a rule posting, no open item
    REVERSAL = "reversal"  # a payment or its reversal: the pair cancels out


@dataclass(frozen=True, slots=True)
class TruthAllocation:
    """Part of a line's amount that truly pays one open item (signed like the line)."""

    item_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LineTruth:
    """What one statement line really is."""

    line_id: str
    bank_reference: str
    scenario: Scenario
    outcome: Outcome
    allocations: tuple[TruthAllocation, ...] = ()
    paired_line_id: str | None = None  # a reversal: the other line of the pair
    reference_must_not_match: bool = False  # a mistyped KID: never a match by the reference

    @property
    def payable(self) -> bool:
        """Whether the truth names open items."""
        return self.outcome is Outcome.ITEMS

    @property
    def matchable(self) -> bool:
        """Whether a matcher can settle the line without a person: it pays open items, or it
        is one line of a reversal pair (the pair's decision settles both)."""
        return self.outcome in (Outcome.ITEMS, Outcome.REVERSAL)

    def allocated(self) -> dict[str, Decimal]:
        """Item id -> amount the line pays it."""
        found: dict[str, Decimal] = defaultdict(Decimal)
        for allocation in self.allocations:
            found[allocation.item_id] += allocation.amount
        return dict(found)

    def as_json(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "bank_reference": self.bank_reference,
            "scenario": self.scenario.value,
            "outcome": self.outcome.value,
            "allocations": [
                {"item_id": a.item_id, "amount": format(a.amount, "f")} for a in self.allocations
            ],
            "paired_line_id": self.paired_line_id,
            "reference_must_not_match": self.reference_must_not_match,
        }


@dataclass(frozen=True, slots=True)
class GeneratedEntry:
    """One ``Ntry`` of a generated statement: one line, or several for a batch."""

    ntry_ref: str
    bank_reference: str
    amount: Decimal  # signed, the entry's total
    booking_date: date
    value_date: date
    reversal: bool
    code: BankTransactionCode
    additional_info: str | None
    with_details: bool  # False: the bank's own line (fee, interest) has no TxDtls
    lines: tuple[StatementLine, ...]


@dataclass(frozen=True, slots=True)
class GeneratedStatement:
    """One day's statement (camt ``Stmt``) of the tenant's bank account."""

    bank_statement_id: str
    booking_date: date
    opening_balance: Decimal
    entries: tuple[GeneratedEntry, ...]

    @property
    def closing_balance(self) -> Decimal:
        return self.opening_balance + sum((entry.amount for entry in self.entries), Decimal(0))


@dataclass(frozen=True, slots=True)
class QualityCase:
    """A tenant's open items, its statements (lines in booking order) and each line's truth."""

    tenant_id: str
    seed: int
    account: BankAccountRef
    items: tuple[OpenItem, ...]
    statements: tuple[GeneratedStatement, ...]
    truths: dict[str, LineTruth] = field(repr=False)
    posting_rules: tuple[PostingRule, ...] = ()  # the tenant's, for its fee and interest lines

    @property
    def lines(self) -> tuple[StatementLine, ...]:
        """Every line, in booking order (statement by statement, entry by entry)."""
        return tuple(self.iter_lines())

    def iter_lines(self) -> Iterator[StatementLine]:
        for statement in self.statements:
            for entry in statement.entries:
                yield from entry.lines

    def truth_json(self) -> dict[str, Any]:
        """The truth as a JSON document (``truth.json`` of ``quality --write-dir``)."""
        return {
            "tenant_id": self.tenant_id,
            "seed": self.seed,
            "account_iban": self.account.iban,
            "lines": [self.truths[line.line_id].as_json() for line in self.iter_lines()],
        }


FEE_MAX = Decimal(50)  # the largest fee a generated payer's bank deducts


class TruthError(AssertionError):
    """The generated truth breaks one of its invariants (a bug in the generator)."""


def check_truth(case: QualityCase) -> None:
    """Assert the invariants of the module docstring; raises ``TruthError`` naming the line."""
    items = {item.item_id: item for item in case.items}
    if len(items) != len(case.items):
        raise TruthError("item ids repeat")
    for item in case.items:
        _check_reference(item)
    lines = {line.line_id: line for line in case.iter_lines()}
    if set(lines) != set(case.truths):
        raise TruthError("the truth does not name exactly the lines")
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for line_id, line in lines.items():
        truth = case.truths[line_id]
        amount = line.amount.amount
        if truth.bank_reference != line.bank_reference:
            raise TruthError(f"{line_id}: truth and line have other bank references")
        if (truth.outcome is Outcome.ITEMS) != bool(truth.allocations):
            raise TruthError(f"{line_id}: outcome {truth.outcome} with {truth.allocations}")
        total = Decimal(0)
        for allocation in truth.allocations:
            paid_item = items.get(allocation.item_id)
            if paid_item is None:
                raise TruthError(f"{line_id}: pays unknown item {allocation.item_id}")
            if allocation.amount * amount <= 0 or allocation.amount * paid_item.amount.amount <= 0:
                raise TruthError(f"{line_id}: {allocation} has the wrong sign")
            if paid_item.amount.currency != line.amount.currency:
                raise TruthError(f"{line_id}: pays {paid_item.item_id} in another currency")
            total += allocation.amount
            paid[allocation.item_id] += allocation.amount
        # a deducted fee: the invoice is settled in full, the line is short by the fee
        short_by_fee = (
            truth.scenario in (Scenario.FEE_DEDUCTED, Scenario.AMOUNT_DECOY)
            and 0 < total - amount <= FEE_MAX
        )
        if abs(total) > abs(amount) and not short_by_fee:
            raise TruthError(f"{line_id}: allocates {total}, more than the line's {amount}")
        if truth.outcome is Outcome.REVERSAL:
            pair = case.truths.get(truth.paired_line_id or "")
            if pair is None or pair.paired_line_id != line_id:
                raise TruthError(f"{line_id}: a reversal without its pair")
    for item_id, total in paid.items():
        if abs(total) > abs(items[item_id].amount.amount):
            raise TruthError(f"{item_id} is paid {total}, more than its amount")


def _check_reference(item: OpenItem) -> None:
    reference = item.reference
    if reference is None:
        return
    if item.reference_kind is ReferenceKind.KID and not is_valid_kid(reference):
        raise TruthError(f"{item.item_id}: KID {reference} has an invalid check digit")
    if item.reference_kind is ReferenceKind.RF and not iso11649.is_valid(reference):
        raise TruthError(f"{item.item_id}: RF {reference} fails ISO 11649")
