"""The Nets OCR giro and Bankgirot BgMax parsers against the real files of the corpus.

Every OCR giro file (found by ``NY000010``) and BgMax file (``01BGMAX``, plus Zimpler's two
record fragments without a start record) is listed in ``EXPECTED`` with its outcome: parsed
with the diagnostics it must give, or refused with the error code and the reason. A file
added to the corpus and not listed fails the test until someone classifies it.

Parsed files are checked against figures read here straight from the records (the assignment
end records' counts and totals, the deposit records' amounts and counts, the BgMax end
record's counts), against fabhed/bgmax-parser's ``tests/expected.json`` (its parse tree of
Bankgirot's example file), and against the values the other projects assert in their own
tests (python-netsgiro ``tests/test_object_parsing.py``, Zimpler ``spec/``, rickardlindgren
``BgMaxFilTests.cs``). The corpus is read in place; without it these tests skip.
"""

from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from ingest_factories import CORPUS_DIR

from bankrec.contracts import ReferenceKind, StatementLine
from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.errors import IngestError

TENANT = "t-nordic"
NOT_STATEMENTS = {".pdf", ".json", ".md", ".py", ".java", ".rb", ".cs", ".js", ".php", ".go"}
NETSGIRO = "otovo+python-netsgiro/tests/data"
ZIMPLER = "Zimpler+bankgiro_inbetalningar/spec/fixtures"
RICKARD = "rickardlindgren+BgMax/Diapraxas.BgMax/Diapraxas.BgMax.Tests/Testdata"
BANKGIROT_EXAMPLE = (
    "bankgiroinbetalningar_exempelfil_avtal-om-ocr-kontroll_checksiffra_langd_sv.txt"
)


@dataclass(frozen=True)
class Outcome:
    """What a corpus file must give: diagnostics when parsed, or the refusal and its reason."""

    refused: str | None = None  # the error code
    because: str = ""  # a fragment of the refusal message
    diagnostics: frozenset[str] = frozenset()
    statement_format: str | None = None  # forced; None: detected from the content


EXPECTED: dict[str, Outcome] = {
    # Nets OCR giro
    f"{NETSGIRO}/ocr_giro_transactions.txt": Outcome(),
    "Ondkloss+java-netsgiro/src/test/resources/ocr2.txt": Outcome(),  # the same transmission
    # AvtaleGiro: a creditor's payment claims to Nets and Nets' list of payer agreements
    f"{NETSGIRO}/avtalegiro_payment_request.txt": Outcome(
        refused="unsupported_format", because="payment claims (assignment type 00)"
    ),
    f"{NETSGIRO}/avtalegiro_agreements.txt": Outcome(
        refused="unsupported_format", because="a list of payer agreements (assignment type 24)"
    ),
    # Bankgirot BgMax: Bankgirot's example file (with its short records and a tab) twice
    f"fabhed+bgmax-parser/example-files/{BANKGIROT_EXAMPLE}": Outcome(
        diagnostics=frozenset({"tab_characters", "bank_reference_not_unique"})
    ),
    f"{RICKARD}/{BANKGIROT_EXAMPLE}": Outcome(
        diagnostics=frozenset({"tab_characters", "bank_reference_not_unique"})
    ),
    f"{ZIMPLER}/BgMaxfil4.txt": Outcome(),
    f"{ZIMPLER}/minimal.txt": Outcome(),
    # the same file re-encoded with letters lost and an end record that miscounts
    f"{ZIMPLER}/BgMaxfil4_broken.txt": Outcome(
        diagnostics=frozenset({"replacement_characters", "summary_mismatch"})
    ),
    # fragments for Zimpler's record-level tests: one deposit without start and end records
    f"{ZIMPLER}/isolated_deposit.txt": Outcome(
        diagnostics=frozenset({"missing_start_record", "missing_end_record"}),
        statement_format="bgmax",
    ),
    # ... and a payment alone: no receiving account, currency or payment date
    f"{ZIMPLER}/isolated_payment.txt": Outcome(
        refused="invalid_record",
        because="comes before any opening record (05)",
        statement_format="bgmax",
    ),
    # rickardlindgren's transaction-code fixtures: the code plus 'BGMAX' and a timestamp
    f"{RICKARD}/validTransaktionskoder.txt": Outcome(
        refused="invalid_record", because="05 receiving bankgiro number"
    ),
    f"{RICKARD}/someInvalidTransaktionskoder.txt": Outcome(
        refused="invalid_record", because="05 receiving bankgiro number"
    ),
}
FRAGMENTS = (f"{ZIMPLER}/isolated_deposit.txt", f"{ZIMPLER}/isolated_payment.txt")
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")
_needs_corpus = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"statement corpus not found at {CORPUS_DIR}"
)


