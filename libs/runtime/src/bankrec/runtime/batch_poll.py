"""A batch subscriber's poll that hands over a record as soon as it arrives.

FastStream's Kafka batch subscriber (0.6) polls with ``getmany(timeout_ms=batch_timeout_ms)``
and, when the poll found nothing, sleeps ``batch_timeout_ms`` more before polling again. A
record arriving during that sleep waits for its end: on a quiet topic, half of all records
waited, at every hop (measured with ``make bench`` at one line a second: 113 ms from webhook
to posting at p50, of which three consumer hops). aiokafka's ``getmany`` already waits for
data, returning as soon as a fetch brings some, so the sleep only adds latency.

``install()`` replaces the subscriber's poll with one that returns the records at once and,
after an empty poll, sleeps only what remains of ``batch_timeout_ms`` (a poll that came back
empty at once, with no partitions assigned during a rebalance, must not spin). Installed by
``bankrec.runtime.kafka``, so every service's batch subscribers poll this way.
"""

from __future__ import annotations

import asyncio
import time
from itertools import chain
from typing import TYPE_CHECKING, Any

from faststream.kafka.subscriber.usecase import BatchSubscriber

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord

_FASTSTREAM_POLL = BatchSubscriber.get_msg


async def poll_batch(
    subscriber: Any, consumer: AIOKafkaConsumer
) -> tuple[ConsumerRecord[Any, Any], ...]:
    """What has arrived, up to ``max_records``, waiting at most ``batch_timeout_ms`` for it."""
    started = time.monotonic()
    records = await consumer.getmany(
        timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
    )
    if records:
        return tuple(chain.from_iterable(records.values()))
    rest = subscriber.batch_timeout_ms / 1000 - (time.monotonic() - started)
    if rest > 0:
        await asyncio.sleep(rest)
    return ()


def install() -> None:
    """Make every FastStream Kafka batch subscriber poll with ``poll_batch`` (idempotent)."""
    BatchSubscriber.get_msg = poll_batch  # type: ignore[method-assign,assignment]


def installed() -> bool:
    return BatchSubscriber.get_msg is poll_batch


def uninstall() -> None:
    """FastStream's own poll again (tests)."""
    BatchSubscriber.get_msg = _FASTSTREAM_POLL  # type: ignore[method-assign]
