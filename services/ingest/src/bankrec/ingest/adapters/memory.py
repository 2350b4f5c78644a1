"""An in-memory publisher: what would have gone to Kafka, in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bankrec.contracts import Topic
from bankrec.ingest.domain import OutgoingMessage


@dataclass
class MemoryPublisher:
    """Records every message; ``fail_after`` lets only the first n through (for tests)."""

    messages: list[OutgoingMessage] = field(default_factory=list)
    fail_after: int | None = None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        for message in messages:
            if self.fail_after is not None and len(self.messages) >= self.fail_after:
                raise ConnectionError("broker unavailable (MemoryPublisher.fail_after)")
            self.messages.append(message)

    def on(self, topic: Topic) -> list[OutgoingMessage]:
        return [message for message in self.messages if message.topic is topic]