def _found_files() -> list[str]:
    """The OCR giro and BgMax files of the corpus, by content."""
    if not CORPUS_DIR.is_dir():
        return []
    found = [
        path.relative_to(CORPUS_DIR).as_posix()
        for path in sorted(CORPUS_DIR.rglob("*"))
        if path.is_file()
        and path.suffix.lower() not in NOT_STATEMENTS
        and any(mark in path.read_bytes() for mark in (b"NY000010", b"01BGMAX"))
    ]
    return found + [name for name in FRAGMENTS if (CORPUS_DIR / name).is_file()]


FOUND = _found_files()


def _params(names: list[str]) -> list[Any]:
    if not names:
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(name, id=name) for name in names]


def _read(name: str) -> bytes:
    return (CORPUS_DIR / name).read_bytes()


def _parse(name: str) -> ParseResult | IngestError:
    outcome = EXPECTED.get(name, Outcome())
    try:
        return parse_statement_file(
            _read(name), tenant_id=TENANT, statement_format=outcome.statement_format
        )
    except IngestError as refused:
        return refused


def _parsed(name: str) -> ParseResult:
    if not (CORPUS_DIR / name).is_file():
        pytest.skip(f"{name} not in the corpus at {CORPUS_DIR}")
    result = _parse(name)
    assert isinstance(result, ParseResult), f"{name} refused: {result}"
    return result


def _records(name: str) -> list[str]:
    return _read(name).decode("latin-1").splitlines()


# ------------------------------------------------------------------ every file, classified


@_needs_corpus
def test_every_ocr_giro_and_bgmax_file_of_the_corpus_is_classified() -> None:
    assert sorted(FOUND) == sorted(EXPECTED), "classify new corpus files in EXPECTED"


@pytest.mark.parametrize("name", _params(FOUND))
def test_every_file_parses_or_is_refused_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    outcome = _parse(name)
    if expected.refused is not None:
        assert isinstance(outcome, IngestError), f"{name} parsed, {expected.refused} expected"
        assert outcome.code == expected.refused
        assert expected.because in outcome.message
        return
    assert isinstance(outcome, ParseResult), f"{name} refused: {outcome.code}: {outcome}"
    assert {d.code for d in outcome.diagnostics} == expected.diagnostics, outcome.diagnostics
    assert outcome.statements
    assert outcome.file_sha256 == file_sha256(_read(name))
    line_ids = [line.line_id for _, lines in outcome.statements for line in lines]
    assert len(set(line_ids)) == len(line_ids)
    for header, lines in outcome.statements:
        assert header.source_format == outcome.source_format
        assert header.line_count == header.entry_count == len(lines)
        assert [line.sequence for line in lines] == list(range(len(lines)))
        assert all(line.statement_id == header.statement_id for line in lines)
        assert all(line.account == header.account for line in lines)
        assert all(line.amount.currency == header.account.currency for line in lines)
        amounts = [line.amount.amount for line in lines]
        assert header.sum_credits == sum((a for a in amounts if a > 0), Decimal(0))
        assert header.sum_debits == -sum((a for a in amounts if a < 0), Decimal(0))
        assert header.opening_booked is None
        assert header.closing_booked is None
        assert all(line.booking_date is not None for line in lines)


