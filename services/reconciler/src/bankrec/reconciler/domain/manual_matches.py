"""Manual matching from a period (issue 6, item 6): match a statement line to one or several
open items by hand, or remove a match.

The reconciler does not post: a request is recorded on the period (``requested``) and sent to
the ledger as ``ManualMatchCommand`` on the match-requests topic, in the same transaction. The
ledger applies it exactly once and answers ``ManualMatchSettled``: ``applied`` (the line is
then matched, or back in suspense, by hand: it gets a decision ``manual:<request id>`` that
supersedes the matcher's) or ``refused`` with the reason (nothing changed in the books).

What can be asked, by the line's current decision:

- match: a line in suspense (``suspense``/``proposal``, or unmatched by hand): the ledger
  allocates its suspense posting to the items. A line not decided yet, or matched already, is
  refused here (``line_not_decided``, ``line_matched``).
- unmatch: a line matched by hand (its allocations are reversed) or by the matcher (``match``,
  ``partial``, ``on_account``, ``rule_posting``: the decision is unmatched). Anything else is
  ``line_not_matched``.

One request per line at a time (``match_request_pending``). The figures: a manual match moves
no money on the bank account (the line's amount was posted on the interim account already),
so the reconciled balance and the difference stay; the line counts as matched instead of in
suspense (and the other way round for an unmatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from bankrec.contracts import (
    DecisionKind,
    ItemAllocation,
    ManualMatchCommand,
    ManualMatchKind,
    ManualMatchOutcome,
    ManualMatchSettled,
    Money,
)
from bankrec.reconciler.domain.period import (
    NAME_LENGTH_MAX,
    REASON_LENGTH_MAX,
    AuditAction,
    AuditRecord,
    LineDecision,
    MatchRequest,
    PeriodLine,
    ReconciliationPeriod,
    decide_line,
    require_accountability,
    require_aware,
    require_changeable,
    require_entry,
)
from bankrec.reconciler.errors import (
    InvalidCommandError,
    ItemNotFoundError,
    LineMatchedError,
    LineNotDecidedError,
    LineNotMatchedError,
    MatchRequestConflictError,
    MatchRequestPendingError,
)

REQUEST_ID_LENGTH_MAX = 100  # the ledger's limit (its audit keys are derived from it)
ITEM_ID_LENGTH_MAX = 100
ALLOCATIONS_MAX = 50
MANUAL_DECISION_PREFIX = "manual:"
MATCHABLE_KINDS = frozenset({DecisionKind.SUSPENSE, DecisionKind.PROPOSAL})
UNMATCHABLE_KINDS = frozenset(
    {DecisionKind.MATCH, DecisionKind.PARTIAL, DecisionKind.ON_ACCOUNT, DecisionKind.RULE_POSTING}
)


class MatchRequestState(StrEnum):
    REQUESTED = "requested"  # waiting for the ledger's answer
    DONE = "done"  # applied by the ledger
    REFUSED = "refused"  # refused by the ledger (see the refusal); nothing changed


def request_state(request: MatchRequest) -> MatchRequestState:
    if request.outcome is None:
        return MatchRequestState.REQUESTED
    if request.outcome is ManualMatchOutcome.APPLIED:
        return MatchRequestState.DONE
    return MatchRequestState.REFUSED


@dataclass(frozen=True, slots=True)
class LineMatchState:
    """What the books hold about a line now, as the period knows it."""

    kind: DecisionKind  # the line's current decision (manual ones included)
    ledger_decision_id: str  # the matcher's decision the ledger's postings of it came from
    manual_match_id: str | None  # the applied manual match it is matched by, if any


def match_request_id_for(period: ReconciliationPeriod) -> str:
    """The next request id of the period: deterministic, unique per account, within the
    ledger's pattern (letters, digits, '.', '_', '-'; at most 100)."""
    number = len(period.match_requests) + 1
    return f"{period.period_id}-match-{number}"[-REQUEST_ID_LENGTH_MAX:]


def line_match_state(period: ReconciliationPeriod, line: PeriodLine) -> LineMatchState:
    """The line's decision, and what the ledger's postings of it came from."""
    if line.decision is None:
        raise LineNotDecidedError(
            f"line {line.line_id} has no decision yet, so the ledger has posted nothing of it "
            "to match; try again once the matcher decided it (it is then in suspense)"
        )
    decision_id = line.decision.decision_id
    manual = (
        period.match_requests.get(decision_id.removeprefix(MANUAL_DECISION_PREFIX))
        if decision_id.startswith(MANUAL_DECISION_PREFIX)
        else None
    )
    if manual is None:
        return LineMatchState(line.decision.kind, decision_id, None)
    return LineMatchState(
        line.decision.kind,
        manual.decision_id,
        manual.request_id if manual.kind is ManualMatchKind.MATCH else None,
    )


