"""The parser against the real files of the statement corpus (``../shared/corpus``).

Every camt file either parses or is refused with one of ingest's own errors, never an
uncaught lxml/KeyError/...; where a statement has opening and closing balances, opening +
booked lines = closing is checked independently here and must agree with the parser's
``balance_mismatch`` diagnostic. Expected outputs shipped by genkgo/camt (JSON) and OCA
(``golden-*.pydata``) are compared field by field. The corpus is read in place; without it
these tests skip with a message.
"""

from __future__ import annotations

import ast
import collections
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ingest_factories import CORPUS_DIR, camt_corpus_files

from bankrec.contracts import EntryStatus, StatementLine, currency_exponent
from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.errors import IngestError

TENANT = "t-corpus"
_CAMT_053 = re.compile(rb"tech:xsd:camt\.053\.")

# Files of the corpus that are refused, and why: test fixtures for namespace detection with
# an empty <Document>, and genkgo's deliberately wrong file (no <Stmt>).
EXPECTED_REFUSALS = {
    "genkgo+camt/test/data/camt053.v2.wrong.xml": "missing_element",
    "railslove+camt_parser/spec/fixtures/invalid_namespace.xml": "missing_element",
    "railslove+camt_parser/spec/fixtures/valid_namespace.xml": "missing_element",
    "viafintech+camt_parser/spec/fixtures/053/valid_namespace.xml": "missing_element",
    "viafintech+camt_parser/spec/fixtures/general/invalid_namespace.xml": "missing_element",
    "viafintech+camt_parser/spec/fixtures/052/valid_namespace.xml": "missing_element",
    "genkgo+camt/test/data/camt052.v1.xml": None,  # parses: camt.052 version 01
    "hbci4j+hbci4java/src/test/resources/org/hbci4java/hbci/sepa/test-camt-parse-invalid.xml": (
        "unknown_namespace"
    ),
    "hbci4j+hbci4java/src/test/resources/org/kapott/hbci4java/sepa/test-camt-parse-invalid.xml": (
        "unknown_namespace"
    ),
    "moov-io+iso20022/test/testdata/valid_camt_v09.xml": "unknown_namespace",  # camt.055
}


CAMT_053_FILES = camt_corpus_files(_CAMT_053)
CAMT_FILES = camt_corpus_files()
ALL_FILES = sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file()) if CORPUS_DIR.is_dir() else []
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")


def _name(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


def _params(files: list[Path]) -> list[Any]:
    if not files:
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(path, id=_name(path)) for path in files]


def _parse_or_refuse(path: Path) -> ParseResult | IngestError:
    try:
        return parse_statement_file(path.read_bytes(), tenant_id=TENANT)
    except IngestError as refused:
        return refused


def _entry_groups(lines: list[StatementLine]) -> list[list[StatementLine]]:
    """Lines grouped by the entry they came from (details of a batch follow each other)."""
    groups: list[list[StatementLine]] = []
    for line in lines:
        if line.detail_index is None or line.detail_index == 0:
            groups.append([])
        groups[-1].append(line)
    return groups


def assert_invariants(result: ParseResult, data: bytes) -> None:
    """What must hold for every parsed file, whatever the bank wrote."""
    assert result.file_sha256 == file_sha256(data)
    mismatched = {d.statement for d in result.diagnostics if d.code == "balance_mismatch"}
    duplicates = any(d.code == "duplicate_statement" for d in result.diagnostics)
    line_ids = [line.line_id for _, lines in result.statements for line in lines]
    if not duplicates:
        assert len(set(line_ids)) == len(line_ids)
    for header, lines in result.statements:
        assert header.line_count == len(lines)
        assert [line.sequence for line in lines] == list(range(len(lines)))
        assert all(line.statement_id == header.statement_id for line in lines)
        assert all(line.account == header.account for line in lines)
        groups = _entry_groups(lines)
        assert len(groups) == header.entry_count
        for group in groups:
            if len(group) > 1:  # a split batch adds up to its entry
                total = sum((line.amount.amount for line in group), Decimal(0))
                assert group[0].entry_amount is not None
                assert total == group[0].entry_amount.amount
        currency = header.account.currency
        entry_amounts = [
            group[0].entry_amount.amount if group[0].entry_amount else group[0].amount.amount
            for group in groups
            if group[0].amount.currency == currency
        ]
        assert header.sum_credits == sum((a for a in entry_amounts if a > 0), Decimal(0))
        assert header.sum_debits == -sum((a for a in entry_amounts if a < 0), Decimal(0))

        opening, closing = header.opening_booked, header.closing_booked
        if opening is None or closing is None or opening.amount.currency != closing.amount.currency:
            continue
        booked = sum(
            (
                line.amount.amount
                for line in lines
                if line.status is EntryStatus.BOOKED
                and line.amount.currency == closing.amount.currency
            ),
            Decimal(0),
        )
        adds_up = opening.amount.amount + booked == closing.amount.amount
        assert adds_up == (header.bank_statement_id not in mismatched), (
            f"{header.bank_statement_id}: opening {opening.amount} + booked {booked} "
            f"vs closing {closing.amount}; diagnostics {result.diagnostics}"
        )


