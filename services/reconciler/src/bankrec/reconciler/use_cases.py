"""The reconciler's use cases, the only place with I/O logic.

Every message: claim it in the inbox -> load the account's period (locked) -> apply it (pure
domain) -> save -> stage a ``period.changed`` event (``updated``) in the outbox -> commit, all in
one transaction. A manual entry does the same without the inbox (a PUT is idempotent itself).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from bankrec.contracts import (
    PERIOD_EVENTS,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    Money,
    StatementHeader,
    StatementLine,
    envelope_for,
)
from bankrec.reconciler.domain import (
    ReconciliationPeriod,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    bank_accounts,
    enter_opening_balance,
    enter_statement_balance,
    open_period,
    revise_status,
    updated_event,
)
from bankrec.reconciler.errors import AccountNotFoundError
from bankrec.reconciler.ports import ConcurrentUpdateError, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

CONSUMER_GROUP = "bankrec-reconciler"

T = TypeVar("T")


class Outcome(StrEnum):
    APPLIED = "applied"  # the period changed and an event was staged
    UNCHANGED = "unchanged"  # a new message that told the period nothing new
    DUPLICATE = "duplicate"  # this message id was processed before


@dataclass(frozen=True, slots=True)
class PeriodChange:
    """What one message does to one account's period."""

    account_id: str
    open: Callable[[], ReconciliationPeriod]  # the period to start from if the account has none
    apply: Callable[[ReconciliationPeriod], ReconciliationPeriod]
    adjustment_id: str | None = None  # a posting of this adjustment goes to its period


def _nothing() -> None:
    return None


