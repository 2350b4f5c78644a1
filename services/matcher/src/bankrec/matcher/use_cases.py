"""The matcher's use cases: keep the index, decide a line, decide a waiting line again when
its item arrives or when the ledger refused its decision, keep each tenant's settings.

Every decision is stored with its line in the matcher's database and staged in the outbox in
one transaction; the relay publishes it after commit (at-least-once; the ledger dedupes by
decision id). A redelivered line gets the decision stored for it. A line that went to
suspense (or became a proposal) stays *pending*: an open item that shares a key with it
(``pending_lines``) has the engine decide it again, and a confirmed match is published as a
new decision (``uuid5(tenant, line, attempt)``) naming the one it supersedes.

The open-item index and the posting rules are rebuilt from their compacted topics at every
start; lines wait until both have been read (the start-up gate).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bankrec.contracts import (
    DECISIONS,
    MATCHING_SETTINGS,
    AccountRole,
    DecisionKind,
    DecisionRefused,
    EntrySource,
    Envelope,
    Evidence,
    JournalEntryPosted,
    MatchDecision,
    MatchingSettings,
    OpenItem,
    PostingRule,
    StatementLine,
    Topic,
    envelope_for,
)
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.domain import (
    DEFAULT_POLICY,
    IndexSummary,
    MatchEngine,
    MatchingPolicy,
    OpenItemIndex,
    PolicyError,
    TenantIndexes,
)
from bankrec.matcher.errors import (
    ConcurrentDecisionError,
    DecisionNotFoundError,
    IndexNotReadyError,
    InvalidMatchingSettingsError,
)
from bankrec.matcher.pending_lines import PendingLines
from bankrec.matcher.ports import (
    PARKING_KINDS,
    DecidedLine,
    MatcherUnitOfWork,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)

CONSUMER_GROUP = "bankrec-matcher"
CONFIRMED_KINDS = frozenset({DecisionKind.MATCH, DecisionKind.PARTIAL})
"""What a later decision of a waiting line may be: the ledger moves the money to the items."""
REMATCHED_REFUSALS = frozenset(
    {"decision_no_longer_fits", "over_allocation", "open_item_not_found"}
)
"""Refusals that mean the items changed under the decision (paid meanwhile): decide again."""
SUSPENSE_ALLOCATED = "suspense_allocated"
RETIREMENT_INTERVAL_SECONDS = 1.0  # a cut-off a second late keeps a second's closings longer
"""The ledger's refusal of a later match: a person allocated the suspense posting already."""
_SUPERSEDING_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:bankrec:matcher:superseding-decisions")


def decision_id_of_attempt(tenant_id: str, line_id: str, attempt: int) -> str:
    """The id of a line's ``attempt``-th decision (the first one's is ``decision_id_for``)."""
    return str(uuid.uuid5(_SUPERSEDING_IDS, f"{tenant_id}:{line_id}:{attempt}"))


def policy_of(settings: MatchingSettings) -> MatchingPolicy:
    """The engine's policy for stored settings; raises ``PolicyError`` for values that
    cannot work."""
    return MatchingPolicy(
        auto_confirm=settings.auto_confirm,
        auto_confirm_threshold=Decimal(settings.auto_confirm_threshold),
        date_tolerance_days=settings.date_tolerance_days,
        amount_tolerance=Decimal(settings.amount_tolerance),
        amount_tolerance_percent=Decimal(settings.amount_tolerance_percent),
        name_similarity_threshold=settings.name_similarity_threshold,
        text_similarity_threshold=settings.text_similarity_threshold,
    )