@_needs_corpus
def test_corpus_figures() -> None:
    """Files found, parsed and refused, lines read (printed with -s)."""
    outcomes: collections.Counter[str] = collections.Counter()
    statements = lines = 0
    for name in FOUND:
        outcome = _parse(name)
        if isinstance(outcome, IngestError):
            outcomes[f"refused: {outcome.code}"] += 1
            continue
        outcomes[f"parsed: {outcome.source_format}"] += 1
        statements += len(outcome.statements)
        lines += outcome.line_count
    print(
        f"\nOCR giro / BgMax files: {len(FOUND)}; {dict(outcomes)}; "
        f"{statements} statements, {lines} lines"
    )
    assert sum(outcomes.values()) == len(EXPECTED)
    assert sum(n for k, n in outcomes.items() if k.startswith("refused")) == sum(
        1 for outcome in EXPECTED.values() if outcome.refused
    )


# ----------------------------------------------------------- control records, read here


def _is_ocr_giro(name: str) -> bool:
    return _read(name).lstrip(b"\xef\xbb\xbf \r\n").startswith(b"NY")


def _parsed_names(*, ocr_giro: bool) -> list[str]:
    return [
        name
        for name in FOUND
        if EXPECTED.get(name, Outcome()).refused is None and _is_ocr_giro(name) is ocr_giro
    ]


@pytest.mark.parametrize("name", _params(_parsed_names(ocr_giro=True)))
def test_ocr_assignments_match_their_end_records(name: str) -> None:
    result = _parsed(name)
    ends = [record for record in _records(name) if record.startswith("NY090088")]

    assert len(ends) == len(result.statements)
    for end, (header, lines) in zip(ends, result.statements, strict=True):
        assert header.entry_count == int(end[8:16])
        unsigned = sum((abs(line.amount.amount) for line in lines), Decimal(0))
        assert unsigned == Decimal(int(end[24:41])).scaleb(-2)


@pytest.mark.parametrize("name", _params(_parsed_names(ocr_giro=False)))
def test_bgmax_deposits_match_their_deposit_records(name: str) -> None:
    result = _parsed(name)
    records = _records(name)
    deposits = [record for record in records if record.startswith("15")]

    assert len(deposits) == len(result.statements)
    for deposit, (header, lines) in zip(deposits, result.statements, strict=True):
        assert header.bank_statement_id == f"{deposit[37:45]}-{deposit[45:50]}"
        assert header.account.currency == deposit[68:71]
        assert sum(line.amount.amount for line in lines) == Decimal(int(deposit[50:68])).scaleb(-2)
        assert header.entry_count == int(deposit[71:79])
        assert header.period_from == date(2004, 5, 25)
    [end] = [record for record in records if record.startswith("70")] or [None]
    if end is None or name.endswith("_broken.txt"):
        return  # the broken file's end record miscounts: a diagnostic, tested below
    codes = [line.bank_transaction_code for _, lines in result.statements for line in lines]
    assert sum(1 for c in codes if c and c.proprietary == "20") == int(end[2:10])
    assert sum(1 for c in codes if c and c.proprietary == "21") == int(end[10:18])
    assert len(result.statements) == int(end[26:34])


# ------------------------------------------------------------------ python-netsgiro values


def test_netsgiro_ocr_giro_transactions_as_python_netsgiro_reads_them() -> None:
    result = _parsed(f"{NETSGIRO}/ocr_giro_transactions.txt")

    [(header, lines)] = result.statements
    assert header.bank_statement_id == "0170031-0000002"  # transmission, assignment number
    assert header.account.other_id == "99991042764"
    assert header.account.currency == "NOK"
    assert header.period_from == header.period_to == date(1992, 1, 20)
    assert len(lines) == 20
    assert header.sum_credits == Decimal("51449.00")
    first = lines[0]
    assert first.bank_transaction_code is not None
    assert first.bank_transaction_code.proprietary == "21"  # purchase with text
    assert first.booking_date == date(1992, 1, 20)
    assert first.amount.amount == Decimal("1020.00")
    assert first.structured_reference is not None
    assert first.structured_reference.value == "0000531"
    assert first.structured_reference.kind is ReferenceKind.KID
    assert first.remittance_text == "Foo bar baz"
    assert first.counterparty is not None
    assert first.counterparty.other_account == "99990512341"
    assert first.additional_info is not None
    for fact in (
        "partial settlement 1 serial number 01464",
        "centre 13",
        "bank date 1992-01-16",
        "form number 9636827194",
        "terminal (BAX) 099038 session 562",  # netsgiro's reference 099038562
    ):
        assert fact in first.additional_info
    # every KID of the manual's sample passes mod10 or mod11
    assert all(
        line.structured_reference is not None
        and line.structured_reference.kind is ReferenceKind.KID
        for line in lines
    )
    assert [line.bank_reference for line in lines[1:4]] == ["097596016", "097581675", "097585760"]


