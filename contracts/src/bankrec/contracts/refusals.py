"""Decisions the ledger refused: what was refused, why, and the books as they stand now."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, Field

from bankrec.contracts.accounts import BankAccountRef
from bankrec.contracts.decisions import Allocation, DecisionKind
from bankrec.contracts.money import Money
from bankrec.contracts.open_items import OpenItem


class DecisionRefused(BaseModel):
    """A match decision the ledger did not apply, not even in part.

    The matcher reacts to it: release what it reserved for the decision and decide the line
    again from ``open_items``, the ledger's current state of every open item the decision
    named (an item the ledger does not know is missing from the list).
    """

    MESSAGE_TYPE: ClassVar[str] = "decision.refused"

    decision_id: str
    decision_message_id: str = Field(description="message_id of the refused decision's envelope")
    kind: DecisionKind
    line_id: str
    statement_id: str
    account: BankAccountRef
    amount: Money
    posting_rule_id: str | None = None
    posting_rule_version: int | None = None
    reason_code: str = Field(
        description="Stable code, e.g. over_allocation (the item was paid meanwhile), "
        "decision_no_longer_fits (the item changed), open_item_not_found, unknown_account"
    )
    reason: str
    allocations: list[Allocation] = Field(
        default_factory=list, description="The allocations as decided"
    )
    open_items: list[OpenItem] = Field(
        default_factory=list, description="Current state of each named open item the ledger has"
    )
    refused_at: AwareDatetime
