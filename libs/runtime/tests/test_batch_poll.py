"""The batch subscriber's poll hands records over at once and never spins when idle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from faststream.kafka.subscriber.usecase import BatchSubscriber

import bankrec.runtime.kafka  # noqa: F401 - installs the poll, as every service does
from bankrec.runtime import batch_poll
from bankrec.runtime.batch_poll import poll_batch


class _Subscriber:
    batch_timeout_ms = 100
    max_records = 200


class _Consumer:
    """getmany answers after ``delay`` seconds with ``records``."""

    def __init__(self, records: dict[str, list[Any]], delay: float) -> None:
        self.records, self.delay = records, delay
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[Any]]:
        self.asked.append((timeout_ms, max_records))
        await asyncio.sleep(self.delay)
        return self.records


async def _timed(consumer: _Consumer) -> tuple[tuple[Any, ...], float]:
    started = time.monotonic()
    records = await poll_batch(_Subscriber(), consumer)  # type: ignore[arg-type]
    return records, time.monotonic() - started


async def test_records_are_handed_over_as_soon_as_the_poll_has_them() -> None:
    consumer = _Consumer({"lines-0": ["a", "b"], "lines-1": ["c"]}, delay=0.005)
    records, seconds = await _timed(consumer)
    assert records == ("a", "b", "c")
    assert consumer.asked == [(100, 200)]
    assert seconds < 0.08  # FastStream's poll slept no more here either: the sleep is below


async def test_a_poll_that_waited_for_nothing_is_not_followed_by_a_sleep() -> None:
    # FastStream slept batch_timeout_ms after this, and a record arriving then waited for it
    records, seconds = await _timed(_Consumer({}, delay=0.1))
    assert records == ()
    assert seconds < 0.19


async def test_an_empty_poll_that_came_back_at_once_waits_out_the_rest() -> None:
    # no partitions assigned (a rebalance): getmany returns at once, and the loop must not spin
    records, seconds = await _timed(_Consumer({}, delay=0.0))
    assert records == ()
    assert seconds >= 0.09


def test_every_batch_subscriber_polls_this_way_once_the_runtime_is_imported() -> None:
    assert batch_poll.installed()
    assert BatchSubscriber.get_msg is poll_batch
    batch_poll.uninstall()
    try:
        assert not batch_poll.installed()
    finally:
        batch_poll.install()
    assert batch_poll.installed()
