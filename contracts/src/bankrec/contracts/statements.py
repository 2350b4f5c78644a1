"""Statements and statement lines: what the bank says happened."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bankrec.contracts.accounts import BankAccountRef
from bankrec.contracts.money import Amount, Money


class StatementKind(StrEnum):
    END_OF_DAY = "end_of_day"  # camt.053, MT940
    INTRADAY = "intraday"  # camt.052, MT942
    NOTIFICATION = "notification"  # camt.054


class EntryStatus(StrEnum):
    BOOKED = "booked"
    PENDING = "pending"
    INFO = "info"


class ReferenceKind(StrEnum):
    KID = "kid"  # Norwegian KID/OCR, mod10 or mod11
    RF = "rf"  # ISO 11649 creditor reference
    OCR = "ocr"  # Swedish OCR / other national structured reference
    OTHER = "other"


class Balance(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Money
    date: date


class BankTransactionCode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str | None = None
    family: str | None = None
    sub_family: str | None = None
    proprietary: str | None = None
    proprietary_issuer: str | None = None


class Counterparty(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    iban: str | None = None
    other_account: str | None = None
    bic: str | None = None

    @property
    def account_number(self) -> str | None:
        return self.iban or self.other_account


class StructuredReference(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: str
    kind: ReferenceKind


class Charge(BaseModel):
    """A charge the bank took or names on a line (camt ``Chrgs/Rcrd``); ``included`` says
    whether the line's amount already has it deducted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Money = Field(description="Positive: the size of the charge")
    included: bool | None = None
    bearer: str | None = Field(default=None, description="CRED, DEBT, SHAR, SLEV")
    code: str | None = None


class CurrencyExchange(BaseModel):
    """The amount as instructed in another currency and the rate the bank applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instructed_amount: Money | None = None
    original_amount: Money | None = Field(
        default=None, description="Transaction amount before conversion (camt TxAmt)"
    )
    source_currency: str | None = None
    target_currency: str | None = None
    rate: Amount | None = Field(default=None, description="Units of target per unit of source")


class StatementHeader(BaseModel):
    """One statement (camt ``Stmt``/``Rpt``/``Ntfctn``, an MT940 message)."""

    MESSAGE_TYPE: ClassVar[str] = "statement.received"

    statement_id: str = Field(description="Stable id: the bank's statement id scoped by account")
    bank_statement_id: str | None = None
    kind: StatementKind = StatementKind.END_OF_DAY
    source_format: str = Field(description="camt.053.001.02, mt940, ...")
    account: BankAccountRef
    electronic_sequence_number: int | None = None
    legal_sequence_number: int | None = None
    created_at: AwareDatetime | None = None
    period_from: date | None = None
    period_to: date | None = None
    opening_booked: Balance | None = None
    closing_booked: Balance | None = None
    closing_available: Balance | None = None
    entry_count: int = Field(ge=0, description="Entries (Ntry) in the statement")
    line_count: int = Field(ge=0, description="Statement lines published for it")
    lines_already_received: int = Field(
        default=0,
        ge=0,
        description="Lines of this statement published before with another statement or "
        "file (an overlapping statement); they keep their first statement_id",
    )
    sum_credits: Amount
    sum_debits: Amount
    file_sha256: str


class StatementLine(BaseModel):
    """One payment on a statement: an entry, or one transaction detail of a batch entry."""

    MESSAGE_TYPE: ClassVar[str] = "statement.line.received"

    line_id: str
    statement_id: str
    account: BankAccountRef
    sequence: int = Field(ge=0, description="Position of the line in its statement")
    entry_reference: str | None = Field(default=None, description="Entry (Ntry) it belongs to")
    entry_amount: Money | None = Field(default=None, description="Entry total of a batch entry")
    detail_index: int | None = None
    amount: Money = Field(description="Signed: positive = money in (credit)")
    status: EntryStatus = EntryStatus.BOOKED
    booking_date: date | None = None
    value_date: date | None = None
    bank_reference: str | None = Field(default=None, description="AcctSvcrRef")
    end_to_end_id: str | None = None
    instruction_id: str | None = None
    bank_transaction_code: BankTransactionCode | None = None
    counterparty: Counterparty | None = None
    structured_reference: StructuredReference | None = None
    referred_documents: list[str] = Field(default_factory=list)
    remittance_text: str | None = None
    additional_info: str | None = None
    reversal: bool = False
    customer_reference: str | None = Field(
        default=None, description="The account owner's own reference (MT940 :61: subfield 7)"
    )
    charges: list[Charge] = Field(default_factory=list)
    exchange: CurrencyExchange | None = None
    purpose_code: str | None = Field(default=None, description="ISO 20022 Purp/Cd, GVC, ...")
