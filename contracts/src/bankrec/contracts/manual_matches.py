"""Manual matching a reconciliation asks the ledger for, and the ledger's answer.

The reconciler sends ``ManualMatchCommand`` (a command) on ``bankrec.reconciler.match-requests.v1``
in the same transaction as the request it records on the period:

- ``match``: a statement line the matcher parked on the interim account (a ``suspense`` or
  ``proposal`` decision, or a line unmatched by hand) is matched to one or several open items:
  the ledger allocates the line's suspense posting to them (the items are paid);
- ``unmatch``: a manual match is taken back (its allocations are reversed, the items reopen),
  or, for a line the matcher matched, the decision is unmatched (reversing entry, items reopen,
  the line parked on the interim account again).

The ledger applies each request exactly once and answers ``ManualMatchSettled`` on
``bankrec.ledger.match-outcomes.v1``: ``applied`` (with the entries it posted) or ``refused``
(with a stable reason code and text; nothing of it is posted).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bankrec.contracts.money import Money


class ManualMatchKind(StrEnum):
    MATCH = "match"
    UNMATCH = "unmatch"


class ManualMatchOutcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"


class ItemAllocation(BaseModel):
    """Part of a statement line given to one open item, signed as on the statement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str = Field(max_length=100)
    amount: Money


class ManualMatchCommand(BaseModel):
    """Match a statement line to open items by hand, or take a match back."""

    MESSAGE_TYPE: ClassVar[str] = "manual_match.requested"

    request_id: str = Field(
        description="Unique per tenant; letters, digits, '.', '_', '-' (at most 100)",
        max_length=100,
    )
    kind: ManualMatchKind
    period_id: str = Field(description="The reconciliation period it was requested from")
    bank_account_id: str
    statement_line_id: str
    decision_id: str = Field(
        description="The matcher's latest decision about the line, which the ledger applied: "
        "what the line's postings came from"
    )
    allocations: tuple[ItemAllocation, ...] = Field(
        default=(), description="match: the open items and the part of the line each gets"
    )
    undoes_request_id: str | None = Field(
        default=None,
        description="unmatch of a manual match: the match request whose allocations are reversed",
    )
    requested_by: str = Field(description="Who asked for it (free text until users are known)")
    reason: str


class ManualMatchSettled(BaseModel):
    """What the ledger did with a manual match request: applied, or refused with the reason."""

    MESSAGE_TYPE: ClassVar[str] = "manual_match.settled"

    request_id: str
    kind: ManualMatchKind
    period_id: str
    bank_account_id: str
    statement_line_id: str
    outcome: ManualMatchOutcome
    entry_ids: tuple[str, ...] = Field(default=(), description="The entries it posted (applied)")
    reason_code: str | None = Field(
        default=None,
        description="refused: a stable code, e.g. decision_not_applied, line_matched, "
        "over_allocation, unknown_open_item, suspense_allocated",
    )
    reason: str | None = None
    settled_at: AwareDatetime
