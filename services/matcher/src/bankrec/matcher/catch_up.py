"""Whether the open-items index has read what the topic held when the service started.

Lines must not be matched against a half-read index (after a restart every line would go to
suspense). At start-up the composition root reads the topic's end offsets; the open-item
consumer reports every record it has read; once each partition reached its end offset, the
index is ready. ``give_up`` opens the gate anyway (a start-up timeout), so a partition whose
last records can never be read (deleted) cannot stall matching for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class IndexCatchUp:
    def __init__(self) -> None:
        self._pending: dict[int, int] = {}
        self._ready = asyncio.Event()
        self._ready.set()  # nothing to read until ``expect`` says otherwise
        self.gave_up = False

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def pending(self) -> dict[int, int]:
        """Partition -> the end offset still to reach."""
        return dict(self._pending)

    def expect(self, end_offsets: Mapping[int, int]) -> None:
        """Partition -> offset after its last record, for partitions that hold records."""
        self._pending = {p: offset for p, offset in end_offsets.items() if offset > 0}
        if self._pending:
            self._ready.clear()
        else:
            self._ready.set()

    def read(self, partition: int, offset: int) -> None:
        """The consumer has applied (or dead-lettered) the record at ``offset``."""
        target = self._pending.get(partition)
        if target is not None and offset + 1 >= target:
            del self._pending[partition]
            if not self._pending:
                self._ready.set()

    def give_up(self) -> None:
        if not self._ready.is_set():
            self.gave_up = True
            self._ready.set()

    async def wait(self) -> None:
        await self._ready.wait()
