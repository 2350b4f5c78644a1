"""The period's status machine (seed 003): on hold -> balanced -> released -> void.

- **on hold** (parked): where every period starts; anything can change.
- **balanced**: a user saved it with a difference of exactly 0. Anything can still change;
  a change that moves the difference away from 0 puts it back on hold (:func:`revise_status`).
- **released** (closed): the difference is 0, every adjustment of the period is posted and
  every earlier period of the account is released. It gets the account's next sequence number
  and is immutable from then on; its closing balance is the next period's opening balance and
  its outstanding ledger entries move into the next period (``carry_forward.py``).
- **void**: a user annulled the release, saying why. Only the latest released period of an
  account can be voided (a later one was built on it). Its items are open again: flags,
  adjustments and lines can change, and it can be saved balanced and released again. The next
  period loses its opening balance until then (it cannot be released before this one is).

Sequence numbers: **a release after a void gets the next number of the account; a number is
never reused.** A number names one release act (what an auditor printed under "release 1" is
never a different content from a later "release 1"), and the numbers stay gapless: every
number issued is in the history, the voided ones with who voided them and why. So the first
release of January is number 1; voided and released again, January is number 2 and the number
1 shows in the history as voided.

Every transition returns the new period and the :class:`PeriodEvent` to publish.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bankrec.contracts import PeriodEvent, PeriodEventKind, PeriodStatus
from bankrec.reconciler.domain.adjustments import adjustments_not_posted
from bankrec.reconciler.domain.carry_forward import carry_forward, closing_balance
from bankrec.reconciler.domain.period import (
    AuditAction,
    AuditRecord,
    ReconciliationPeriod,
    figures,
    period_event,
    require_accountability,
    require_aware,
    require_changeable,
    updated_event,
)
from bankrec.reconciler.errors import (
    AdjustmentNotPostedError,
    AlreadyReleasedError,
    DifferenceNotZeroError,
    EarlierPeriodNotReleasedError,
    NotLatestReleasedError,
    PeriodNotReleasedError,
    PeriodWorkflowError,
    StatementBalanceMissingError,
)


@dataclass(frozen=True, slots=True)
class Transition:
    """A period after a transition and the event to publish; a release or void also changes
    the next period (opened, or its opening balance and carried entries updated)."""

    period: ReconciliationPeriod
    event: PeriodEvent | None  # None: nothing changed (saved balanced again)
    next_period: ReconciliationPeriod | None = None
    next_event: PeriodEvent | None = None

    @property
    def events(self) -> tuple[PeriodEvent, ...]:
        return tuple(e for e in (self.event, self.next_event) if e is not None)


# ------------------------------------------------------------------------------ balanced / on hold


def save_balanced(period: ReconciliationPeriod, *, actor: str, at: datetime) -> Transition:
    """On hold (or void) -> balanced: saved by a user with a difference of exactly 0.
    Saving a balanced period again changes nothing (no event)."""
    require_changeable(period)
    require_accountability(actor, None, reason_required=False)
    require_aware(at)
    _require_difference_zero(period, "saved balanced")
    if period.status is PeriodStatus.BALANCED:
        return Transition(period, None)
    record = AuditRecord(action=AuditAction.SAVED_BALANCED, actor=actor.strip(), at=at)
    balanced = replace(period, status=PeriodStatus.BALANCED, audit=(*period.audit, record))
    return Transition(
        balanced,
        period_event(balanced, PeriodEventKind.BALANCED, "saved balanced", actor.strip()),
    )


def put_on_hold(
    period: ReconciliationPeriod, *, actor: str, reason: str | None, at: datetime
) -> Transition:
    """Balanced (or void) -> on hold: parked by a user. A period on hold stays as it is."""
    require_changeable(period)
    require_accountability(actor, reason, reason_required=False)
    require_aware(at)
    if period.status is PeriodStatus.ON_HOLD:
        return Transition(period, None)
    record = AuditRecord(
        action=AuditAction.PUT_ON_HOLD, actor=actor.strip(), at=at, reason=reason or None
    )
    parked = replace(period, status=PeriodStatus.ON_HOLD, audit=(*period.audit, record))
    return Transition(parked, updated_event(parked, "put on hold", actor.strip()))


def revise_status(period: ReconciliationPeriod) -> ReconciliationPeriod:
    """A balanced period whose difference is no longer 0 is back on hold."""
    if period.status is not PeriodStatus.BALANCED:
        return period
    difference = figures(period).difference
    if difference is not None and difference.is_zero():
        return period
    return replace(period, status=PeriodStatus.ON_HOLD)


# ------------------------------------------------------------------------------ release


def last_sequence_no(periods: Sequence[ReconciliationPeriod]) -> int:
    """The highest sequence number issued for the account (0 before its first release)."""
    return max(
        (
            record.sequence_no
            for period in periods
            for record in period.audit
            if record.action is AuditAction.RELEASED and record.sequence_no is not None
        ),
        default=0,
    )


def release_blockers(
    period: ReconciliationPeriod, account_periods: Sequence[ReconciliationPeriod]
) -> list[PeriodWorkflowError]:
    """Every reason the period cannot be released now, most basic first (empty: it can)."""
    if period.is_released:
        return [
            AlreadyReleasedError(
                f"period {period.period_no} of account {period.account_id} is released already "
                f"(sequence number {period.sequence_no})"
            )
        ]
    blockers: list[PeriodWorkflowError] = []
    earlier = [
        p
        for p in _by_number(period, account_periods).values()
        if p.period_no < period.period_no and not p.is_released
    ]
    if earlier:
        named = ", ".join(f"{p.period_no} ({p.status.value})" for p in earlier)
        blockers.append(
            EarlierPeriodNotReleasedError(
                f"period {period.period_no} of account {period.account_id} cannot be released "
                f"before the earlier period(s) {named}: release them first, in order"
            )
        )
    try:
        _require_difference_zero(period, "released")
    except PeriodWorkflowError as exc:
        blockers.append(exc)
    waiting = adjustments_not_posted(period)
    if waiting:
        named = ", ".join(f"{a.adjustment_id} ({a.kind.value} {a.amount})" for a in waiting)
        blockers.append(
            AdjustmentNotPostedError(
                f"period {period.period_no} of account {period.account_id} has adjustment(s) "
                f"not posted yet: {named}; post them in the ledger (their posting comes back "
                "here by itself), then release"
            )
        )
    return blockers


def release(
    period: ReconciliationPeriod,
    *,
    account_periods: Sequence[ReconciliationPeriod],
    actor: str,
    at: datetime,
) -> Transition:
    """Release (close) the period: the next sequence number of the account, immutable from
    now on; the next period opens (or is updated) with its closing balance and the ledger
    entries still outstanding.

    ``account_periods`` are the account's periods (this one may be among them); refused with
    the first of :func:`release_blockers`.
    """
    require_accountability(actor, None, reason_required=False)
    require_aware(at)
    blockers = release_blockers(period, account_periods)
    if blockers:
        raise blockers[0]
    by_number = _by_number(period, account_periods)
    sequence_no = last_sequence_no(list(by_number.values())) + 1
    result = figures(period)
    record = AuditRecord(
        action=AuditAction.RELEASED,
        actor=actor.strip(),
        at=at,
        sequence_no=sequence_no,
        amount=closing_balance(period),
        opening_balance=result.opening_balance,
        reconciliation_date=result.reconciliation_date,
    )
    released = replace(
        period,
        status=PeriodStatus.RELEASED,
        sequence_no=sequence_no,
        audit=(*period.audit, record),
    )
    existing = by_number.get(period.period_no + 1)
    assert existing is None or not existing.is_released, "a later period is never released first"
    following = carry_forward(released, existing)
    reason = f"released as number {sequence_no}"
    next_reason = f"opening balance from period {period.period_no} released as {sequence_no}"
    return Transition(
        released,
        period_event(released, PeriodEventKind.RELEASED, reason, actor.strip()),
        following,
        period_event(
            following,
            PeriodEventKind.OPENED if existing is None else PeriodEventKind.UPDATED,
            next_reason,
        ),
    )


# ------------------------------------------------------------------------------ void


def void(
    period: ReconciliationPeriod,
    *,
    account_periods: Sequence[ReconciliationPeriod],
    actor: str,
    reason: str,
    at: datetime,
) -> Transition:
    """Annul the release of the account's latest released period, saying who and why.

    The period's items are open again; the next period's opening balance is cleared until the
    period is released again (with the account's next sequence number).
    """
    require_accountability(actor, reason, reason_required=True)
    require_aware(at)
    if not period.is_released:
        raise PeriodNotReleasedError(
            f"period {period.period_no} of account {period.account_id} is {period.status.value}, "
            "not released; only a released period can be voided"
        )
    by_number = _by_number(period, account_periods)
    later = [p for p in by_number.values() if p.period_no > period.period_no and p.is_released]
    if later:
        named = ", ".join(f"{p.period_no} (sequence number {p.sequence_no})" for p in later)
        raise NotLatestReleasedError(
            f"period {period.period_no} of account {period.account_id} is not the latest "
            f"released period: {named} was released after it; void the latest first"
        )
    record = AuditRecord(
        action=AuditAction.VOIDED,
        actor=actor.strip(),
        at=at,
        reason=reason.strip(),
        sequence_no=period.sequence_no,
    )
    voided = replace(
        period, status=PeriodStatus.VOID, sequence_no=None, audit=(*period.audit, record)
    )
    event = period_event(
        voided,
        PeriodEventKind.VOIDED,
        f"release number {period.sequence_no} voided: {reason.strip()}",
        actor.strip(),
    )
    following = by_number.get(period.period_no + 1)
    if following is None or following.opening_from_previous is None:
        return Transition(voided, event)
    reopened = replace(following, opening_from_previous=None)
    return Transition(
        voided,
        event,
        reopened,
        updated_event(reopened, f"opening balance cleared: period {period.period_no} was voided"),
    )


# ------------------------------------------------------------------------------ checks


def _require_difference_zero(period: ReconciliationPeriod, what: str) -> None:
    difference = figures(period).difference
    if difference is None:
        raise StatementBalanceMissingError(
            f"period {period.period_no} of account {period.account_id} has no statement "
            f"balance, so it cannot be {what}: enter the statement balance or wait for the "
            "statement"
        )
    if not difference.is_zero():
        raise DifferenceNotZeroError(
            f"period {period.period_no} of account {period.account_id} has a difference of "
            f"{difference} (statement balance - reconciled balance); it must be exactly 0 to be "
            f"{what}: see the diagnosis for what explains it"
        )


def _by_number(
    period: ReconciliationPeriod, account_periods: Sequence[ReconciliationPeriod]
) -> dict[int, ReconciliationPeriod]:
    by_number: dict[int, ReconciliationPeriod] = {}
    for other in account_periods:
        if (other.tenant_id, other.account_id) != (period.tenant_id, period.account_id):
            raise ValueError(
                f"period {other.period_id} is not a period of account {period.account_id}"
            )
        by_number[other.period_no] = other
    by_number[period.period_no] = period
    return by_number
