"""The fault schedule is fixed by its seed (a failing run is reproduced by its seed)."""

from __future__ import annotations

from bankrec.devstack.fault_schedule import FaultKind, fault_schedule
from bankrec.devstack.processes import SERVICE_NAMES


def _schedule(seed: int) -> list[object]:
    return list(
        fault_schedule(
            seed,
            duration_seconds=60,
            services=SERVICE_NAMES,
            kills_per_service=3,
            broker_restarts=1,
            database_restarts=2,
        )
    )


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    print("seeds 7 and 8")
    assert _schedule(7) == _schedule(7)
    assert _schedule(7) != _schedule(8)


def test_every_service_is_killed_as_often_as_asked_within_the_window() -> None:
    faults = fault_schedule(
        7,
        duration_seconds=60,
        services=SERVICE_NAMES,
        kills_per_service=3,
        broker_restarts=1,
        database_restarts=2,
    )
    kills = [f.service for f in faults if f.kind is FaultKind.KILL]
    assert sorted(kills) == sorted(SERVICE_NAMES * 3)
    assert sum(f.kind is FaultKind.BROKER_RESTART for f in faults) == 1
    assert sum(f.kind is FaultKind.DATABASE_RESTART for f in faults) == 2
    assert all(0 <= f.at_seconds <= 54 for f in faults)
    assert [f.at_seconds for f in faults] == sorted(f.at_seconds for f in faults)
