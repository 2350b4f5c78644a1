"""The faults of a run, drawn from a seed: which service is killed when, when the broker and
when PostgreSQL restart. Pure: the same seed and options give the same schedule."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    KILL = "kill"  # SIGKILL to the service's process group, then a restart
    BROKER_RESTART = "broker_restart"
    DATABASE_RESTART = "database_restart"


@dataclass(frozen=True)
class Fault:
    at_seconds: float  # from the start of the load
    kind: FaultKind
    service: str | None = None  # for a kill

    def describe(self) -> str:
        what = f"kill -9 {self.service}" if self.kind is FaultKind.KILL else self.kind.value
        return f"{self.at_seconds:7.1f}s {what}"


def fault_schedule(
    seed: int,
    *,
    duration_seconds: float,
    services: tuple[str, ...],
    kills_per_service: int,
    broker_restarts: int,
    database_restarts: int,
) -> list[Fault]:
    """Faults at random moments within the first 90% of the load window, in time order.

    Every service is killed ``kills_per_service`` times; the moments are uniform, so kills
    fall while lines are read, decided, applied and counted alike.
    """
    if duration_seconds <= 0:
        raise ValueError(f"the load window must be positive, got {duration_seconds} s")
    draw = random.Random(seed)
    window = duration_seconds * 0.9
    faults = [
        Fault(round(draw.uniform(0, window), 1), FaultKind.KILL, service)
        for service in services
        for _ in range(kills_per_service)
    ]
    faults += [
        Fault(round(draw.uniform(0.1 * window, window), 1), FaultKind.BROKER_RESTART)
        for _ in range(broker_restarts)
    ]
    faults += [
        Fault(round(draw.uniform(0.1 * window, window), 1), FaultKind.DATABASE_RESTART)
        for _ in range(database_restarts)
    ]
    return sorted(faults, key=lambda f: (f.at_seconds, f.kind.value, f.service or ""))
