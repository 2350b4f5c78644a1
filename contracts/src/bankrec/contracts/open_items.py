"""Open items: what the books expect to see on the bank statement."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field

from bankrec.contracts.money import Money
from bankrec.contracts.statements import ReferenceKind


class OpenItemKind(StrEnum):
    INVOICE = "invoice"  # customer invoice, money in
    BILL = "bill"  # supplier bill, money out
    PAYMENT = "payment"  # a payment registered in the books on the bank account
    JOURNAL = "journal"  # a manual journal line on the bank account


class OpenItemStatus(StrEnum):
    OPEN = "open"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    CANCELLED = "cancelled"


class OpenItem(BaseModel):
    """State of one open item; the compacted topic keeps the latest per item."""

    MESSAGE_TYPE: ClassVar[str] = "open_item.updated"

    item_id: str
    kind: OpenItemKind
    counterparty_id: str | None = None
    counterparty_name: str | None = None
    counterparty_accounts: list[str] = Field(default_factory=list)
    document_no: str | None = None
    external_document_no: str | None = None
    reference: str | None = None
    reference_kind: ReferenceKind | None = None
    description: str | None = None
    amount: Money = Field(description="As it will appear on the statement: + in, - out")
    remaining: Money
    posting_date: date | None = None
    due_date: date | None = None
    status: OpenItemStatus = OpenItemStatus.OPEN
    bank_account_id: str | None = None
    version: int = Field(default=1, ge=1, description="Increases with every change")
