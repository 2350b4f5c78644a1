"""The BAI2 parser against the BAI2 files of the statement corpus (``../shared/corpus``).

No project there ships expected outputs for BAI2, so the oracle is the files themselves:
their 49/98/99 trailers (control totals and record counts) and 100/400 totals, which the
parser checks and reports as diagnostics, and opening (010) + lines = closing (015). Each
file's figures and the diagnostics it must give are listed below, measured once and checked
by hand against the records; the clean files give no control-figure diagnostic, i.e. the
parser's sums and counts agree with the bank's trailers. moov-io's test files 4 and 5 (and
the sh-vardhantallapalli copy of 5) carry trailers that do not match their records (a
synthetic test file), which the parser reports rather than refuses.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from ingest_factories import CORPUS_DIR

from bankrec.contracts import EntryStatus
from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.domain.parsers.bai2 import direction_of
from bankrec.ingest.errors import IngestError

TENANT = "t-bai2-corpus"
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")


class Figures(NamedTuple):
    statements: int
    lines: int
    credits: str  # sum over the file's statements
    debits: str
    diagnostics: frozenset[str]


_TRAILERS_WRONG = frozenset(
    {
        "account_count_mismatch",
        "balance_mismatch",
        "control_total_mismatch",
        "record_count_mismatch",
        "summary_mismatch",
    }
)
EXPECTED: dict[str, Figures] = {
    "ministryofjustice+bai2/tests/data/account_trailer_amount_blank_example.bai2": Figures(
        2, 0, "0.00", "0.00", frozenset()
    ),
    # opening 100.00 + a credit of 0.01 is not the closing 100.00: the file says so
    "ministryofjustice+bai2/tests/data/citi_example.bai2": Figures(
        1, 1, "0.01", "0.00", frozenset({"balance_mismatch"})
    ),
    "ministryofjustice+bai2/tests/data/example.bai2": Figures(
        1, 1, "0.01", "0.00", frozenset({"balance_mismatch"})
    ),
    "ministryofjustice+bai2/tests/data/nwb_example.bai2": Figures(
        1, 5, "0.89", "27.65", frozenset()
    ),
    "ministryofjustice+bai2/tests/data/svb_us_example.bai2": Figures(
        2, 2, "13959.96", "0.00", frozenset()
    ),
    "moov-io+bai2/test/testdata/sample1.txt": Figures(
        2, 17, "3200.00", "3200.00", frozenset({"repeated_account"})
    ),
    # account 9876543210 and 4589761203 report 100/400 totals bigger than their details
    "moov-io+bai2/test/testdata/sample2.txt": Figures(
        5, 4, "309500.00", "0.00", frozenset({"group_status", "summary_mismatch"})
    ),
    "moov-io+bai2/test/testdata/sample3.txt": Figures(
        15, 26, "397.13", "594.18", frozenset({"repeated_account", "wrapped_record"})
    ),
    "moov-io+bai2/test/testdata/sample4-continuations-newline-delimited.txt": Figures(
        5, 17, "6007.31", "313490.55", _TRAILERS_WRONG
    ),
    "moov-io+bai2/test/testdata/sample5-issue113.txt": Figures(
        5, 20, "37986021.19", "318125.17", _TRAILERS_WRONG | {"record_separator"}
    ),
    "sh-vardhantallapalli+bai2-reader/app/bai2_reader/samples/sample_1.bai": Figures(
        5, 20, "37986021.19", "318125.17", _TRAILERS_WRONG | {"record_separator"}
    ),
    "sh-vardhantallapalli+bai2-reader/app/src/samples/sample_1.bai": Figures(
        5, 20, "37986021.19", "318125.17", _TRAILERS_WRONG | {"record_separator"}
    ),
}

# Corpus files that are BAI2 test inputs but not BAI2 files: refused, with the reason.
EXPECTED_REFUSALS: dict[str, tuple[str, str]] = {
    # moov-io's parse-error sample starts with an "00" record instead of the 01 header
    "moov-io+bai2/test/testdata/errors/sample-parseError.txt": (
        "format_mismatch",
        "starts with an 00 record, not a BAI2 file header",
    ),
}
FUZZ_SEEDS = "moov-io+bai2/test/fuzz/testdata/fuzz/FuzzReaderWriter_ValidFiles"

_CONTROL_FIGURES = {
    "control_total_mismatch",
    "record_count_mismatch",
    "account_count_mismatch",
    "group_count_mismatch",
}


def _bai2_files() -> list[Path]:
    """Every corpus file whose content starts with a BAI2 file header."""
    if not CORPUS_DIR.is_dir():
        return []
    found = []
    for path in sorted(CORPUS_DIR.rglob("*")):
        if path.is_file() and path.suffix.lower() not in {".md", ".go", ".py", ".java"}:
            head = path.read_bytes()[:64].lstrip(b"\xef\xbb\xbf").lstrip()
            if head.startswith(b"01,"):
                found.append(path)
    return found


BAI2_FILES = _bai2_files()


def _name(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


def _params(names: list[str]) -> list[Any]:
    if not CORPUS_DIR.is_dir():
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(name, id=name) for name in names]


def _parse(name: str) -> ParseResult:
    return parse_statement_file((CORPUS_DIR / name).read_bytes(), tenant_id=TENANT)


def assert_invariants(result: ParseResult, data: bytes) -> None:
    """What holds for every parsed BAI2 file, whatever its bank wrote."""
    assert result.file_sha256 == file_sha256(data)
    assert result.source_format == "bai2"
    line_ids = [line.line_id for _, lines in result.statements for line in lines]
    assert len(set(line_ids)) == len(line_ids)
    statement_ids = [header.statement_id for header, _ in result.statements]
    assert len(set(statement_ids)) == len(statement_ids)
    mismatched = {d.statement for d in result.diagnostics if d.code == "balance_mismatch"}
    for header, lines in result.statements:
        assert header.line_count == header.entry_count == len(lines)
        assert [line.sequence for line in lines] == list(range(len(lines)))
        assert all(line.statement_id == header.statement_id for line in lines)
        assert all(line.booking_date == header.period_to for line in lines)
        for line in lines:
            code = line.bank_transaction_code
            assert code is not None
            assert code.proprietary_issuer == "BAI"
            assert code.proprietary is not None
            assert len(code.proprietary) == 3
            # the sign follows the type code: 100-399 credits, 400-699 debits
            if line.status is EntryStatus.BOOKED and line.amount.amount:
                assert (line.amount.amount > 0) == (direction_of(code.proprietary) == 1)
        amounts = [line.amount.amount for line in lines]
        assert header.sum_credits == sum((a for a in amounts if a > 0), Decimal(0))
        assert header.sum_debits == -sum((a for a in amounts if a < 0), Decimal(0))
        opening, closing = header.opening_booked, header.closing_booked
        if opening is not None and closing is not None:
            booked = sum(
                (line.amount.amount for line in lines if line.status is EntryStatus.BOOKED),
                Decimal(0),
            )
            adds_up = opening.amount.amount + booked == closing.amount.amount
            assert adds_up == (header.bank_statement_id not in mismatched)


def test_every_bai2_file_of_the_corpus_is_listed() -> None:
    """A new BAI2 file in the corpus must be added to EXPECTED (or EXPECTED_REFUSALS)."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"statement corpus not found at {CORPUS_DIR}")
    assert {_name(path) for path in BAI2_FILES} == set(EXPECTED)


