"""The ESR V11 parser against the real files of the corpus (OCA's l10n-switzerland).

Every ``*.v11``, ``*.V11`` and ``*.g11`` file is listed in ``EXPECTED`` with its outcome:
parsed, with the number of lines, their sum, the first reference and the diagnostics it must
give, or refused with the error code and the reason. A file added to the corpus and not
listed fails the test until someone classifies it.

Parsed files are also checked against figures read here straight from the fixed-width
records (each total record's credit records: count, signed sum, references; the total
record's own count and amount), never through the parser. The corpus is read in place;
without it these tests skip.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from ingest_factories import CORPUS_DIR

from bankrec.ingest.domain import ParseResult, file_sha256, parse_statement_file
from bankrec.ingest.errors import IngestError

TENANT = "t-esr-corpus"
OCA = "OCA+l10n-switzerland"
SUFFIXES = {".v11", ".g11"}  # compared in lower case: vesr.V11 too
OCA_SAMPLE_REFERENCE = "005095000000000000000000013"
TEST_REFERENCE = "000000000000000000020009997"


@dataclass(frozen=True)
class Outcome:
    """What a corpus file must give: figures and diagnostics when parsed, or the refusal."""

    lines: int = 0
    total: Decimal = Decimal(0)  # the lines' signed sum over all statements
    first_reference: str | None = None
    diagnostics: frozenset[str] = field(default_factory=frozenset)
    refused: str | None = None  # the error code
    because: str = ""  # a fragment of the refusal message


# OCA's sample: the total record says 541.50 for a credit record of 5415.00
SAMPLE = Outcome(
    lines=1,
    total=Decimal("5415.00"),
    first_reference=OCA_SAMPLE_REFERENCE,
    diagnostics=frozenset({"summary_mismatch"}),
)
PART_1 = Outcome(lines=1, total=Decimal("150.00"), first_reference=TEST_REFERENCE)
PART_2 = Outcome(lines=1, total=Decimal("100.00"), first_reference=TEST_REFERENCE)

EXPECTED: dict[str, Outcome] = {
    f"{OCA}/l10n_ch/sample/sample.v11": SAMPLE,
    f"{OCA}/l10n_ch/test/test.v11": Outcome(
        lines=1, total=Decimal("888.00"), first_reference="000000000000000000012345676"
    ),
    f"{OCA}/l10n_ch/test/test_part_1.v11": PART_1,
    f"{OCA}/l10n_ch/test/test_part_2.v11": PART_2,
    # Credit Suisse layout (126 characters), two participants, one 005 reversal and one 008
    # correction among 24 + 3 credit records, charges on the counter payments
    f"{OCA}/l10n_ch_account_statement_base_import/data/vesr.V11": Outcome(
        lines=27, total=Decimal("3820.00"), first_reference="000000000000000264200013592"
    ),
    # PostFinance Debit Direct (DD-ESR) delivery: another layout
    f"{OCA}/l10n_ch_account_statement_base_import/data/aus_dd_esr.g11": Outcome(
        refused="unsupported_format", because="PostFinance Debit Direct delivery"
    ),
    # the sample again, with LF line breaks and a processing date of 2022
    f"{OCA}/l10n_ch_import_isr_v11/tests/test_v11_files/test1.v11": SAMPLE,
    f"{OCA}/l10n_ch_payment_slip/sample/sample.v11": SAMPLE,
    f"{OCA}/l10n_ch_payment_slip/test/test.v11": Outcome(
        lines=1, total=Decimal("888.00"), first_reference="123456700000000000201200030"
    ),
    f"{OCA}/l10n_ch_payment_slip/test/test_part_1.v11": PART_1,
    f"{OCA}/l10n_ch_payment_slip/test/test_part_2.v11": PART_2,
    f"{OCA}/l10n_ch_payment_slip/tests/test_v11_files/test1.v11": SAMPLE,
}
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")
_needs_corpus = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"statement corpus not found at {CORPUS_DIR}"
)


def _found_files() -> list[str]:
    """The ESR files of the corpus, by name."""
    if not CORPUS_DIR.is_dir():
        return []
    return [
        path.relative_to(CORPUS_DIR).as_posix()
        for path in sorted(CORPUS_DIR.rglob("*"))
        if path.is_file() and path.suffix.lower() in SUFFIXES
    ]


FOUND = _found_files()


def _params(names: list[str]) -> list[Any]:
    if not names:
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(name, id=name) for name in names]


def _read(name: str) -> bytes:
    return (CORPUS_DIR / name).read_bytes()


def _parse(name: str) -> ParseResult | IngestError:
    try:
        return parse_statement_file(_read(name), tenant_id=TENANT)
    except IngestError as refused:
        return refused


def _parsed(name: str) -> ParseResult:
    result = _parse(name)
    assert isinstance(result, ParseResult), f"{name} refused: {result}"
    return result


# ------------------------------------------------------- the records, read independently


@dataclass
class _TotalGroup:
    """A total record and the credit records before it, as the fixed-width fields say."""

    participant: str
    references: list[str]
    amounts: list[Decimal]  # signed: a reversal (third digit 5) negative
    stated_amount: Decimal  # signed: 995 negative
    stated_count: int


def _centimes(text: str) -> Decimal:
    return Decimal(int(text)) / 100


def _groups(name: str) -> list[_TotalGroup]:
    found: list[_TotalGroup] = []
    references: list[str] = []
    amounts: list[Decimal] = []
    for record in _read(name).decode("ascii").splitlines():
        if not record.strip():
            continue
        code = record[0:3]
        if code in ("999", "995"):
            sign = -1 if code == "995" else 1
            found.append(
                _TotalGroup(
                    participant=record[3:12],
                    references=references,
                    amounts=amounts,
                    stated_amount=sign * _centimes(record[39:51]),
                    stated_count=int(record[51:63]),
                )
            )
            references, amounts = [], []
        else:
            references.append(record[12:39])
            amount = _centimes(record[39:49])
            amounts.append(-amount if code[2] == "5" else amount)
    assert not references, f"{name}: credit records after the last total record"
    return found


def _parsed_names() -> list[str]:
    return [name for name in FOUND if EXPECTED.get(name, Outcome()).refused is None]


# ------------------------------------------------------------------ every file, classified


@_needs_corpus
def test_every_esr_file_of_the_corpus_is_classified() -> None:
    assert len(FOUND) == 12
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
    assert outcome.source_format == "esr-v11"
    assert {d.code for d in outcome.diagnostics} == expected.diagnostics, outcome.diagnostics
    assert outcome.file_sha256 == file_sha256(_read(name))
    lines = [line for _, statement_lines in outcome.statements for line in statement_lines]
    assert len(lines) == expected.lines
    assert sum((line.amount.amount for line in lines), Decimal(0)) == expected.total
    assert lines[0].structured_reference is not None
    assert lines[0].structured_reference.value == expected.first_reference
    assert len({line.line_id for line in lines}) == len(lines)
    for header, statement_lines in outcome.statements:
        assert header.account.currency == "CHF"
        assert header.line_count == header.entry_count == len(statement_lines)
        assert [line.sequence for line in statement_lines] == list(range(len(statement_lines)))
        assert all(line.statement_id == header.statement_id for line in statement_lines)
        assert all(line.account == header.account for line in statement_lines)
        amounts = [line.amount.amount for line in statement_lines]
        assert header.sum_credits == sum((a for a in amounts if a > 0), Decimal(0))
        assert header.sum_debits == -sum((a for a in amounts if a < 0), Decimal(0))
        assert all(line.booking_date is not None for line in statement_lines)


@pytest.mark.parametrize("name", _params(_parsed_names()))
def test_statements_match_the_records_read_here(name: str) -> None:
    result = _parsed(name)
    groups = _groups(name)

    assert len(groups) == len(result.statements)
    mismatched = False
    for group, (header, lines) in zip(groups, result.statements, strict=True):
        participant = group.participant
        assert header.account.other_id == (
            f"{participant[:2]}-{participant[2:8].lstrip('0')}-{participant[8]}"
        )
        assert header.bank_statement_id is not None
        assert header.bank_statement_id.startswith(f"{participant}-")
        assert len(lines) == len(group.references)
        assert [line.amount.amount for line in lines] == group.amounts
        assert [
            line.structured_reference.value if line.structured_reference else None for line in lines
        ] == group.references
        assert [line.reversal for line in lines] == [amount < 0 for amount in group.amounts]
        agrees = (
            sum(group.amounts, Decimal(0)) == group.stated_amount
            and len(group.references) == group.stated_count
        )
        mismatched |= not agrees
        codes = {d.code for d in result.diagnostics if d.statement == header.bank_statement_id}
        assert ("summary_mismatch" in codes) is not agrees
    assert mismatched is ("summary_mismatch" in EXPECTED[name].diagnostics)


def test_vesr_figures_per_participant() -> None:
    name = f"{OCA}/l10n_ch_account_statement_base_import/data/vesr.V11"
    if not (CORPUS_DIR / name).is_file():
        pytest.skip(f"{name} not in the corpus at {CORPUS_DIR}")
    result = _parsed(name)

    assert [
        (h.bank_statement_id, h.account.other_id, h.entry_count, h.sum_credits, h.sum_debits)
        for h, _ in result.statements
    ] == [
        ("010001628-20121115", "01-162-8", 24, Decimal("3770.00"), Decimal("70.00")),
        ("010526000-20121115", "01-52600-0", 3, Decimal("120.00"), Decimal("0.00")),
    ]
    lines = result.statements[0].lines
    codes = [line.bank_transaction_code.proprietary for line in lines if line.bank_transaction_code]
    assert collections.Counter(codes) == {"002": 11, "112": 8, "102": 3, "005": 1, "008": 1}
    charges = sum((c.amount.amount for line in lines for c in line.charges), Decimal(0))
    assert charges == Decimal("10.40")  # the total record's total charges


def test_the_same_payment_in_two_copies_of_a_file_gets_the_same_line_id() -> None:
    names = [name for name in FOUND if EXPECTED.get(name) is PART_1]
    if len(names) < 2:
        pytest.skip("the two copies of test_part_1.v11 are not in the corpus")

    ids = {
        tuple(line.line_id for _, lines in _parsed(n).statements for line in lines) for n in names
    }

    assert len(ids) == 1


@_needs_corpus
def test_corpus_figures() -> None:
    """Files found, parsed and refused, lines read (printed with -s)."""
    outcomes: collections.Counter[str] = collections.Counter()
    statements = lines = 0
    total = Decimal(0)
    for name in FOUND:
        outcome = _parse(name)
        if isinstance(outcome, IngestError):
            outcomes[f"refused: {outcome.code}"] += 1
            continue
        outcomes[f"parsed: {outcome.source_format}"] += 1
        statements += len(outcome.statements)
        lines += outcome.line_count
        total += sum(
            (line.amount.amount for _, ls in outcome.statements for line in ls), Decimal(0)
        )
    print(
        f"\nESR files: {len(FOUND)}; {dict(outcomes)}; {statements} statements, {lines} lines, "
        f"sum {total} CHF"
    )
    assert outcomes == {"parsed: esr-v11": 11, "refused: unsupported_format": 1}
    assert (statements, lines, total) == (12, 37, Decimal("27756.00"))
