"""A tenant's matching settings, as the matcher stores and publishes them."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bankrec.contracts.money import Amount


class MatchingSettings(BaseModel):
    """How one tenant wants its statement lines matched (the matcher's ``MatchingPolicy``).

    Published on every change, keyed by tenant on a compacted topic: the latest message of a
    tenant is its settings. A tenant without one matches with the defaults below.
    """

    MESSAGE_TYPE: ClassVar[str] = "matching_settings.changed"

    model_config = ConfigDict(frozen=True, extra="forbid")

    auto_confirm: bool = Field(
        default=True, description="Off: every proof is a proposal a person confirms"
    )
    auto_confirm_threshold: Amount = Field(
        default=Decimal("0.9"), description="0..1: a less confident proof is a proposal"
    )
    date_tolerance_days: int = Field(default=5, ge=0)
    amount_tolerance: Amount = Field(
        default=Decimal(0), description="Major units of the line's currency; 0 = exact"
    )
    amount_tolerance_percent: Amount = Field(
        default=Decimal(0), description="Percent of the item's remaining amount; 0 = exact"
    )
    name_similarity_threshold: int = Field(default=90, ge=1, le=100)
    text_similarity_threshold: int = Field(default=90, ge=1, le=100)
    version: int = Field(default=1, ge=1, description="Counts the tenant's changes from 1")
    updated_at: AwareDatetime | None = None
    updated_by: str | None = Field(default=None, max_length=200)
