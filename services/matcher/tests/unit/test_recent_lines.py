"""The memory of recent lines the reversal rule looks in: what it keeps of a line, and the two
bounds that stop a running matcher's memory growing with every line it decides."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from matcher_factories import Book

from bankrec.matcher.domain.recent_lines import HORIZON_DAYS, RecentLine, RecentLines


def test_a_line_is_kept_as_what_the_reversal_rule_reads(book: Book) -> None:
    memory = RecentLines()
    line = book.line("l1", "-300.00", end_to_end_id="E2E-9", booking_date=date(2026, 11, 2))
    memory.remember(line)
    kept = memory.get(book.account.account_id, "l1")
    assert kept == RecentLine(
        "l1",
        line.statement_id,
        line.sequence,
        line.amount,
        date(2026, 11, 2),
        line.value_date,
        line.bank_reference,
    )
    assert kept is not None
    assert kept.on == date(2026, 11, 2)
    memory.remember(line)  # a redelivery: kept once
    assert len(memory) == 1


def test_lines_past_the_horizon_of_their_account_leave(book: Book) -> None:
    """A line leaves once the account has a line more than the horizon newer; a line of
    another account, and lines within the horizon, stay."""
    memory = RecentLines()
    account = book.account.account_id
    start = date(2026, 1, 1)
    memory.remember(book.line("old", "100.00", end_to_end_id="E-1", booking_date=start))
    memory.remember(book.line("mid", "100.00", booking_date=start + timedelta(days=30)))
    memory.remember(book.line("edge", "100.00", booking_date=start + timedelta(days=HORIZON_DAYS)))
    assert len(memory) == 3  # exactly the horizon apart: still kept
    memory.remember(book.line("new", "7.00", booking_date=start + timedelta(days=HORIZON_DAYS + 1)))
    assert memory.get(account, "old") is None
    assert memory.by_reference(account, ("end_to_end_id", "E-1")) == []
    assert [x.line_id for x in memory.by_amount(account, "NOK", Decimal(100))] == ["mid", "edge"]
    assert len(memory) == 3


def test_a_long_run_keeps_at_most_lines_max_and_the_newest_of_them(book: Book) -> None:
    memory = RecentLines(lines_max=1_000)
    day = date(2026, 11, 20)
    for number in range(5_000):  # all on one day: only the count bounds them
        memory.remember(book.line(f"l{number}", f"{number % 97 + 1}.00", booking_date=day))
    assert len(memory) == 1_000
    account = book.account.account_id
    assert memory.get(account, "l3999") is None
    assert memory.get(account, "l4000") is not None
    memory.forget(account, "l4000")  # paired: leaves at once, and the count with it
    assert len(memory) == 999
    memory.remember(book.line("l5000", "1.00", booking_date=day))
    assert len(memory) == 1_000
    assert memory.get(account, "l4001") is not None
