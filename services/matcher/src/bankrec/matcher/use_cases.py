"""The matcher's use cases: keep the index, decide a line and publish the decision, explain.

The matcher has no database yet: its index is rebuilt from the compacted open-items topic at
every start, and a decision is published before the line's offset is committed (at-least-once;
the ledger dedupes by decision id, which is the same for every delivery of a line).
"""

from __future__ import annotations

import logging

from bankrec.contracts import (
    DECISIONS,
    Envelope,
    MatchDecision,
    OpenItem,
    StatementLine,
    envelope_for,
)
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.domain import IndexSummary, MatchEngine, TenantIndexes
from bankrec.matcher.errors import DecisionNotFoundError, IndexNotReadyError
from bankrec.matcher.ports import DecisionLog, DecisionPublisher

log = logging.getLogger(__name__)

CONSUMER_GROUP = "bankrec-matcher"


class Matcher:
    def __init__(
        self,
        publisher: DecisionPublisher,
        decisions: DecisionLog,
        *,
        engine: MatchEngine | None = None,
        indexes: TenantIndexes | None = None,
        catch_up: IndexCatchUp | None = None,
    ) -> None:
        self._publisher = publisher
        self._decisions = decisions
        self._engine = engine or MatchEngine()
        self._indexes = indexes or TenantIndexes()
        self.catch_up = catch_up or IndexCatchUp()

    def record_open_item(self, envelope: Envelope[OpenItem]) -> bool:
        """Take the ledger's latest state of an open item; False when it was not newer."""
        return self._indexes.apply(envelope.tenant_id, envelope.payload)

    def open_item_read(self, partition: int, offset: int) -> None:
        """The open-items record at this position is behind us (applied or dead-lettered)."""
        was_ready = self.catch_up.ready
        self.catch_up.read(partition, offset)
        if self.catch_up.ready and not was_ready:
            log.info("open-items index caught up with the topic; matching lines")

    async def decide_line(self, envelope: Envelope[StatementLine]) -> MatchDecision:
        """Decide a statement line and publish the decision; returns once the broker has it.

        Waits until the index has read the open-items topic. A line decided before (a
        redelivery) gets the decision it got then, published again: the index already holds
        that decision's allocations, so deciding again would give another answer.
        """
        await self.catch_up.wait()
        tenant_id, line = envelope.tenant_id, envelope.payload
        decision = self._decisions.get(tenant_id, line.line_id)
        if decision is None:
            decision = self._engine.decide(tenant_id, line, self._indexes.for_tenant(tenant_id))
            self._decisions.put(tenant_id, decision)
        outgoing = envelope_for(
            decision,
            tenant_id=tenant_id,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.message_id,
            message_id=decision.decision_id,
        )
        await self._publisher.publish(
            DECISIONS.key_for(tenant_id, line.account.account_id), outgoing
        )
        log.info(
            "line %s: %s by %s",
            line.line_id,
            decision.kind.value,
            decision.rule,
            extra={"tenant_id": tenant_id, "correlation_id": envelope.correlation_id},
        )
        return decision

    def explain(self, tenant_id: str, line: StatementLine) -> MatchDecision:
        """The decision the engine would take for the line now; publishes and books nothing."""
        if not self.catch_up.ready:
            raise IndexNotReadyError(
                "the open-items index is still reading the topic after a start; try again in "
                "a few seconds"
            )
        return self._engine.evaluate(tenant_id, line, self._indexes.for_tenant(tenant_id))

    def last_decision(self, tenant_id: str, line_id: str) -> MatchDecision:
        decision = self._decisions.get(tenant_id, line_id)
        if decision is None:
            raise DecisionNotFoundError(
                f"no decision for line {line_id!r} of tenant {tenant_id!r}: the line has not "
                "been seen since the matcher started, or its decision is older than the ones kept"
            )
        return decision

    def index_summary(self, tenant_id: str) -> IndexSummary:
        return self._indexes.summary(tenant_id)
