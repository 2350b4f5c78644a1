"""Statement lines decided a batch per transaction (``Matcher.decide_lines``, issue 9): one
unit of work and one commit per batch; a redelivered line, a line repeated in the batch and a
line another instance decided meanwhile keep the decision stored for them (staged once); a
redelivered batch changes nothing; a generated statement decided in batches gets exactly the
decisions of one line at a time. Both line books (memory and SQLite) answer the bulk lookup
and insert alike. On the topic (TestKafkaBroker): a batch with an undecodable record
dead-letters that record and decides the others."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from matcher_factories import Book

from bankrec.contracts import (
    DEAD_LETTERS,
    DECISIONS,
    STATEMENT_LINES,
    DeadLetter,
    DecisionKind,
    Envelope,
    MatchDecision,
    MatchingSettings,
    StatementLine,
    envelope_for,
)
from bankrec.matcher.adapters import (
    MemoryStore,
    MemoryUnitOfWork,
    matcher_engine,
    outbox,
    sql_units_of_work,
)
from bankrec.matcher.bootstrap import MIGRATIONS_DIR
from bankrec.matcher.consumers import register_consumers
from bankrec.matcher.ports import DecidedLine, LineBook, UnitOfWorkFactory
from bankrec.matcher.quality.generator import generate_case
from bankrec.matcher.quality.truth import QualityCase
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import (
    OutboxRelay,
    create_broker,
    decode_payload,
    encode_envelope,
    session_factory,
    upgrade_database,
)

KID = "1002345005"
KID_2 = "1002345013"
GENERATED_LINES = 400
BATCH = 200


class CountedUnits:
    """The store's units of work, counting how many were opened and committed."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.opened = 0
        self.commits = 0

    def __call__(self) -> MemoryUnitOfWork:
        self.opened += 1
        uow = MemoryUnitOfWork(self.store)
        commit = uow.commit

        async def counted_commit() -> None:
            self.commits += 1
            await commit()

        uow.commit = counted_commit  # type: ignore[method-assign]
        return uow


def line_envelope(book: Book, line: StatementLine) -> Envelope[StatementLine]:
    envelope: Envelope[StatementLine] = book.envelope(line, correlation_id="camt-file-1")
    return envelope


async def test_a_batch_is_one_unit_of_work_with_one_commit_and_decisions_in_order(
    book: Book,
) -> None:
    store = MemoryStore()
    units = CountedUnits(store)
    matcher = Matcher(units)
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    batch = [
        line_envelope(book, book.line("l1", "500.00", reference=KID)),
        line_envelope(book, book.line("l2", "500.00", reference=KID)),  # INV-1 is taken now
        line_envelope(book, book.line("l3", "77.00")),
    ]

    decisions = await matcher.decide_lines(batch)

    assert (units.opened, units.commits) == (1, 1)
    assert [d.line_id for d in decisions] == ["l1", "l2", "l3"]
    assert decisions[0].kind is DecisionKind.MATCH
    assert decisions[1].kind is not DecisionKind.MATCH  # the first line took the item
    assert decisions[2].kind is DecisionKind.SUSPENSE
    assert [(key, m.payload) for key, m in store.decisions] == [(book.key, d) for d in decisions]
    assert [m.causation_id for _, m in store.decisions] == [e.message_id for e in batch]
    assert matcher.pending_count(book.tenant_id) == 2  # the parked ones wait for their items


async def test_a_redelivered_and_a_repeated_line_get_their_stored_decision_once(
    book: Book,
) -> None:
    store = MemoryStore()
    matcher = Matcher(store.units_of_work())
    await matcher.record_open_item(book.envelope(book.item("INV-1", "500.00", reference=KID)))
    await matcher.record_open_item(book.envelope(book.item("INV-2", "300.00", reference=KID_2)))
    l1 = line_envelope(book, book.line("l1", "500.00", reference=KID))
    l2 = line_envelope(book, book.line("l2", "300.00", reference=KID_2))
    l3 = line_envelope(book, book.line("l3", "12.00"))
    first = await matcher.decide_line(l1)

    # l1 was decided before (redelivered); l2 comes twice in the batch
    decisions = await matcher.decide_lines([l2, l1, l3, l2])

    assert decisions[1] == first
    assert decisions[3] == decisions[0]
    assert decisions[0].kind is DecisionKind.MATCH  # the repeat did not take INV-2 again
    assert [m.payload.line_id for _, m in store.decisions] == ["l1", "l2", "l3"]  # staged once
    staged = list(store.outbox)
    stored = dict(store.lines)

    again = await matcher.decide_lines([l2, l1, l3, l2])  # the whole batch redelivered

    assert again == decisions
    assert store.outbox == staged
    assert store.lines == stored


