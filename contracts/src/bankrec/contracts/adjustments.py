"""Adjustments a reconciliation asks the ledger to post, and the ledger's refusal of one.

The reconciler sends ``PostAdjustment`` (a command) on ``bankrec.reconciler.adjustment-requests.v1``
in the same transaction as the adjustment it records. The ledger posts it exactly once; the
posting comes back on the postings topic (``source=adjustment``, ``source_ref`` = the
adjustment id). An adjustment the books refuse (unknown or inactive GL account, an adjustment
id used before for another request, ...) comes back as ``AdjustmentRefused`` on
``bankrec.ledger.refused-adjustments.v1``; nothing of it is posted.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, Field

from bankrec.contracts.money import Money
from bankrec.contracts.postings import AdjustmentKind


class PostAdjustment(BaseModel):
    """Post a bank fee, interest or other adjustment on a bank account (signed as on the
    statement: a fee of 50 is -50)."""

    MESSAGE_TYPE: ClassVar[str] = "adjustment.post"

    adjustment_id: str = Field(
        description="Unique per tenant; letters, digits, '.', '_', '-' (at most 100)",
        max_length=100,
    )
    period_id: str = Field(description="The reconciliation period it was requested from")
    bank_account_id: str
    kind: AdjustmentKind
    amount: Money
    gl_account: str | None = Field(
        default=None, description="Required for kind other; overrides the fee/interest account"
    )
    statement_line_id: str | None = None
    description: str | None = None
    posting_date: date | None = None
    requested_by: str = Field(description="Who asked for it (free text until users are known)")
    reason: str


class AdjustmentRefused(BaseModel):
    """An adjustment the ledger did not post, with the reason (stable code and text)."""

    MESSAGE_TYPE: ClassVar[str] = "adjustment.refused"

    adjustment_id: str
    period_id: str
    bank_account_id: str
    reason_code: str = Field(
        description="Stable code, e.g. unknown_account, account_inactive, idempotency_conflict, "
        "invalid_manual_action"
    )
    reason: str
    refused_at: AwareDatetime
