# ruff: noqa: N818 - error names are the domain's words, as in errors.py
"""Manual matches the reconciler asks for over Kafka (``ManualMatchCommand``), applied exactly
once, the way adjustment requests are (``adjustment_requests.py``, ``command_inbox.py``).

- **match**: the line's suspense posting (what its ``suspense``/``proposal`` decision, or an
  unmatch by hand, parked on the interim account) is allocated to the open items named, in
  one transaction (all allocations or none): "interim vs receivable/payable" per item, the
  items (partly) paid. A line whose decision the ledger has not applied yet is refused
  (``decision_not_applied``: ask again once the matcher's decision is posted); a line the
  matcher matched is refused (``line_matched``: remove that match first).
- **unmatch** of a manual match: its allocations are reversed in one transaction (the
  amounts go back onto the interim account, the items reopen); of a matcher's match: the
  decision is unmatched (``ManualWork.unmatch_decision``: reversing entry, items reopen, the
  line parked on the interim account as a new suspense posting).

Each action is audited (actor and reason of the request) under an idempotency key derived
from the request id, so a request delivered again applies nothing twice. The outcome
(``applied`` with the entries, or ``refused`` with the reason) is staged with the inbox claim
as ``ManualMatchSettled`` on ``bankrec.ledger.match-outcomes.v1``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bankrec.contracts import (
    MATCH_OUTCOMES,
    DecisionKind,
    Envelope,
    ManualMatchCommand,
    ManualMatchKind,
    ManualMatchOutcome,
    ManualMatchSettled,
    envelope_for,
)
from bankrec.ledger.command_inbox import Answer, CommandInbox
from bankrec.ledger.domain.audit import ManualAction, accountability, action_id_for
from bankrec.ledger.domain.suspense import (
    AllocationTarget,
    SuspensePosting,
    allocate_suspense,
    reverse_allocation,
    suspense_id_for,
)
from bankrec.ledger.errors import (
    ConcurrentUpdate,
    InvalidManualAction,
    LedgerError,
    UnknownAllocation,
    UnknownSuspensePosting,
)
from bankrec.ledger.manual_work import (
    ManualResult,
    ManualWork,
    _parked_on,
    allocation_json,
    entry_json,
    item_json,
    suspense_json,
)
from bankrec.ledger.ports import DecisionOutcome, LedgerTransaction, TransactionFactory
from bankrec.ledger.use_cases import inbox_id

log = logging.getLogger(__name__)

MATCH_CONSUMER = "bankrec-ledger.match-requests"
"""Consumer group of the match-requests topic, and its name in the inbox."""

_MESSAGE_IDS = uuid.UUID("5b0c8e1a-6f7d-4e2b-9c3a-1d4e5f607182")
_PARKED_KINDS = frozenset({DecisionKind.SUSPENSE, DecisionKind.PROPOSAL})


class DecisionNotApplied(LedgerError):
    """The ledger has not applied the decision the request builds on (yet)."""

    code = "decision_not_applied"


class LineMatched(LedgerError):
    """The line is matched already: nothing of it is parked on the interim account."""

    code = "line_matched"


class MatchNotApplied(LedgerError):
    """An unmatch names a manual match the ledger did not apply."""

    code = "match_not_applied"


@dataclass(frozen=True, slots=True)
class MatchResult:
    request_id: str
    outcome: ManualMatchOutcome | None  # None: this message was processed before
    entry_ids: tuple[str, ...] = ()
    reason_code: str | None = None


def idempotency_key_for(request_id: str) -> str:
    """The key the manual action of a request is recorded under (one per request id)."""
    return f"reconciler-match:{request_id}"


def outcome_message_id(tenant_id: str, request_id: str) -> str:
    """The same outcome staged again has the same message id."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"match-settled|{tenant_id}|{request_id}"))


