"""Reconciliation period events."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from bankrec.contracts.money import Money


class PeriodStatus(StrEnum):
    ON_HOLD = "on_hold"
    BALANCED = "balanced"
    RELEASED = "released"
    VOID = "void"


class PeriodEventKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    BALANCED = "balanced"
    RELEASED = "released"
    VOIDED = "voided"


class PeriodEvent(BaseModel):
    MESSAGE_TYPE: ClassVar[str] = "period.changed"

    model_config = ConfigDict(extra="forbid")

    period_id: str
    account_id: str
    event: PeriodEventKind
    status: PeriodStatus
    reconciliation_date: date | None = None
    opening_balance: Money
    statement_balance: Money | None = None
    reconciled_balance: Money
    difference: Money | None = None
    sequence_no: int | None = None
    actor: str | None = None
    reason: str | None = None
