"""The format-blind assembly of line-based statements: ids, sums and the accountant's checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bankrec.ingest.domain.model import ParsedStatement
from bankrec.ingest.domain.statement_assembly import (
    LineDraft,
    StatedTotals,
    StatementDraft,
    amount_too_large,
    assemble_statement,
)
from bankrec.ingest.errors import InvalidRecord

TENANT = "t-assembly"


def _draft(**changes: object) -> StatementDraft:
    draft = StatementDraft(
        bank_statement_id="2026-11-20",
        account_number="NO93 8601 1117 947",
        currency="NOK",
        source_format="mt940",
        opening_booked=Decimal("1000.00"),
        closing_booked=Decimal("1150.00"),
        period_from=date(2026, 11, 20),
        period_to=date(2026, 11, 20),
        lines=[
            LineDraft(amount=Decimal("200.00"), bank_reference="B1"),
            LineDraft(amount=Decimal("-50.00"), bank_reference="B2"),
        ],
    )
    for name, value in changes.items():
        setattr(draft, name, value)
    return draft


def _assemble(draft: StatementDraft) -> tuple[ParsedStatement, list[tuple[str, str]]]:
    notes: list[tuple[str, str]] = []
    parsed = assemble_statement(
        draft, tenant_id=TENANT, sha256="ab" * 32, note=lambda c, m: notes.append((c, m))
    )
    return parsed, notes


def test_a_statement_that_adds_up_has_sums_balances_and_an_iban_account() -> None:
    parsed, notes = _assemble(_draft())
    header, lines = parsed
    assert notes == []
    assert header.account.iban == "NO9386011117947"
    assert (header.sum_credits, header.sum_debits) == (Decimal("200.00"), Decimal("50.00"))
    assert header.opening_booked is not None
    assert header.opening_booked.amount.amount == Decimal("1000.00")
    assert [line.amount.amount for line in lines] == [Decimal("200.00"), Decimal("-50.00")]
    assert len({line.line_id for line in lines}) == 2


def test_a_balance_that_does_not_add_up_and_wrong_control_totals_are_noted() -> None:
    stated = StatedTotals(entry_count=3, credit_sum=Decimal("200.00"), where="record 49")
    _, notes = _assemble(_draft(closing_booked=Decimal("1100.00"), stated=stated))
    assert [code for code, _ in notes] == ["balance_mismatch", "summary_mismatch"]
    assert "difference -50.00 NOK" in notes[0][1]
    assert notes[1][1] == "record 49 says 3 entries but the statement has 2"


def test_a_batch_entry_counts_once_in_the_sums_and_lines_keep_their_detail_index() -> None:
    batch = [
        LineDraft(
            amount=Decimal("120.00"), entry_index=0, entry_amount=Decimal("150.00"), detail_index=0
        ),
        LineDraft(
            amount=Decimal("30.00"), entry_index=0, entry_amount=Decimal("150.00"), detail_index=1
        ),
    ]
    parsed, notes = _assemble(_draft(lines=batch))
    header, lines = parsed
    assert notes == []
    assert header.entry_count == 1
    assert header.line_count == 2
    assert header.sum_credits == Decimal("150.00")
    assert [line.detail_index for line in lines] == [0, 1]
    assert lines[0].entry_amount is not None
    assert lines[0].entry_amount.amount == Decimal("150.00")


def test_foreign_currency_lines_and_excess_decimals_are_noted_not_refused() -> None:
    lines = [
        LineDraft(amount=Decimal("150.00")),
        LineDraft(amount=Decimal("10.005")),
        LineDraft(amount=Decimal("5.00"), currency="EUR"),
    ]
    _, notes = _assemble(_draft(lines=lines, closing_booked=Decimal("1160.005")))
    codes = [code for code, _ in notes]
    assert codes == ["amount_precision", "entry_currency"]


def test_an_account_number_that_is_not_an_iban_is_kept_as_the_banks_own() -> None:
    parsed, _ = _assemble(_draft(account_number="10020030/1234567", currency="EUR"))
    header, _lines = parsed
    assert header.account.iban is None
    assert header.account.other_id == "10020030/1234567"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"opening_booked": Decimal("1E+18")}, "opening balance"),
        ({"lines": [LineDraft(amount=Decimal("-" + "9" * 40))]}, "line 1 amount"),
        (
            {"lines": [LineDraft(amount=Decimal(1), entry_amount=Decimal("1E+999999"))]},
            "line 1 entry amount",
        ),
    ],
)
def test_an_amount_of_more_than_18_digits_is_refused_naming_it(
    changes: dict[str, object], path: str
) -> None:
    """Found by fuzzing: the decimals check raised decimal.InvalidOperation past 28 digits,
    and below that such an amount would have been rounded by the sums."""
    with pytest.raises(InvalidRecord, match=r"more than 18 digits") as refused:
        _assemble(_draft(**changes))
    assert refused.value.path == path
    assert refused.value.statement == "2026-11-20"


def test_amounts_up_to_18_digits_before_the_decimal_mark_are_amounts() -> None:
    assert not amount_too_large(Decimal("999999999999999999.99"))
    assert not amount_too_large(Decimal("-0.000000000000000000000000000000001"))
    assert not amount_too_large(Decimal(0))
    assert amount_too_large(Decimal("1E+18"))
    assert amount_too_large(Decimal("NaN"))
