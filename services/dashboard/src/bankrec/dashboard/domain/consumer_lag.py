"""Consumer lag: how many messages each service's consumer groups have still to read.

Pure arithmetic over offsets the topic watcher read from the broker: per partition, the end
offset (the next offset to be written) minus the group's committed offset (the next one it
will read). A partition the group never committed on is read from the log start (the
services' ``auto_offset_reset`` is ``earliest``), so all of it counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GROUP_PREFIX = "bankrec-"


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    """What the broker said about one partition of one topic, for one group."""

    topic: str
    partition: int
    log_start: int
    end: int
    committed: int | None


@dataclass(frozen=True, slots=True)
class GroupLag:
    group: str
    service: str
    lag: int
    partitions: int


@dataclass(frozen=True, slots=True)
class ServiceLag:
    service: str
    lag: int
    groups: tuple[GroupLag, ...]


def partition_lag(offsets: PartitionOffsets) -> int:
    """Messages the group has still to read on the partition (never negative: a commit may
    be read a moment after the end offset, when it is already past it)."""
    start = offsets.committed if offsets.committed is not None else offsets.log_start
    return max(0, offsets.end - max(start, offsets.log_start))


def service_of_group(group: str) -> str:
    """``bankrec-reconciler.bankrec.ingest.statements.v1`` -> ``reconciler``."""
    name = group.removeprefix(GROUP_PREFIX)
    return name.split(".", 1)[0]


def group_lag(group: str, partitions: list[PartitionOffsets]) -> GroupLag:
    return GroupLag(
        group=group,
        service=service_of_group(group),
        lag=sum(partition_lag(p) for p in partitions),
        partitions=len(partitions),
    )


def lag_by_service(groups: Mapping[str, list[PartitionOffsets]]) -> tuple[ServiceLag, ...]:
    """Each service's total lag over its groups, by service name."""
    by_service: dict[str, list[GroupLag]] = {}
    for group, partitions in groups.items():
        lag = group_lag(group, partitions)
        by_service.setdefault(lag.service, []).append(lag)
    return tuple(
        ServiceLag(
            service=service,
            lag=sum(g.lag for g in lags),
            groups=tuple(sorted(lags, key=lambda g: g.group)),
        )
        for service, lags in sorted(by_service.items())
    )
