"""The live flow of one tenant: statement lines, decisions and dead letters per minute.

Pure: the topic watcher feeds it each message's time and kind; the page reads a
``FlowSnapshot``. Time is cut into whole minutes (UTC); only the last ``window_minutes`` are
kept, so memory is bounded however long the dashboard runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bankrec.contracts import DecisionKind

# Decisions a rule proved and the ledger posted against an open item with nobody's help; the
# other kinds either need a person (suspense, proposal) or post without matching an item.
AUTO_MATCH_KINDS: frozenset[DecisionKind] = frozenset({DecisionKind.MATCH, DecisionKind.PARTIAL})


class FlowTimeError(ValueError):
    """A time without a timezone was given to the flow window (times must be aware)."""


def minute_of(moment: datetime) -> datetime:
    """The UTC minute ``moment`` falls in (seconds and below cut off)."""
    if moment.tzinfo is None:
        raise FlowTimeError(f"{moment.isoformat()} has no timezone; pass an aware datetime")
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def auto_match_rate(decisions_by_kind: Counter[DecisionKind]) -> Decimal | None:
    """Share of decisions that are auto-matched (match, partial), 0..1 to four places;
    None when there were no decisions (a rate of nothing is not 0 %)."""
    total = sum(decisions_by_kind.values())
    if total == 0:
        return None
    matched = sum(count for kind, count in decisions_by_kind.items() if kind in AUTO_MATCH_KINDS)
    return (Decimal(matched) / Decimal(total)).quantize(Decimal("0.0001"))


@dataclass(slots=True)
class MinuteCounts:
    """What arrived in one minute."""

    lines: int = 0
    decisions: Counter[DecisionKind] = field(default_factory=Counter)
    dead_letters: int = 0


@dataclass(frozen=True, slots=True)
class MinutePoint:
    """One minute of the chart: its auto-match rate (None without decisions)."""

    minute: datetime
    lines: int
    decisions: int
    auto_match_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class FlowSnapshot:
    """The figures the page shows, over the window ending at ``at``."""

    at: datetime
    window_minutes: int
    lines_per_minute: Decimal
    lines_last_minute: int
    decisions_by_kind: dict[str, int]
    auto_match_rate: Decimal | None
    dead_letters: int
    minutes: tuple[MinutePoint, ...]


@dataclass(slots=True)
class FlowWindow:
    """Per-minute counts of one tenant's messages over a sliding window."""

    window_minutes: int = 60
    _minutes: dict[datetime, MinuteCounts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.window_minutes < 1:
            raise ValueError(f"window_minutes must be at least 1, not {self.window_minutes}")

    def _bucket(self, at: datetime) -> MinuteCounts:
        return self._minutes.setdefault(minute_of(at), MinuteCounts())

    def record_line(self, at: datetime) -> None:
        self._bucket(at).lines += 1

    def record_decision(self, at: datetime, kind: DecisionKind) -> None:
        self._bucket(at).decisions[kind] += 1

    def record_dead_letter(self, at: datetime) -> None:
        self._bucket(at).dead_letters += 1

    def forget_before(self, now: datetime) -> None:
        """Drop the minutes that left the window ending at ``now``."""
        oldest = minute_of(now) - timedelta(minutes=self.window_minutes - 1)
        for minute in [m for m in self._minutes if m < oldest]:
            del self._minutes[minute]

    def snapshot(self, now: datetime) -> FlowSnapshot:
        """The window's figures at ``now``; lines per minute average over the whole window
        (the minutes with nothing count as zero), so a quiet hour reads as a quiet rate."""
        self.forget_before(now)
        current = minute_of(now)
        kept = {m: c for m, c in self._minutes.items() if m <= current}
        decisions: Counter[DecisionKind] = Counter()
        for counts in kept.values():
            decisions.update(counts.decisions)
        lines = sum(c.lines for c in kept.values())
        points = tuple(
            MinutePoint(
                minute=minute,
                lines=counts.lines,
                decisions=sum(counts.decisions.values()),
                auto_match_rate=auto_match_rate(counts.decisions),
            )
            for minute, counts in sorted(kept.items())
        )
        last = kept.get(current)
        return FlowSnapshot(
            at=now,
            window_minutes=self.window_minutes,
            lines_per_minute=(Decimal(lines) / Decimal(self.window_minutes)).quantize(
                Decimal("0.01")
            ),
            lines_last_minute=last.lines if last else 0,
            decisions_by_kind={kind.value: decisions[kind] for kind in DecisionKind},
            auto_match_rate=auto_match_rate(decisions),
            dead_letters=sum(c.dead_letters for c in kept.values()),
            minutes=points,
        )