class ManualMatching(ManualWork):
    """Manual matching of statement lines: allocate a line's suspense posting to open items in
    one transaction, and take such a match back."""

    async def match_line(
        self, tenant_id: str, command: ManualMatchCommand, *, correlation_id: str
    ) -> ManualResult:
        by = accountability(command.requested_by, command.reason)
        if not command.allocations:
            raise InvalidManualAction("allocations", "name at least one open item to match")
        request = {
            "request_id": command.request_id,
            "statement_line_id": command.statement_line_id,
            "decision_id": command.decision_id,
            "allocations": [
                {"item_id": a.item_id, "amount": format(a.amount.amount, "f")}
                for a in command.allocations
            ],
        }

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            posting = await _parked_posting(tx, tenant_id, command)
            chart = await self._chart(tx, tenant_id)
            parked_on = await _parked_on(tx, tenant_id, posting, chart)
            first_version = posting.version
            entries, allocations, items = [], [], []
            for number, asked in enumerate(command.allocations, start=1):
                item = await tx.open_item(tenant_id, asked.item_id)
                done = allocate_suspense(
                    tenant_id,
                    posting,
                    allocation_id=f"{action_id}.{number}",
                    target=AllocationTarget.OPEN_ITEM,
                    target_id=asked.item_id,
                    amount=asked.amount,
                    chart=chart,
                    item=item,
                    posting_date=now.date(),
                    by=by,
                    parked_on=parked_on,
                )
                await self._post(
                    tx,
                    tenant_id,
                    done.entry,
                    now,
                    correlation_id=correlation_id,
                    causation_id=action_id,
                )
                await tx.add_suspense_allocation(tenant_id, done.allocation, now)
                if done.item is not None and item is not None:
                    await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
                    await self._stage_item(
                        tx, tenant_id, done.item, correlation_id, causation_id=action_id
                    )
                    items.append(item_json(done.item))
                posting = done.suspense
                entries.append(done.entry)
                allocations.append(allocation_json(done.allocation))
            await tx.update_suspense_posting(tenant_id, posting, expected_version=first_version)
            answer = {
                "subject_id": command.statement_line_id,
                "request_id": command.request_id,
                "allocations": allocations,
                "suspense_posting": suspense_json(posting),
                "entries": [entry_json(entry) for entry in entries],
                "open_items": items,
            }
            return answer, [entry.entry_id for entry in entries]

        return await self._act(
            tenant_id,
            ManualAction.ALLOCATE_SUSPENSE,
            command.statement_line_id,
            request,
            by,
            idempotency_key_for(command.request_id),
            work,
        )

    async def unmatch_line(
        self, tenant_id: str, command: ManualMatchCommand, *, correlation_id: str
    ) -> ManualResult:
        if command.undoes_request_id is None:  # the matcher's match
            return await self.unmatch_decision(
                tenant_id,
                command.decision_id,
                actor=command.requested_by,
                reason=command.reason,
                correlation_id=correlation_id,
                idempotency_key=idempotency_key_for(command.request_id),
            )
        by = accountability(command.requested_by, command.reason)
        undone_id = command.undoes_request_id
        request = {"request_id": command.request_id, "undoes_request_id": undone_id}

        async def work(
            tx: LedgerTransaction, action_id: str, now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            match = await tx.audit_record(
                tenant_id,
                action_id_for(
                    tenant_id, ManualAction.ALLOCATE_SUSPENSE, idempotency_key_for(undone_id)
                ),
            )
            if match is None:
                raise MatchNotApplied(
                    f"the ledger applied no manual match {undone_id} for tenant {tenant_id}; "
                    "nothing to take back"
                )
            chart = await self._chart(tx, tenant_id)
            postings: dict[str, tuple[int, SuspensePosting]] = {}
            entries, reversed_, items = [], [], []
            for made in match.result.get("allocations", []):
                allocation = await tx.suspense_allocation(tenant_id, made["allocation_id"])
                if allocation is None:  # pragma: no cover - the audit names what it stored
                    raise UnknownAllocation(f"allocation {made['allocation_id']} is gone")
                if allocation.suspense_id not in postings:
                    found = await tx.suspense_posting(tenant_id, allocation.suspense_id)
                    assert found is not None, "an allocation keeps its suspense posting"
                    postings[allocation.suspense_id] = (found.version, found)
                first_version, posting = postings[allocation.suspense_id]
                entry = await tx.entry(tenant_id, allocation.entry_id)
                assert entry is not None, "an allocation keeps its entry"
                item = await tx.open_item(tenant_id, allocation.target_id)
                done = reverse_allocation(
                    tenant_id,
                    posting,
                    allocation,
                    entry=entry,
                    item=item,
                    chart=chart,
                    posting_date=now.date(),
                    by=by,
                )
                await self._post(
                    tx,
                    tenant_id,
                    done.entry,
                    now,
                    correlation_id=correlation_id,
                    causation_id=action_id,
                )
                await tx.mark_allocation_reversed(tenant_id, done.allocation, now, action_id)
                if done.item is not None and item is not None:
                    await tx.update_open_item(tenant_id, done.item, expected_version=item.version)
                    await self._stage_item(
                        tx, tenant_id, done.item, correlation_id, causation_id=action_id
                    )
                    items.append(item_json(done.item))
                postings[allocation.suspense_id] = (first_version, done.suspense)
                entries.append(done.entry)
                reversed_.append(allocation_json(done.allocation))
            for first_version, posting in postings.values():
                await tx.update_suspense_posting(tenant_id, posting, expected_version=first_version)
            answer = {
                "subject_id": command.statement_line_id,
                "request_id": command.request_id,
                "allocations": reversed_,
                "suspense_postings": [suspense_json(p) for _, p in postings.values()],
                "entries": [entry_json(entry) for entry in entries],
                "open_items": items,
            }
            return answer, [entry.entry_id for entry in entries]

        return await self._act(
            tenant_id,
            ManualAction.REVERSE_SUSPENSE_ALLOCATION,
            command.statement_line_id,
            request,
            by,
            idempotency_key_for(command.request_id),
            work,
        )


async def _parked_posting(
    tx: LedgerTransaction, tenant_id: str, command: ManualMatchCommand
) -> SuspensePosting:
    """The suspense posting that holds the line on the interim account now: the one its
    parking decision made, or the one an unmatch of its decision made."""
    line = command.statement_line_id
    record = await tx.decision_record(tenant_id, command.decision_id)
    if record is None:
        raise DecisionNotApplied(
            f"the ledger has not applied decision {command.decision_id} about line {line} yet; "
            "ask again once the matcher's decision is posted"
        )
    if record.outcome is DecisionOutcome.REFUSED:
        raise DecisionNotApplied(
            f"the ledger refused decision {command.decision_id} about line {line} "
            f"({record.reason_code}); nothing of the line is posted to match"
        )
    if record.line_id is not None and record.line_id != line:
        raise InvalidManualAction(
            "decision_id", f"decision {command.decision_id} is about line {record.line_id}"
        )
    suspense_id: str | None = None
    if record.unmatched_at is not None and record.unmatch_audit_id is not None:
        unmatch = await tx.audit_record(tenant_id, record.unmatch_audit_id)
        parked = (unmatch.result.get("suspense_posting") if unmatch is not None else None) or {}
        suspense_id = parked.get("suspense_id")
    elif record.kind in _PARKED_KINDS and record.entry_id is not None:
        suspense_id = suspense_id_for(record.entry_id)
    else:
        raise LineMatched(
            f"line {line} is matched by decision {command.decision_id} ({record.kind}); "
            "remove that match first"
        )
    posting = await tx.suspense_posting(tenant_id, suspense_id) if suspense_id else None
    if posting is None:
        raise UnknownSuspensePosting(f"line {line} has nothing parked on the interim account")
    return posting


class MatchRequests:
    """Applies the manual matches the reconciler asks for, each exactly once, and answers."""

    def __init__(
        self,
        matching: ManualMatching,
        transactions: TransactionFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._matching = matching
        self._inbox = CommandInbox(transactions, MATCH_CONSUMER, after_commit=after_commit)
        self._clock = clock

    async def settle_requested(self, envelope: Envelope[ManualMatchCommand]) -> MatchResult:
        """Apply the requested match or unmatch, or publish why the books refuse it."""
        command, tenant_id = envelope.payload, envelope.tenant_id
        message_id = inbox_id(envelope.message_id)
        if await self._inbox.processed(message_id):
            return MatchResult(command.request_id, None)
        apply = (
            self._matching.match_line
            if command.kind is ManualMatchKind.MATCH
            else self._matching.unmatch_line
        )
        try:
            result = await apply(tenant_id, command, correlation_id=envelope.correlation_id)
        except ConcurrentUpdate:
            raise
        except LedgerError as exc:
            log.warning(
                "refused manual %s %s: %s (%s)",
                command.kind.value,
                command.request_id,
                exc.code,
                exc.message,
                extra={"tenant_id": tenant_id, "message_id": envelope.message_id},
            )
            settled = ManualMatchSettled(
                **_about(command),
                outcome=ManualMatchOutcome.REFUSED,
                reason_code=exc.code,
                reason=exc.message[:2000],
                settled_at=self._clock(),
            )
        else:
            entry_ids = tuple(str(e["entry_id"]) for e in result.answer.get("entries", []))
            settled = ManualMatchSettled(
                **_about(command),
                outcome=ManualMatchOutcome.APPLIED,
                entry_ids=entry_ids,
                settled_at=self._clock(),
            )
        answer = Answer(
            MATCH_OUTCOMES,
            MATCH_OUTCOMES.key_for(tenant_id, command.bank_account_id),
            envelope_for(
                settled,
                tenant_id=tenant_id,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.message_id,
                message_id=outcome_message_id(tenant_id, command.request_id),
            ),
        )
        if not await self._inbox.settle(message_id, [answer]):
            return MatchResult(command.request_id, None)
        return MatchResult(
            command.request_id, settled.outcome, settled.entry_ids, settled.reason_code
        )


def _about(command: ManualMatchCommand) -> dict[str, Any]:
    return {
        "request_id": command.request_id,
        "kind": command.kind,
        "period_id": command.period_id,
        "bank_account_id": command.bank_account_id,
        "statement_line_id": command.statement_line_id,
    }


__all__ = [
    "MATCH_CONSUMER",
    "DecisionNotApplied",
    "LineMatched",
    "ManualMatching",
    "MatchNotApplied",
    "MatchRequests",
    "MatchResult",
    "idempotency_key_for",
]