async def test_a_line_another_instance_inserted_after_the_lookup_keeps_its_decision(
    book: Book,
) -> None:
    store = MemoryStore()
    await Matcher(store.units_of_work()).decide_line(
        line_envelope(book, book.line("l1", "40.00"))  # the other instance's suspense
    )
    theirs = store.lines[(book.tenant_id, "l1")].decision

    def units_blind_to_l1() -> MemoryUnitOfWork:
        # the lookup runs before the other instance's commit: it does not see l1 yet
        uow = MemoryUnitOfWork(store)
        books_get_many = uow.lines.get_many
        calls = 0

        async def get_many(keys: Any) -> dict[tuple[str, str], DecidedLine]:
            nonlocal calls
            calls += 1
            found = await books_get_many(keys)
            return {k: v for k, v in found.items() if calls > 1 or k[1] != "l1"}

        uow.lines.get_many = get_many  # type: ignore[method-assign]
        return uow

    ours = Matcher(units_blind_to_l1)
    await ours.record_open_item(book.envelope(book.item("INV-1", "40.00")))

    decisions = await ours.decide_lines(
        [line_envelope(book, book.line("l1", "40.00")), line_envelope(book, book.line("l2", "9"))]
    )

    assert decisions[0] == theirs
    assert [m.payload.line_id for _, m in store.decisions] == ["l1", "l2"]  # theirs, then l2


def _staged(store: MemoryStore) -> list[tuple[str, str, str | None, MatchDecision]]:
    """The staged decisions without the time they were staged at."""
    return [(key, m.message_id, m.causation_id, m.payload) for key, m in store.decisions]


def _seed() -> int:
    seed = int(os.environ.get("BANKREC_TEST_SEED", random.randrange(1_000_000)))
    print(f"decide_lines seed: {seed} (BANKREC_TEST_SEED={seed} repeats it)")
    return seed


async def _matcher_of(units: UnitOfWorkFactory, case: QualityCase) -> Matcher:
    matcher = Matcher(units)
    await matcher.save_matching_settings(
        case.tenant_id,
        MatchingSettings(amount_tolerance=Decimal(50)),  # the case's policy
    )
    for item in case.items:
        await matcher.record_open_item(
            envelope_for(item, tenant_id=case.tenant_id, correlation_id="items")
        )
    for rule in case.posting_rules:
        matcher.record_posting_rule(
            envelope_for(rule, tenant_id=case.tenant_id, correlation_id="rules")
        )
    return matcher


async def test_a_generated_statement_decided_in_batches_as_one_line_at_a_time() -> None:
    """Invariant: the decisions (and what is staged, in order) do not depend on the batching,
    with matches taking items, reversal pairs and posting rules in the generated mix."""
    seed = _seed()
    case = generate_case(GENERATED_LINES, seed, tenant_id=f"t-gen-{seed}")
    lines = [
        envelope_for(line, tenant_id=case.tenant_id, correlation_id="generated")
        for line in case.lines
    ]
    one_store, batch_store = MemoryStore(), MemoryStore()
    one_by_one = await _matcher_of(one_store.units_of_work(), case)
    batched = await _matcher_of(batch_store.units_of_work(), case)

    singles = [await one_by_one.decide_line(envelope) for envelope in lines]
    batches: list[MatchDecision] = []
    for start in range(0, len(lines), BATCH):
        batches.extend(await batched.decide_lines(lines[start : start + BATCH]))

    assert batches == singles
    assert _staged(batch_store) == _staged(one_store)
    assert batch_store.lines == one_store.lines
    kinds = {decision.kind for decision in singles}
    # items taken, reversals paired across batches (recent lines), posting rules, parked lines
    wanted = {DecisionKind.MATCH, DecisionKind.REVERSAL_PAIR, DecisionKind.RULE_POSTING}
    assert wanted | {DecisionKind.SUSPENSE} <= kinds, kinds
    tenant = lines[0].tenant_id
    assert batched.pending_count(tenant) == one_by_one.pending_count(tenant) > 0


# ------------------------------------------------------------------ both line books alike


async def _sql_units(url: str) -> tuple[UnitOfWorkFactory, Callable[[], Any]]:
    upgrade_database(url, MIGRATIONS_DIR)
    engine = matcher_engine(url)
    return sql_units_of_work(session_factory(engine)), engine.dispose