@pytest.mark.parametrize("name", _params(sorted(EXPECTED)))
def test_every_bai2_file_parses_with_its_figures_and_diagnostics(name: str) -> None:
    data = (CORPUS_DIR / name).read_bytes()
    result = _parse(name)
    expected = EXPECTED[name]
    assert_invariants(result, data)
    assert len(result.statements) == expected.statements
    assert result.line_count == expected.lines
    assert sum(h.sum_credits for h, _ in result.statements) == Decimal(expected.credits)
    assert sum(h.sum_debits for h, _ in result.statements) == Decimal(expected.debits)
    assert {d.code for d in result.diagnostics} == expected.diagnostics
    if not expected.diagnostics & _CONTROL_FIGURES:
        # the parser's control totals and record counts agree with the file's trailers
        assert not [d for d in result.diagnostics if d.code in _CONTROL_FIGURES]


@pytest.mark.parametrize("name", _params(sorted(EXPECTED_REFUSALS)))
def test_known_non_bai2_inputs_are_refused_with_the_expected_error(name: str) -> None:
    code, reason = EXPECTED_REFUSALS[name]
    with pytest.raises(IngestError) as refused:
        parse_statement_file(
            (CORPUS_DIR / name).read_bytes(), tenant_id=TENANT, statement_format="bai2"
        )
    assert refused.value.code == code, reason


def _fuzz_seeds() -> list[Any]:
    folder = CORPUS_DIR / FUZZ_SEEDS
    if not folder.is_dir():
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(path, id=path.name) for path in sorted(folder.iterdir())]


@pytest.mark.parametrize("path", _fuzz_seeds())
def test_moov_fuzz_seeds_are_refused_as_not_bai2(path: Path) -> None:
    """Go fuzz corpus files: ``go test fuzz v1`` then a Go string literal with the input."""
    literal = path.read_text().splitlines()[1].removeprefix("string(").removesuffix(")")
    data = ast.literal_eval("b" + literal)
    with pytest.raises(IngestError) as refused:
        parse_statement_file(data, tenant_id=TENANT, statement_format="bai2")
    assert refused.value.code == "format_mismatch"


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"statement corpus not found at {CORPUS_DIR}")
def test_no_corpus_file_read_as_bai2_escapes_the_error_hierarchy() -> None:
    """Every file of the corpus (camt, MT940, CSV, zip, READMEs...) forced through the
    BAI2 parser gives a result or an ``IngestError``, never a Key/Index/Value error."""
    outcomes: dict[str, int] = {}
    for path in sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file()):
        try:
            parse_statement_file(path.read_bytes(), tenant_id=TENANT, statement_format="bai2")
            outcome = "parsed"
        except IngestError as refused:
            outcome = refused.code
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert outcomes["parsed"] == len(EXPECTED)


