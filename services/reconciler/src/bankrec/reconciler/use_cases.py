"""The reconciler's use cases, the only place with I/O logic.

Every message: claim it in the inbox -> load the account's period (locked) -> apply it (pure
domain) -> save -> stage a ``period.changed`` event (``updated``) in the outbox -> commit, all in
one transaction. A batch of messages from one topic (``record_batch``) does the same in one
transaction: one claim per message (one statement), each period locked once, the messages
applied one after another, each period saved once with the rows they touched, one event per
message that changed something. A manual entry does the same without the inbox (a PUT is
idempotent itself).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from bankrec.contracts import (
    PERIOD_EVENTS,
    AdjustmentRefused,
    BankAccountRef,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    ManualMatchSettled,
    MatchDecision,
    Money,
    StatementHeader,
    StatementLine,
    envelope_for,
)
from bankrec.reconciler.domain import (
    ReconciliationPeriod,
    apply_adjustment_refusal,
    apply_decision,
    apply_line,
    apply_match_outcome,
    apply_posting,
    apply_statement,
    bank_accounts,
    enter_opening_balance,
    enter_statement_balance,
    open_period,
    revise_status,
    updated_event,
)
from bankrec.reconciler.errors import AccountNotFoundError, ReconcilerError
from bankrec.reconciler.ports import (
    ConcurrentUpdateError,
    TouchedItems,
    UnitOfWork,
    UnitOfWorkFactory,
)

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
    period_no: int | None = None  # an answer to a period's request goes to that period
    touches: TouchedItems | None = None  # what ``apply`` may change (None: anything)


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message with the changes it asks of periods."""

    envelope: Envelope[Any]
    changes: Sequence[PeriodChange]


PeriodKey = tuple[str, str, int]  # tenant, account, period number


