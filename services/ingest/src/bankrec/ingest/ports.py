"""What the use cases need from outside: somewhere to publish messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bankrec.ingest.domain import OutgoingMessage


class MessagePublisher(Protocol):
    """Publishes messages in the given order (per key) and returns once the broker has
    acknowledged every one of them; raises if any was not accepted."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None: ...
