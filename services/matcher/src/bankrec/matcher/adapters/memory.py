"""In-memory adapters: the bounded decision log, and a publisher that records (for tests)."""

from __future__ import annotations

from collections import OrderedDict

from bankrec.contracts import Envelope, MatchDecision


class RecentDecisions:
    """The last ``capacity`` decisions, by (tenant, line); the oldest is forgotten first."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._decisions: OrderedDict[tuple[str, str], MatchDecision] = OrderedDict()

    def __len__(self) -> int:
        return len(self._decisions)

    def get(self, tenant_id: str, line_id: str) -> MatchDecision | None:
        return self._decisions.get((tenant_id, line_id))

    def put(self, tenant_id: str, decision: MatchDecision) -> None:
        key = (tenant_id, decision.line_id)
        self._decisions[key] = decision
        self._decisions.move_to_end(key)
        while len(self._decisions) > self._capacity:
            self._decisions.popitem(last=False)


class RecordingPublisher:
    """Keeps what would have been published, in order; ``fail_next`` simulates a broker error."""

    def __init__(self) -> None:
        self.published: list[tuple[str, Envelope[MatchDecision]]] = []
        self.fail_next = 0

    async def publish(self, key: str, envelope: Envelope[MatchDecision]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("the broker is away (simulated)")
        self.published.append((key, envelope))
