"""The suspense queue ("received, no match"): how old its lines are, and which open items
could take each one.

Pure: the backend hands in the ledger's suspense postings and open items (as contract
values); the page shows what comes out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bankrec.contracts import Money, OpenItem, OpenItemKind, OpenItemStatus

# Items a suspense amount can be allocated to (a payment or journal item is matched, not
# allocated: the ledger refuses it as a target).
ALLOCATABLE_KINDS: frozenset[OpenItemKind] = frozenset({OpenItemKind.INVOICE, OpenItemKind.BILL})
OPEN_STATUSES: frozenset[OpenItemStatus] = frozenset(
    {OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID}
)


@dataclass(frozen=True, slots=True)
class QueuedLine:
    """What the age arithmetic needs of one suspense posting."""

    suspense_id: str
    remaining: Money
    posting_date: date


def age_days(posted_on: date, today: date) -> int:
    """Whole days a line has waited; a posting dated after today (a bank's value date in the
    future) has waited 0 days, not a negative number."""
    return max(0, (today - posted_on).days)


@dataclass(frozen=True, slots=True)
class SuspenseAge:
    """The queue at one moment: how many lines wait, the oldest and the mean age in days."""

    at: datetime
    lines: int
    oldest_days: int | None
    mean_days: Decimal | None


def suspense_age(lines: Iterable[QueuedLine], at: datetime) -> SuspenseAge:
    """Ages of the lines still waiting (remaining not zero) at ``at`` (aware)."""
    today = at.date()
    ages = [age_days(line.posting_date, today) for line in lines if line.remaining.amount != 0]
    if not ages:
        return SuspenseAge(at=at, lines=0, oldest_days=None, mean_days=None)
    mean = (Decimal(sum(ages)) / Decimal(len(ages))).quantize(Decimal("0.1"))
    return SuspenseAge(at=at, lines=len(ages), oldest_days=max(ages), mean_days=mean)


@dataclass(slots=True)
class SuspenseAgeHistory:
    """The last ``samples_max`` queue samples, for the chart; one sample per ``spacing_seconds``
    at most, so several open pages do not crowd it."""

    samples_max: int = 360
    spacing_seconds: float = 10.0
    _samples: deque[SuspenseAge] = field(default_factory=deque)

    def add(self, sample: SuspenseAge) -> bool:
        """Keep ``sample`` unless the last one is more recent than the spacing; True if kept."""
        if self._samples:
            since = (sample.at - self._samples[-1].at).total_seconds()
            if since < self.spacing_seconds:
                return False
        self._samples.append(sample)
        while len(self._samples) > self.samples_max:
            self._samples.popleft()
        return True

    @property
    def samples(self) -> tuple[SuspenseAge, ...]:
        return tuple(self._samples)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open item a suspense amount could be allocated to, and why it is offered."""

    item_id: str
    counterparty_name: str | None
    remaining: Money
    exact_amount: bool


def candidates_for(
    remaining: Money, items: Iterable[OpenItem], limit: int = 5
) -> tuple[Candidate, ...]:
    """Open invoices (money in) or bills (money out) in the line's currency, the ones whose
    remaining amount equals the line's first, then the nearest amounts (ties by item id)."""
    wanted = OpenItemKind.INVOICE if remaining.amount > 0 else OpenItemKind.BILL
    fitting = [
        item
        for item in items
        if item.kind is wanted
        and item.status in OPEN_STATUSES
        and item.remaining.currency == remaining.currency
        and item.remaining.amount != 0
    ]
    fitting.sort(key=lambda item: (abs(item.remaining.amount - remaining.amount), item.item_id))
    return tuple(
        Candidate(
            item_id=item.item_id,
            counterparty_name=item.counterparty_name,
            remaining=item.remaining,
            exact_amount=item.remaining.amount == remaining.amount,
        )
        for item in fitting[:limit]
    )
