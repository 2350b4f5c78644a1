"""``bankrec-ledger open-items FILE``: every good row printed as the ``OpenItem`` the ledger
would register, bad fields on stderr with their row numbers, exit 1 when there was any."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bankrec.contracts import OpenItem, OpenItemKind, OpenItemStatus, ReferenceKind
from bankrec.ledger.cli import main
from bankrec.ledger.domain import FIELD_NAMES

DEMO_CSV = Path(__file__).resolve().parents[4] / "deploy" / "demo" / "open-items.csv"
HEADER = ",".join(FIELD_NAMES)


def items_of(out: str) -> list[OpenItem]:
    return [OpenItem.model_validate_json(line) for line in out.splitlines()]


def test_every_row_is_printed_as_a_registered_open_item(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["open-items", str(DEMO_CSV)]) == 0
    captured = capsys.readouterr()
    items = items_of(captured.out)
    assert captured.err == ""
    assert [item.item_id for item in items][:2] == ["INV-10230", "INV-10231"]
    assert len(items) == 7
    first = items[0]
    assert (first.kind, first.status, first.version) == (
        OpenItemKind.INVOICE,
        OpenItemStatus.OPEN,
        1,
    )
    assert first.remaining == first.amount
    assert (first.reference, first.reference_kind) == ("1002345005", ReferenceKind.KID)
    bill = items[-1]
    assert (bill.item_id, bill.amount.amount, bill.amount.currency) == (
        "BILL-4410",
        Decimal("-15000.00"),
        "NOK",
    )


def test_bad_rows_go_to_stderr_with_their_row_and_the_exit_code_is_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "items.csv"
    path.write_text(
        "\n".join(
            [
                HEADER + ",bank_account_id",
                "INV-1,invoice,C-1,Kari,,1,,,,100.00,NOK,2026-11-01,2026-11-20,",
                "INV-2,invoice,C-2,Per,,2,,1002345006,,abc,NOK,2026-11-01,2026-11-20,",
                "PAY-1,payment,S-1,Staal AS,,P-1,,,,-40.00,NOK,,,acc-1",
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    assert main(["open-items", str(path)]) == 1

    captured = capsys.readouterr()
    assert [(item.item_id, item.bank_account_id) for item in items_of(captured.out)] == [
        ("INV-1", None),
        ("PAY-1", "acc-1"),
    ]
    assert captured.err.splitlines() == [
        f"bankrec-ledger: {path}: row 3: amount: 'abc' is not a decimal number like -1250.00 "
        "(dot, no spaces)",
        f"bankrec-ledger: {path}: row 3: reference: KID '1002345006' fails both check-digit "
        "methods (mod10 expects last digit 5, mod11 expects 1); check the number, or send "
        "reference_kind 'other' if it is not a KID",
    ]


def test_a_file_that_cannot_be_read_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.csv"
    assert main(["open-items", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"bankrec-ledger: cannot read {missing}: No such file or directory\n"
    )

    headless = tmp_path / "headless.csv"
    headless.write_text("item_id,amount\nINV-1,100.00\n", encoding="utf-8")
    assert main(["open-items", str(headless)]) == 1
    assert capsys.readouterr().err.startswith(
        f"bankrec-ledger: {headless}: invalid_csv: header is missing the column(s) kind, "
    )

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + "\nINV-1,invoice,C-1,Bjørn,,1,,,,1.00,NOK,,\n").encode("latin-1"))
    assert main(["open-items", str(latin1)]) == 1
    assert "is not UTF-8; save the file as UTF-8" in capsys.readouterr().err


def test_a_spreadsheet_byte_order_mark_is_not_part_of_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        ("\ufeff" + HEADER + "\nINV-1,invoice,C-1,Kari,,1,,,,100.00,NOK,,\n").encode("utf-8")
    )
    assert main(["open-items", str(path)]) == 0
    assert [item.item_id for item in items_of(capsys.readouterr().out)] == ["INV-1"]