@pytest.mark.parametrize(
    "adapter", ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
async def test_the_line_books_look_up_and_insert_many_at_once(
    adapter: str, book: Book, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dispose: Callable[[], Any] | None = None
    if adapter == "memory":
        units: UnitOfWorkFactory = MemoryStore().units_of_work()
    elif adapter == "sqlite":
        units, dispose = await _sql_units(f"sqlite:///{tmp_path}/matcher.sqlite")
    else:
        units, dispose = await _sql_units(request.getfixturevalue("database_url")("matcher"))
    matcher = Matcher(units)
    try:
        [known] = await matcher.decide_lines([line_envelope(book, book.line("l1", "1.00"))])
        decided = [
            DecidedLine(book.tenant_id, book.line(line_id, "2.00"), known)
            for line_id in ("l1", "l2", "l3")
        ]
        async with units() as uow:
            books: LineBook = uow.lines
            taken = await books.add_many(decided)
            found = await books.get_many(
                [(book.tenant_id, "l1"), (book.tenant_id, "l3"), ("other", "l2")]
            )
            await uow.commit()
        async with units() as uow:
            after = await uow.lines.get_many({(book.tenant_id, f"l{n}") for n in range(1, 5)})
    finally:
        if dispose is not None:
            await dispose()

    assert taken == {(book.tenant_id, "l1")}
    assert set(found) == {(book.tenant_id, "l1"), (book.tenant_id, "l3")}
    assert found[(book.tenant_id, "l1")].line.amount.amount == Decimal("1.00")  # not replaced
    assert sorted(key[1] for key in after) == ["l1", "l2", "l3"]


# ------------------------------------------------------------------ on the topic


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[KafkaBroker, OutboxRelay, list[Any]]]:
    url = f"sqlite:///{tmp_path}/matcher.sqlite"
    upgrade_database(url, MIGRATIONS_DIR)
    engine = matcher_engine(url)
    sessions = session_factory(engine)
    broker = create_broker("127.0.0.1:9", client_id="bankrec-matcher-test")
    relay = OutboxRelay(broker, sessions, outbox)
    matcher = Matcher(sql_units_of_work(sessions))
    register_consumers(broker, matcher)
    seen: list[Any] = []

    async def on_decision(message: KafkaMessage) -> None:
        seen.append(decode_payload(MatchDecision, message.body).payload)

    async def on_dead_letter(message: KafkaMessage) -> None:
        seen.append(decode_payload(DeadLetter, message.body).payload)

    broker.subscriber(DECISIONS.name)(on_decision)
    broker.subscriber(DEAD_LETTERS.name)(on_dead_letter)
    async with TestKafkaBroker(broker) as test_broker:
        yield test_broker, relay, seen
    await engine.dispose()


async def test_an_undecodable_record_of_a_batch_is_dead_lettered_and_the_rest_decided(
    wired: tuple[KafkaBroker, OutboxRelay, list[Any]], book: Book
) -> None:
    broker, relay, seen = wired
    values: Sequence[bytes] = [
        encode_envelope(book.envelope(book.line("l1", "5.00"))),
        b"{not json",
        encode_envelope(book.envelope(book.line("l2", "6.00"))),
    ]

    await broker.publish_batch(*values, topic=STATEMENT_LINES.name)
    await relay.relay_all()

    dead = [m for m in seen if isinstance(m, DeadLetter)]
    decided = [m for m in seen if isinstance(m, MatchDecision)]
    assert [(d.reason_code, d.consumer, d.original_value) for d in dead] == [
        ("undecodable_message", "bankrec-matcher", "{not json")
    ]
    assert [d.line_id for d in decided] == ["l1", "l2"]


async def test_a_line_keyed_for_another_tenant_is_dead_lettered_not_decided(
    wired: tuple[KafkaBroker, OutboxRelay, list[Any]], book: Book
) -> None:
    broker, relay, seen = wired
    mine = book.envelope(book.line("l1", "5.00"))
    theirs = book.envelope(book.line("l2", "6.00"))
    account = mine.payload.account.account_id

    await broker.publish(
        encode_envelope(mine), topic=STATEMENT_LINES.name, key=f"{mine.tenant_id}:{account}"
    )
    await broker.publish(
        encode_envelope(theirs), topic=STATEMENT_LINES.name, key=f"intruder:{account}"
    )
    await relay.relay_all()

    dead = [m for m in seen if isinstance(m, DeadLetter)]
    assert [(d.reason_code, d.consumer) for d in dead] == [
        ("tenant_key_mismatch", "bankrec-matcher")
    ]
    assert "intruder" in dead[0].reason
    assert theirs.tenant_id in dead[0].reason
    assert [m.line_id for m in seen if isinstance(m, MatchDecision)] == ["l1"]
