"""The dashboard's pure logic: the flow window, consumer lag and the suspense queue's ages."""

from bankrec.dashboard.domain.consumer_lag import (
    GroupLag,
    PartitionOffsets,
    ServiceLag,
    group_lag,
    lag_by_service,
    partition_lag,
    service_of_group,
)
from bankrec.dashboard.domain.flow import (
    AUTO_MATCH_KINDS,
    FlowSnapshot,
    FlowTimeError,
    FlowWindow,
    MinutePoint,
    auto_match_rate,
    minute_of,
)
from bankrec.dashboard.domain.suspense_queue import (
    Candidate,
    QueuedLine,
    SuspenseAge,
    SuspenseAgeHistory,
    age_days,
    candidates_for,
    suspense_age,
)

__all__ = [
    "AUTO_MATCH_KINDS",
    "Candidate",
    "FlowSnapshot",
    "FlowTimeError",
    "FlowWindow",
    "GroupLag",
    "MinutePoint",
    "PartitionOffsets",
    "QueuedLine",
    "ServiceLag",
    "SuspenseAge",
    "SuspenseAgeHistory",
    "age_days",
    "auto_match_rate",
    "candidates_for",
    "group_lag",
    "lag_by_service",
    "minute_of",
    "partition_lag",
    "service_of_group",
    "suspense_age",
]
