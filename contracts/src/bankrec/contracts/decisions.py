"""Match decisions: what the matcher concluded about a statement line, and why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bankrec.contracts.accounts import BankAccountRef
from bankrec.contracts.money import Amount, Money
from bankrec.contracts.postings import AccountRole


def _unset(value: object) -> bool:
    """Fields added after v1 are left out of a message while unset, so a message without
    them serializes exactly as before (consumers comparing or hashing it see no change)."""
    return value is None


def _empty(value: object) -> bool:
    """A list added after v1 is left out while empty, for the same reason."""
    return value is None or value == []


class DecisionKind(StrEnum):
    MATCH = "match"
    PARTIAL = "partial"
    ON_ACCOUNT = "on_account"
    RULE_POSTING = "rule_posting"
    REVERSAL_PAIR = "reversal_pair"
    SUSPENSE = "suspense"
    PROPOSAL = "proposal"


class Evidence(BaseModel):
    """One fact a rule relied on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    field: str = Field(description="Line field compared, e.g. structured_reference")
    line_value: str | None = None
    item_field: str | None = None
    item_value: str | None = None
    note: str | None = None


class Allocation(BaseModel):
    """Part of the line's amount allocated to one open item."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str
    amount: Money
    item_kind: str | None = None
    counterparty_id: str | None = None
    item_version: int | None = Field(
        default=None,
        ge=1,
        exclude_if=_unset,
        description="The open item's version the decision was made on; the ledger refuses the "
        "decision (decision_no_longer_fits) when the item has changed since",
    )


class Difference(BaseModel):
    """What a match leaves between the line and the items it pays, posted to a chart role:
    a fee the payer's bank deducted (``bank_fees``) or a rounding/FX difference
    (``rounding``). Signed as the line: a line paying 990 for an invoice of 1000 has
    allocations of 1000 and a difference of -10 (Dr bank 990, Dr fees 10, Cr receivable
    1000); allocations plus differences equal the line amount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: AccountRole = Field(description="Chart role it is posted to: bank_fees or rounding")
    amount: Money
    reason: str


class Proposal(BaseModel):
    """A candidate the matcher could not prove, shown to the person who decides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str
    rule: str
    confidence: Amount
    evidence: list[Evidence] = Field(default_factory=list)


class MatchDecision(BaseModel):
    MESSAGE_TYPE: ClassVar[str] = "match.decided"

    decision_id: str = Field(description="Deterministic per line: a redelivery gives the same id")
    kind: DecisionKind
    line_id: str
    statement_id: str
    account: BankAccountRef
    amount: Money
    booking_date: date | None = None
    rule: str
    confidence: Amount = Field(description="0..1, as a decimal string")
    evidence: list[Evidence] = Field(default_factory=list)
    allocations: list[Allocation] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    gl_account: str | None = Field(default=None, description="For rule postings")
    counterparty_id: str | None = Field(default=None, description="For on-account postings")
    paired_line_id: str | None = Field(default=None, description="For reversal pairs")
    explanation: str
    posting_rule_id: str | None = Field(
        default=None,
        exclude_if=_unset,
        description="The tenant's posting rule that made this decision, if one did",
    )
    posting_rule_version: int | None = Field(
        default=None,
        ge=1,
        exclude_if=_unset,
        description="The version of that posting rule (rules are versioned)",
    )
    supersedes_decision_id: str | None = Field(
        default=None,
        exclude_if=_unset,
        description="The earlier decision of the same line this one replaces (a suspense or "
        "proposal decision matched later, or a refused one decided again)",
    )
    differences: list[Difference] = Field(
        default_factory=list,
        exclude_if=_empty,
        description="What the allocations leave of the line amount within the tenant's "
        "tolerance (a deducted fee, a rounding or FX difference), each posted to its role's "
        "account; allocations plus differences equal the line amount",
    )

    @staticmethod
    def confidence_of(value: str) -> Decimal:
        return Decimal(value)