def test_java_netsgiro_sample_is_the_same_transmission() -> None:
    ours = _parsed("Ondkloss+java-netsgiro/src/test/resources/ocr2.txt")
    theirs = _parsed(f"{NETSGIRO}/ocr_giro_transactions.txt")

    assert [line.line_id for line in ours.statements[0].lines] == [
        line.line_id for line in theirs.statements[0].lines
    ]


# ---------------------------------------------------------- fabhed/bgmax-parser expected


def _by_serial(result: ParseResult) -> dict[str, StatementLine]:
    """Lines by BGC serial number (the last part of the bank reference)."""
    return {
        (line.bank_reference or "").rpartition("/")[2]: line
        for _, lines in result.statements
        for line in lines
    }


def test_bankgirot_example_against_fabhed_expected_parse_tree() -> None:
    name = f"fabhed+bgmax-parser/example-files/{BANKGIROT_EXAMPLE}"
    result = _parsed(name)
    expected_path = CORPUS_DIR / "fabhed+bgmax-parser" / "tests" / "expected.json"
    tree = json.loads(expected_path.read_text(encoding="utf-8"))
    records = collections.defaultdict(list)
    for record in tree:
        records[record["transactionCode"]].append(
            {p["name"]: p["trimmedValue"] for p in record["properties"]}
        )

    [start] = records["01"]
    header = result.statements[0].header
    assert header.created_at is not None
    assert header.created_at.strftime("%Y%m%d%H%M%S%f") == start["timestamp"]
    assert start["enviromentTag"] == "P"
    assert "test_file" not in {d.code for d in result.diagnostics}
    [opening] = records["05"]
    assert header.account.currency == opening["currency"]

    ours = _by_serial(result)
    compared = 0
    for code in ("20", "21"):
        for payment in records[code]:
            line = ours[payment["BGCSerialNumber"]]
            expected_amount = Decimal(int(payment["paymentAmount"])).scaleb(-2)
            assert line.amount.amount == (expected_amount if code == "20" else -expected_amount)
            assert line.structured_reference is not None
            assert line.structured_reference.value == payment["reference"].strip()
            assert line.structured_reference.kind is (
                ReferenceKind.OCR if payment["referenceCode"] == "2" else ReferenceKind.OTHER
            )
            assert line.counterparty is not None
            assert line.counterparty.other_account == payment["senderBankgiroNumber"].lstrip("0")
            assert line.bank_transaction_code is not None
            assert line.bank_transaction_code.proprietary == code
            assert payment["paymentMethod"] == "2"
            assert line.additional_info is not None
            assert "Leverantörsbetalningar" in line.additional_info
            assert "image" not in line.additional_info  # aviImage 0
            compared += 1
    assert compared == 2  # fabhed's tree covers the file's first 11 records

    first_two = [ours[p["BGCSerialNumber"]] for code in ("20", "21") for p in records[code]]
    for names in records["26"]:
        assert all(
            line.counterparty and line.counterparty.name == names["payerName"] for line in first_two
        )
    for line in first_two:
        info = line.additional_info or ""
        for street in records["27"]:
            assert f"{street['payerAddress']}, {street['payerPostalCode']}" in info
        for town in records["28"]:
            assert town["payerAddress"] in info  # fabhed names the city field payerAddress
        for org in records["29"]:
            assert f"organisation number {org['organisationNumber'].lstrip('0')}" in info


# ------------------------------------------------------------------ Zimpler spec values


def _zimpler_payments(result: ParseResult) -> list[StatementLine]:
    """Zimpler's ``result.payments``: the payment records (20) in file order."""
    return [
        line
        for _, lines in result.statements
        for line in lines
        if line.bank_transaction_code and line.bank_transaction_code.proprietary == "20"
    ]


