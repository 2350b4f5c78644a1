"""The dashboard's pure arithmetic: the flow window, consumer lag and the suspense queue."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    STATEMENT_LINES,
    DecisionKind,
    Money,
    OpenItem,
)
from bankrec.dashboard.domain import (
    FlowTimeError,
    FlowWindow,
    PartitionOffsets,
    QueuedLine,
    SuspenseAge,
    SuspenseAgeHistory,
    age_days,
    auto_match_rate,
    candidates_for,
    lag_by_service,
    minute_of,
    partition_lag,
    service_of_group,
    suspense_age,
)
from bankrec.dashboard.topic_watch import TopicWatch

NOW = datetime(2026, 11, 23, 12, 30, 45, tzinfo=UTC)


def nok(amount: str) -> Money:
    return Money.of(amount, "NOK")


# -- the flow window


def test_minute_of_cuts_seconds_and_refuses_naive_times() -> None:
    assert minute_of(NOW) == datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
    with pytest.raises(FlowTimeError, match="no timezone"):
        minute_of(datetime(2026, 11, 23, 12, 30))  # noqa: DTZ001


def test_auto_match_rate_counts_match_and_partial_only() -> None:
    kinds = Counter({DecisionKind.MATCH: 5, DecisionKind.PARTIAL: 1, DecisionKind.SUSPENSE: 2})
    assert auto_match_rate(kinds) == Decimal("0.7500")
    assert auto_match_rate(Counter({DecisionKind.MATCH: 5, DecisionKind.SUSPENSE: 2})) == Decimal(
        "0.7143"
    )
    assert auto_match_rate(Counter()) is None


def test_flow_window_sums_the_window_and_forgets_older_minutes() -> None:
    window = FlowWindow(window_minutes=10)
    for _ in range(7):
        window.record_line(NOW)
    for _ in range(3):
        window.record_line(NOW - timedelta(minutes=9))  # the oldest minute still in
    window.record_line(NOW - timedelta(minutes=10))  # just out
    window.record_decision(NOW, DecisionKind.MATCH)
    window.record_decision(NOW - timedelta(minutes=1), DecisionKind.SUSPENSE)
    window.record_dead_letter(NOW - timedelta(minutes=2))

    snapshot = window.snapshot(NOW)

    assert snapshot.lines_per_minute == Decimal("1.00")  # 10 lines / 10 minutes
    assert snapshot.lines_last_minute == 7
    assert snapshot.decisions_by_kind["match"] == 1
    assert snapshot.decisions_by_kind["suspense"] == 1
    assert snapshot.decisions_by_kind["proposal"] == 0
    assert snapshot.auto_match_rate == Decimal("0.5000")
    assert snapshot.dead_letters == 1
    assert [(p.lines, p.decisions, p.auto_match_rate) for p in snapshot.minutes] == [
        (3, 0, None),
        (0, 0, None),  # the dead letter's minute
        (0, 1, Decimal("0.0000")),
        (7, 1, Decimal("1.0000")),
    ]
    later = window.snapshot(NOW + timedelta(minutes=10))
    assert later.lines_per_minute == Decimal("0.00")
    assert later.minutes == ()


def test_flow_window_needs_a_minute() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FlowWindow(window_minutes=0)


# -- consumer lag


def test_partition_lag_is_end_minus_committed_and_never_negative() -> None:
    assert partition_lag(PartitionOffsets("t", 0, log_start=0, end=120, committed=100)) == 20
    assert partition_lag(PartitionOffsets("t", 0, log_start=0, end=100, committed=105)) == 0
    # never committed: read from the log start (auto_offset_reset=earliest)
    assert partition_lag(PartitionOffsets("t", 0, log_start=40, end=100, committed=None)) == 60
    # committed before the log start (records deleted): only what is left counts
    assert partition_lag(PartitionOffsets("t", 0, log_start=40, end=100, committed=10)) == 60


def test_lag_by_service_adds_each_services_groups() -> None:
    lags = lag_by_service(
        {
            "bankrec-ledger": [
                PartitionOffsets("d", 0, 0, 10, 7),
                PartitionOffsets("d", 1, 0, 5, 5),
            ],
            "bankrec-reconciler.bankrec.ingest.statements.v1": [PartitionOffsets("s", 0, 0, 4, 1)],
            "bankrec-reconciler.bankrec.matcher.decisions.v1": [PartitionOffsets("d", 0, 0, 9, 8)],
        }
    )
    assert [(s.service, s.lag, len(s.groups)) for s in lags] == [
        ("ledger", 3, 1),
        ("reconciler", 4, 2),
    ]
    assert service_of_group("bankrec-matcher") == "matcher"


# -- the suspense queue


def test_age_days_counts_whole_days_and_not_the_future() -> None:
    assert age_days(date(2026, 11, 20), date(2026, 11, 23)) == 3
    assert age_days(date(2026, 11, 25), date(2026, 11, 23)) == 0


def test_suspense_age_over_the_lines_still_waiting() -> None:
    lines = [
        QueuedLine("s1", nok("4200.00"), date(2026, 11, 20)),
        QueuedLine("s2", nok("-125.00"), date(2026, 11, 22)),
        QueuedLine("s3", nok("0.00"), date(2026, 10, 1)),  # allocated: not waiting
    ]
    assert suspense_age(lines, NOW) == SuspenseAge(
        at=NOW, lines=2, oldest_days=3, mean_days=Decimal("2.0")
    )
    assert suspense_age([], NOW) == SuspenseAge(NOW, 0, None, None)


def test_suspense_age_history_is_spaced_and_bounded() -> None:
    history = SuspenseAgeHistory(samples_max=3, spacing_seconds=10)
    kept = [
        history.add(SuspenseAge(NOW + timedelta(seconds=s), 1, 1, Decimal(1)))
        for s in (0, 5, 10, 20, 30)
    ]
    assert kept == [True, False, True, True, True]
    assert [s.at for s in history.samples] == [NOW + timedelta(seconds=s) for s in (10, 20, 30)]


def item(
    item_id: str, kind: str, amount: str, status: str = "open", currency: str = "NOK"
) -> OpenItem:
    return OpenItem.model_validate(
        {
            "item_id": item_id,
            "kind": kind,
            "counterparty_name": f"Party {item_id}",
            "amount": {"amount": amount, "currency": currency},
            "remaining": {"amount": amount, "currency": currency},
            "status": status,
        }
    )


def test_candidates_are_open_items_of_the_lines_direction_nearest_amount_first() -> None:
    items = [
        item("INV-3", "invoice", "7300.00"),
        item("INV-2", "invoice", "5000.00"),
        item("INV-1", "invoice", "4200.00"),
        item("INV-0", "invoice", "4200.00", status="paid"),
        item("INV-9", "invoice", "4200.00", currency="SEK"),
        item("BILL-1", "bill", "-4200.00"),
        item("PAY-1", "payment", "4200.00"),
    ]
    found = candidates_for(nok("4200.00"), items)
    assert [(c.item_id, c.exact_amount) for c in found] == [
        ("INV-1", True),
        ("INV-2", False),
        ("INV-3", False),
    ]
    assert [c.item_id for c in candidates_for(nok("-4000.00"), items)] == ["BILL-1"]
    assert len(candidates_for(nok("4200.00"), items, limit=1)) == 1


# -- the topic watcher's counting (no broker: records fed by hand)


def envelope(tenant: str, payload: dict[str, object]) -> bytes:
    return json.dumps({"tenant_id": tenant, "payload": payload}).encode()


def test_topic_watch_counts_each_tenants_records_and_skips_what_is_not_an_envelope() -> None:
    watch = TopicWatch("unused:9092", window_minutes=60, lag_refresh_seconds=5)
    at_ms = int(NOW.timestamp() * 1000)
    watch.feed(STATEMENT_LINES.name, envelope("a", {}), at_ms)
    watch.feed(STATEMENT_LINES.name, envelope("b", {}), at_ms)
    watch.feed(DECISIONS.name, envelope("a", {"kind": "match"}), at_ms)
    watch.feed(DECISIONS.name, envelope("a", {"kind": "no-such-kind"}), at_ms)
    watch.feed(DEAD_LETTERS.name, envelope("a", {}), at_ms)
    watch.feed(DECISIONS.name, b"not json", at_ms)
    watch.feed(DECISIONS.name, None, at_ms)

    a = watch.snapshot("a", NOW)
    assert (a.lines_last_minute, a.decisions_by_kind["match"], a.dead_letters) == (1, 1, 1)
    assert watch.snapshot("b", NOW).lines_last_minute == 1
    assert watch.dead_letters_total == 1