# ----------------------------------------------------------- values read from the files


@pytest.mark.parametrize("name", _params(["ministryofjustice+bai2/tests/data/citi_example.bai2"]))
def test_citi_detail_with_value_date_references_and_88_text(name: str) -> None:
    [(header, [line])] = _parse(name).statements
    assert header.bank_statement_id == "77777777:2015-07-15"
    assert header.account.currency == "GBP"
    assert line.amount.amount == Decimal("0.01")
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "191"
    assert str(line.value_date) == "2015-07-15"
    assert (line.bank_reference, line.customer_reference) == ("1234567890", "RP12312312312312")
    assert line.remittance_text is not None
    assert line.remittance_text.startswith("FR:FP SIP INCOMING ENDT:20150715 TRID:")
    assert line.remittance_text.endswith("BO:11111111 BO1:DOE JO")


@pytest.mark.parametrize("name", _params(["ministryofjustice+bai2/tests/data/nwb_example.bai2"]))
def test_natwest_balances_and_lines_add_up(name: str) -> None:
    [(header, lines)] = _parse(name).statements
    assert header.account.other_id == "88888888 600004"
    assert header.opening_booked is not None
    assert header.closing_booked is not None
    assert header.closing_available is not None
    assert header.opening_booked.amount.amount == Decimal("365.21")
    assert header.closing_booked.amount.amount == Decimal("338.45")
    assert header.closing_available.amount.amount == Decimal("338.45")
    assert [line.amount.amount for line in lines] == [
        Decimal(v) for v in ("-9.71", "-1.00", "-1.23", "-15.71", "0.89")
    ]
    # the last detail's text runs over two 88 records
    assert lines[-1].remittance_text == (
        "TFR XBANKGO24007680SJ CAT JPY 2 GBPXBANKGO24007680BGC INTERNATIONAL-5373 CLIE "
        "NT SECCY AC TFR"
    )


@pytest.mark.parametrize("name", _params(["ministryofjustice+bai2/tests/data/svb_us_example.bai2"]))
def test_svb_two_days_chain_their_balances(name: str) -> None:
    (first, first_lines), (second, second_lines) = _parse(name).statements
    assert [first.bank_statement_id, second.bank_statement_id] == [
        "1234567890:2022-02-01",
        "1234567890:2022-02-02",
    ]
    assert first.closing_booked is not None
    assert second.opening_booked is not None
    assert first.closing_booked.amount == second.opening_booked.amount
    assert first_lines[0].amount.amount == Decimal("4901.96")
    assert second_lines[0].amount.amount == Decimal("9058.00")
    assert first_lines[0].bank_reference == "172629"
    assert first_lines[0].remittance_text == "SOME PAYMENT ACH OFFSET"


@pytest.mark.parametrize("name", _params(["moov-io+bai2/test/testdata/sample2.txt"]))
def test_moov_sample2_funds_types_and_continued_summaries(name: str) -> None:
    statements = _parse(name).statements
    assert [h.account.other_id for h, _ in statements] == [
        "0123456789",
        "9876543210",
        "4589761203",
        "0975312468",
        "7890654321",
    ]
    [split] = statements[0].lines
    assert split.additional_info == (
        "availability: immediate 1,000.00 USD, one day 2,000.00 USD, two or more days 1,500.00 USD"
    )
    [lockbox] = statements[1].lines
    assert lockbox.remittance_text == "LOCK BOX NO.68751"
    letter_of_credit, _ = statements[2].lines
    assert str(letter_of_credit.value_date) == "2004-06-22"
    assert letter_of_credit.bank_reference == "SP4738"
    assert letter_of_credit.remittance_text == (
        "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO"
    )
    # an opening ledger continued over 88 records, negative: -5,000.00
    assert statements[1][0].opening_booked is not None
    assert statements[1][0].opening_booked.amount.amount == Decimal("-5000.00")


@pytest.mark.parametrize("name", _params(["moov-io+bai2/test/testdata/sample3.txt"]))
def test_moov_sample3_every_statement_adds_up(name: str) -> None:
    """Records several to a line and a wrapped text; all 15 sections balance."""
    result = _parse(name)
    checked = 0
    for header, lines in result.statements:
        assert header.opening_booked is not None
        assert header.closing_booked is not None
        total = sum((line.amount.amount for line in lines), Decimal(0))
        assert header.opening_booked.amount.amount + total == header.closing_booked.amount.amount
        checked += 1
    assert checked == 15
