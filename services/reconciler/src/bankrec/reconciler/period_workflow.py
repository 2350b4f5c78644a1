"""The period workflow's use cases: status transitions, flags, adjustments, lines by hand, and
the diagnosis and reports, over the same ports as ``use_cases.py``.

Every command: load the period (locked; a release or void also locks the next period) ->
decide (pure domain) -> save what changed -> stage the period events in the outbox -> commit,
in one transaction, retried when it lost a race with another instance. A command that changes
nothing stages nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal, TypeVar

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    MATCH_REQUESTS,
    PERIOD_EVENTS,
    AdjustmentKind,
    ManualMatchCommand,
    Money,
    PeriodEvent,
    PostAdjustment,
    envelope_for,
)
from bankrec.reconciler.domain import (
    Diagnosis,
    HistoryRow,
    ItemKind,
    ItemRef,
    PeriodDetail,
    ReconciliationPeriod,
    Transition,
    add_manual_line,
    adjustment_id_for,
    diagnose,
    enter_opening_balance,
    enter_statement_balance,
    manual_line_id_for,
    mark_items,
    match_command,
    match_request_id_for,
    period_detail,
    period_history,
    post_adjustment_command,
    put_on_hold,
    release,
    release_blockers,
    remove_line,
    request_adjustment,
    request_match,
    request_unmatch,
    revise_status,
    save_balanced,
    select_items,
    updated_event,
    void,
)
from bankrec.reconciler.errors import (
    AccountNotFoundError,
    AdjustmentConflictError,
    PeriodNotFoundError,
    PeriodWorkflowError,
)
from bankrec.reconciler.ports import ConcurrentUpdateError, UnitOfWork, UnitOfWorkFactory
from bankrec.reconciler.use_cases import Reconciler

log = logging.getLogger(__name__)

T = TypeVar("T")
_MESSAGE_IDS = uuid.UUID("7d1c2b9e-3f4a-4c55-8e0d-5a6b7c8d9e01")
CURRENT = None  # a period number of None names the account's current period
BalanceKind = Literal["opening", "statement"]


def _nothing() -> None:
    return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WorkflowOutcome:
    """The period a command was about, as saved; a release or void also returns the next one."""

    period: ReconciliationPeriod
    next_period: ReconciliationPeriod | None = None
    events: tuple[PeriodEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class PeriodState:
    """A period with what its views need from the account's other periods."""

    period: ReconciliationPeriod
    diagnosis: Diagnosis
    release_blockers: tuple[PeriodWorkflowError, ...]
    account_periods: tuple[ReconciliationPeriod, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Decision:
    changes: tuple[tuple[ReconciliationPeriod, ReconciliationPeriod | None], ...]
    events: tuple[PeriodEvent, ...]
    outcome: WorkflowOutcome
    adjustments_to_post: tuple[PostAdjustment, ...] = ()  # commands for the ledger
    matches_to_send: tuple[ManualMatchCommand, ...] = ()


def adjustment_request_message_id(tenant_id: str, adjustment_id: str) -> str:
    """One message id per adjustment: staged again, the ledger's inbox knows it."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"post-adjustment|{tenant_id}|{adjustment_id}"))


def match_request_message_id(tenant_id: str, request_id: str) -> str:
    """One message id per match request: staged again, the ledger's inbox knows it."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"manual-match|{tenant_id}|{request_id}"))


class PeriodWorkflow:
    """The user's work on an account's periods (seed 003), one transaction per command."""

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        *,
        on_committed: Callable[[], None] = _nothing,
        attempts: int = 5,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._units_of_work = units_of_work
        self._on_committed = on_committed
        self._attempts = attempts
        self._clock = clock

    @classmethod
    def sharing(cls, reconciler: Reconciler) -> PeriodWorkflow:
        """On the reconciler's storage, waking its outbox relay after each commit."""
        return cls(reconciler.units_of_work, on_committed=reconciler.on_committed)

    # -------------------------------------------------------------------------- queries

    async def state(self, tenant_id: str, account_id: str, period_no: int | None) -> PeriodState:
        """A period (None: the current one) with its diagnosis and what blocks its release."""
        async with self._units_of_work() as uow:
            await uow.snapshot()
            periods = await uow.periods.list_account(tenant_id, account_id)
        period = _pick(periods, tenant_id, account_id, period_no)
        return PeriodState(
            period=period,
            diagnosis=diagnose(period, periods),
            release_blockers=tuple(() if period.is_released else release_blockers(period, periods)),
            account_periods=tuple(periods),
        )

    async def history(self, tenant_id: str, account_id: str) -> list[HistoryRow]:
        """Every release and every period not released of the account."""
        async with self._units_of_work() as uow:
            await uow.snapshot()
            periods = await uow.periods.list_account(tenant_id, account_id)
        if not periods:
            raise _account_not_found(tenant_id, account_id)
        return period_history(periods)

    async def detail(self, tenant_id: str, account_id: str, period_no: int | None) -> PeriodDetail:
        """The detailed report of one period."""
        return period_detail((await self.state(tenant_id, account_id, period_no)).period)

    # -------------------------------------------------------------------------- status

    async def save_balanced(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        actor: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        def decide(period: ReconciliationPeriod, _: Sequence[ReconciliationPeriod]) -> _Decision:
            return _from_transition(
                period, None, save_balanced(period, actor=actor, at=self._clock())
            )

        return await self._command(tenant_id, account_id, period_no, decide, correlation_id)

    async def put_on_hold(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        actor: str,
        reason: str | None = None,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        def decide(period: ReconciliationPeriod, _: Sequence[ReconciliationPeriod]) -> _Decision:
            transition = put_on_hold(period, actor=actor, reason=reason, at=self._clock())
            return _from_transition(period, None, transition)

        return await self._command(tenant_id, account_id, period_no, decide, correlation_id)

    async def release(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        actor: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Release the period; the next period opens (or is updated) in the same transaction."""

        def decide(
            period: ReconciliationPeriod, others: Sequence[ReconciliationPeriod]
        ) -> _Decision:
            following = _number(others, period.period_no + 1)
            transition = release(period, account_periods=others, actor=actor, at=self._clock())
            return _from_transition(period, following, transition)

        return await self._command(
            tenant_id, account_id, period_no, decide, correlation_id, with_account=True
        )

    async def void(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        actor: str,
        reason: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Void the latest released period of the account, saying why."""

        def decide(
            period: ReconciliationPeriod, others: Sequence[ReconciliationPeriod]
        ) -> _Decision:
            following = _number(others, period.period_no + 1)
            transition = void(
                period, account_periods=others, actor=actor, reason=reason, at=self._clock()
            )
            return _from_transition(period, following, transition)

        return await self._command(
            tenant_id, account_id, period_no, decide, correlation_id, with_account=True
        )

    # -------------------------------------------------------------------------- balances

    async def enter_balance(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        which: BalanceKind,
        amount: Decimal,
        currency: str | None,
        actor: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Enter a period's opening or statement balance by hand (any period not released,
        e.g. one voided to correct its statement balance)."""
        enter = enter_opening_balance if which == "opening" else enter_statement_balance

        def change(period: ReconciliationPeriod) -> ReconciliationPeriod:
            return enter(period, Money(amount=amount, currency=currency or period.currency))

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _updating(change, f"{which} balance entered by hand", actor),
            correlation_id,
        )

    # -------------------------------------------------------------------------- items

    async def mark_items(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        refs: Sequence[ItemRef] | None,
        kind: ItemKind | None = None,
        only_cleared: bool = False,
        cleared: bool | None = None,
        reconciled: bool | None = None,
        actor: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Set flags on the items named, or (``refs`` None) on every item, of one kind or only
        the cleared ones."""

        def change(period: ReconciliationPeriod) -> ReconciliationPeriod:
            chosen = (
                list(refs)
                if refs is not None
                else select_items(period, kind=kind, only_cleared=only_cleared)
            )
            return mark_items(
                period,
                chosen,
                cleared=cleared,
                reconciled=reconciled,
                actor=actor,
                at=self._clock(),
            )

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _updating(change, "items marked", actor),
            correlation_id,
        )

    async def request_adjustment(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        kind: AdjustmentKind,
        amount: Decimal,
        currency: str | None,
        actor: str,
        reason: str,
        adjustment_id: str | None = None,
        statement_line_id: str | None = None,
        gl_account: str | None = None,
        description: str | None = None,
        posting_date: date | None = None,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Request a bank fee, interest or other adjustment (the ledger posts it)."""

        def decide(
            period: ReconciliationPeriod, others: Sequence[ReconciliationPeriod]
        ) -> _Decision:
            own_id = adjustment_id or adjustment_id_for(period)
            elsewhere = [
                p.period_no
                for p in others
                if p.period_no != period.period_no and own_id in p.adjustments
            ]
            if elsewhere:
                raise AdjustmentConflictError(
                    f"adjustment {own_id} belongs to period {elsewhere[0]} of account "
                    f"{period.account_id}; choose another adjustment id"
                )
            after = request_adjustment(
                period,
                adjustment_id=own_id,
                kind=kind,
                amount=Money(amount=amount, currency=currency or period.currency),
                actor=actor,
                reason=reason,
                at=self._clock(),
                statement_line_id=statement_line_id,
                gl_account=gl_account,
                description=description,
                posting_date=posting_date,
            )
            decision = _updated(period, after, f"adjustment {own_id} requested", actor)
            if after is period:
                return decision  # asked again with the same content: sent already
            command = post_adjustment_command(after, after.adjustments[own_id])
            return replace(decision, adjustments_to_post=(command,))

        return await self._command(
            tenant_id, account_id, period_no, decide, correlation_id, with_account=True
        )

    async def request_match(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        line_id: str,
        allocations: Sequence[tuple[str, Decimal]],
        currency: str | None,
        actor: str,
        reason: str,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Match a line in suspense to open items by hand (the ledger allocates it)."""

        def change(period: ReconciliationPeriod) -> tuple[ReconciliationPeriod, str]:
            own_id = request_id or match_request_id_for(period)
            money = [
                (item_id, Money(amount=amount, currency=currency or period.currency))
                for item_id, amount in allocations
            ]
            after = request_match(
                period,
                request_id=own_id,
                line_id=line_id,
                allocations=money,
                actor=actor,
                reason=reason,
                at=self._clock(),
            )
            return after, own_id

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _sending_match(change, f"manual match of line {line_id} requested", actor),
            correlation_id,
        )

    async def request_unmatch(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        line_id: str,
        actor: str,
        reason: str,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        """Remove a line's match (manual or the matcher's); the ledger takes it back."""

        def change(period: ReconciliationPeriod) -> tuple[ReconciliationPeriod, str]:
            own_id = request_id or match_request_id_for(period)
            after = request_unmatch(
                period,
                request_id=own_id,
                line_id=line_id,
                actor=actor,
                reason=reason,
                at=self._clock(),
            )
            return after, own_id

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _sending_match(change, f"removal of the match of line {line_id} requested", actor),
            correlation_id,
        )

    async def add_manual_line(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        *,
        amount: Decimal,
        currency: str | None,
        booking_date: date,
        text: str | None,
        actor: str,
        reason: str,
        counterparty: str | None = None,
        line_id: str | None = None,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        def change(period: ReconciliationPeriod) -> ReconciliationPeriod:
            return add_manual_line(
                period,
                line_id=line_id or manual_line_id_for(period),
                amount=Money(amount=amount, currency=currency or period.currency),
                booking_date=booking_date,
                text=text,
                counterparty=counterparty,
                actor=actor,
                reason=reason,
                at=self._clock(),
            )

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _updating(change, "statement line added by hand", actor),
            correlation_id,
        )

    async def remove_line(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        line_id: str,
        *,
        actor: str,
        reason: str,
        correlation_id: str | None = None,
    ) -> WorkflowOutcome:
        def change(period: ReconciliationPeriod) -> ReconciliationPeriod:
            return remove_line(period, line_id, actor=actor, reason=reason, at=self._clock())

        return await self._command(
            tenant_id,
            account_id,
            period_no,
            _updating(change, f"statement line {line_id} removed", actor),
            correlation_id,
        )

    # -------------------------------------------------------------------------- machinery

    async def _command(
        self,
        tenant_id: str,
        account_id: str,
        period_no: int | None,
        decide: Callable[[ReconciliationPeriod, Sequence[ReconciliationPeriod]], _Decision],
        correlation_id: str | None,
        *,
        with_account: bool = False,
    ) -> WorkflowOutcome:
        correlation = correlation_id or f"reconciler-http-{uuid.uuid4()}"
        staged = False

        async def once(uow: UnitOfWork) -> WorkflowOutcome:
            nonlocal staged
            period = await self._locked(uow, tenant_id, account_id, period_no)
            others: list[ReconciliationPeriod] = [period]
            if with_account:
                following = await uow.periods.get(
                    tenant_id, account_id, period.period_no + 1, for_update=True
                )
                locked = {period.period_no: period}
                if following is not None:
                    locked[following.period_no] = following
                others = [
                    locked.get(p.period_no, p)
                    for p in await uow.periods.list_account(tenant_id, account_id)
                ]
            decision = decide(period, others)
            for after, before in decision.changes:
                if after is not before:
                    await uow.periods.save(after, before)
            for event in decision.events:
                envelope = envelope_for(event, tenant_id=tenant_id, correlation_id=correlation)
                await uow.stage(PERIOD_EVENTS, f"{tenant_id}:{account_id}", envelope)
            for command in decision.adjustments_to_post:
                # in the transaction that records the adjustment: sent if and only if kept
                envelope = envelope_for(
                    command,
                    tenant_id=tenant_id,
                    correlation_id=correlation,
                    message_id=adjustment_request_message_id(tenant_id, command.adjustment_id),
                )
                key = ADJUSTMENT_REQUESTS.key_for(tenant_id, account_id)
                await uow.stage(ADJUSTMENT_REQUESTS, key, envelope)
            for match in decision.matches_to_send:
                # in the transaction that records the request: sent if and only if kept
                envelope = envelope_for(
                    match,
                    tenant_id=tenant_id,
                    correlation_id=correlation,
                    message_id=match_request_message_id(tenant_id, match.request_id),
                )
                await uow.stage(
                    MATCH_REQUESTS, MATCH_REQUESTS.key_for(tenant_id, account_id), envelope
                )
            if decision.changes or decision.events:
                await uow.commit()
                staged = bool(decision.events)
            return decision.outcome

        outcome = await self._in_transaction(once)
        if staged:
            self._on_committed()
        return outcome

    async def _locked(
        self, uow: UnitOfWork, tenant_id: str, account_id: str, period_no: int | None
    ) -> ReconciliationPeriod:
        if period_no is CURRENT:
            period = await uow.periods.current(tenant_id, account_id, for_update=True)
            if period is None:
                raise _account_not_found(tenant_id, account_id)
            return period
        period = await uow.periods.get(tenant_id, account_id, period_no, for_update=True)
        if period is not None:
            return period
        if await uow.periods.current(tenant_id, account_id) is None:
            raise _account_not_found(tenant_id, account_id)
        raise PeriodNotFoundError(
            f"account {account_id} has no period {period_no}; list its periods for their numbers"
        )

    async def _in_transaction(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._units_of_work() as uow:
                    return await work(uow)
            except ConcurrentUpdateError:
                if attempt == self._attempts:
                    raise
                log.info("period changed by a concurrent transaction; retrying (%d)", attempt)
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------------ decisions


def _from_transition(
    before: ReconciliationPeriod,
    following_before: ReconciliationPeriod | None,
    transition: Transition,
) -> _Decision:
    changes: list[tuple[ReconciliationPeriod, ReconciliationPeriod | None]] = []
    if transition.period is not before:
        changes.append((transition.period, before))
    if transition.next_period is not None and transition.next_period is not following_before:
        changes.append((transition.next_period, following_before))
    return _Decision(
        tuple(changes),
        transition.events,
        WorkflowOutcome(transition.period, transition.next_period, transition.events),
    )


def _updated(
    before: ReconciliationPeriod, after: ReconciliationPeriod, reason: str, actor: str
) -> _Decision:
    after = revise_status(after)
    if after is before:
        return _Decision((), (), WorkflowOutcome(before))
    event = updated_event(after, reason, actor.strip())
    return _Decision(((after, before),), (event,), WorkflowOutcome(after, None, (event,)))


def _updating(
    change: Callable[[ReconciliationPeriod], ReconciliationPeriod], reason: str, actor: str
) -> Callable[[ReconciliationPeriod, Sequence[ReconciliationPeriod]], _Decision]:
    def decide(period: ReconciliationPeriod, _: Sequence[ReconciliationPeriod]) -> _Decision:
        return _updated(period, change(period), reason, actor)

    return decide


def _sending_match(
    change: Callable[[ReconciliationPeriod], tuple[ReconciliationPeriod, str]],
    reason: str,
    actor: str,
) -> Callable[[ReconciliationPeriod, Sequence[ReconciliationPeriod]], _Decision]:
    """A match request recorded on the period and sent to the ledger in one transaction; the
    same request again (a retry) changes and sends nothing."""

    def decide(period: ReconciliationPeriod, _: Sequence[ReconciliationPeriod]) -> _Decision:
        after, request_id = change(period)
        decision = _updated(period, after, reason, actor)
        if after is period:
            return decision
        command = match_command(after, after.match_requests[request_id])
        return replace(decision, matches_to_send=(command,))

    return decide


def _number(periods: Sequence[ReconciliationPeriod], period_no: int) -> ReconciliationPeriod | None:
    return next((p for p in periods if p.period_no == period_no), None)


def _pick(
    periods: Sequence[ReconciliationPeriod], tenant_id: str, account_id: str, period_no: int | None
) -> ReconciliationPeriod:
    if not periods:
        raise _account_not_found(tenant_id, account_id)
    if period_no is CURRENT:
        return max(periods, key=lambda p: p.period_no)
    found = _number(periods, period_no)
    if found is None:
        raise PeriodNotFoundError(
            f"account {account_id} has no period {period_no}; it has periods "
            f"{', '.join(str(p.period_no) for p in periods)}"
        )
    return found


def _account_not_found(tenant_id: str, account_id: str) -> AccountNotFoundError:
    return AccountNotFoundError(
        f"no reconciliation period for account {account_id} of tenant {tenant_id}; one opens "
        "when the account's first statement, line, decision or posting arrives"
    )
