"""The matcher's use cases with in-memory adapters: what is published, redeliveries, explain,
the decision log and the start-up gate."""

from __future__ import annotations

import asyncio

import pytest
from matcher_factories import Book

from bankrec.contracts import DecisionKind, Envelope, MatchDecision, StatementLine
from bankrec.matcher.adapters import RecentDecisions, RecordingPublisher
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.domain import decision_id_for
from bankrec.matcher.errors import DecisionNotFoundError, IndexNotReadyError
from bankrec.matcher.use_cases import Matcher

KID = "1002345005"


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def matcher(publisher: RecordingPublisher) -> Matcher:
    return Matcher(publisher, RecentDecisions(capacity=100))


def line_envelope(book: Book, line: StatementLine) -> Envelope[StatementLine]:
    envelope: Envelope[StatementLine] = book.envelope(line, correlation_id="camt-file-1")
    return envelope


async def test_a_decision_is_published_in_its_envelope_with_the_lines_ids(
    book: Book, matcher: Matcher, publisher: RecordingPublisher
) -> None:
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    incoming = line_envelope(book, book.line("l1", "500.00", reference=KID))

    decision = await matcher.decide_line(incoming)

    [(key, outgoing)] = publisher.published
    assert key == book.key
    assert outgoing.payload == decision
    assert outgoing.type == MatchDecision.MESSAGE_TYPE
    assert outgoing.tenant_id == book.tenant_id
    assert outgoing.message_id == decision.decision_id == decision_id_for(book.tenant_id, "l1")
    assert outgoing.causation_id == incoming.message_id
    assert outgoing.correlation_id == "camt-file-1"
    assert matcher.last_decision(book.tenant_id, "l1") == decision


async def test_a_redelivered_line_gets_the_same_decision_again(
    book: Book, matcher: Matcher, publisher: RecordingPublisher
) -> None:
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    incoming = line_envelope(book, book.line("l1", "500.00", reference=KID))

    first = await matcher.decide_line(incoming)
    again = await matcher.decide_line(incoming)  # the index has INV-1 allocated by now

    assert again == first
    assert again.kind is DecisionKind.MATCH
    assert [m.message_id for _, m in publisher.published] == [first.decision_id] * 2


async def test_a_failed_publish_raises_and_the_retry_publishes_the_same_decision(
    book: Book, matcher: Matcher, publisher: RecordingPublisher
) -> None:
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    incoming = line_envelope(book, book.line("l1", "500.00", reference=KID))
    publisher.fail_next = 1

    with pytest.raises(ConnectionError):
        await matcher.decide_line(incoming)
    decision = await matcher.decide_line(incoming)

    assert decision.kind is DecisionKind.MATCH
    assert [m.payload.kind for _, m in publisher.published] == [DecisionKind.MATCH]


async def test_a_second_line_for_the_same_invoice_goes_to_suspense(
    book: Book, matcher: Matcher
) -> None:
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    first = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    second = await matcher.decide_line(
        line_envelope(book, book.line("l2", "500.00", reference=KID))
    )
    assert (first.kind, second.kind) == (DecisionKind.MATCH, DecisionKind.SUSPENSE)
    assert matcher.index_summary(book.tenant_id).open == 0


async def test_explain_publishes_and_books_nothing(
    book: Book, matcher: Matcher, publisher: RecordingPublisher
) -> None:
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    line = book.line("l1", "500.00", reference=KID)

    assert matcher.explain(book.tenant_id, line).kind is DecisionKind.MATCH
    assert matcher.explain(book.tenant_id, line).kind is DecisionKind.MATCH
    assert publisher.published == []
    assert matcher.index_summary(book.tenant_id).open == 1
    with pytest.raises(DecisionNotFoundError):
        matcher.last_decision(book.tenant_id, "l1")


async def test_open_items_of_one_tenant_are_invisible_to_another(
    book: Book, matcher: Matcher
) -> None:
    other = Book.for_tenant("t-other")
    matcher.record_open_item(other.envelope(other.item("INV-1", "500.00")))
    decision = await matcher.decide_line(line_envelope(book, book.line("l1", "500.00")))
    assert decision.kind is DecisionKind.SUSPENSE
    assert matcher.index_summary(book.tenant_id).open_items == 0
    assert matcher.index_summary("t-other").open_items == 1


async def test_lines_wait_until_the_index_has_caught_up(
    book: Book, publisher: RecordingPublisher
) -> None:
    catch_up = IndexCatchUp()
    catch_up.expect({0: 2})  # partition 0 held two records at start-up
    matcher = Matcher(publisher, RecentDecisions(), catch_up=catch_up)
    deciding = asyncio.create_task(
        matcher.decide_line(line_envelope(book, book.line("l1", "500.00", reference=KID)))
    )
    with pytest.raises(IndexNotReadyError):
        matcher.explain(book.tenant_id, book.line("l1", "500.00"))

    matcher.record_open_item(book.envelope(book.item("INV-9", "1.00")))
    matcher.open_item_read(0, 0)
    await asyncio.sleep(0)
    assert not deciding.done()
    matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    matcher.open_item_read(0, 1)

    decision = await asyncio.wait_for(deciding, timeout=5)
    assert decision.kind is DecisionKind.MATCH  # decided against the complete index


def test_the_decision_log_forgets_the_oldest_first(book: Book) -> None:
    from bankrec.matcher.domain import MatchEngine, OpenItemIndex

    log = RecentDecisions(capacity=2)
    engine = MatchEngine()
    for line_id in ("l1", "l2", "l3"):
        log.put(
            book.tenant_id,
            engine.evaluate(book.tenant_id, book.line(line_id, "1.00"), OpenItemIndex()),
        )
    assert len(log) == 2
    assert log.get(book.tenant_id, "l1") is None
    assert log.get(book.tenant_id, "l3") is not None
    with pytest.raises(ValueError, match="capacity"):
        RecentDecisions(capacity=0)