def request_match(
    period: ReconciliationPeriod,
    *,
    request_id: str,
    line_id: str,
    allocations: Sequence[tuple[str, Money]],
    actor: str,
    reason: str,
    at: datetime,
) -> ReconciliationPeriod:
    """Record a request to match a line in suspense to open items (``requested``).

    Asking again with the same id and content returns the same period; the same id with other
    content is refused (``match_request_conflict``)."""
    asked = (ManualMatchKind.MATCH, line_id, tuple((i.strip(), a) for i, a in allocations))
    if _asked_before(period, request_id, asked):
        return period
    line = _line(period, line_id, actor=actor, reason=reason, at=at)
    state = line_match_state(period, line)
    if state.kind not in MATCHABLE_KINDS:
        raise LineMatchedError(
            f"line {line_id} is {_described(state)}; remove that match first "
            f"(DELETE …/matches/{line_id})"
        )
    checked = _checked_allocations(period, line, allocations)
    wanted = MatchRequest(
        request_id=request_id,
        kind=ManualMatchKind.MATCH,
        line_id=line_id,
        decision_id=state.ledger_decision_id,
        requested_by=actor.strip()[:NAME_LENGTH_MAX],
        requested_at=at,
        reason=reason.strip(),
        allocations=checked,
    )
    return _recorded(period, wanted, AuditAction.MATCH_REQUESTED)


def request_unmatch(
    period: ReconciliationPeriod,
    *,
    request_id: str,
    line_id: str,
    actor: str,
    reason: str,
    at: datetime,
) -> ReconciliationPeriod:
    """Record a request to remove a line's match (``requested``); asked again with the same
    id, the same period."""
    if _asked_before(period, request_id, (ManualMatchKind.UNMATCH, line_id, ())):
        return period
    line = _line(period, line_id, actor=actor, reason=reason, at=at)
    state = line_match_state(period, line)
    if state.manual_match_id is None and state.kind not in UNMATCHABLE_KINDS:
        raise LineNotMatchedError(
            f"line {line_id} is {_described(state)}: there is no match to remove"
        )
    wanted = MatchRequest(
        request_id=request_id,
        kind=ManualMatchKind.UNMATCH,
        line_id=line_id,
        decision_id=state.ledger_decision_id,
        requested_by=actor.strip()[:NAME_LENGTH_MAX],
        requested_at=at,
        reason=reason.strip(),
        undoes_request_id=state.manual_match_id,
    )
    return _recorded(period, wanted, AuditAction.UNMATCH_REQUESTED)


def apply_match_outcome(
    period: ReconciliationPeriod, settled: ManualMatchSettled
) -> ReconciliationPeriod:
    """Record the ledger's answer to one of the period's requests. Applied, the line gets the
    manual decision (matched, or in suspense again); refused, the request shows why.

    An answer to a request the period does not have, or answered already, changes nothing."""
    known = period.match_requests.get(settled.request_id)
    if known is None or known.outcome is not None or period.is_released:
        return period
    recorded = replace(
        known,
        outcome=settled.outcome,
        entry_ids=settled.entry_ids,
        refusal_code=(settled.reason_code or "")[:NAME_LENGTH_MAX] or None,
        refusal_reason=(settled.reason or "")[:REASON_LENGTH_MAX] or None,
        settled_at=settled.settled_at,
    )
    after = replace(period, match_requests={**period.match_requests, known.request_id: recorded})
    if settled.outcome is not ManualMatchOutcome.APPLIED:
        return after
    line = after.lines.get(known.line_id)
    counterparty = line.decision.counterparty_id if line and line.decision else None
    decision = LineDecision(
        decision_id=MANUAL_DECISION_PREFIX + known.request_id,
        kind=DecisionKind.MATCH if known.kind is ManualMatchKind.MATCH else DecisionKind.SUSPENSE,
        decided_at=max(settled.settled_at, known.requested_at),
        counterparty_id=counterparty,
    )
    return decide_line(after, known.line_id, decision)


def match_command(period: ReconciliationPeriod, request: MatchRequest) -> ManualMatchCommand:
    """The command that asks the ledger to apply one of the period's requests."""
    return ManualMatchCommand(
        request_id=request.request_id,
        kind=request.kind,
        period_id=period.period_id,
        bank_account_id=period.account_id,
        statement_line_id=request.line_id,
        decision_id=request.decision_id,
        allocations=tuple(
            ItemAllocation(item_id=item_id, amount=amount)
            for item_id, amount in request.allocations
        ),
        undoes_request_id=request.undoes_request_id,
        requested_by=request.requested_by,
        reason=request.reason,
    )