@pytest.mark.parametrize("path", _params(CAMT_053_FILES))
def test_every_camt_053_file_parses_or_is_refused_with_a_project_error(path: Path) -> None:
    outcome = _parse_or_refuse(path)
    expected = EXPECTED_REFUSALS.get(_name(path))
    if isinstance(outcome, IngestError):
        assert outcome.code == expected, f"{_name(path)} refused: {outcome.code}: {outcome}"
        return
    assert expected is None, f"{_name(path)} parsed but {expected} was expected"
    assert outcome.statements
    assert all(h.source_format.startswith("camt.053.001.") for h, _ in outcome.statements)
    assert_invariants(outcome, path.read_bytes())


@pytest.mark.parametrize("path", _params([p for p in CAMT_FILES if p not in CAMT_053_FILES]))
def test_every_camt_052_and_054_file_parses_or_is_refused_with_a_project_error(
    path: Path,
) -> None:
    outcome = _parse_or_refuse(path)
    expected = EXPECTED_REFUSALS.get(_name(path))
    if isinstance(outcome, IngestError):
        assert outcome.code == expected, f"{_name(path)} refused: {outcome.code}: {outcome}"
        return
    assert expected is None
    assert_invariants(outcome, path.read_bytes())


@pytest.mark.skipif(not ALL_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_no_file_of_the_corpus_escapes_the_error_hierarchy() -> None:
    """Every corpus file (MT940, OFX, CSV, zip, XSDs, READMEs too) gets a result or an
    ``IngestError``: never an lxml, Key, Value or Unicode error."""
    outcomes: collections.Counter[str] = collections.Counter()
    for path in ALL_FILES:
        outcome = _parse_or_refuse(path)
        outcomes["parsed" if isinstance(outcome, ParseResult) else outcome.code] += 1
    print(f"\nwhole corpus, {len(ALL_FILES)} files: {dict(outcomes)}")
    assert sum(outcomes.values()) == len(ALL_FILES)


@pytest.mark.skipif(not CAMT_053_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_corpus_figures() -> None:
    """How many camt.053 files parse, how many are refused and why (printed with -s)."""
    outcomes: collections.Counter[str] = collections.Counter()
    lines = statements = balance_checked = mismatched = 0
    for path in CAMT_053_FILES:
        outcome = _parse_or_refuse(path)
        if isinstance(outcome, IngestError):
            outcomes[f"refused: {outcome.code}"] += 1
            continue
        outcomes["parsed"] += 1
        statements += len(outcome.statements)
        lines += outcome.line_count
        for header, _ in outcome.statements:
            if header.opening_booked and header.closing_booked:
                balance_checked += 1
        mismatched += sum(1 for d in outcome.diagnostics if d.code == "balance_mismatch")
    print(
        f"\ncamt.053 files: {len(CAMT_053_FILES)}; {dict(outcomes)}; {statements} statements, "
        f"{lines} lines; balance check on {balance_checked} statements, "
        f"{mismatched} do not add up (a diagnostic)"
    )
    refused = sum(n for outcome, n in outcomes.items() if outcome.startswith("refused"))
    expected_refused = sum(
        1 for path in CAMT_053_FILES if EXPECTED_REFUSALS.get(_name(path)) is not None
    )
    assert refused == expected_refused
    assert outcomes["parsed"] == len(CAMT_053_FILES) - expected_refused


# -------------------------------------------------------------- genkgo/camt expected JSON


def _genkgo_pairs() -> list[Any]:
    folder = CORPUS_DIR / "genkgo+camt" / "test" / "data"
    if not folder.is_dir():
        return [pytest.param(None, None, marks=_NO_CORPUS, id="no-corpus")]
    return [
        pytest.param(xml, xml.with_suffix(".json"), id=xml.name)
        for xml in sorted(folder.glob("camt*.xml"))
        if xml.with_suffix(".json").is_file()
    ]


def _minor_units(amount: Decimal, currency: str) -> int:
    return int((amount * (Decimal(10) ** currency_exponent(currency))).to_integral_value())


_GENKGO_BALANCE = {
    "opening": "opening_booked",
    "closing": "closing_booked",
    "closing_available": "closing_available",
}


@pytest.mark.parametrize(("xml", "expected_json"), _genkgo_pairs())
def test_genkgo_expected_entries_and_balances(xml: Path, expected_json: Path) -> None:
    expected = json.loads(expected_json.read_text())
    result = parse_statement_file(xml.read_bytes(), tenant_id=TENANT)
    ours = {header.bank_statement_id: (header, lines) for header, lines in result.statements}
    compared = 0
    for entry in expected["getEntries"]:
        record = entry["getRecord"]
        if not isinstance(record, dict):
            continue  # genkgo's JSON elides a repeated record
        header, lines = ours[record["getId"]]
        group = _entry_groups(lines)[entry["getIndex"]]
        amount = group[0].entry_amount or group[0].amount
        money = entry["getAmount"]
        assert amount.currency == money["getCurrency"]["getCode"]
        assert _minor_units(amount.amount, amount.currency) == int(money["getAmount"])
        assert (amount.amount > 0) == (entry["getCreditDebitIndicator"] == "CRDT")
        assert group[0].reversal == bool(entry["getReversalIndicator"])
        status = {"BOOK": EntryStatus.BOOKED, "PDNG": EntryStatus.PENDING}
        if entry["getStatus"] in status:
            assert group[0].status is status[entry["getStatus"]]
        details = entry["getTransactionDetails"] or []
        assert len(group) in (1, len(details))
        for kind, balance in _first_balances(record.get("getBalances", [])).items():
            ours_balance = getattr(header, _GENKGO_BALANCE[kind])
            assert ours_balance is not None, kind
            assert ours_balance.amount.currency == balance["getAmount"]["getCurrency"]["getCode"]
            assert _minor_units(ours_balance.amount.amount, ours_balance.amount.currency) == int(
                balance["getAmount"]["getAmount"]
            )
        compared += 1
    if not expected["getEntries"]:
        assert all(not lines for _, lines in result.statements)
    else:
        assert compared > 0


def _first_balances(balances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for balance in balances:
        if balance["getType"] in _GENKGO_BALANCE and balance["getType"] not in found:
            found[balance["getType"]] = balance
    return found


# ------------------------------------------------------- OCA bank-statement-import golden


def _oca_pairs() -> list[Any]:
    folder = (
        CORPUS_DIR
        / "OCA+bank-statement-import"
        / "account_bank_statement_import_camt"
        / "test_files"
    )
    if not folder.is_dir():
        return [pytest.param(None, None, marks=_NO_CORPUS, id="no-corpus")]
    return [
        pytest.param(folder / "test-camt053", folder / "golden-camt053.pydata", id="camt053"),
        pytest.param(
            folder / "test-camt053-txdtls", folder / "golden-camt053-txdtls.pydata", id="txdtls"
        ),
    ]


@pytest.mark.parametrize(("statement_file", "golden"), _oca_pairs())
def test_oca_golden_statements(statement_file: Path, golden: Path) -> None:
    _currency, account_number, statements = ast.literal_eval(golden.read_text())
    result = parse_statement_file(statement_file.read_bytes(), tenant_id=TENANT)
    assert len(result.statements) == len(statements)
    for (header, lines), expected in zip(result.statements, statements, strict=True):
        assert header.account.iban == account_number
        assert header.bank_statement_id == expected["name"]
        assert header.opening_booked is not None
        assert header.closing_booked is not None
        assert header.opening_booked.amount.amount == Decimal(str(expected["balance_start"]))
        assert header.closing_booked.amount.amount == Decimal(str(expected["balance_end_real"]))
        transactions = expected["transactions"]
        assert len(lines) == len(transactions)
        for line, transaction in zip(lines, transactions, strict=True):
            assert line.amount.amount == Decimal(str(transaction["amount"]))
            assert str(line.booking_date) == transaction["date"]
            assert str(line.value_date) == transaction["value_date"]
            assert line.counterparty is not None
            assert line.counterparty.name == transaction["partner_name"]
            assert line.counterparty.account_number == transaction["account_number"]
            if "account_bic" in transaction:
                assert line.counterparty.bic == transaction["account_bic"]
