"""The cache of committed periods is bounded by the lines and postings it holds, not only by
how many periods: a period is held whole until released, so it grows with the month."""

from __future__ import annotations

import asyncio

from reconciler_factories import Messages

from bankrec.reconciler.adapters.sql import PeriodCache
from bankrec.reconciler.domain.period import ReconciliationPeriod, apply_line, open_period


def period_with_lines(make: Messages, account_id: str, lines: int) -> ReconciliationPeriod:
    period = open_period(make.tenant_id, account_id, "NOK")
    account = make.account.model_copy(update={"account_id": account_id})
    for number in range(lines):
        line = make.line(f"{account_id}-l{number}", "10.00")
        period = apply_line(period, line.model_copy(update={"account": account}))
    return period


def test_the_least_recently_used_periods_leave_when_their_rows_pass_the_bound(
    messages: Messages,
) -> None:
    cache = PeriodCache(size=10, rows_max=100)
    periods = {name: period_with_lines(messages, name, 40) for name in ("a", "b", "c")}
    cache.put((messages.tenant_id, "a"), 1, periods["a"])
    cache.put((messages.tenant_id, "b"), 1, periods["b"])
    assert cache.get((messages.tenant_id, "a"), 1) is periods["a"]  # a used last: b goes
    cache.put((messages.tenant_id, "c"), 1, periods["c"])
    assert (len(cache), cache.rows) == (2, 80)
    assert cache.get((messages.tenant_id, "b"), 1) is None
    assert cache.get((messages.tenant_id, "a"), 1) is periods["a"]
    assert cache.get((messages.tenant_id, "a"), 2) is None  # another version: a miss


def test_a_newer_version_replaces_the_old_and_a_period_over_the_bound_is_kept_alone(
    messages: Messages,
) -> None:
    cache = PeriodCache(size=10, rows_max=100)
    key, other = (messages.tenant_id, "a"), (messages.tenant_id, "b")
    cache.put(other, 1, period_with_lines(messages, "b", 10))
    cache.put(key, 1, period_with_lines(messages, "a", 30))
    cache.put(key, 2, period_with_lines(messages, "a", 60))
    assert (len(cache), cache.rows) == (2, 70)
    big = period_with_lines(messages, "a", 101)
    cache.put(key, 3, big)
    # the period worked on last stays (it is read again with the next batch), the others go
    assert (len(cache), cache.rows) == (1, 101)
    assert cache.get(key, 3) is big
    assert cache.get(key, 2) is None  # the older version is stale
    assert cache.get(other, 1) is None
    cache.put(other, 2, period_with_lines(messages, "b", 11))
    assert (len(cache), cache.rows) == (1, 11)  # used last now: the big one goes
    off = PeriodCache(size=0)
    off.put(key, 1, period_with_lines(messages, "a", 1))
    assert len(off) == 0


async def test_a_version_being_committed_is_waited_for_not_missed(messages: Messages) -> None:
    """A transaction of the same process may read the version another one is committing the
    moment the commit lands: it waits for the period to be cached instead of reading it back."""
    cache = PeriodCache(size=10, rows_max=100)
    key = (messages.tenant_id, "a")
    old, new = period_with_lines(messages, "a", 1), period_with_lines(messages, "a", 2)
    cache.put(key, 1, old)
    committing = cache.committing(key, 2, new)
    assert committing is not None

    reader = asyncio.create_task(cache.get_committed(key, 2))
    await asyncio.sleep(0)
    assert not reader.done()  # waiting for the commit's outcome
    assert await cache.get_committed(key, 1) is old  # another version: no wait
    cache.settle(key, committing, held=True)
    assert await reader is new

    # a commit that failed leaves nothing cached at its version: the reader reads the database
    failed = cache.committing(key, 3, period_with_lines(messages, "a", 3))
    assert failed is not None
    reader = asyncio.create_task(cache.get_committed(key, 3))
    await asyncio.sleep(0)
    cache.settle(key, failed, held=False)
    assert await reader is None
    assert cache.get(key, 2) is new
    assert PeriodCache(size=0).committing(key, 4, new) is None  # caching off: nothing to wait for
