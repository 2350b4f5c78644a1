"""The SQL transaction's write-behind (``SqlLedgerTransaction``), on SQLite and PostgreSQL:
a batch of decisions sends a number of statements that does not grow with its size, an
open item changed by another transaction meanwhile still fails the batch's optimistic
update (then the batch is applied again on fresh reads), and a read in the transaction sees
the writes kept back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, update

from bankrec.contracts import OpenItemStatus
from bankrec.ledger.adapters import sql_transactions, tables
from bankrec.ledger.errors import ConcurrentUpdate
from bankrec.ledger.ports import DecisionOutcome, LedgerTransaction


@contextmanager
def statements_sent(books: Any) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (an executemany counts once)."""
    sent: list[str] = []
    engine = books.sessions.kw["bind"].sync_engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def apply_matches(books: Any, make: Any, prefix: str, count: int) -> list[str]:
    drafts = [make.draft(f"{prefix}-{n}", amount=f"{100 + n}.00") for n in range(count)]
    for draft in drafts:
        await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")
    envelopes = [
        make.envelope(
            make.decision("match", f"{100 + n}.00", [(f"{prefix}-{n}", f"{100 + n}.00")]),
            books.tenant_id,
        )
        for n in range(count)
    ] + [
        make.envelope(make.decision("suspense", f"{n + 1}.50"), books.tenant_id)
        for n in range(count // 4)
    ]
    with statements_sent(books) as sent:
        results = await books.ledger.apply_decisions(envelopes)
    assert [r.outcome for r in results] == [DecisionOutcome.POSTED] * len(envelopes)
    return sent


async def test_a_batch_sends_as_many_statements_for_forty_decisions_as_for_eight(
    books: Any, make: Any
) -> None:
    await apply_matches(books, make, "WARM", 2)  # the tenant's chart and bank account exist
    eight = await apply_matches(books, make, "SMALL", 8)
    forty = await apply_matches(books, make, "LARGE", 40)

    assert eight == forty, (eight, forty)
    # one savepoint: the first decision reads the tenant's chart; the others only queue
    assert forty.count("SAVEPOINT") == 1, forty
    assert len([sent for sent in forty if sent != "BEGIN"]) <= 16, forty
    paid = [await books.ledger.open_item(books.tenant_id, f"LARGE-{n}") for n in range(40)]
    assert {(item.status, item.remaining.amount, item.version) for item in paid} == {
        (OpenItemStatus.PAID, Decimal("0.00"), 2)
    }
    assert len(await books.ledger.journal(books.tenant_id, limit=200)) == 2 + 10 + 50


async def test_an_item_another_transaction_changed_fails_the_kept_back_update(
    books: Any, make: Any
) -> None:
    if books.dialect != "postgresql":
        pytest.skip("SQLite takes the write lock when the transaction begins: no race to lose")
    draft = make.draft("RACE-1", amount="100.00")
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")
    item = await books.ledger.open_item(books.tenant_id, "RACE-1")
    changed = item.model_copy(update={"description": "edited meanwhile", "version": 2})
    transactions = sql_transactions(books.sessions)

    async def update_after_another_instance() -> None:
        async with transactions() as tx:
            await tx.update_open_item(books.tenant_id, changed, expected_version=1)
            async with books.sessions() as other:  # another instance, first to commit
                await other.execute(
                    update(tables.open_items)
                    .where(tables.open_items.c.item_id == "RACE-1")
                    .values(version=2)
                )
                await other.commit()
            await tx.commit()

    with pytest.raises(ConcurrentUpdate, match="open item RACE-1 \\(expected version 1\\)"):
        await update_after_another_instance()


async def test_a_read_sees_the_writes_kept_back_and_a_savepoint_drops_its_own(
    books: Any, make: Any
) -> None:
    draft = make.draft("READ-1", amount="100.00")
    await books.ledger.register_open_item(books.tenant_id, draft, correlation_id="test")
    item = await books.ledger.open_item(books.tenant_id, "READ-1")
    paid = item.model_copy(update={"status": OpenItemStatus.PAID, "version": 2})
    transactions = sql_transactions(books.sessions)

    async def refused(tx: LedgerTransaction) -> None:
        async with tx.savepoint():
            await tx.add_processed_message("test", "dropped-1")
            await tx.update_open_item(books.tenant_id, paid, expected_version=1)
            raise RuntimeError("the decision is refused")

    async with transactions() as tx:
        await tx.add_processed_message("test", "kept-1")
        with pytest.raises(RuntimeError, match="refused"):
            await refused(tx)
        async with tx.savepoint():
            await tx.update_open_item(books.tenant_id, paid, expected_version=1)
            read = await tx.open_item(books.tenant_id, "READ-1")  # runs the SAVEPOINT first
            assert read is not None
            assert read.version == 2
        assert await tx.processed_messages("test", ["kept-1", "dropped-1"]) == {"kept-1"}
        await tx.commit()

    stored = await books.ledger.open_item(books.tenant_id, "READ-1")
    assert (stored.status, stored.version) == (OpenItemStatus.PAID, 2)


async def test_a_savepoint_inside_a_savepoint_rolls_back_only_its_own_writes(books: Any) -> None:
    transactions = sql_transactions(books.sessions)
    names = ["outer-1", "outer-2", "inner-1"]

    async def inner_refused(tx: LedgerTransaction) -> None:
        async with tx.savepoint():
            await tx.add_processed_message("test", "inner-1")
            assert await tx.processed_messages("test", names) == {"outer-1", "outer-2", "inner-1"}
            raise RuntimeError("the inner step is refused")

    async with transactions() as tx:
        async with tx.savepoint():
            await tx.add_processed_message("test", "outer-1")
            assert await tx.processed_messages("test", names) == {"outer-1"}  # SAVEPOINT now
            await tx.add_processed_message("test", "outer-2")  # kept back, in the outer scope
            with pytest.raises(RuntimeError, match="refused"):
                await inner_refused(tx)
        await tx.commit()

    async with transactions() as tx:
        assert await tx.processed_messages("test", names) == {"outer-1", "outer-2"}