class Matcher:
    def __init__(
        self,
        units: UnitOfWorkFactory,
        *,
        engine: MatchEngine | None = None,
        indexes: TenantIndexes | None = None,
        catch_up: IndexCatchUp | None = None,
        rules_catch_up: IndexCatchUp | None = None,
        refused_attempts_max: int = 3,
        closed_items_kept_for: timedelta | None = None,
        on_committed: Any = None,
    ) -> None:
        self._units = units
        # None: closed items stay in the index for good (tests, the offline tools)
        self._closed_kept_for = closed_items_kept_for
        self._next_retirement = 0.0  # time.monotonic() of the next look at the closings
        self._engine = engine or MatchEngine()
        self._indexes = indexes or TenantIndexes()
        self.catch_up = catch_up or IndexCatchUp()
        self.rules_catch_up = rules_catch_up or IndexCatchUp()
        self._refused_attempts_max = refused_attempts_max
        self._on_committed = on_committed or (lambda: None)
        self._pending = PendingLines()
        # lines a reversal pair of a failed transaction took out of the recent lines: read
        # back from the database and remembered again before the next batch is decided
        self._unpaired: set[tuple[str, str]] = set()
        self._policies: dict[str, MatchingPolicy] = {}
        # one writer per process: a line's handlers (new line, item, refusal) never interleave
        self._writing = asyncio.Lock()

    # --- start-up -------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Both the open items and the posting rules have been read up to their end."""
        return self.catch_up.ready and self.rules_catch_up.ready

    async def wait_ready(self) -> None:
        await self.catch_up.wait()
        await self.rules_catch_up.wait()

    async def restore(self) -> None:
        """Read the tenants' settings and the pending lines back from the database."""
        async with self._units() as uow:
            settings = await uow.settings.all()
            pending = await uow.lines.pending()
        for tenant_id, stored in settings.items():
            self._policies[tenant_id] = policy_of(stored)
        for decided in pending:
            self._pending.add(decided.tenant_id, decided.line)
        log.info("restored %d tenants' settings and %d pending lines", len(settings), len(pending))

    async def rematch_all_pending(self) -> int:
        """Decide every pending line again (after a start: items may have come meanwhile);
        returns how many were matched."""
        matched = 0
        for tenant_id, line_id in self._pending.all():
            if await self._rematch(tenant_id, line_id, cause="the index was read at start-up"):
                matched += 1
            await asyncio.sleep(0)  # let lines and items through between lines
        return matched

    # --- open items and posting rules ------------------------------------------------------

    async def record_open_item(self, envelope: Envelope[OpenItem]) -> list[MatchDecision]:
        """Take the ledger's latest state of an open item; once the index is ready, decide
        again the pending lines it may explain. Returns the new decisions."""
        return await self.record_open_items([envelope])

    async def record_open_items(
        self, envelopes: Sequence[Envelope[OpenItem]]
    ) -> list[MatchDecision]:
        """Take the ledger's latest states of open items (a batch of the open-items reader),
        then, once the index is ready, decide again the pending lines they may explain, each
        line once, against the index with every state of the batch in it.

        The lines are read in one lookup and decided without a transaction first; only a
        line that a rule now confirms is decided again for real (``_rematch``: locked, read
        again, stored). Most lines an item shares a key with stay pending, and a database
        read and the writers' lock for each of them made a batch of item states take seconds.
        A rematch that fails (the database away) does not stop the others; the first
        failure is raised after them. Returns the new decisions."""
        causes: dict[tuple[str, str], str] = {}
        for envelope in envelopes:
            tenant_id, item = envelope.tenant_id, envelope.payload
            applied = self._indexes.apply(tenant_id, item, envelope.occurred_at)
            if time.monotonic() >= self._next_retirement:
                self.retire_closed_items()
            if not applied or not self.ready:
                continue
            for line_id in self._pending.explainable_by(tenant_id, item):
                causes.setdefault(
                    (tenant_id, line_id), f"open item {item.item_id} v{item.version} arrived"
                )
        if not causes:
            return []
        async with self._units() as uow:
            known = await uow.lines.get_many(list(causes))
        decisions: list[MatchDecision] = []
        failure: Exception | None = None
        for (tenant_id, line_id), cause in causes.items():
            decided = known.get((tenant_id, line_id))
            if decided is None or not decided.pending:
                self._pending.remove(tenant_id, line_id)  # decided elsewhere meanwhile
                continue
            index = self._indexes.for_tenant(tenant_id)
            found = self._engine.evaluate(tenant_id, decided.line, index, self.policy(tenant_id))
            if found.kind not in CONFIRMED_KINDS:
                continue
            try:
                decision = await self._rematch(tenant_id, line_id, cause=cause)
            except Exception as exc:
                failure = failure or exc
                continue
            if decision is not None:
                decisions.append(decision)
        if failure is not None:
            raise failure
        return decisions

    def retire_closed_items(self) -> datetime | None:
        """Retire the items closed longer ago than ``closed_items_kept_for`` (at most once a
        second from the open-items consumer); returns the cut-off, None when kept for good."""
        self._next_retirement = time.monotonic() + RETIREMENT_INTERVAL_SECONDS
        if self._closed_kept_for is None:
            return None
        before = datetime.now(UTC) - self._closed_kept_for
        retired = self._indexes.retire_closed(before)
        if retired:
            log.info("%d items closed before %s retired from the index", retired, before)
        return before

    def open_item_read(self, partition: int, offset: int) -> None:
        """The open-items record at this position is behind us (applied or dead-lettered)."""
        was_ready = self.ready
        self.catch_up.read(partition, offset)
        if self.ready and not was_ready:
            log.info("open items and posting rules read up to the topics' end; matching lines")

    def record_posting_rule(self, envelope: Envelope[PostingRule]) -> None:
        """Take the ledger's latest version of a posting rule (a deleted one: status deleted)."""
        self._indexes.apply_posting_rule(envelope.tenant_id, envelope.payload)

    def posting_rule_read(self, partition: int, offset: int) -> None:
        was_ready = self.ready
        self.rules_catch_up.read(partition, offset)
        if self.ready and not was_ready:
            log.info("open items and posting rules read up to the topics' end; matching lines")

    # --- lines ----------------------------------------------------------------------------

    async def decide_line(self, envelope: Envelope[StatementLine]) -> MatchDecision:
        """Decide a statement line, store the decision and stage it for publishing (a batch
        of one: ``decide_lines``).

        Waits until the index has read its topics. A line decided before (a redelivery) gets
        the decision stored for it, which is (or was) published already.
        """
        (decision,) = await self.decide_lines([envelope])
        return decision

    async def decide_lines(
        self, envelopes: Sequence[Envelope[StatementLine]]
    ) -> list[MatchDecision]:
        """Decide statement lines in order in one transaction and return each one's decision.

        One lookup finds the lines decided before; the others are decided by the engine in
        the order given (each line's reservations and its place among the account's recent
        lines count for the lines after it, as with one line per transaction), inserted at
        once and their decisions staged in the outbox at once; one commit. A line decided
        before (a redelivery) or earlier in the batch gets the decision stored for it, so a
        redelivered batch changes nothing. A line another instance inserted meanwhile keeps
        that instance's decision, and ours is not published.
        """
        if not envelopes:
            return []
        await self.wait_ready()
        async with self._writing, self._units() as uow:
            await self._remember_unpaired(uow)
            known = await uow.lines.get_many({_line_key(envelope) for envelope in envelopes})
            new: dict[tuple[str, str], tuple[DecidedLine, Envelope[StatementLine]]] = {}
            try:
                for envelope in envelopes:
                    key = _line_key(envelope)
                    if key not in known and key not in new:
                        new[key] = (self._decided(envelope), envelope)
                        # registered before the commit: an item arriving during it finds the
                        # line (its rematch waits for the lock and reads the committed line)
                        if new[key][0].pending:
                            self._pending.add(envelope.tenant_id, envelope.payload)
                taken = await uow.lines.add_many([decided for decided, _ in new.values()])
                if taken:  # another instance decided these since the lookup: its decisions
                    known.update(await uow.lines.get_many(taken))  # stand (likely the same)
                written = [
                    (decided, envelope)
                    for key, (decided, envelope) in new.items()
                    if key not in taken
                ]
                await uow.stage_many(
                    [
                        _decision_message(decided, envelope.correlation_id, envelope.message_id)
                        for decided, envelope in written
                    ]
                )
                await uow.commit()
            except BaseException:  # nothing stored: the lines come again to an index as before
                for decided, _ in reversed(new.values()):
                    self._withdraw(decided)
                raise
        for decided, _ in written:
            self._committed(decided)
        decisions = {key: decided.decision for key, decided in known.items()}
        decisions.update((_line_key(envelope), decided.decision) for decided, envelope in written)
        self._log_batch(envelopes, written, len(taken))
        return [decisions[_line_key(envelope)] for envelope in envelopes]

    def _withdraw(self, decided: DecidedLine) -> None:
        """Undo a decision that was not stored: the index's reservations and recent lines
        (``MatchEngine.withdraw``) and the line's place among the pending ones."""
        index = self._indexes.for_tenant(decided.tenant_id)
        paired = self._engine.withdraw(decided.line, decided.decision, index)
        if paired is not None:
            self._unpaired.add((decided.tenant_id, paired))
        if decided.pending:
            self._pending.remove(decided.tenant_id, decided.line_id)

    async def _remember_unpaired(self, uow: MatcherUnitOfWork) -> None:
        if not self._unpaired:
            return
        found = await uow.lines.get_many(set(self._unpaired))
        for decided in found.values():
            self._indexes.for_tenant(decided.tenant_id).recent_lines.remember(decided.line)
        self._unpaired.clear()

    def _decided(self, envelope: Envelope[StatementLine]) -> DecidedLine:
        """The engine's decision of a new line, as it would be stored (the index changes)."""
        tenant_id, line = envelope.tenant_id, envelope.payload
        index = self._indexes.for_tenant(tenant_id)
        decision = self._engine.decide(tenant_id, line, index, self.policy(tenant_id))
        parks = decision.kind in PARKING_KINDS
        return DecidedLine(
            tenant_id=tenant_id,
            line=line,
            decision=decision,
            pending=parks,
            parked_decision_id=decision.decision_id if parks else None,
        )

    @staticmethod
    def _log_batch(
        envelopes: Sequence[Envelope[StatementLine]],
        written: Sequence[tuple[DecidedLine, Envelope[StatementLine]]],
        taken: int,
    ) -> None:
        for decided, envelope in written:
            log.debug(
                "line %s: %s by %s",
                decided.line_id,
                decided.decision.kind.value,
                decided.decision.rule,
                extra={"tenant_id": decided.tenant_id, "correlation_id": envelope.correlation_id},
            )
        kinds = Counter(decided.decision.kind.value for decided, _ in written)
        tenants = {envelope.tenant_id for envelope in envelopes}
        log.info(
            "%d of %d lines decided (%s); %d decided before, %d by another instance",
            len(written),
            len(envelopes),
            ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) or "none new",
            len(envelopes) - len(written) - taken,
            taken,
            extra={"tenant_id": next(iter(tenants))} if len(tenants) == 1 else None,
        )

    async def _rematch(self, tenant_id: str, line_id: str, *, cause: str) -> MatchDecision | None:
        """Decide a pending line again; a confirmed match supersedes its parking decision."""
        async with self._writing, self._units() as uow:
            known = await uow.lines.get(tenant_id, line_id)
            if known is None or not known.pending:
                self._pending.remove(tenant_id, line_id)
                return None
            index = self._indexes.for_tenant(tenant_id)
            found = self._engine.evaluate(tenant_id, known.line, index, self.policy(tenant_id))
            if found.kind not in CONFIRMED_KINDS:
                return None
            attempt = known.attempt + 1
            decision = found.model_copy(
                update={
                    "decision_id": decision_id_of_attempt(tenant_id, line_id, attempt),
                    "supersedes_decision_id": known.parked_decision_id,
                    "explanation": f"{found.explanation} (decided again: {cause})",
                }
            )
            decided = replace(known, decision=decision, attempt=attempt, pending=False)
            try:
                await uow.lines.save(decided, replacing=known.attempt)
            except ConcurrentDecisionError:
                log.info("line %s was decided again by another instance", line_id)
                self._pending.remove(tenant_id, line_id)
                return None
            for allocation in decision.allocations:  # the items are taken as for a new line
                index.allocate(allocation.item_id, allocation.amount)
            try:
                await self._stage_decision(uow, decided, str(uuid.uuid4()), None)
                await uow.commit()
            except BaseException:  # not stored: the line stays pending, the items open
                for allocation in decision.allocations:
                    index.release(allocation.item_id, allocation.amount)
                raise
        self._committed(decided)
        log.info(
            "pending line %s matched: %s by %s, superseding %s (%s)",
            line_id,
            decision.kind.value,
            decision.rule,
            known.parked_decision_id,
            cause,
            extra={"tenant_id": tenant_id},
        )
        return decision

    async def record_refusal(self, envelope: Envelope[DecisionRefused]) -> MatchDecision | None:
        """The ledger refused a decision: decide the line again when its items changed under
        it (at most ``refused_attempts_max`` refusals, then suspense with the reasons), or
        drop the line from the pending ones when a person allocated its suspense already."""
        await self.wait_ready()
        tenant_id, refused = envelope.tenant_id, envelope.payload
        for item in refused.open_items:  # the books as they stand, if newer than the index
            self._indexes.apply(tenant_id, item, envelope.occurred_at)
        async with self._writing, self._units() as uow:
            known = await uow.lines.get(tenant_id, refused.line_id)
            if known is None or known.decision.decision_id != refused.decision_id:
                return None  # another decision is the line's latest: this refusal is old news
            reasons = (*known.refusals, f"{refused.reason_code}: {refused.reason}")
            if refused.reason_code == SUSPENSE_ALLOCATED:
                decided = replace(known, pending=False, refusals=reasons)
                await uow.lines.save(decided, replacing=known.attempt)
                await uow.commit()
                self._pending.remove(tenant_id, refused.line_id)
                return None
            if refused.reason_code not in REMATCHED_REFUSALS:
                log.warning(
                    "decision %s of line %s refused (%s); left for a person",
                    refused.decision_id,
                    refused.line_id,
                    refused.reason_code,
                    extra={"tenant_id": tenant_id},
                )
                await uow.lines.save(replace(known, refusals=reasons), replacing=known.attempt)
                await uow.commit()
                return None
            attempt = known.attempt + 1
            index = self._indexes.for_tenant(tenant_id)
            found = self._engine.evaluate(tenant_id, known.line, index, self.policy(tenant_id))
            if len(reasons) >= self._refused_attempts_max:
                found = _suspense_after_refusals(found, reasons)
            parks = found.kind in PARKING_KINDS
            # a line parked before stays parked by that decision until something is confirmed
            parked = known.parked_decision_id
            decision = found.model_copy(
                update={
                    "decision_id": decision_id_of_attempt(tenant_id, refused.line_id, attempt),
                    "supersedes_decision_id": parked if not parks else None,
                }
            )
            if parks and parked is not None:
                # the money is on the interim account already: nothing new to post
                decided = replace(known, pending=True, refusals=reasons)
                await uow.lines.save(decided, replacing=known.attempt)
                await uow.commit()
                self._pending.add(tenant_id, known.line)
                return None
            decided = replace(
                known,
                decision=decision,
                attempt=attempt,
                pending=parks,
                parked_decision_id=decision.decision_id if parks else parked,
                refusals=reasons,
            )
            await uow.lines.save(decided, replacing=known.attempt)
            for allocation in decision.allocations:
                index.allocate(allocation.item_id, allocation.amount)
            await self._stage_decision(uow, decided, envelope.correlation_id, envelope.message_id)
            await uow.commit()
        self._committed(decided)
        log.info(
            "refused decision %s of line %s decided again: %s by %s",
            refused.decision_id,
            refused.line_id,
            decision.kind.value,
            decision.rule,
            extra={"tenant_id": tenant_id},
        )
        return decision

    async def record_posting(self, envelope: Envelope[JournalEntryPosted]) -> bool:
        """A person moved a line's suspense off the interim account (a manual entry naming
        the line and the interim account): the line no longer waits for an item. Returns
        True when it took a line off the pending ones."""
        entry, tenant_id = envelope.payload, envelope.tenant_id
        line_id = entry.statement_line_id
        if entry.source is not EntrySource.MANUAL or line_id is None:
            return False
        if not any(line.account_role is AccountRole.INTERIM for line in entry.lines):
            return False
        if (tenant_id, line_id) not in self._pending:
            return False
        async with self._writing, self._units() as uow:
            known = await uow.lines.get(tenant_id, line_id)
            if known is None or not known.pending:
                return False
            await uow.lines.save(replace(known, pending=False), replacing=known.attempt)
            await uow.commit()
        self._pending.remove(tenant_id, line_id)
        log.info("line %s allocated by a person (entry %s)", line_id, entry.entry_id)
        return True

    async def _stage_decision(
        self, uow: Any, decided: DecidedLine, correlation_id: str, causation_id: str | None
    ) -> None:
        await uow.stage(*_decision_message(decided, correlation_id, causation_id))

    def _committed(self, decided: DecidedLine) -> None:
        if decided.pending:
            self._pending.add(decided.tenant_id, decided.line)
        else:
            self._pending.remove(decided.tenant_id, decided.line_id)
        self._on_committed()

    # --- settings -------------------------------------------------------------------------

    def policy(self, tenant_id: str) -> MatchingPolicy:
        return self._policies.get(tenant_id, DEFAULT_POLICY)

    async def matching_settings(self, tenant_id: str) -> MatchingSettings:
        """The tenant's settings as stored, or the defaults (version 1, never saved)."""
        async with self._units() as uow:
            stored = await uow.settings.get(tenant_id)
        return stored if stored is not None else MatchingSettings()

    async def save_matching_settings(
        self, tenant_id: str, wanted: MatchingSettings, *, updated_by: str | None = None
    ) -> MatchingSettings:
        """Check, store and publish the tenant's settings; lines decided from now on use
        them. Raises ``InvalidMatchingSettingsError`` with what to change."""
        async with self._writing, self._units() as uow:
            known = await uow.settings.get(tenant_id)
            settings = wanted.model_copy(
                update={
                    "version": known.version + 1 if known is not None else 1,
                    "updated_at": datetime.now(UTC),
                    "updated_by": updated_by,
                }
            )
            try:
                policy = policy_of(settings)
            except PolicyError as exc:
                raise InvalidMatchingSettingsError(str(exc)) from exc
            await uow.settings.save(tenant_id, settings)
            await uow.stage(
                MATCHING_SETTINGS,
                MATCHING_SETTINGS.key_for(tenant_id, tenant_id),
                envelope_for(
                    settings,
                    tenant_id=tenant_id,
                    correlation_id=str(uuid.uuid4()),
                    message_id=_settings_message_id(tenant_id, settings.version),
                ),
            )
            await uow.commit()
        self._policies[tenant_id] = policy
        self._on_committed()
        log.info("matching settings of %s saved (version %d)", tenant_id, settings.version)
        return settings

    # --- reads ----------------------------------------------------------------------------

    def explain(self, tenant_id: str, line: StatementLine) -> MatchDecision:
        """The decision the engine would take for the line now; publishes and books nothing."""
        if not self.ready:
            raise IndexNotReadyError(
                "the open-items index is still reading the topic after a start; try again in "
                "a few seconds"
            )
        return self._engine.evaluate(
            tenant_id, line, self._indexes.for_tenant(tenant_id), self.policy(tenant_id)
        )

    async def last_decision(self, tenant_id: str, line_id: str) -> MatchDecision:
        async with self._units() as uow:
            known = await uow.lines.get(tenant_id, line_id)
        if known is None:
            raise DecisionNotFoundError(
                f"no decision for line {line_id!r} of tenant {tenant_id!r}: the matcher has "
                "not seen the line"
            )
        return known.decision

    def index_summary(self, tenant_id: str) -> IndexSummary:
        return self._indexes.summary(tenant_id)

    def index_of(self, tenant_id: str) -> OpenItemIndex:
        """The tenant's open-item index, to read (e.g. its digest); changes go through the
        record_* methods."""
        return self._indexes.for_tenant(tenant_id)

    def pending_count(self, tenant_id: str) -> int:
        return self._pending.count(tenant_id)


