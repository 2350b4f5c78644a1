"""A tenant's matching policy: when a proof may be confirmed without a person, and the
tolerances the rules compare with.

The engine takes the policy per call, so each tenant can have its own (seed 001: automatic
reconciliation on or off per tenant; seed 002: "Transaction Date Tolerance (Days)").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SIMILARITY_MAX = 100  # rapidfuzz scores run from 0 to 100
# the memory of recent lines keeps a line this long after its account's newest one
REVERSAL_TOLERANCE_DAYS_MAX = 90


class PolicyError(ValueError):
    """A matching policy whose values cannot work (negative tolerance, threshold out of range)."""


@dataclass(frozen=True, slots=True)
class MatchingPolicy:
    """How one tenant wants its lines matched.

    - ``auto_confirm``: off, every proof becomes a ``proposal`` decision a person confirms;
    - ``auto_confirm_threshold``: a proof less confident than this becomes a proposal too;
    - ``date_tolerance_days``: a line's date agrees with an item's posting or due date when at
      most this many days apart (0 = the same day only);
    - ``amount_tolerance`` / ``amount_tolerance_percent``: how far a line proved to pay an
      item (by its reference or invoice number) may differ from the item's remaining amount
      and still settle it, the difference posted to the bank-fee account (money in short of
      the item: a deducted fee) or the rounding account (``rules/amount_difference.py``);
      major units of the line's currency / percent of the remaining amount, the larger one
      applies; 0 = exactly equal (the default);
    - ``reversal_tolerance_days``: how many days a reversal may follow the line it cancels
      (at most ``REVERSAL_TOLERANCE_DAYS_MAX``);
    - ``name_similarity_threshold``: how alike (0..100) two counterparty names must be;
    - ``text_similarity_threshold``: how alike (0..100) a line's text and an item's
      description or document number must be to count as "identical or almost the same".
    """

    auto_confirm: bool = True
    auto_confirm_threshold: Decimal = Decimal("0.9")
    date_tolerance_days: int = 5
    amount_tolerance: Decimal = Decimal(0)
    amount_tolerance_percent: Decimal = Decimal(0)
    reversal_tolerance_days: int = 5
    name_similarity_threshold: int = 90
    text_similarity_threshold: int = 90

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.auto_confirm_threshold <= Decimal(1):
            raise PolicyError(
                f"auto_confirm_threshold {self.auto_confirm_threshold} must be between 0 and 1"
            )
        if self.date_tolerance_days < 0:
            raise PolicyError(
                f"date_tolerance_days {self.date_tolerance_days} must be 0 (same day) or more"
            )
        if self.amount_tolerance < 0 or self.amount_tolerance_percent < 0:
            raise PolicyError("amount tolerances must be 0 (exact) or more")
        if self.amount_tolerance_percent >= 100:
            raise PolicyError(
                f"amount_tolerance_percent {self.amount_tolerance_percent} must be below 100"
            )
        if not 0 <= self.reversal_tolerance_days <= REVERSAL_TOLERANCE_DAYS_MAX:
            raise PolicyError(
                f"reversal_tolerance_days {self.reversal_tolerance_days} must be between 0 "
                f"and {REVERSAL_TOLERANCE_DAYS_MAX}"
            )
        for name in ("name_similarity_threshold", "text_similarity_threshold"):
            value = getattr(self, name)
            if not 0 < value <= SIMILARITY_MAX:
                raise PolicyError(f"{name} {value} must be between 1 and {SIMILARITY_MAX}")

    @property
    def has_amount_tolerance(self) -> bool:
        return bool(self.amount_tolerance or self.amount_tolerance_percent)

    def amount_tolerance_for(self, remaining: Decimal) -> Decimal:
        """The largest difference a line may have from an item's ``remaining`` amount."""
        return max(self.amount_tolerance, abs(remaining) * self.amount_tolerance_percent / 100)

    def confirms(self, confidence: Decimal) -> bool:
        """Whether a proof of this confidence may be confirmed without a person."""
        return self.auto_confirm and confidence >= self.auto_confirm_threshold


DEFAULT_POLICY = MatchingPolicy()
