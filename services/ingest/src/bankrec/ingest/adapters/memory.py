"""A recording stand-in for the Kafka broker: what the outbox relay would have sent, in order.

It has the broker's ``publish`` signature, so the real relay runs against it in unit tests
of the HTTP shell; integration tests use the real broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bankrec.contracts import Envelope, Topic, topic_named


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    topic: Topic
    key: str
    envelope: Envelope[Any]


@dataclass
class MemoryBroker:
    """Records every message; ``fail_after`` lets only the first n through (for tests).

    ``topics``, when given, records only messages on those topics (the others are taken and
    dropped), for tests about statements that do not care about the API key records ingest
    publishes when a test issues its key."""

    messages: list[RecordedMessage] = field(default_factory=list)
    fail_after: int | None = None
    topics: tuple[Topic, ...] | None = None

    async def publish(
        self,
        message: Any,
        topic: str = "",
        *,
        key: bytes | Any = None,
        headers: dict[str, str] | None = None,
        no_confirm: bool = False,
    ) -> None:
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            raise ConnectionError("broker unavailable (MemoryBroker.fail_after)")
        if self.topics is not None and topic_named(topic) not in self.topics:
            return
        self.messages.append(
            RecordedMessage(
                topic_named(topic),
                key.decode() if isinstance(key, bytes) else str(key),
                Envelope[Any].model_validate_json(message),
            )
        )

    def on(self, topic: Topic) -> list[RecordedMessage]:
        return [message for message in self.messages if message.topic is topic]
