"""Journal entries as the ledger posted them."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bankrec.contracts.money import Amount, Currency


def _unset(value: object) -> bool:
    """Fields added after v1 are left out of a message while unset (see decisions.py)."""
    return value is None


class AccountRole(StrEnum):
    BANK = "bank"
    RECEIVABLE = "receivable"
    PAYABLE = "payable"
    INTERIM = "interim"  # suspense: received, no match
    BANK_FEES = "bank_fees"
    INTEREST_INCOME = "interest_income"
    INTEREST_EXPENSE = "interest_expense"
    ROUNDING = "rounding"
    OTHER = "other"


class EntrySource(StrEnum):
    DECISION = "decision"
    ADJUSTMENT = "adjustment"
    MANUAL = "manual"
    REVERSAL = "reversal"


class AdjustmentKind(StrEnum):
    """What an adjustment entry (source ``adjustment``) posts against the bank account."""

    BANK_FEE = "bank_fee"  # Dr bank fees / Cr bank (or the reverse for a refund)
    INTEREST = "interest"  # Dr bank / Cr interest income, or Dr interest expense / Cr bank
    OTHER = "other"  # against a GL account the user names


class PostingLine(BaseModel):
    """One side of a journal entry. ``debit`` and ``credit`` are non-negative, one is zero."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_code: str
    account_role: AccountRole
    debit: Amount
    credit: Amount
    currency: Currency
    bank_account_id: str | None = None
    open_item_id: str | None = None
    counterparty_id: str | None = None
    statement_line_id: str | None = None


class JournalEntryPosted(BaseModel):
    MESSAGE_TYPE: ClassVar[str] = "journal_entry.posted"

    entry_id: str
    idempotency_key: str
    posting_date: date
    source: EntrySource
    source_ref: str = Field(description="Decision id, adjustment id or user")
    decision_kind: str | None = None
    description: str
    lines: list[PostingLine]
    bank_account_id: str | None = None
    statement_line_id: str | None = None
    reverses_entry_id: str | None = None
    adjustment_kind: AdjustmentKind | None = Field(
        default=None,
        exclude_if=_unset,
        description="For source adjustment: bank_fee, interest or other",
    )
    actor: str | None = Field(
        default=None,
        exclude_if=_unset,
        description="Who made a manual entry (free text until users are known)",
    )
    reason: str | None = Field(
        default=None, exclude_if=_unset, description="Why a manual entry was made"
    )
    posting_rule_id: str | None = Field(
        default=None,
        exclude_if=_unset,
        description="The posting rule whose decision this entry posts",
    )
    posting_rule_version: int | None = Field(default=None, exclude_if=_unset)