class Reconciler:
    """Records statements, lines, decisions and postings into periods; serves their figures.

    ``on_committed`` is called after every commit that staged an event (it wakes the outbox
    relay). A transaction that lost a race with another one is retried ``attempts`` times.
    """

    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        *,
        on_committed: Callable[[], None] = _nothing,
        attempts: int = 5,
    ) -> None:
        self._units_of_work = units_of_work
        self._on_committed = on_committed
        self._attempts = attempts

    @property
    def units_of_work(self) -> UnitOfWorkFactory:
        """The storage it works on (the period workflow shares it)."""
        return self._units_of_work

    @property
    def on_committed(self) -> Callable[[], None]:
        return self._on_committed

    # -------------------------------------------------------------------------- messages

    async def record_statement(self, envelope: Envelope[StatementHeader]) -> Outcome:
        header = envelope.payload
        account = header.account
        change = PeriodChange(
            account.account_id,
            partial(open_period, envelope.tenant_id, account.account_id, account.currency),
            partial(apply_statement, header=header),
        )
        return await self._record("statements", envelope, [change])

    async def record_line(self, envelope: Envelope[StatementLine]) -> Outcome:
        line = envelope.payload
        account = line.account
        change = PeriodChange(
            account.account_id,
            partial(open_period, envelope.tenant_id, account.account_id, account.currency),
            partial(apply_line, line=line),
        )
        return await self._record("statement-lines", envelope, [change])

    async def record_decision(self, envelope: Envelope[MatchDecision]) -> Outcome:
        decision = envelope.payload
        account = decision.account
        change = PeriodChange(
            account.account_id,
            partial(open_period, envelope.tenant_id, account.account_id, account.currency),
            partial(apply_decision, decision=decision, decided_at=envelope.occurred_at),
        )
        return await self._record("decisions", envelope, [change])

    async def record_posting(self, envelope: Envelope[JournalEntryPosted]) -> Outcome:
        """Only entries with a bank-side line matter; one entry may touch several accounts."""
        entry = envelope.payload
        adjustment = entry.source_ref if entry.source is EntrySource.ADJUSTMENT else None
        changes = [
            PeriodChange(
                account_id,
                partial(open_period, envelope.tenant_id, account_id, currency),
                partial(apply_posting, entry=entry),
                adjustment,
            )
            for account_id, currency in bank_accounts(entry).items()
        ]
        if not changes:
            return Outcome.UNCHANGED
        return await self._record("postings", envelope, changes)

    # -------------------------------------------------------------------------- commands

    async def enter_opening_balance(
        self,
        tenant_id: str,
        account_id: str,
        amount: Decimal,
        currency: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> ReconciliationPeriod:
        """Set the account's opening balance by hand (in the period's currency)."""
        return await self._enter(
            tenant_id,
            account_id,
            amount,
            currency,
            enter_opening_balance,
            reason="opening balance entered by hand",
            correlation_id=correlation_id,
        )

    async def enter_statement_balance(
        self,
        tenant_id: str,
        account_id: str,
        amount: Decimal,
        currency: str | None = None,
        *,
        correlation_id: str | None = None,
    ) -> ReconciliationPeriod:
        """Set the account's statement balance by hand until a later statement arrives."""
        return await self._enter(
            tenant_id,
            account_id,
            amount,
            currency,
            enter_statement_balance,
            reason="statement balance entered by hand",
            correlation_id=correlation_id,
        )

    # -------------------------------------------------------------------------- queries

    async def period(self, tenant_id: str, account_id: str) -> ReconciliationPeriod:
        """The account's current period; AccountNotFoundError when it has none."""
        async with self._units_of_work() as uow:
            period = await uow.periods.current(tenant_id, account_id)
        if period is None:
            raise _not_found(tenant_id, account_id)
        return period

    async def periods(self, tenant_id: str) -> list[ReconciliationPeriod]:
        """Every account's current period, ordered by account id."""
        async with self._units_of_work() as uow:
            return await uow.periods.list_current(tenant_id)

    # -------------------------------------------------------------------------- machinery

    async def _record(
        self, consumer: str, envelope: Envelope[Any], changes: Sequence[PeriodChange]
    ) -> Outcome:
        async def once(uow: UnitOfWork) -> Outcome:
            if not await uow.claim_message(consumer, envelope.message_id):
                return Outcome.DUPLICATE
            changed = await self._change_periods(
                uow, envelope, changes, reason=f"{envelope.type} {envelope.message_id}"
            )
            await uow.commit()
            return Outcome.APPLIED if changed else Outcome.UNCHANGED

        outcome = await self._in_transaction(once)
        log.debug(
            "%s %s: %s",
            consumer,
            envelope.message_id,
            outcome.value,
            extra={"tenant_id": envelope.tenant_id, "message_id": envelope.message_id},
        )
        if outcome is Outcome.APPLIED:
            self._on_committed()
        return outcome

    async def _change_periods(
        self,
        uow: UnitOfWork,
        cause: Envelope[Any],
        changes: Sequence[PeriodChange],
        *,
        reason: str,
    ) -> int:
        changed = 0
        # one order for every transaction, so two of them never wait on each other's locks
        for change in sorted(changes, key=lambda c: c.account_id):
            before = await self._target(uow, cause.tenant_id, change)
            base = before if before is not None else change.open()
            after = revise_status(change.apply(base))
            if after is base:
                continue
            await uow.periods.save(after, before)
            await self._stage_event(uow, after, reason, cause.correlation_id, cause.message_id)
            changed += 1
        return changed

    async def _target(
        self, uow: UnitOfWork, tenant_id: str, change: PeriodChange
    ) -> ReconciliationPeriod | None:
        """The period a message goes to: the account's current one, except that the posting of
        an adjustment goes to the (not released) period it was requested from."""
        if change.adjustment_id is not None:
            number = await uow.periods.period_no_with_adjustment(
                tenant_id, change.account_id, change.adjustment_id
            )
            if number is not None:
                period = await uow.periods.get(
                    tenant_id, change.account_id, number, for_update=True
                )
                if period is not None and not period.is_released:
                    return period
        current = await uow.periods.current(tenant_id, change.account_id, for_update=True)
        if current is not None and current.is_released:
            # the period was released while this transaction waited for its lock; the
            # release opened the next period, which a retry finds
            raise ConcurrentUpdateError(f"period {current.period_id} was released meanwhile")
        return current

    async def _enter(
        self,
        tenant_id: str,
        account_id: str,
        amount: Decimal,
        currency: str | None,
        command: Callable[[ReconciliationPeriod, Money], ReconciliationPeriod],
        *,
        reason: str,
        correlation_id: str | None,
    ) -> ReconciliationPeriod:
        correlation = correlation_id or f"reconciler-http-{uuid.uuid4()}"
        changed = False

        async def once(uow: UnitOfWork) -> ReconciliationPeriod:
            nonlocal changed
            before = await uow.periods.current(tenant_id, account_id, for_update=True)
            if before is None:
                raise _not_found(tenant_id, account_id)
            after = command(before, Money(amount=amount, currency=currency or before.currency))
            after = revise_status(after)
            changed = after is not before
            if changed:
                await uow.periods.save(after, before)
                await self._stage_event(uow, after, reason, correlation, None)
                await uow.commit()
            return after

        period = await self._in_transaction(once)
        if changed:
            self._on_committed()
        return period

    async def _stage_event(
        self,
        uow: UnitOfWork,
        period: ReconciliationPeriod,
        reason: str,
        correlation_id: str,
        causation_id: str | None,
    ) -> None:
        event = updated_event(period, reason)
        envelope = envelope_for(
            event,
            tenant_id=period.tenant_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        await uow.stage(PERIOD_EVENTS, period.kafka_key, envelope)

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


def _not_found(tenant_id: str, account_id: str) -> AccountNotFoundError:
    return AccountNotFoundError(
        f"no reconciliation period for account {account_id} of tenant {tenant_id}; one opens "
        "when the account's first statement, line, decision or posting arrives"
    )
