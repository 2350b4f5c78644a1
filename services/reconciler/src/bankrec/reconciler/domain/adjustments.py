"""Adjustments requested from a period: bank fee, interest, other (seeds 000 and 003).

An adjustment moves ``requested -> posted`` (or ``refused``). The reconciler does not post:
it sends ``PostAdjustment`` on the adjustment-requests topic, through its outbox in the
transaction that records the adjustment; the ledger posts it (``manual_work.create_adjustment``)
and its journal entry comes back on the postings topic with ``source=adjustment`` and
``source_ref=<adjustment_id>``, or the ledger's ``AdjustmentRefused`` comes back with the
reason. The state is computed from the
period's facts (is such an entry in the period, not reversed?), never stored, so it does not
depend on whether the request or the posting was recorded first.

An adjustment's entry counts as reconciled by itself: it was created from this reconciliation
to account for something on the statement. A period cannot be released while one of its
adjustments is not posted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from bankrec.contracts import AdjustmentKind, AdjustmentRefused, Money, PostAdjustment
from bankrec.reconciler.domain.period import (
    NAME_LENGTH_MAX,
    REASON_LENGTH_MAX,
    TEXT_LENGTH_MAX,
    Adjustment,
    AuditAction,
    AuditRecord,
    BankPosting,
    ReconciliationPeriod,
    cancelled_entries,
    is_own_adjustment,
    posted_adjustment_ids,
    require_accountability,
    require_aware,
    require_changeable,
    require_entry,
)
from bankrec.reconciler.errors import (
    AdjustmentConflictError,
    InvalidCommandError,
    ItemNotFoundError,
)

ADJUSTMENT_ID_LENGTH_MAX = 100  # the ledger's limit on adjustment ids
GL_ACCOUNT_LENGTH_MAX = 20


class AdjustmentState(StrEnum):
    REQUESTED = "requested"  # waiting for the ledger's posting
    POSTED = "posted"
    REFUSED = "refused"  # the ledger refused it (see the adjustment's refusal); nothing posted


@dataclass(frozen=True, slots=True)
class AdjustmentView:
    """An adjustment with its state and the journal entries that posted it."""

    adjustment: Adjustment
    state: AdjustmentState
    entry_ids: tuple[str, ...]
    posted_amount: Money | None

    @property
    def amount_differs(self) -> bool:
        """The ledger posted another amount than the one requested."""
        return self.posted_amount is not None and self.posted_amount != self.adjustment.amount


def adjustment_id_for(period: ReconciliationPeriod) -> str:
    """The next adjustment id of the period: deterministic, unique per account, and within the
    ledger's pattern (letters, digits, '.', '_', '-'; at most 100)."""
    number = sum(1 for r in period.audit if r.action is AuditAction.ADJUSTMENT_REQUESTED) + 1
    return f"{period.period_id}-adj-{number}"[-ADJUSTMENT_ID_LENGTH_MAX:]


def request_adjustment(
    period: ReconciliationPeriod,
    *,
    adjustment_id: str,
    kind: AdjustmentKind,
    amount: Money,
    actor: str,
    reason: str,
    at: datetime,
    statement_line_id: str | None = None,
    gl_account: str | None = None,
    description: str | None = None,
    posting_date: date | None = None,
) -> ReconciliationPeriod:
    """Record an adjustment requested from the period (state ``requested`` until posted).

    Asking again with the same id and content returns the same period; the same id with other
    content is refused (AdjustmentConflictError).
    """
    require_changeable(period)
    require_accountability(actor, reason, reason_required=True)
    require_aware(at)
    require_entry(period, amount, "adjustment amount")
    if amount.is_zero():
        raise InvalidCommandError("the adjustment amount is zero; an adjustment moves money")
    if not adjustment_id or len(adjustment_id) > ADJUSTMENT_ID_LENGTH_MAX:
        raise InvalidCommandError(f"adjustment_id must be 1 to {ADJUSTMENT_ID_LENGTH_MAX} long")
    if kind is AdjustmentKind.OTHER and not gl_account:
        raise InvalidCommandError(
            "an adjustment of kind other needs gl_account: the GL account the difference is "
            "posted against (fees and interest have their own accounts)"
        )
    if gl_account is not None and not 0 < len(gl_account) <= GL_ACCOUNT_LENGTH_MAX:
        raise InvalidCommandError(f"gl_account must be 1 to {GL_ACCOUNT_LENGTH_MAX} long")
    if description is not None and len(description) > TEXT_LENGTH_MAX:
        raise InvalidCommandError(f"description is longer than {TEXT_LENGTH_MAX} characters")
    if statement_line_id is not None and statement_line_id not in period.lines:
        raise ItemNotFoundError(
            f"period {period.period_no} of account {period.account_id} has no statement line "
            f"{statement_line_id} for the adjustment to name"
        )
    wanted = Adjustment(
        adjustment_id=adjustment_id,
        kind=kind,
        amount=amount,
        requested_by=actor.strip()[:NAME_LENGTH_MAX],
        requested_at=at,
        reason=reason.strip(),
        statement_line_id=statement_line_id,
        gl_account=gl_account,
        description=description,
        posting_date=posting_date,
    )
    known = period.adjustments.get(adjustment_id)
    if known is not None:
        if _same_request(known, wanted):
            return period
        raise AdjustmentConflictError(
            f"adjustment {adjustment_id} was requested before with other content "
            f"({known.kind.value} {known.amount}); choose another adjustment id"
        )
    record = AuditRecord(
        action=AuditAction.ADJUSTMENT_REQUESTED,
        actor=wanted.requested_by,
        at=at,
        reason=wanted.reason,
        subject_id=adjustment_id,
        amount=amount,
    )
    return replace(
        period,
        adjustments={**period.adjustments, adjustment_id: wanted},
        audit=(*period.audit, record),
    )


