"""Which period a replayed message belongs to (the rebuild from the topics, pure).

Live, a message goes to the account's *current* period as it was when the message was
recorded: before a release to the released period, after it to the period the release opened.
A rebuild re-reads every message and must send each where it went then, so it routes by the
time the message was claimed in the inbox (kept from before the rebuild) against the times the
account's periods were opened (each by the first release of the one before it).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ReplayRoutes:
    """What a rebuild knows before it clears the derived rows.

    ``openings``: per (tenant, account), the times periods 2, 3, … were opened, ascending.
    ``claimed_at``: per (consumer, message id), when the live service recorded the message.
    ``released``: the (tenant, account, period number) of periods released now, which the
    rebuild keeps as they are (a released period is immutable).
    """

    openings: Mapping[tuple[str, str], Sequence[datetime]] = field(default_factory=dict)
    claimed_at: Mapping[tuple[str, str], datetime] = field(default_factory=dict)
    released: frozenset[tuple[str, str, int]] = frozenset()

    def period_no(
        self, tenant_id: str, account_id: str, consumer: str, message_id: str
    ) -> int | None:
        """The number of the period the message went to live; None: the current one (the
        account has had no release, or the message was never recorded before)."""
        openings = self.openings.get((tenant_id, account_id))
        claimed = self.claimed_at.get((consumer, message_id))
        if not openings or claimed is None:
            return None
        return period_current_at(openings, claimed)

    def is_released(self, tenant_id: str, account_id: str, period_no: int) -> bool:
        return (tenant_id, account_id, period_no) in self.released


def period_current_at(openings: Sequence[datetime], moment: datetime) -> int:
    """The account's current period at ``moment``: period 1 until the first opening, then the
    one opened last at or before it (``openings`` ascending: when periods 2, 3, … opened)."""
    return 1 + bisect.bisect_right(list(openings), moment)


def period_openings(first_releases: Mapping[int, datetime], last_period_no: int) -> list[datetime]:
    """When the account's periods 2, 3, … were opened: each by the first release of the period
    before it (a release after a void updates the next period, it does not open one).
    ``first_releases``: period number -> its first release; ``last_period_no``: the highest."""
    openings: list[datetime] = []
    for number in range(1, last_period_no):
        if number not in first_releases:
            break  # a period after an unreleased one cannot have been opened by a release
        openings.append(first_releases[number])
    return sorted(openings)


__all__ = ["ReplayRoutes", "period_current_at", "period_openings"]
