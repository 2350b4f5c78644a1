"""Whether a reader of a compacted topic has read what the topic held when the service started.

A service that keeps a topic's state in memory (the matcher's open-items index, every
service's tenant keys) reads the whole topic at each start, without a consumer group. Its
answers are wrong until it has caught up (a half-read index sends every line to suspense; a
half-read key book refuses good keys), so it gates on this: at start-up the composition root
reads the topic's end offsets (``readable_end_offsets``) and calls ``expect``; the reader
reports every record it has read; once each partition reached its end offset, the gate opens.
``give_up`` opens it anyway (a start-up timeout), so a partition whose last records can never
be read (deleted) cannot hold the service back for ever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping


class TopicCatchUp:
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
        """The reader has applied (or dead-lettered) the record at ``offset``."""
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