def _same_request(known: Adjustment, wanted: Adjustment) -> bool:
    """Who, when and why may differ on a retry; what is asked may not."""

    def asked(a: Adjustment) -> tuple[object, ...]:
        return (a.kind, a.amount, a.statement_line_id, a.gl_account, a.description, a.posting_date)

    return asked(known) == asked(wanted)


def adjustment_views(period: ReconciliationPeriod) -> list[AdjustmentView]:
    """Every adjustment of the period with its state, by request order."""
    posted = posted_adjustment_ids(period)
    cancelled = cancelled_entries(period.postings)
    entries: dict[str, list[BankPosting]] = {}
    for posting in period.postings.values():
        if (
            is_own_adjustment(period, posting)
            and posting.source_ref is not None
            and posting.entry_id not in cancelled
            and posting.reverses_entry_id is None
        ):
            entries.setdefault(posting.source_ref, []).append(posting)
    views = []
    for adjustment in sorted(
        period.adjustments.values(), key=lambda a: (a.requested_at, a.adjustment_id)
    ):
        own = sorted(entries.get(adjustment.adjustment_id, []), key=lambda p: p.entry_id)
        posted_amount: Money | None = None
        for posting in own:
            posted_amount = (
                posting.amount if posted_amount is None else posted_amount + posting.amount
            )
        views.append(
            AdjustmentView(
                adjustment=adjustment,
                state=AdjustmentState.POSTED
                if adjustment.adjustment_id in posted
                else AdjustmentState.REFUSED
                if adjustment.refusal_code is not None
                else AdjustmentState.REQUESTED,
                entry_ids=tuple(p.entry_id for p in own),
                posted_amount=posted_amount,
            )
        )
    return views


def adjustments_not_posted(period: ReconciliationPeriod) -> list[Adjustment]:
    """The adjustments that still wait for the ledger (a release is refused while any does)."""
    return [
        view.adjustment
        for view in adjustment_views(period)
        if view.state is AdjustmentState.REQUESTED
    ]


def apply_adjustment_refusal(
    period: ReconciliationPeriod, refused: AdjustmentRefused
) -> ReconciliationPeriod:
    """Record that the ledger refused to post one of the period's adjustments, and why.

    A refusal of an adjustment the period does not have, or already refused, changes nothing.
    A refused adjustment no longer blocks the release (it never moved money); the difference
    it was to explain stays until another adjustment explains it. Should the ledger post it
    after all (a later delivery after the chart was fixed), the posting wins.
    """
    known = period.adjustments.get(refused.adjustment_id)
    if known is None or known.refusal_code is not None or period.is_released:
        return period
    recorded = replace(
        known,
        refusal_code=refused.reason_code[:NAME_LENGTH_MAX],
        refusal_reason=refused.reason[:REASON_LENGTH_MAX],
        refused_at=refused.refused_at,
    )
    return replace(period, adjustments={**period.adjustments, known.adjustment_id: recorded})


def post_adjustment_command(period: ReconciliationPeriod, adjustment: Adjustment) -> PostAdjustment:
    """The command that asks the ledger to post one of the period's adjustments."""
    return PostAdjustment(
        adjustment_id=adjustment.adjustment_id,
        period_id=period.period_id,
        bank_account_id=period.account_id,
        kind=adjustment.kind,
        amount=adjustment.amount,
        gl_account=adjustment.gl_account,
        statement_line_id=adjustment.statement_line_id,
        description=adjustment.description,
        posting_date=adjustment.posting_date,
        requested_by=adjustment.requested_by,
        reason=adjustment.reason,
    )
