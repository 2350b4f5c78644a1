"""Which period a replayed message goes to: the one current when the live service recorded it."""

from __future__ import annotations

from datetime import UTC, datetime

from bankrec.reconciler.domain.replay import ReplayRoutes, period_current_at, period_openings

JAN_RELEASE = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
FEB_RELEASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_period_is_current_from_its_opening_until_the_next_one_opens() -> None:
    openings = [JAN_RELEASE, FEB_RELEASE]
    assert period_current_at(openings, datetime(2026, 1, 20, tzinfo=UTC)) == 1
    assert period_current_at(openings, JAN_RELEASE) == 2  # recorded after the release committed
    assert period_current_at(openings, datetime(2026, 2, 20, tzinfo=UTC)) == 2
    assert period_current_at(openings, datetime(2026, 3, 5, tzinfo=UTC)) == 3


def test_the_first_release_opens_the_next_period_a_release_after_a_void_does_not() -> None:
    # period 2 was released, voided and released again: period 3 opened at its first release
    assert period_openings({1: JAN_RELEASE, 2: FEB_RELEASE}, last_period_no=3) == [
        JAN_RELEASE,
        FEB_RELEASE,
    ]
    assert period_openings({1: JAN_RELEASE}, last_period_no=2) == [JAN_RELEASE]
    assert period_openings({}, last_period_no=1) == []


def test_a_message_never_recorded_or_of_an_account_without_release_goes_to_the_current() -> None:
    routes = ReplayRoutes(
        openings={("t-1", "acc-1"): [JAN_RELEASE]},
        claimed_at={
            ("statement-lines", "m-early"): datetime(2026, 1, 31, tzinfo=UTC),
            ("statement-lines", "m-late"): datetime(2026, 2, 4, tzinfo=UTC),
        },
        released=frozenset({("t-1", "acc-1", 1)}),
    )
    assert routes.period_no("t-1", "acc-1", "statement-lines", "m-early") == 1
    assert routes.is_released("t-1", "acc-1", 1)
    assert routes.period_no("t-1", "acc-1", "statement-lines", "m-late") == 2
    assert routes.period_no("t-1", "acc-1", "statement-lines", "m-new") is None
    assert routes.period_no("t-1", "acc-2", "statement-lines", "m-early") is None
    assert routes.period_no("t-1", "acc-1", "decisions", "m-early") is None  # per consumer
