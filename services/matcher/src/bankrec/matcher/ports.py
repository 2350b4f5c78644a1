"""What the use cases need from outside, as protocols; adapters implement them."""

from __future__ import annotations

from typing import Protocol

from bankrec.contracts import Envelope, MatchDecision


class DecisionPublisher(Protocol):
    """Sends a decision to the decisions topic; returns once the broker has it."""

    async def publish(self, key: str, envelope: Envelope[MatchDecision]) -> None: ...


class DecisionLog(Protocol):
    """The decisions taken per (tenant, line): a redelivered line gets the same decision."""

    def get(self, tenant_id: str, line_id: str) -> MatchDecision | None: ...

    def put(self, tenant_id: str, decision: MatchDecision) -> None: ...