def _line_key(envelope: Envelope[StatementLine]) -> tuple[str, str]:
    return envelope.tenant_id, envelope.payload.line_id


def _decision_message(
    decided: DecidedLine, correlation_id: str, causation_id: str | None
) -> tuple[Topic, str, Envelope[MatchDecision]]:
    """The line's decision as the outbox stages it: the decisions topic, keyed by account."""
    outgoing = envelope_for(
        decided.decision,
        tenant_id=decided.tenant_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        message_id=decided.decision.decision_id,
    )
    return (
        DECISIONS,
        DECISIONS.key_for(decided.tenant_id, decided.line.account.account_id),
        outgoing,
    )


def _settings_message_id(tenant_id: str, version: int) -> str:
    digest = hashlib.sha256(f"matching-settings|{tenant_id}|{version}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def _suspense_after_refusals(found: MatchDecision, reasons: tuple[str, ...]) -> MatchDecision:
    """Suspense for a line whose decisions the ledger kept refusing, naming every refusal."""
    listed = "; ".join(reasons)
    return found.model_copy(
        update={
            "kind": DecisionKind.SUSPENSE,
            "rule": "suspense",
            "confidence": Decimal(0),
            "allocations": [],
            "counterparty_id": None,
            "gl_account": None,
            "posting_rule_id": None,
            "posting_rule_version": None,
            "evidence": [
                *found.evidence,
                Evidence(rule="suspense", field="decision", note=f"refused: {listed}"),
            ],
            "explanation": f"the ledger refused {len(reasons)} decisions of this line "
            f"({listed}); left for a person",
        }
    )
