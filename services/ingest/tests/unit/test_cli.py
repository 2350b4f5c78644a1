"""``bankrec-ingest parse``: JSON lines on stdout, notes and refusals on stderr."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from ingest_factories import DEMO_STATEMENT, Detail, Entry, Statement, camt_file

from bankrec.contracts import StatementHeader, StatementLine
from bankrec.ingest.cli import main


def test_parse_prints_each_header_then_its_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(DEMO_STATEMENT), "--tenant", "t-cli"]) == 0
    out, err = capsys.readouterr()
    messages = [json.loads(line) for line in out.splitlines()]
    assert [m["type"] for m in messages] == ["statement.received"] + ["statement.line.received"] * 7
    header = StatementHeader.model_validate(messages[0]["payload"])
    lines = [StatementLine.model_validate(m["payload"]) for m in messages[1:]]
    assert header.line_count == len(lines) == 7
    assert all(line.statement_id == header.statement_id for line in lines)
    assert err == ""


def test_parse_reports_diagnostics_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.xml"
    path.write_bytes(camt_file(Statement(entries=[Entry()], closing="1.00")))
    assert main(["parse", str(path)]) == 0
    _out, err = capsys.readouterr()
    assert "note balance_mismatch [statement 2026-11-20-00321]" in err


def test_parse_refuses_a_bad_file_with_its_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(b"<Document xmlns='urn:example'/>")
    assert main(["parse", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}: unknown_namespace:" in err


def test_parse_names_a_file_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["parse", str(tmp_path / "missing.xml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_parse_prints_one_line_per_transaction_detail_summing_to_the_balance_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's acceptance: a camt.053 with N entries and M transaction details prints M
    lines whose amounts add up to closing - opening."""
    entries = [
        Entry(amount="1500.00"),
        Entry(  # an OCR/KID batch: one entry, three payments
            amount="600.00",
            details=[Detail(amount="100.00"), Detail(amount="200.00"), Detail(amount="300.00")],
        ),
        Entry(amount="75.50", indicator="DBIT"),
        Entry(amount="40.00", details=[Detail(amount="40.00")]),
    ]
    path = tmp_path / "batch.xml"
    path.write_bytes(camt_file(Statement(entries=entries, opening="1000.00", closing="3064.50")))

    assert main(["parse", str(path), "--tenant", "t-cli"]) == 0
    out, err = capsys.readouterr()
    messages = [json.loads(line) for line in out.splitlines()]
    header = StatementHeader.model_validate(messages[0]["payload"])
    lines = [StatementLine.model_validate(m["payload"]) for m in messages[1:]]

    assert header.entry_count == 4
    assert len(lines) == 6  # 1 + 3 + 1 + 1 transaction details
    assert sum(line.amount.amount for line in lines) == Decimal("2064.50")
    assert header.closing_booked is not None
    assert header.opening_booked is not None
    assert header.closing_booked.amount.amount - header.opening_booked.amount.amount == Decimal(
        "2064.50"
    )
    assert "balance_mismatch" not in err
