"""The OFX/QFX parser against the OFX files of the statement corpus (``../shared/corpus``).

Every file whose content is OFX (``OFXHEADER`` or ``<OFX>``) is either parsed, with its
figures listed in ``EXPECTED`` and checked against the raw text independently (count of
STMTTRN, sum of TRNAMT, LEDGERBAL), or refused with the error listed in
``EXPECTED_REFUSALS`` and the reason. Expected outputs compared:

* egh/ledger-autosync ``fixtures/checking.lgr``: the ledger entries it makes of
  ``checking.ofx`` (date, amount, FITID in its ``ofxid``), for every copy of that file;
* reubano/csv2ofx ``data/converted/*.ofx``: the OFX it wrote from ``data/test/*.csv``,
  compared with the CSV rows (FITID where the CSV has the id, date, signed amount).

jbms/beancount-import ships ``test_fidelity_ira/import_results.beancount`` empty, and its
other inputs are copies of ofxparse's files, so there is nothing more to compare there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from ingest_factories import CORPUS_DIR

from bankrec.contracts import Counterparty, EntryStatus, StatementLine
from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.errors import IngestError

TENANT = "t-ofx-corpus"
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")
_NOT_STATEMENTS = {".md", ".py", ".go", ".java", ".rb", ".php", ".js", ".ts", ".rs", ".xsd"}


class Figures(NamedTuple):
    statements: int
    lines: int
    credits: str
    debits: str
    diagnostics: frozenset[str]


_USUAL = frozenset({"no_opening_balance"})
_OCA = Figures(2, 4, "0.00", "360.00", _USUAL | {"several_transaction_lists"})
_CHECKING = Figures(1, 3, "0.01", "59.51", _USUAL)
_SCHWAB = Figures(1, 4, "20.00", "235.27", _USUAL)
_OCA_DIRS = (
    "account_bank_statement_import_ofx",
    "account_statement_import_ofx",
    "account_statement_import_ofx_by_acctid",
)
_OCA_FILES = "OCA+bank-statement-import/{}/tests/test_ofx_file/{}"
_OFXPARSE = "jseutter+ofxparse/tests/fixtures/"
_BEANCOUNT = "jbms+beancount-import/testdata/source/ofx/"
_AUTOSYNC = "egh+ledger-autosync/fixtures/"
_CSV2OFX = "reubano+csv2ofx/data/converted/"

EXPECTED: dict[str, Figures] = {
    **{_OCA_FILES.format(d, "test_ofx.ofx"): _OCA for d in _OCA_DIRS},
    **{_OCA_FILES.format(d, "test_ofx_iban.ofx"): _OCA for d in _OCA_DIRS},
    "csingley+ofxtools/tests/data/br_nubank_cc.ofx": Figures(1, 6, "0.00", "1280.91", _USUAL),
    "csingley+ofxtools/tests/data/stmtrs.ofx": Figures(1, 2, "0.00", "500.00", _USUAL),
    "csingley+ofxtools/tests/data/stmtrs_euro.ofx": Figures(1, 2, "0.00", "500.00", _USUAL),
    _AUTOSYNC + "accented_characters_latin1.ofx": Figures(
        1, 1, "0.00", "58.73", _USUAL | {"correction"}
    ),
    _AUTOSYNC + "apostrophe.ofx": Figures(1, 1, "0.00", "58.73", _USUAL | {"correction"}),
    _AUTOSYNC + "checking-payee-match.ofx": Figures(1, 1, "0.00", "0.01", _USUAL),
    _AUTOSYNC + "checking.ofx": _CHECKING,
    _AUTOSYNC + "checking_order.ofx": _CHECKING,
    _AUTOSYNC + "comments.ofx": Figures(1, 2, "123.45", "0.00", _USUAL),
    _AUTOSYNC + "no-institution.ofx": _CHECKING,
    _BEANCOUNT + "anzcc.ofx": Figures(1, 1, "0.00", "5.50", _USUAL),
    _BEANCOUNT + "bank_medium.ofx": Figures(1, 3, "0.00", "345.27", _USUAL),
    _BEANCOUNT + "checking.ofx": _CHECKING,
    _BEANCOUNT + "multiple_accounts.ofx": Figures(2, 0, "0.00", "0.00", _USUAL),
    _BEANCOUNT + "suncorp.ofx": Figures(1, 1, "0.00", "16.85", _USUAL),
    _OFXPARSE + "anzcc.ofx": Figures(1, 1, "0.00", "5.50", _USUAL),
    _OFXPARSE + "bank_medium.ofx": Figures(1, 3, "0.00", "345.27", _USUAL),
    _OFXPARSE + "checking.ofx": _CHECKING,
    _OFXPARSE + "fail_nice/empty_balance.ofx": Figures(
        1, 1, "120.00", "0.00", _USUAL | {"missing_balance"}
    ),
    _OFXPARSE + "multiple_accounts.ofx": Figures(2, 0, "0.00", "0.00", _USUAL),
    _OFXPARSE + "multiple_accounts2.ofx": Figures(2, 0, "0.00", "0.00", _USUAL),
    _OFXPARSE + "ofx-v102-empty-tags.ofx": Figures(
        1,
        1,
        "12.34",
        "0.00",
        _USUAL | {"currency_from_transactions", "missing_balance", "missing_fitid"},
    ),
    _OFXPARSE + "suncorp.ofx": Figures(1, 1, "0.00", "16.85", _USUAL),
    _CSV2OFX + "amazon.ofx": Figures(1, 2, "0.00", "11.64", _USUAL),
    _CSV2OFX + "default.ofx": Figures(2, 8, "465000.00", "0.00", _USUAL),
    _CSV2OFX + "gls.ofx": Figures(1, 1, "0.00", "98.76", _USUAL),
    _CSV2OFX + "ingesp.ofx": Figures(1, 10, "1901.00", "1550.79", _USUAL),
    _CSV2OFX + "n26.ofx": Figures(1, 2, "328.00", "328.00", _USUAL),
    _CSV2OFX + "outbank.ofx": Figures(1, 4, "100.00", "135.89", _USUAL),
    _CSV2OFX + "payoneer.ofx": Figures(1, 2, "120.00", "100.00", _USUAL),
    _CSV2OFX + "pcmastercard.ofx": Figures(1, 2, "0.00", "50.31", _USUAL),
    **{_CSV2OFX + f"schwab-checking-baltest-case{n}.ofx": _SCHWAB for n in range(1, 7)},
    _CSV2OFX + "schwab-checking-baltest-case7.ofx": Figures(1, 2, "20.00", "20.00", _USUAL),
    _CSV2OFX + "schwab-checking-msmoney.ofx": _SCHWAB,
    _CSV2OFX + "schwab-checking.ofx": _SCHWAB,
    _CSV2OFX + "stripe-all.ofx": Figures(1, 5, "112.50", "0.00", _USUAL),
    _CSV2OFX + "stripe-default.ofx": Figures(1, 5, "112.50", "0.00", _USUAL),
    "reubano+csv2ofx/data/example/transaction_example.ofx": Figures(1, 1, "0.00", "80.00", _USUAL),
}

_INVESTMENT = ("missing_element", "an investment statement (INVSTMTRS), not a bank statement")
_TRANSFERS = ("missing_element", "transfer responses (INTRARS), not a statement")
_NO_STATEMENT = ("missing_element", "a sign-on or empty response, no statement")
EXPECTED_REFUSALS: dict[str, tuple[str, str]] = {
    **{
        _OCA_FILES.format(d, "test_ofx_wrong.ofx"): (
            "missing_element",
            "deliberately broken: BANKACCTFROM and a DTPOSTED/TRNAMT are commented out",
        )
        for d in _OCA_DIRS
    },
    "csingley+ofxtools/tests/data/invstmtrs.ofx": _INVESTMENT,
    "csingley+ofxtools/tests/data/profrs.ofx": (
        "missing_element",
        "a profile response (PROFRS), no statement",
    ),
    **{
        _AUTOSYNC + name: _INVESTMENT
        for name in (
            "cusip.ofx",
            "fidelity-one-dtsettle.ofx",
            "fidelity.ofx",
            "fidelity_fee.ofx",
            "income.ofx",
            "investment_401k.ofx",
        )
    },
    **{
        _BEANCOUNT + name: _INVESTMENT
        for name in (
            "fidelity-savings.ofx",
            "fidelity.ofx",
            "investment_401k.ofx",
            "td_ameritrade.ofx",
        )
    },
    **{
        _OFXPARSE + name: _INVESTMENT
        for name in (
            "fidelity-savings.ofx",
            "fidelity.ofx",
            "investment_401k.ofx",
            "investment_medium.ofx",
            "td_ameritrade.ofx",
            "tiaacref.ofx",
            "vanguard.ofx",
            "vanguard401k.ofx",
        )
    },
    _OFXPARSE + "account_listing_aggregation.ofx": (
        "missing_element",
        "an account list (ACCTINFORS), no statement",
    ),
    _OFXPARSE + "bank_small.ofx": ("missing_element", "an empty <OFX></OFX>"),
    _OFXPARSE + "error_message.ofx": (
        "missing_element",
        "the bank answered 2000 ERROR General Server Error instead of a statement",
    ),
    _OFXPARSE + "signon_fail.ofx": _NO_STATEMENT,
    _OFXPARSE + "signon_success.ofx": _NO_STATEMENT,
    _OFXPARSE + "signon_success_no_message.ofx": _NO_STATEMENT,
    # ofxparse's "fail_nice" inputs, broken on purpose
    _OFXPARSE + "fail_nice/date_missing.ofx": (
        "invalid_value",
        "DTPOSTED 20120231 is not a date (the other two transactions lack one, noted)",
    ),
    _OFXPARSE + "fail_nice/decimal_error.ofx": ("invalid_value", "TRNAMT '$120' is no amount"),
    _CSV2OFX + "default_w_splits.ofx": _TRANSFERS,
    _CSV2OFX + "mint.ofx": _TRANSFERS,
    "reubano+csv2ofx/data/example/transfer_example.ofx": _TRANSFERS,
}


def _ofx_files() -> list[Path]:
    if not CORPUS_DIR.is_dir():
        return []
    found = []
    for path in sorted(CORPUS_DIR.rglob("*")):
        if not path.is_file() or path.suffix.lower() in _NOT_STATEMENTS:
            continue
        data = path.read_bytes().upper()
        if b"OFXHEADER" in data[:4096] or b"<OFX>" in data:
            found.append(path)
    return found


OFX_FILES = _ofx_files()


def _name(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


def _params(names: list[str]) -> list[Any]:
    if not CORPUS_DIR.is_dir():
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(name, id=name) for name in names]


def _parse(name: str) -> ParseResult:
    return parse_statement_file((CORPUS_DIR / name).read_bytes(), tenant_id=TENANT)


def _lines(result: ParseResult) -> list[StatementLine]:
    return [line for _, lines in result.statements for line in lines]


# ------------------------------------------------------------------ the raw text, read apart


_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_RAW_AMOUNT = re.compile(rb"<TRNAMT>\s*([^<\s]+)", re.IGNORECASE)
_RAW_LEDGER = re.compile(rb"<LEDGERBAL>\s*<BALAMT>\s*([^<\s]+)", re.IGNORECASE)


def _raw_decimal(text: bytes) -> Decimal:
    value = text.decode()
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    return Decimal(value)


def assert_matches_the_raw_text(result: ParseResult, data: bytes) -> None:
    """Counted apart from the parser: STMTTRN elements, the TRNAMT sum, the LEDGERBALs."""
    raw = _COMMENT.sub(b"", data)
    lines = _lines(result)
    assert len(lines) == len(re.findall(rb"<STMTTRN>", raw, re.IGNORECASE))
    raw_sum = sum((_raw_decimal(v) for v in _RAW_AMOUNT.findall(raw)), Decimal(0))
    assert sum((line.amount.amount for line in lines), Decimal(0)) == raw_sum
    ledgers = [_raw_decimal(v) for v in _RAW_LEDGER.findall(raw)]
    closings = [h.closing_booked.amount.amount for h, _ in result.statements if h.closing_booked]
    assert closings == ledgers


def assert_invariants(result: ParseResult, data: bytes) -> None:
    assert result.file_sha256 == file_sha256(data)
    assert result.source_format.startswith("ofx")
    duplicates = any(d.code == "duplicate_statement" for d in result.diagnostics)
    line_ids = [line.line_id for line in _lines(result)]
    if not duplicates:
        assert len(set(line_ids)) == len(line_ids)
    for header, lines in result.statements:
        assert header.line_count == header.entry_count == len(lines)
        assert header.opening_booked is None  # OFX has none, none is invented
        assert header.bank_statement_id is not None
        assert header.bank_statement_id.startswith(f"{header.account.other_id}:")
        assert [line.sequence for line in lines] == list(range(len(lines)))
        assert all(line.statement_id == header.statement_id for line in lines)
        assert all(line.status is EntryStatus.BOOKED for line in lines)
        amounts = [line.amount.amount for line in lines]
        assert header.sum_credits == sum((a for a in amounts if a > 0), Decimal(0))
        assert header.sum_debits == -sum((a for a in amounts if a < 0), Decimal(0))
        if header.period_from is not None and header.period_to is not None:
            assert header.period_from <= header.period_to


# ---------------------------------------------------------------------------- every file


def test_every_ofx_file_of_the_corpus_is_listed() -> None:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"statement corpus not found at {CORPUS_DIR}")
    found = {_name(path) for path in OFX_FILES}
    assert found == set(EXPECTED) | set(EXPECTED_REFUSALS)
    assert not set(EXPECTED) & set(EXPECTED_REFUSALS)


@pytest.mark.parametrize("name", _params(sorted(EXPECTED)))
def test_every_ofx_statement_file_parses_with_its_figures(name: str) -> None:
    data = (CORPUS_DIR / name).read_bytes()
    result = _parse(name)
    expected = EXPECTED[name]
    assert_invariants(result, data)
    assert_matches_the_raw_text(result, data)
    assert len(result.statements) == expected.statements
    assert result.line_count == expected.lines
    assert sum(h.sum_credits for h, _ in result.statements) == Decimal(expected.credits)
    assert sum(h.sum_debits for h, _ in result.statements) == Decimal(expected.debits)
    assert {d.code for d in result.diagnostics} == expected.diagnostics


@pytest.mark.parametrize("name", _params(sorted(EXPECTED_REFUSALS)))
def test_files_without_a_readable_statement_are_refused_with_the_expected_error(
    name: str,
) -> None:
    code, reason = EXPECTED_REFUSALS[name]
    with pytest.raises(IngestError) as refused:
        _parse(name)
    assert refused.value.code == code, f"{name}: {reason}; got {refused.value}"


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"statement corpus not found at {CORPUS_DIR}")
def test_no_corpus_file_read_as_ofx_escapes_the_error_hierarchy() -> None:
    """Every file of the corpus (camt, MT940, CSV, zip, READMEs...) forced through the
    OFX parser gives a result or an ``IngestError``, never a Key/Index/Value error."""
    outcomes: dict[str, int] = {}
    for path in sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file()):
        try:
            parse_statement_file(path.read_bytes(), tenant_id=TENANT, statement_format="ofx")
            outcome = "parsed"
        except IngestError as refused:
            outcome = refused.code
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes["parsed"] == len(EXPECTED)


# ------------------------------------------------------- ledger-autosync's expected ledger


_LEDGER_ENTRY = re.compile(
    r"^(?P<date>\d{4}/\d{2}/\d{2}) (?P<payee>.*)\n  ; ofxid: (?P<ofxid>\S+)\n"
    r"  \S+\s+(?P<amount>-?)\$(?P<value>[\d.,]+)$",
    re.MULTILINE,
)


@pytest.mark.parametrize(
    "name",
    _params(
        [
            _AUTOSYNC + "checking.ofx",
            _AUTOSYNC + "checking_order.ofx",
            _AUTOSYNC + "no-institution.ofx",
            _BEANCOUNT + "checking.ofx",
            _OFXPARSE + "checking.ofx",
        ]
    ),
)
def test_checking_matches_ledger_autosync_expected_ledger(name: str) -> None:
    ledger = (CORPUS_DIR / _AUTOSYNC / "checking.lgr").read_text()
    expected = {}
    for entry in _LEDGER_ENTRY.finditer(ledger):
        _fid, account, fitid = ([*entry["ofxid"].split("."), "", ""])[:3]
        if account == "1452687~7":
            amount = Decimal(entry["amount"] + entry["value"].replace(",", ""))
            day = date(*map(int, entry["date"].split("/")))
            expected[fitid] = (day, amount, entry["payee"])
    assert len(expected) == 3
    lines = {line.bank_reference: line for line in _lines(_parse(name))}
    assert set(lines) == set(expected)
    for fitid, (day, amount, payee) in expected.items():
        line = lines[fitid]
        assert (line.booking_date, line.amount.amount) == (day, amount)
        # ledger-autosync takes the memo when the name is a cut-off start of it
        assert payee in (line.remittance_text, line.counterparty and line.counterparty.name)


# ----------------------------------------------------------- csv2ofx: CSV in, OFX out


def _ymd(text: str) -> date:
    year, month, day = text[:10].split("-")
    return date(int(year), int(month), int(day))


def _mdy(text: str) -> date:
    month, day, year = text.split("/")
    return date(int(year) + (2000 if len(year) == 2 else 0), int(month), int(day))


def _dmy_dots(text: str) -> date:
    day, month, year = text.split(".")
    return date(int(year), int(month), int(day))


def _money(text: str) -> Decimal:
    """``$1,036.47`` and ``-98,76`` (decimal comma) alike; blank is zero."""
    value = text.replace("$", "").strip()
    if not value:
        return Decimal(0)
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    return Decimal(value.replace(",", ""))


class CsvPair(NamedTuple):
    csv: str
    date: Callable[[dict[str, str]], date] | None
    amount: Callable[[dict[str, str]], Decimal]
    fitid: str | None = None  # the CSV column holding the FITID; else rows pair in order
    delimiter: str = ","
    encoding: str = "utf-8"


def _schwab(csv_name: str) -> CsvPair:
    return CsvPair(
        csv_name,
        lambda row: _mdy(row["Date"]),
        lambda row: _money(row["Deposit"]) - _money(row["Withdrawal"]),
    )


CSV_PAIRS: dict[str, CsvPair] = {
    "default.ofx": CsvPair(
        "default.csv", lambda row: _ymd(row["Date"]), lambda row: Decimal(row["Amount"]), "Row"
    ),
    "payoneer.ofx": CsvPair(
        "payoneer.csv",
        lambda row: _mdy(row["Transaction Date"]),
        lambda row: _money(row["Credit Amount"]) - _money(row["Debit Amount"]),
        "Transaction ID",
    ),
    "stripe-default.ofx": CsvPair(
        "stripe-default.csv",
        lambda row: _ymd(row["created"]),
        lambda row: _money(row["amount"]),
        "id",
    ),
    "stripe-all.ofx": CsvPair(
        "stripe-all.csv", lambda row: _ymd(row["created"]), lambda row: _money(row["amount"]), "id"
    ),
    "amazon.ofx": CsvPair(
        "amazon.csv", lambda row: _ymd(row["date"]), lambda row: -_money(row["total"]), "order id"
    ),
    "pcmastercard.ofx": CsvPair(
        "pcmastercard.csv", lambda row: _mdy(row["Date"]), lambda row: -_money(row["Amount"])
    ),
    "n26.ofx": CsvPair(
        "n26.csv", lambda row: _ymd(row["Booking Date"]), lambda row: _money(row["Amount (EUR)"])
    ),
    "outbank.ofx": CsvPair(
        "outbank.csv", lambda row: _mdy(row["Date"]), lambda row: _money(row["Amount"]), None, ";"
    ),
    "gls.ofx": CsvPair(
        "gls.csv",
        lambda row: _dmy_dots(row["Buchungstag"]),
        lambda row: _money(row["Betrag"]),
        None,
        ";",
        "cp1252",
    ),
    # the CSV's day-first dates were read month-first by csv2ofx: amounts only
    "ingesp.ofx": CsvPair("ingesp.csv", None, lambda row: _money(row["amount"])),
    "schwab-checking.ofx": _schwab("schwab-checking.csv"),
    "schwab-checking-msmoney.ofx": _schwab("schwab-checking.csv"),
    **{
        f"schwab-checking-baltest-case{n}.ofx": _schwab(f"schwab-checking-baltest-case{n}.csv")
        for n in range(1, 8)
    },
}


@pytest.mark.parametrize("ofx_name", _params(sorted(CSV_PAIRS)))
def test_csv2ofx_output_matches_its_csv_input(ofx_name: str) -> None:
    pair = CSV_PAIRS[ofx_name]
    folder = CORPUS_DIR / "reubano+csv2ofx" / "data"
    text = (folder / "test" / pair.csv).read_bytes().decode(pair.encoding)
    rows = list(csv.DictReader(io.StringIO(text), delimiter=pair.delimiter))
    lines = _lines(
        parse_statement_file((folder / "converted" / ofx_name).read_bytes(), tenant_id=TENANT)
    )
    if pair.fitid is None:
        assert len(rows) == len(lines)
        paired = list(zip(rows, lines, strict=True))
    else:
        by_id = {row[pair.fitid]: row for row in rows}
        paired = [(by_id[str(line.bank_reference)], line) for line in lines]
    for row, line in paired:
        assert line.amount.amount == pair.amount(row)
        if pair.date is not None:
            assert line.booking_date == pair.date(row)
    assert len(paired) == len(lines) > 0


@pytest.mark.parametrize("ofx_name", _params(["default.ofx"]))
def test_csv2ofx_default_splits_accounts_and_keeps_check_numbers(ofx_name: str) -> None:
    folder = CORPUS_DIR / "reubano+csv2ofx" / "data"
    rows = list(csv.DictReader(io.StringIO((folder / "test" / "default.csv").read_text())))
    result = parse_statement_file((folder / "converted" / ofx_name).read_bytes(), tenant_id=TENANT)
    by_statement = [{line.bank_reference for line in lines} for _, lines in result.statements]
    accounts = [{row["Row"] for row in rows if row["Account"] == a} for a in ("Cash", "Checking")]
    assert by_statement == accounts
    for line in _lines(result):
        row = next(row for row in rows if row["Row"] == line.bank_reference)
        assert line.customer_reference == row["Num"]
        assert line.counterparty == Counterparty(name=row["Description"])


@pytest.mark.parametrize(
    "ofx_name", _params([f"schwab-checking-baltest-case{n}.ofx" for n in range(1, 8)])
)
def test_csv2ofx_ledger_balance_is_the_latest_running_balance(ofx_name: str) -> None:
    folder = CORPUS_DIR / "reubano+csv2ofx" / "data"
    csv_name = ofx_name.replace(".ofx", ".csv")
    rows = list(csv.DictReader(io.StringIO((folder / "test" / csv_name).read_text())))
    [(header, _)] = parse_statement_file(
        (folder / "converted" / ofx_name).read_bytes(), tenant_id=TENANT
    ).statements
    if header.closing_booked is None:
        return  # csv2ofx writes no LEDGERBAL where the latest balance is ambiguous
    balances = {_money(row["RunningBalance"]) for row in rows}
    assert header.closing_booked.amount.amount in balances
    assert header.closing_booked.amount.amount == Decimal("878.47")


# ------------------------------------------------------------ values read from the files


@pytest.mark.parametrize("name", _params([_OFXPARSE + "checking.ofx"]))
def test_ofxparse_checking(name: str) -> None:
    result = _parse(name)
    assert result.source_format == "ofx.102"
    [(header, lines)] = result.statements
    assert header.bank_statement_id == "1452687~7:2000-01-01T07:00:00/2013-05-25T06:00:00"
    assert header.closing_booked is not None
    assert header.closing_available is not None
    assert header.closing_booked.amount.amount == Decimal("100.99")
    assert header.closing_available.amount.amount == Decimal("75.99")
    assert str(header.created_at) == "2013-05-25 22:57:31+00:00"
    assert [line.customer_reference for line in lines] == [None, None, "319"]
    assert [
        line.bank_transaction_code.proprietary for line in lines if line.bank_transaction_code
    ] == ["CREDIT", "DEBIT", "CHECK"]


@pytest.mark.parametrize("name", _params(["csingley+ofxtools/tests/data/stmtrs_euro.ofx"]))
def test_decimal_commas_read_as_the_dotted_original(name: str) -> None:
    euro = _parse(name)
    dotted = _parse("csingley+ofxtools/tests/data/stmtrs.ofx")
    assert [line.model_dump() for line in _lines(euro)] == [
        line.model_dump() for line in _lines(dotted)
    ]
    assert euro.statements[0][0].closing_booked == dotted.statements[0][0].closing_booked


@pytest.mark.parametrize("name", _params(["csingley+ofxtools/tests/data/br_nubank_cc.ofx"]))
def test_nubank_card_statement_with_unclosed_transaction_list(name: str) -> None:
    [(header, lines)] = _parse(name).statements
    assert header.account.currency == "BRL"
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("-1280.91")
    assert str(header.closing_booked.date) == "2024-03-25"
    assert sum((line.amount.amount for line in lines), Decimal(0)) == Decimal("-1280.91")
    assert str(header.created_at) == "2024-04-02 00:00:00-03:00"


@pytest.mark.parametrize("name", _params([_OFXPARSE + "suncorp.ofx"]))
def test_suncorp_cdata_names(name: str) -> None:
    [line] = _lines(_parse(name))
    assert line.counterparty == Counterparty(name="EFTPOS WDL HANDYWAY ALDI STORE")
    assert line.remittance_text == "EFTPOS WDL HANDYWAY ALDI STORE   GEELONG WEST VICAU"
    assert line.customer_reference is None  # CHECKNUM 0


@pytest.mark.parametrize("name", _params([_AUTOSYNC + "accented_characters_latin1.ofx"]))
def test_latin1_file_declared_1252(name: str) -> None:
    [line] = _lines(_parse(name))
    assert line.counterparty == Counterparty(name="Virement Interac à: Jean")


@pytest.mark.parametrize("name", _params([_OCA_FILES.format(_OCA_DIRS[1], "test_ofx.ofx")]))
def test_oca_bank_and_card_statements(name: str) -> None:
    (bank, bank_lines), (card, card_lines) = _parse(name).statements
    assert [line.bank_reference for line in bank_lines] == ["219378", "219379", "219380", "219381"]
    assert [line.counterparty.name for line in bank_lines if line.counterparty] == [
        "Agrolait",
        "China Export",
        "Axelor Scuba",
        "China Scuba",
    ]
    assert card.bank_statement_id == "123412341234:asof-2013-08-31T16:51:53"
    assert card_lines == []
    assert card.closing_booked is not None
    assert card.closing_booked.amount.amount == Decimal("-562.00")
    assert bank.closing_booked is not None
    assert bank.closing_booked.amount.amount == Decimal("2156.56")
