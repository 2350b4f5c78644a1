"""CSV import parsing: good rows kept, bad rows reported with row number and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bankrec.ledger.domain import FIELD_NAMES, parse_open_items_csv
from bankrec.ledger.errors import InvalidCsv

DEMO_CSV = Path(__file__).resolve().parents[4] / "deploy" / "demo" / "open-items.csv"
HEADER = ",".join(FIELD_NAMES)


def csv_of(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def test_the_demo_file_parses_without_errors() -> None:
    parsed = parse_open_items_csv(DEMO_CSV.read_text(encoding="utf-8"))
    assert parsed.errors == ()
    assert [draft.item_id for _row, draft in parsed.rows][:2] == ["INV-10230", "INV-10231"]
    assert len(parsed.rows) == 7
    bill = dict((draft.item_id, draft) for _row, draft in parsed.rows)["BILL-4410"]
    assert str(bill.amount) == "-15000.00 NOK"


def test_bad_rows_are_reported_and_good_rows_kept() -> None:
    parsed = parse_open_items_csv(
        csv_of(
            "INV-1,invoice,C-1,Kari,,1,,,,100.00,NOK,2026-11-01,2026-11-20",
            "INV-2,invoice,C-2,Per,,2,,1002345006,,abc,NOK,2026-11-01,2026-11-20",
            "INV-3,invoice,C-3,Ola,,3,,,,300.00,NOK,2026-13-01,",
            '"INV-4",bill,S-1,"Staal, AS",,4,,,"plates, steel",-40.00,NOK,,',
        )
    )
    assert [draft.item_id for _row, draft in parsed.rows] == ["INV-1", "INV-4"]
    assert [(e.row, e.field) for e in parsed.errors] == [
        (3, "amount"),
        (3, "reference"),
        (4, "posting_date"),
    ]
    assert "abc" in parsed.errors[0].message


def test_a_row_with_the_wrong_number_of_values_is_reported() -> None:
    parsed = parse_open_items_csv(
        csv_of("INV-1,invoice,C-1,Staal, AS,,1,,,,100.00,NOK,2026-11-01,2026-11-20")
    )
    assert parsed.rows == ()
    assert (parsed.errors[0].row, parsed.errors[0].field) == (2, "row")
    assert "quote values" in parsed.errors[0].message


def test_a_repeated_item_with_other_content_is_reported() -> None:
    parsed = parse_open_items_csv(
        csv_of(
            "INV-1,invoice,,,,,,,,100.00,NOK,,",
            "INV-1,invoice,,,,,,,,100.00,NOK,,",
            "INV-1,invoice,,,,,,,,999.00,NOK,,",
        )
    )
    assert len(parsed.rows) == 2  # the identical repeat is harmless
    assert [(e.row, e.field) for e in parsed.errors] == [(4, "item_id")]
    assert "row 2" in parsed.errors[0].message


def test_blank_lines_are_skipped_and_rows_keep_their_line_numbers() -> None:
    parsed = parse_open_items_csv(
        csv_of("", "INV-1,invoice,,,,,,,,1,NOK,,", "", "X,,,,,,,,,1,NOK,,")
    )
    assert [row for row, _draft in parsed.rows] == [3]
    assert [(e.row, e.field) for e in parsed.errors] == [(5, "kind")]


def test_optional_columns_are_read() -> None:
    text = (
        HEADER
        + ",reference_kind,bank_account_id\n"
        + ("PAY-1,payment,,,,,,1002345006,,-10.00,NOK,,,other,acc-1\n")
    )
    parsed = parse_open_items_csv(text)
    assert parsed.errors == ()
    draft = parsed.rows[0][1]
    assert (draft.reference, draft.bank_account_id) == ("1002345006", "acc-1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("item_id,kind,amount\nI-1,invoice,1\n", "missing the column(s) counterparty_id"),
        (HEADER + ",kind\n", "repeats the column(s) kind"),
        ("item_id;kind;amount\n", "comma-separated"),
    ],
)
def test_an_unreadable_file_is_refused_as_a_whole(text: str, message: str) -> None:
    with pytest.raises(InvalidCsv, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_open_items_csv(text)