def test_zimpler_sample_file_4_as_their_parser_spec_reads_it() -> None:
    result = _parsed(f"{ZIMPLER}/BgMaxfil4.txt")
    payments = _zimpler_payments(result)

    assert len(result.statements) == 4
    assert len(payments) == 9

    simplest = payments[5]
    assert simplest.structured_reference is not None
    assert simplest.structured_reference.value == "535765"
    assert simplest.amount.currency == "SEK"
    assert simplest.amount.amount == Decimal("500.00")
    assert simplest.booking_date == date(2004, 5, 25)
    assert simplest.bank_reference == "20040525-00058/000000000023"  # Zimpler's number

    with_address = payments[1]
    assert with_address.structured_reference is not None
    assert with_address.structured_reference.value == "524967"
    assert with_address.amount.amount == Decimal("1900.00")
    assert with_address.counterparty is not None
    assert with_address.counterparty.other_account == "97012333"
    assert with_address.counterparty.name == "Olles färg AB"
    assert with_address.additional_info is not None
    assert "address: Lillagatan 3, 12345 Storåker;" in with_address.additional_info
    assert "organisation number 550000432" in with_address.additional_info

    several = payments[0]
    assert sorted(several.referred_documents) == sorted(["665869", "657775", "665661", "665760"])
    assert several.remittance_text is not None
    assert several.remittance_text.startswith(
        "Betalning med extra refnr 665869 657775 665661\n665760"
    )

    good_bad_and_revert = payments[6]
    assert sorted(good_bad_and_revert.referred_documents) == sorted(
        ["7495575", "695668", "8988777"]
    )
    assert good_bad_and_revert.remittance_text is not None
    assert "8988777 400.00 incorrect" in good_bad_and_revert.remittance_text
    assert "negative extra references: 74450 500.00" in good_bad_and_revert.remittance_text


def test_zimpler_broken_sample_reports_the_miscounting_end_record() -> None:
    result = _parsed(f"{ZIMPLER}/BgMaxfil4_broken.txt")

    messages = [d.message for d in result.diagnostics if d.code == "summary_mismatch"]
    # Zimpler: "Found 9 payments but expected 8", "Found 4 deposits but expected 5"
    assert any("says 8 payment records (20) but the file has 9" in m for m in messages)
    assert any("says 5 deposit records (15) but the file has 4" in m for m in messages)
    assert len(messages) == 2
    assert len(_zimpler_payments(result)) == 9
    names = {line.counterparty.name for line in _zimpler_payments(result) if line.counterparty}
    assert "Olles f\ufffdrg AB" in names


def test_zimpler_minimal_file() -> None:
    result = _parsed(f"{ZIMPLER}/minimal.txt")

    [(header, [payment])] = result.statements
    assert header.created_at is not None
    assert header.created_at.strftime("%Y%m%d%H%M%S%f") == "20040525173035010331"
    assert payment.amount.amount == Decimal("1100.00")


def test_zimpler_isolated_deposit_read_as_bgmax() -> None:
    result = _parsed(f"{ZIMPLER}/isolated_deposit.txt")

    [(header, lines)] = result.statements
    assert header.account.currency == "EUR"
    assert [line.counterparty.name if line.counterparty else None for line in lines] == [
        "Olles färg AB",
        "Berits Garn",
    ]


# -------------------------------------------------------------- rickardlindgren values


def test_rickardlindgren_example_has_three_sections_and_its_end_record_counts() -> None:
    result = _parsed(f"{RICKARD}/{BANKGIROT_EXAMPLE}")

    assert len(result.statements) == 3  # Can_count_Avsnitt
    assert "summary_mismatch" not in {d.code for d in result.diagnostics}  # 70: 8, 1, 9, 3
    lines = [line for _, lines in result.statements for line in lines]
    codes = collections.Counter(
        line.bank_transaction_code.proprietary for line in lines if line.bank_transaction_code
    )
    assert codes == {"20": 8, "21": 1}
    assert sum(len(line.referred_documents) for line in lines) == 9  # all extra references