def match_requests_of(period: ReconciliationPeriod) -> list[MatchRequest]:
    """The period's requests in the order they were made."""
    return sorted(period.match_requests.values(), key=lambda r: (r.requested_at, r.request_id))


# ------------------------------------------------------------------------------ checks


def _line(
    period: ReconciliationPeriod, line_id: str, *, actor: str, reason: str, at: datetime
) -> PeriodLine:
    require_changeable(period)
    require_accountability(actor, reason, reason_required=True)
    require_aware(at)
    line = period.lines.get(line_id)
    if line is None:
        removed = " (it was removed by hand)" if line_id in period.removed_lines else ""
        raise ItemNotFoundError(
            f"period {period.period_no} of account {period.account_id} has no statement line "
            f"{line_id}{removed}; GET …/periods/{period.period_no}/items lists its lines"
        )
    pending = next(
        (r for r in period.match_requests.values() if r.line_id == line_id and r.outcome is None),
        None,
    )
    if pending is not None:
        raise MatchRequestPendingError(
            f"line {line_id} has request {pending.request_id} ({pending.kind.value}) waiting for "
            "the ledger; ask again once it is done or refused"
        )
    return line


def _checked_allocations(
    period: ReconciliationPeriod, line: PeriodLine, allocations: Sequence[tuple[str, Money]]
) -> tuple[tuple[str, Money], ...]:
    if not allocations:
        raise InvalidCommandError("name at least one open item (item_id and amount) to match")
    if len(allocations) > ALLOCATIONS_MAX:
        raise InvalidCommandError(f"at most {ALLOCATIONS_MAX} open items per match")
    seen: set[str] = set()
    total = line.amount - line.amount
    for item_id, amount in allocations:
        if not item_id.strip() or len(item_id) > ITEM_ID_LENGTH_MAX:
            raise InvalidCommandError(f"item_id must be 1 to {ITEM_ID_LENGTH_MAX} characters")
        if item_id in seen:
            raise InvalidCommandError(f"open item {item_id} is named twice; name it once")
        seen.add(item_id)
        require_entry(period, amount, f"amount for {item_id}")
        if amount.is_zero() or (amount.amount > 0) != (line.amount.amount > 0):
            raise InvalidCommandError(
                f"the amount for {item_id} ({format(amount.amount, 'f')}) must be non-zero with "
                f"the sign of line {line.line_id} ({format(line.amount.amount, 'f')}), as on "
                "the statement"
            )
        total = total + amount
    if abs(total.amount) > abs(line.amount.amount):
        raise InvalidCommandError(
            f"the items take {format(total.amount, 'f')}, more than line {line.line_id} "
            f"brings ({format(line.amount.amount, 'f')})"
        )
    return tuple((item_id.strip(), amount) for item_id, amount in allocations)


def _asked_before(period: ReconciliationPeriod, request_id: str, asked: tuple[object, ...]) -> bool:
    """Whether the request was made before (a retry: who, when and why may differ, what is
    asked may not)."""
    require_changeable(period)
    known = period.match_requests.get(request_id)
    if known is None:
        return False
    if (known.kind, known.line_id, known.allocations) == asked:
        return True
    raise MatchRequestConflictError(
        f"match request {request_id} was made before with other content "
        f"({known.kind.value} of line {known.line_id}); choose another request id"
    )


def _recorded(
    period: ReconciliationPeriod, wanted: MatchRequest, action: AuditAction
) -> ReconciliationPeriod:
    """The period with the request and its audit record."""
    if not wanted.request_id or len(wanted.request_id) > REQUEST_ID_LENGTH_MAX:
        raise InvalidCommandError(f"request_id must be 1 to {REQUEST_ID_LENGTH_MAX} long")
    record = AuditRecord(
        action=action,
        actor=wanted.requested_by,
        at=wanted.requested_at,
        reason=wanted.reason,
        subject_id=wanted.line_id,
    )
    return replace(
        period,
        match_requests={**period.match_requests, wanted.request_id: wanted},
        audit=(*period.audit, record),
    )


def _described(state: LineMatchState) -> str:
    if state.manual_match_id is not None:
        return f"matched by hand (request {state.manual_match_id})"
    if state.kind in MATCHABLE_KINDS:
        return f"in suspense ({state.kind.value})"
    return f"decided {state.kind.value} by the matcher"
