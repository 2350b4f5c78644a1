"""The matcher's use cases with in-memory adapters: what is staged for publishing,
redeliveries (also after a restart), explain, the start-up gate, living matching of pending
lines, refused decisions decided again, a person's allocation, per-tenant settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from matcher_factories import Book

from bankrec.contracts import (
    MATCHING_SETTINGS,
    AccountRole,
    DecisionKind,
    DecisionRefused,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    MatchingSettings,
    OpenItem,
    PostingLine,
    StatementLine,
)
from bankrec.matcher import use_cases
from bankrec.matcher.adapters import MemoryStore
from bankrec.matcher.adapters.memory import MemoryUnitOfWork
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.domain import decision_id_for
from bankrec.matcher.errors import (
    DecisionNotFoundError,
    IndexNotReadyError,
    InvalidMatchingSettingsError,
)
from bankrec.matcher.use_cases import Matcher, decision_id_of_attempt

KID = "1002345005"
KID_2 = "1002345013"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def matcher(store: MemoryStore) -> Matcher:
    return Matcher(store.units_of_work())


def line_envelope(book: Book, line: StatementLine) -> Envelope[StatementLine]:
    envelope: Envelope[StatementLine] = book.envelope(line, correlation_id="camt-file-1")
    return envelope


def refusal(book: Book, decision: MatchDecision, reason_code: str) -> Envelope[DecisionRefused]:
    refused = DecisionRefused(
        decision_id=decision.decision_id,
        decision_message_id=decision.decision_id,
        kind=decision.kind,
        line_id=decision.line_id,
        statement_id=decision.statement_id,
        account=decision.account,
        amount=decision.amount,
        reason_code=reason_code,
        reason=f"{reason_code} (test)",
        allocations=decision.allocations,
        refused_at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    envelope: Envelope[DecisionRefused] = book.envelope(refused)
    return envelope


async def test_a_decision_is_staged_in_its_envelope_with_the_lines_ids(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    incoming = line_envelope(book, book.line("l1", "500.00", reference=KID))

    decision = await matcher.decide_line(incoming)

    [(key, outgoing)] = store.decisions
    assert key == book.key
    assert outgoing.payload == decision
    assert outgoing.type == MatchDecision.MESSAGE_TYPE
    assert outgoing.tenant_id == book.tenant_id
    assert outgoing.message_id == decision.decision_id == decision_id_for(book.tenant_id, "l1")
    assert outgoing.causation_id == incoming.message_id
    assert outgoing.correlation_id == "camt-file-1"
    assert await matcher.last_decision(book.tenant_id, "l1") == decision
    assert "supersedes_decision_id" not in outgoing.payload.model_dump()


async def test_a_redelivered_line_gets_the_same_decision_even_after_a_restart(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    item = book.envelope(book.item("INV-1", "500.00", reference=KID))
    await matcher.record_open_item(item)
    incoming = line_envelope(book, book.line("l1", "500.00", reference=KID))
    first = await matcher.decide_line(incoming)
    again = await matcher.decide_line(incoming)  # the index has INV-1 allocated by now

    restarted = Matcher(store.units_of_work())  # a new process: a fresh index, same database
    await restarted.restore()
    await restarted.record_open_item(item)
    after_restart = await restarted.decide_line(incoming)

    assert again == first == after_restart
    assert first.kind is DecisionKind.MATCH
    assert [m.message_id for _, m in store.decisions] == [first.decision_id]  # staged once


async def test_a_second_line_for_the_same_invoice_goes_to_suspense(
    book: Book, matcher: Matcher
) -> None:
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    first = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    second = await matcher.decide_line(
        line_envelope(book, book.line("l2", "500.00", reference=KID))
    )
    assert (first.kind, second.kind) == (DecisionKind.MATCH, DecisionKind.SUSPENSE)
    assert matcher.index_summary(book.tenant_id).open == 0


async def test_explain_publishes_and_books_nothing(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    line = book.line("l1", "500.00", reference=KID)

    assert matcher.explain(book.tenant_id, line).kind is DecisionKind.MATCH
    assert matcher.explain(book.tenant_id, line).kind is DecisionKind.MATCH
    assert store.outbox == []
    assert matcher.index_summary(book.tenant_id).open == 1
    with pytest.raises(DecisionNotFoundError):
        await matcher.last_decision(book.tenant_id, "l1")


async def test_open_items_of_one_tenant_are_invisible_to_another(
    book: Book, matcher: Matcher
) -> None:
    other = Book.for_tenant("t-other")
    await matcher.record_open_item(other.envelope(other.item("INV-1", "500.00")))
    decision = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00")))
    assert decision.kind is DecisionKind.SUSPENSE
    assert matcher.index_summary(book.tenant_id).open_items == 0
    assert matcher.index_summary("t-other").open_items == 1


async def test_lines_wait_until_the_index_and_the_posting_rules_have_caught_up(
    book: Book, store: MemoryStore
) -> None:
    catch_up, rules = IndexCatchUp(), IndexCatchUp()
    catch_up.expect({0: 2})  # partition 0 held two records at start-up
    rules.expect({1: 1})
    matcher = Matcher(store.units_of_work(), catch_up=catch_up, rules_catch_up=rules)
    deciding = asyncio.create_task(
        matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    )
    with pytest.raises(IndexNotReadyError):
        matcher.explain(book.tenant_id, book.line("l1", "500.00"))

    await matcher.record_open_item(book.envelope(book.item("INV-9", "1.00")))
    matcher.open_item_read(0, 0)
    await asyncio.sleep(0)
    assert not deciding.done()
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    matcher.open_item_read(0, 1)
    await asyncio.sleep(0)
    assert not deciding.done()  # the posting rules are not read yet
    matcher.posting_rule_read(1, 0)

    decision = await asyncio.wait_for(deciding, timeout=5)
    assert decision.kind is DecisionKind.MATCH  # decided against the complete index


async def test_a_suspense_line_is_matched_when_its_invoice_arrives(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    parked = await matcher.decide_line(
        line_envelope(book, book.line("l1", "500.00", reference=KID))
    )
    other = await matcher.decide_line(line_envelope(book, book.line("l2", "321.00")))
    assert (parked.kind, other.kind) == (DecisionKind.SUSPENSE, DecisionKind.SUSPENSE)
    assert matcher.pending_count(book.tenant_id) == 2

    [matched] = await matcher.record_open_item(
        book.envelope(book.item("INV-1", "500.00", reference=KID))
    )

    assert matched.kind is DecisionKind.MATCH
    assert matched.decision_id == decision_id_of_attempt(book.tenant_id, "l1", 2)
    assert matched.supersedes_decision_id == parked.decision_id
    assert [a.item_id for a in matched.allocations] == ["INV-1"]
    assert [m.payload for _, m in store.decisions] == [parked, other, matched]
    assert matcher.pending_count(book.tenant_id) == 1  # l2 still waits
    assert await matcher.last_decision(book.tenant_id, "l1") == matched
    # a newer state of the item finds no pending line it explains any more
    assert (
        await matcher.record_open_item(
            book.envelope(book.paid(book.item("INV-1", "500.00", reference=KID)))
        )
        == []
    )


async def test_a_batch_of_open_items_is_applied_whole_when_one_rematch_fails(
    book: Book, matcher: Matcher, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))

    async def database_away(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(matcher, "_rematch", database_away)
    states = [
        book.envelope(book.item("INV-1", "500.00", reference=KID)),  # explains l1: fails
        book.envelope(book.item("INV-2", "300.00")),
    ]
    with pytest.raises(ConnectionError):
        await matcher.record_open_items(states)
    # the state after the failed rematch is in the index too
    assert matcher.index_of(book.tenant_id).get("INV-2") is not None
    assert matcher.index_of(book.tenant_id).get("INV-1") is not None


async def test_a_batch_of_open_items_decides_each_pending_line_once_on_the_latest_states(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    await matcher.decide_line(line_envelope(book, book.line("l2", "700.00", reference=KID_2)))
    decided_before = len(store.decisions)
    item = book.item("INV-1", "500.00", reference=KID)
    # INV-1 and INV-7 both share a key with l1; INV-2 arrives and is paid in the same batch
    second = book.item("INV-2", "700.00", reference=KID_2)
    batch = [
        book.envelope(item),
        book.envelope(book.item("INV-7", "500.00")),
        book.envelope(second),
        book.envelope(book.paid(second)),
    ]

    decisions = await matcher.record_open_items(batch)

    assert [(d.line_id, d.kind) for d in decisions] == [("l1", DecisionKind.MATCH)]
    assert len(store.decisions) == decided_before + 1  # l1 once; l2 not against a paid INV-2
    assert matcher.pending_count(book.tenant_id) == 1


async def test_an_item_that_does_not_prove_the_line_leaves_it_pending(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    await matcher.decide_line(line_envelope(book, book.line("l1", "500.00")))
    # the same amount alone never proves anything
    assert await matcher.record_open_item(book.envelope(book.item("INV-7", "500.00"))) == []
    assert matcher.pending_count(book.tenant_id) == 1
    assert len(store.decisions) == 1


async def test_a_refused_decision_is_decided_again_and_at_most_n_times(
    book: Book, store: MemoryStore
) -> None:
    matcher = Matcher(store.units_of_work(), refused_attempts_max=2)
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    first = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    assert first.kind is DecisionKind.MATCH

    # refused: the item was paid meanwhile; the ledger's refusal says so, the line goes to
    # suspense under a new id
    refused = refusal(book, first, "decision_no_longer_fits")
    paid = book.paid(book.item("INV-1", "500.00", reference=KID))
    refused.payload.open_items.append(paid)
    second = await matcher.record_refusal(refused)
    assert second is not None
    assert second.kind is DecisionKind.SUSPENSE
    assert second.decision_id == decision_id_of_attempt(book.tenant_id, "l1", 2)
    assert second.supersedes_decision_id is None  # the first one changed nothing
    assert matcher.pending_count(book.tenant_id) == 1

    assert await matcher.record_refusal(refused) is None  # an old refusal: nothing again
    assert [m.payload.decision_id for _, m in store.decisions] == [
        first.decision_id,
        second.decision_id,
    ]


async def test_after_n_refusals_the_line_goes_to_suspense_with_the_reasons(
    book: Book, store: MemoryStore
) -> None:
    matcher = Matcher(store.units_of_work(), refused_attempts_max=1)
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    await matcher.record_open_item(
        book.envelope(book.item("INV-2", "500.00", reference="1002345013"))
    )
    first = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00")))
    assert first.kind is not DecisionKind.MATCH  # two invoices of the amount: never confirmed
    decision = await matcher.decide_line(
        line_envelope(book, book.line("l2", "500.00", reference="1002345013"))
    )
    assert decision.kind is DecisionKind.MATCH

    again = await matcher.record_refusal(refusal(book, decision, "over_allocation"))

    assert again is not None
    assert again.kind is DecisionKind.SUSPENSE
    assert again.allocations == []
    assert again.explanation.startswith("the ledger refused 1 decisions of this line")
    assert "over_allocation: over_allocation (test)" in again.explanation


async def test_a_suspense_allocated_by_a_person_leaves_the_pending_lines(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    await matcher.decide_line(line_envelope(book, book.line("l2", "600.00")))
    entry = JournalEntryPosted(
        entry_id="je-1",
        idempotency_key="suspense-allocation:act-1",
        posting_date=datetime(2026, 11, 24, tzinfo=UTC).date(),
        source=EntrySource.MANUAL,
        source_ref="act-1",
        description="allocated",
        lines=[
            PostingLine(
                account_code="2900",
                account_role=AccountRole.INTERIM,
                debit=Decimal("500.00"),
                credit=Decimal(0),
                currency="NOK",
            ),
            PostingLine(
                account_code="1500",
                account_role=AccountRole.RECEIVABLE,
                debit=Decimal(0),
                credit=Decimal("500.00"),
                currency="NOK",
            ),
        ],
        statement_line_id="l1",
    )
    assert await matcher.record_posting(book.envelope(entry))
    assert matcher.pending_count(book.tenant_id) == 1
    # the invoice arriving later finds the line no more
    assert (
        await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
        == []
    )


async def test_a_later_match_refused_as_allocated_drops_the_line(
    book: Book, matcher: Matcher
) -> None:
    await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    [matched] = await matcher.record_open_item(
        book.envelope(book.item("INV-1", "500.00", reference=KID))
    )
    assert await matcher.record_refusal(refusal(book, matched, "suspense_allocated")) is None
    assert matcher.pending_count(book.tenant_id) == 0


async def test_settings_are_stored_published_and_decide_the_tenants_lines(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    assert await matcher.matching_settings(book.tenant_id) == MatchingSettings()
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))

    saved = await matcher.save_matching_settings(
        book.tenant_id, MatchingSettings(auto_confirm=False), updated_by="ops"
    )

    assert (saved.version, saved.auto_confirm, saved.updated_by) == (1, False, "ops")
    assert await matcher.matching_settings(book.tenant_id) == saved
    [staged] = [m for m in store.outbox if m.topic is MATCHING_SETTINGS]
    assert (staged.key, staged.envelope.payload) == (book.tenant_id, saved)
    decision = await matcher.decide_line(
        line_envelope(book, book.line("l1", "500.00", reference=KID))
    )
    assert decision.kind is DecisionKind.PROPOSAL  # a person confirms every proof now
    other = Book.for_tenant("t-other")
    await matcher.record_open_item(other.envelope(other.item("INV-1", "500.00", reference=KID)))
    assert (
        await matcher.decide_line(line_envelope(other, other.line("l1", "500.00", reference=KID)))
    ).kind is DecisionKind.MATCH

    restarted = Matcher(store.units_of_work())
    await restarted.restore()
    assert restarted.policy(book.tenant_id).auto_confirm is False
    again = await restarted.save_matching_settings(book.tenant_id, MatchingSettings())
    assert again.version == 2


async def test_settings_that_cannot_work_are_refused_with_what_to_change(
    book: Book, matcher: Matcher, store: MemoryStore
) -> None:
    with pytest.raises(InvalidMatchingSettingsError, match=r"auto_confirm_threshold 1\.5 must be"):
        await matcher.save_matching_settings(
            book.tenant_id, MatchingSettings(auto_confirm_threshold=Decimal("1.5"))
        )
    assert store.outbox == []
    assert await matcher.matching_settings(book.tenant_id) == MatchingSettings()


async def test_items_closed_longer_ago_than_the_retention_leave_the_index(
    book: Book, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(use_cases, "RETIREMENT_INTERVAL_SECONDS", 0.0)  # at every state
    matcher = Matcher(store.units_of_work(), closed_items_kept_for=timedelta(days=30))
    now = datetime.now(UTC)
    old = book.item("INV-OLD", "500.00", reference=KID, counterparty_accounts=["12345678903"])
    recent = book.item("INV-NEW", "900.00")

    def dated(item: OpenItem, at: datetime) -> Envelope[OpenItem]:
        return book.envelope(item).model_copy(update={"occurred_at": at})

    await matcher.record_open_item(dated(old, now - timedelta(days=40)))
    await matcher.record_open_item(dated(book.paid(old), now - timedelta(days=31)))
    await matcher.record_open_item(dated(recent, now))
    await matcher.record_open_item(dated(book.paid(recent), now - timedelta(days=29)))

    index = matcher.index_of(book.tenant_id)
    assert index.get("INV-OLD") is None  # retired as the next state came in
    assert index.get("INV-NEW") is not None  # closed within the retention
    assert set(index.counterparties_by_account("12345678903")) == {"C-INV-OLD"}
    cut_off = matcher.retire_closed_items()
    assert cut_off is not None
    assert now - timedelta(days=30) <= cut_off <= datetime.now(UTC) - timedelta(days=30)
    # without a retention nothing is retired
    assert Matcher(store.units_of_work()).retire_closed_items() is None


class DatabaseAwayError(RuntimeError):
    pass


async def test_a_batch_whose_commit_fails_leaves_the_index_as_it_was(
    book: Book, matcher: Matcher, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lines come again (the consumer did not commit their offsets) and must find the
    items they took still open, and the line a reversal paired still there to pair with."""
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    earlier = line_envelope(book, book.line("l0", "700.00", payer="Stranger"))
    assert (await matcher.decide_line(earlier)).kind is DecisionKind.SUSPENSE
    batch = [
        line_envelope(book, book.line("l1", "500.00", reference=KID)),
        line_envelope(book, book.line("l2", "-700.00", reversal=True)),
        line_envelope(book, book.line("l3", "42.00", payer="Nobody")),
    ]

    async def database_away(self: object) -> None:
        raise DatabaseAwayError("connection lost")

    with monkeypatch.context() as patched:
        patched.setattr(MemoryUnitOfWork, "commit", database_away)
        with pytest.raises(DatabaseAwayError):
            await matcher.decide_lines(batch)

    index = matcher.index_of(book.tenant_id)
    [entry] = index.open_by_reference(KID)
    assert entry.reserved == ()
    assert index.recent_lines.get(book.account.account_id, "l3") is None
    assert index.recent_lines.get(book.account.account_id, "l0") is None  # until the next batch
    assert matcher.pending_count(book.tenant_id) == 1  # l0 only: l3 was never stored

    again = await matcher.decide_lines(batch)

    assert [d.kind for d in again] == [
        DecisionKind.MATCH,
        DecisionKind.REVERSAL_PAIR,
        DecisionKind.SUSPENSE,
    ]
    assert again[1].paired_line_id == "l0"
    assert [key for key, _ in store.decisions].count(book.key) == 4
