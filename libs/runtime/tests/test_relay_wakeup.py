"""OutboxRelay.run must not lose a wake() or stop() that arrives while a batch is running.

Before the fix the relay cleared its wake event after the batch, so a commit made during the
batch waited for the idle timeout, and so did a shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bankrec.runtime import OutboxRelay


class _ScriptedRelay(OutboxRelay):
    """A relay whose batches publish nothing but call wake() / stop() while they run."""

    def __init__(self, during_batch: list[str]) -> None:
        none: Any = None
        super().__init__(none, none, none, idle_seconds=60.0)  # idle wait: 20 minutes
        self.during_batch = during_batch
        self.batches = 0

    async def relay_once(self) -> int:
        action = self.during_batch[self.batches] if self.batches < len(self.during_batch) else ""
        self.batches += 1
        if action == "wake":
            self.wake()
        elif action == "stop":
            self.stop()
        return 0


async def test_a_wake_during_a_batch_starts_the_next_batch_at_once() -> None:
    relay = _ScriptedRelay(["wake", "stop"])
    await asyncio.wait_for(relay.run(), timeout=5)
    assert relay.batches == 2


async def test_a_stop_during_a_batch_stops_at_once() -> None:
    relay = _ScriptedRelay(["stop"])
    await asyncio.wait_for(relay.run(), timeout=5)
    assert relay.batches == 1
