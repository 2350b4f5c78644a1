"""Journal entries are balanced per currency, with non-negative one-sided lines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import AccountRole, EntrySource, PostingLine
from bankrec.ledger.domain import JournalEntry, assert_balanced, entry_id_for
from bankrec.ledger.errors import UnbalancedEntry


def line(code: str, debit: str = "0", credit: str = "0", currency: str = "NOK") -> PostingLine:
    return PostingLine(
        account_code=code,
        account_role=AccountRole.OTHER,
        debit=Decimal(debit),
        credit=Decimal(credit),
        currency=currency,
    )


def entry(*lines: PostingLine, key: str = "k-1") -> JournalEntry:
    return JournalEntry(
        entry_id=entry_id_for("t1", key),
        idempotency_key=key,
        posting_date=date(2026, 11, 20),
        source=EntrySource.MANUAL,
        source_ref="test",
        description="test",
        lines=lines,
    )


def test_a_balanced_entry_is_accepted() -> None:
    posted = entry(line("1920", debit="100.00"), line("1500", credit="100.00"))
    assert posted.to_event().lines[0].debit == Decimal("100.00")


def test_several_lines_balance_in_total() -> None:
    entry(line("1920", debit="100.00"), line("1500", credit="60.00"), line("2900", credit="40.00"))


def test_debits_differing_from_credits_are_refused() -> None:
    with pytest.raises(UnbalancedEntry, match=r"debits 100.00 NOK differ from credits 99.99 NOK"):
        entry(line("1920", debit="100.00"), line("1500", credit="99.99"))


def test_balance_is_per_currency() -> None:
    entry(
        line("1920", debit="100.00"),
        line("1500", credit="100.00"),
        line("1921", debit="10.00", currency="EUR"),
        line("1500", credit="10.00", currency="EUR"),
    )
    with pytest.raises(UnbalancedEntry, match=r"110\.00 NOK"):
        # 110 debit = 110 credit in total, but not in each currency
        entry(
            line("1920", debit="100.00"),
            line("1500", credit="110.00"),
            line("1921", debit="10.00", currency="EUR"),
        )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (line("1500", debit="-100.00"), "negative"),
        (line("1500", debit="50.00", credit="50.00"), "exactly one"),
        (line("1500"), "exactly one"),
    ],
    ids=["negative", "both-sides", "zero"],
)
def test_bad_lines_are_refused(bad: PostingLine, message: str) -> None:
    with pytest.raises(UnbalancedEntry, match=message):
        assert_balanced([line("1920", debit="100.00"), bad])


def test_an_entry_needs_two_lines() -> None:
    with pytest.raises(UnbalancedEntry, match="at least two lines"):
        entry(line("1920", debit="100.00"))


def test_the_fingerprint_follows_the_content() -> None:
    first = entry(line("1920", debit="100.00"), line("1500", credit="100.00"))
    same = entry(line("1920", debit="100.00"), line("1500", credit="100.00"))
    other = entry(line("1920", debit="100.00"), line("2900", credit="100.00"))
    assert first.fingerprint == same.fingerprint
    assert first.fingerprint != other.fingerprint


def test_an_idempotency_key_always_gets_the_same_entry_id() -> None:
    assert entry_id_for("t1", "dec-1") == entry_id_for("t1", "dec-1")
    assert entry_id_for("t1", "dec-1") != entry_id_for("t2", "dec-1")