class _PeriodsInHand:
    """The periods one transaction locked, as loaded and as changed by its messages so far
    (a batch applies many messages to a period before saving it once)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.loaded: dict[PeriodKey, ReconciliationPeriod | None] = {}
        self.latest: dict[PeriodKey, ReconciliationPeriod] = {}
        self.touched: dict[PeriodKey, TouchedItems | None] = {}
        self._current: dict[tuple[str, str], PeriodKey | None] = {}

    async def current(self, tenant_id: str, account_id: str) -> ReconciliationPeriod | None:
        account = (tenant_id, account_id)
        if account not in self._current:
            period = await self._uow.periods.current(tenant_id, account_id, for_update=True)
            self._current[account] = None if period is None else self._keep(period)
        key = self._current[account]
        return None if key is None else self.latest[key]

    async def get(
        self, tenant_id: str, account_id: str, period_no: int
    ) -> ReconciliationPeriod | None:
        key = (tenant_id, account_id, period_no)
        if key not in self.latest:
            period = await self._uow.periods.get(tenant_id, account_id, period_no, for_update=True)
            if period is None:
                return None
            self._keep(period)
        return self.latest[key]

    async def period_no_with_adjustment(
        self, tenant_id: str, account_id: str, adjustment_id: str
    ) -> int | None:
        return await self._uow.periods.period_no_with_adjustment(
            tenant_id, account_id, adjustment_id
        )

    def changed(
        self,
        before: ReconciliationPeriod | None,
        after: ReconciliationPeriod,
        touches: TouchedItems | None,
    ) -> None:
        key = (after.tenant_id, after.account_id, after.period_no)
        if before is None:  # opened by this message: the account's current period now
            self.loaded[key] = None
            self._current[(after.tenant_id, after.account_id)] = key
        self.latest[key] = after
        if key not in self.touched:
            self.touched[key] = TouchedItems()
        so_far = self.touched[key]
        self.touched[key] = None if so_far is None or touches is None else so_far | touches

    def _keep(self, period: ReconciliationPeriod) -> PeriodKey:
        key = (period.tenant_id, period.account_id, period.period_no)
        self.loaded[key] = period
        self.latest[key] = period
        return key

    async def save(self) -> None:
        for key in sorted(self.touched):
            await self._uow.periods.save(self.latest[key], self.loaded[key], self.touched[key])


def _nothing() -> None:
    return None


def _no_period() -> ReconciliationPeriod:
    raise AccountNotFoundError(
        "the ledger's answer names an account with no reconciliation period; only a period "
        "requests adjustments and manual matches"
    )


def period_no_of(account_id: str, period_id: str) -> int | None:
    """The number of a period of the account from its id (``period_id_for``), if it is one."""
    number = period_id.removeprefix(f"{account_id}-p")
    return int(number) if number != period_id and number.isdigit() else None


def _on_account(
    envelope: Envelope[Any],
    account: BankAccountRef,
    apply: Callable[[ReconciliationPeriod], ReconciliationPeriod],
    touches: TouchedItems,
) -> list[PeriodChange]:
    """The one change a statement, line or decision makes: to the current period of its
    account (opened on first sight)."""
    return [
        PeriodChange(
            account.account_id,
            partial(open_period, envelope.tenant_id, account.account_id, account.currency),
            apply,
            touches=touches,
        )
    ]


def _statement_changes(envelope: Envelope[StatementHeader]) -> list[PeriodChange]:
    header = envelope.payload
    return _on_account(
        envelope,
        header.account,
        partial(apply_statement, header=header),
        TouchedItems(statements=frozenset({header.statement_id})),
    )


def _line_changes(envelope: Envelope[StatementLine]) -> list[PeriodChange]:
    line = envelope.payload
    return _on_account(
        envelope,
        line.account,
        partial(apply_line, line=line),
        TouchedItems(lines=frozenset({line.line_id})),
    )


def _decision_changes(envelope: Envelope[MatchDecision]) -> list[PeriodChange]:
    decision = envelope.payload
    return _on_account(
        envelope,
        decision.account,
        partial(apply_decision, decision=decision, decided_at=envelope.occurred_at),
        TouchedItems(lines=frozenset({decision.line_id})),
    )


def _posting_changes(envelope: Envelope[JournalEntryPosted]) -> list[PeriodChange]:
    """Only entries with a bank-side line matter (none: no change, nothing written but the
    claim); one entry may touch several accounts."""
    entry = envelope.payload
    adjustment = entry.source_ref if entry.source is EntrySource.ADJUSTMENT else None
    return [
        PeriodChange(
            account_id,
            partial(open_period, envelope.tenant_id, account_id, currency),
            partial(apply_posting, entry=entry),
            adjustment,
            touches=TouchedItems(postings=frozenset({entry.entry_id})),
        )
        for account_id, currency in bank_accounts(entry).items()
    ]


def _refusal_changes(envelope: Envelope[AdjustmentRefused]) -> list[PeriodChange]:
    refused = envelope.payload
    return [
        PeriodChange(
            refused.bank_account_id,
            _no_period,
            partial(apply_adjustment_refusal, refused=refused),
            refused.adjustment_id,
        )
    ]


def _match_outcome_changes(envelope: Envelope[ManualMatchSettled]) -> list[PeriodChange]:
    settled = envelope.payload
    return [
        PeriodChange(
            settled.bank_account_id,
            _no_period,
            partial(apply_match_outcome, settled=settled),
            period_no=period_no_of(settled.bank_account_id, settled.period_id),
        )
    ]


ChangeRoute = Callable[[str, Envelope[Any], PeriodChange], PeriodChange]
"""Given the consumer name, a message and one change it asks for: the change to make instead
(e.g. the rebuild sends it to the period it went to live)."""


def consumer_of(payload_type: type[Any]) -> str:
    """The name a message type's inbox claims go under."""
    return _CHANGES[payload_type][0]


