"""``bankrec-ingest parse``: JSON lines on stdout, notes and refusals on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_factories import DEMO_STATEMENT, Entry, Statement, camt_file

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
