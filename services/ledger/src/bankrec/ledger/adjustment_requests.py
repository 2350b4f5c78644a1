"""Adjustments the reconciler asks for over Kafka (``PostAdjustment``), posted exactly once.

The posting itself is ``ManualWork.create_adjustment`` (one place posts adjustments, whether
asked over HTTP or Kafka), called with an idempotency key derived from the adjustment id: a
request delivered again, even after a crash between posting and recording the message, gets
the first posting back and posts nothing. Then the message is claimed in the inbox
(``command_inbox.py``: the steps every command shares).

A request the books refuse (unknown or inactive GL account, an adjustment id already used for
another request, ...) posts nothing: its transaction is rolled back whole, then, in one
transaction with the inbox claim, an ``AdjustmentRefused`` is staged for the reconciler.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    REFUSED_ADJUSTMENTS,
    AdjustmentRefused,
    Envelope,
    PostAdjustment,
    envelope_for,
)
from bankrec.ledger.command_inbox import Answer, CommandInbox
from bankrec.ledger.errors import ConcurrentUpdate, LedgerError
from bankrec.ledger.manual_work import ManualWork
from bankrec.ledger.ports import TransactionFactory
from bankrec.ledger.use_cases import inbox_id

log = logging.getLogger(__name__)

ADJUSTMENT_CONSUMER = "bankrec-ledger.adjustment-requests"
"""Consumer group of the adjustment-requests topic, and its name in the inbox."""

_MESSAGE_IDS = uuid.UUID("0f5d3a52-8a3e-4d1e-9a61-2b7f4c1e9d27")


class RequestOutcome(StrEnum):
    POSTED = "posted"  # posted now, or found posted by an earlier delivery
    REFUSED = "refused"
    DUPLICATE = "duplicate"  # this message was processed before


@dataclass(frozen=True, slots=True)
class RequestResult:
    adjustment_id: str
    outcome: RequestOutcome
    entry_id: str | None = None
    reason_code: str | None = None


def idempotency_key_for(adjustment_id: str) -> str:
    """The key ``create_adjustment`` records the request under (one per adjustment id)."""
    return f"reconciler-adjustment:{adjustment_id}"


def refusal_message_id(tenant_id: str, adjustment_id: str) -> str:
    """The same refusal staged again has the same message id."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"adjustment-refused|{tenant_id}|{adjustment_id}"))


class AdjustmentRequests:
    """Posts the adjustments the reconciler asks for, each exactly once."""

    def __init__(
        self,
        manual_work: ManualWork,
        transactions: TransactionFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._manual_work = manual_work
        self._inbox = CommandInbox(transactions, ADJUSTMENT_CONSUMER, after_commit=after_commit)
        self._clock = clock

    async def post_requested(self, envelope: Envelope[PostAdjustment]) -> RequestResult:
        """Post the requested adjustment, or publish why the books refuse it."""
        request, tenant_id = envelope.payload, envelope.tenant_id
        message_id = inbox_id(envelope.message_id)
        if await self._inbox.processed(message_id):
            return RequestResult(request.adjustment_id, RequestOutcome.DUPLICATE)
        try:
            result = await self._manual_work.create_adjustment(
                tenant_id,
                kind=request.kind,
                amount=request.amount,
                bank_account_id=request.bank_account_id,
                actor=request.requested_by,
                reason=request.reason,
                correlation_id=envelope.correlation_id,
                adjustment_id=request.adjustment_id,
                gl_account=request.gl_account,
                statement_line_id=request.statement_line_id,
                description=request.description,
                posting_date=request.posting_date,
                idempotency_key=idempotency_key_for(request.adjustment_id),
            )
        except ConcurrentUpdate:
            raise
        except LedgerError as exc:
            return await self._refuse(envelope, message_id, exc)
        entries = result.answer.get("entries") or [{}]
        await self._inbox.settle(message_id)
        return RequestResult(
            request.adjustment_id, RequestOutcome.POSTED, entry_id=entries[0].get("entry_id")
        )

    async def _refuse(
        self, envelope: Envelope[PostAdjustment], message_id: str, refusal: LedgerError
    ) -> RequestResult:
        request, tenant_id = envelope.payload, envelope.tenant_id
        settled = await self._inbox.settle(message_id, [self._refusal(envelope, refusal)])
        outcome = RequestOutcome.REFUSED if settled else RequestOutcome.DUPLICATE
        log.warning(
            "refused adjustment %s: %s (%s)",
            request.adjustment_id,
            refusal.code,
            refusal.message,
            extra={"tenant_id": tenant_id, "message_id": envelope.message_id},
        )
        return RequestResult(request.adjustment_id, outcome, reason_code=refusal.code)

    def _refusal(self, envelope: Envelope[PostAdjustment], refusal: LedgerError) -> Answer:
        request, tenant_id = envelope.payload, envelope.tenant_id
        refused = AdjustmentRefused(
            adjustment_id=request.adjustment_id,
            period_id=request.period_id,
            bank_account_id=request.bank_account_id,
            reason_code=refusal.code,
            reason=refusal.message[:2000],
            refused_at=self._clock(),
        )
        return Answer(
            REFUSED_ADJUSTMENTS,
            REFUSED_ADJUSTMENTS.key_for(tenant_id, request.bank_account_id),
            envelope_for(
                refused,
                tenant_id=tenant_id,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
                message_id=refusal_message_id(tenant_id, request.adjustment_id),
            ),
        )


__all__ = [
    "ADJUSTMENT_CONSUMER",
    "ADJUSTMENT_REQUESTS",
    "AdjustmentRequests",
    "RequestOutcome",
    "RequestResult",
    "idempotency_key_for",
]