# per payload type: the consumer name its inbox claims go under, and the changes it asks for
_CHANGES: dict[type[Any], tuple[str, Callable[[Envelope[Any]], list[PeriodChange]]]] = {
    StatementHeader: ("statements", _statement_changes),
    StatementLine: ("statement-lines", _line_changes),
    MatchDecision: ("decisions", _decision_changes),
    JournalEntryPosted: ("postings", _posting_changes),
    AdjustmentRefused: ("refused-adjustments", _refusal_changes),
    ManualMatchSettled: ("match-outcomes", _match_outcome_changes),
}


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
        return await self._record(envelope)

    async def record_line(self, envelope: Envelope[StatementLine]) -> Outcome:
        return await self._record(envelope)

    async def record_decision(self, envelope: Envelope[MatchDecision]) -> Outcome:
        return await self._record(envelope)

    async def record_posting(self, envelope: Envelope[JournalEntryPosted]) -> Outcome:
        """Only entries with a bank-side line matter; one entry may touch several accounts."""
        return await self._record(envelope)

    async def record_adjustment_refusal(self, envelope: Envelope[AdjustmentRefused]) -> Outcome:
        """The ledger refused an adjustment: it shows on the adjustment with the reason."""
        return await self._record(envelope)

    async def record_match_outcome(self, envelope: Envelope[ManualMatchSettled]) -> Outcome:
        """The ledger applied or refused a manual match: the request shows it, and an applied
        one gives the line its manual decision."""
        return await self._record(envelope)

    async def record_batch(
        self, envelopes: Sequence[Envelope[Any]], *, route: ChangeRoute | None = None
    ) -> list[Outcome | ReconcilerError]:
        """Messages of one topic in one transaction, in order: per message its outcome, or the
        refusal (e.g. a currency mismatch) that left it unapplied and unclaimed, for the
        caller to dead-letter. A message id seen before (or earlier in the batch) is a
        duplicate. ``route`` (the rebuild's) may send a change to another period."""
        if not envelopes:
            return []
        consumers = {_CHANGES[type(envelope.payload)][0] for envelope in envelopes}
        if len(consumers) != 1:
            raise ValueError(f"a batch holds the messages of one topic, not {sorted(consumers)}")
        (consumer,) = consumers
        pending = [
            PendingMessage(envelope, _CHANGES[type(envelope.payload)][1](envelope))
            for envelope in envelopes
        ]
        if route is not None:
            pending = [
                PendingMessage(m.envelope, [route(consumer, m.envelope, c) for c in m.changes])
                for m in pending
            ]
        return await self._record_many(consumer, pending)

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
            await uow.snapshot()
            period = await uow.periods.current(tenant_id, account_id)
        if period is None:
            raise _not_found(tenant_id, account_id)
        return period

    async def periods(self, tenant_id: str) -> list[ReconciliationPeriod]:
        """Every account's current period, ordered by account id."""
        async with self._units_of_work() as uow:
            await uow.snapshot()
            return await uow.periods.list_current(tenant_id)

    # -------------------------------------------------------------------------- machinery

    async def _record(self, envelope: Envelope[Any]) -> Outcome:
        consumer, changes_of = _CHANGES[type(envelope.payload)]
        (result,) = await self._record_many(
            consumer, [PendingMessage(envelope, changes_of(envelope))]
        )
        if isinstance(result, ReconcilerError):
            raise result
        return result

    async def _record_many(
        self, consumer: str, pending: Sequence[PendingMessage]
    ) -> list[Outcome | ReconcilerError]:
        async def once(uow: UnitOfWork) -> list[Outcome | ReconcilerError]:
            results = await self._apply_messages(uow, consumer, pending)
            await uow.commit()
            return results

        if any(m.changes for m in pending):
            results = await self._in_transaction(once)
        else:  # e.g. postings without a bank-side line: nothing to write, not even a claim
            results = [Outcome.UNCHANGED for _ in pending]
        for message, result in zip(pending, results, strict=True):
            envelope = message.envelope
            log.debug(
                "%s %s: %s",
                consumer,
                envelope.message_id,
                result.code if isinstance(result, ReconcilerError) else result.value,
                extra={"tenant_id": envelope.tenant_id, "message_id": envelope.message_id},
            )
        if Outcome.APPLIED in results:
            self._on_committed()
        return results

    async def _apply_messages(
        self, uow: UnitOfWork, consumer: str, pending: Sequence[PendingMessage]
    ) -> list[Outcome | ReconcilerError]:
        """Claim, apply in order, save each period once and stage one event per period with
        its figures after the last message that changed it (see ``_stage_updates``)."""
        message_ids = list(dict.fromkeys(m.envelope.message_id for m in pending if m.changes))
        claimed = await uow.claim_messages(consumer, message_ids)
        hand = _PeriodsInHand(uow)
        # every account's current period locked up front in one order, so two transactions
        # never wait on each other's locks
        for tenant_id, account_id in sorted(
            {
                (m.envelope.tenant_id, c.account_id)
                for m in pending
                if m.envelope.message_id in claimed
                for c in m.changes
            }
        ):
            await hand.current(tenant_id, account_id)
        results: list[Outcome | ReconcilerError] = []
        refused: list[str] = []
        causes: dict[PeriodKey, list[Envelope[Any]]] = {}
        for message in pending:
            message_id = message.envelope.message_id
            if not message.changes:
                results.append(Outcome.UNCHANGED)
                continue
            if message_id not in claimed:
                results.append(Outcome.DUPLICATE)
                continue
            claimed.discard(message_id)  # the same id again later in the batch: a duplicate
            envelope = message.envelope
            try:
                changed = await self._change_periods(hand, envelope, message.changes)
            except ReconcilerError as exc:  # refused: nothing of it is kept, not even its claim
                results.append(exc)
                refused.append(message_id)
                continue
            for key in changed:
                causes.setdefault(key, []).append(envelope)
            results.append(Outcome.APPLIED if changed else Outcome.UNCHANGED)
        await hand.save()
        await self._stage_updates(uow, hand, causes)
        if refused:
            await uow.unclaim_messages(consumer, refused)
        return results

    async def _change_periods(
        self, hand: _PeriodsInHand, cause: Envelope[Any], changes: Sequence[PeriodChange]
    ) -> list[PeriodKey]:
        """Apply one message's changes; returns the periods it changed."""
        # every change computed before any is kept, so a refusal leaves the periods untouched
        applied: list[tuple[ReconciliationPeriod | None, ReconciliationPeriod, PeriodChange]] = []
        for change in sorted(changes, key=lambda c: c.account_id):
            before = await self._target(hand, cause.tenant_id, change)
            base = before if before is not None else change.open()
            after = revise_status(change.apply(base))
            if after is not base:
                applied.append((before, after, change))
        for before, after, change in applied:
            hand.changed(before, after, change.touches)
        return [(after.tenant_id, after.account_id, after.period_no) for _, after, _ in applied]

    async def _stage_updates(
        self,
        uow: UnitOfWork,
        hand: _PeriodsInHand,
        causes: Mapping[PeriodKey, Sequence[Envelope[Any]]],
    ) -> None:
        """One ``updated`` event per period a transaction changed, with the figures after its
        last message: the figures in between were never committed, so no reader could have
        seen them, and an event per message multiplied the outbox, the relay's work and the
        topic by the batch size (the reconciler's costliest step). The event's causation and
        correlation are the last message's; its reason says how many messages changed it."""
        for key, envelopes in causes.items():
            last = envelopes[-1]
            reason = f"{last.type} {last.message_id}"
            if len(envelopes) > 1:
                reason = f"{len(envelopes)} messages, the last {reason}"
            await self._stage_event(
                uow, hand.latest[key], reason, last.correlation_id, last.message_id
            )

    async def _target(
        self, hand: _PeriodsInHand, tenant_id: str, change: PeriodChange
    ) -> ReconciliationPeriod | None:
        """The period a message goes to: the account's current one, except that the posting of
        an adjustment goes to the (not released) period it was requested from."""
        if change.period_no is not None:
            period = await hand.get(tenant_id, change.account_id, change.period_no)
            if period is not None and not period.is_released:
                return period
        if change.adjustment_id is not None:
            number = await hand.period_no_with_adjustment(
                tenant_id, change.account_id, change.adjustment_id
            )
            if number is not None:
                period = await hand.get(tenant_id, change.account_id, number)
                if period is not None and not period.is_released:
                    return period
        current = await hand.current(tenant_id, change.account_id)
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
