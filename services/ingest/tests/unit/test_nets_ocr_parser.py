"""The Nets OCR giro parser on small transmissions built here: one behaviour per test.

Records are composed field by field as the "OCR giro - System manual" lays them out, so a
test changes only the field it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import BankTransactionCode, ReferenceKind, StatementKind, account_id_for
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers.nets_ocr import kid_check_digit_valid
from bankrec.ingest.errors import (
    EmptyStatementFile,
    FormatMismatch,
    InvalidRecord,
    UnsupportedFormat,
)

TENANT = "t-ocr"
ACCOUNT = "99991042764"


def _record(text: str) -> str:
    assert len(text) == 80, (len(text), text)
    return text


def transmission_start(number: str = "0170031") -> str:
    return _record(f"NY000010{'00008080'}{number}{'00010200'}" + "0" * 49)


def transmission_end(transactions: int, records: int, total_ore: int) -> str:
    return _record(f"NY000089{transactions:08d}{records:08d}{total_ore:017d}200192" + "0" * 33)


def assignment_start(number: str = "0000002", account: str = ACCOUNT, service: str = "09") -> str:
    return _record(f"NY{service}0020{'001008566'}{number}{account}" + "0" * 45)


def assignment_end(
    transactions: int, records: int, total_ore: int, *, service: str = "09", kind: str = "00"
) -> str:
    return _record(
        f"NY{service}{kind}88{transactions:08d}{records:08d}{total_ore:017d}"
        "200192180192200192" + "0" * 21
    )


@dataclass
class Transaction:
    """One OCR giro transaction: amount items 1, 2 and (for types 20/21) 3."""

    number: int = 1
    type: int = 10
    amount_ore: int = 102000
    kid: str = "0000531"
    nets_date: str = "200192"
    sign: str = "0"
    serial: str = "01464"
    form_number: str = "9797596016"
    archive_reference: str = "097596016"
    bank_date: str = "160192"
    debit_account: str = "99991005524"
    text: str | None = None

    def records(self) -> list[str]:
        item_1 = _record(
            f"NY09{self.type:02d}30{self.number:07d}{self.nets_date}13201{self.serial}"
            f"{self.sign}{self.amount_ore:017d}{self.kid:>25}" + "0" * 6
        )
        item_2 = _record(
            f"NY09{self.type:02d}31{self.number:07d}{self.form_number}"
            f"{self.archive_reference}{'0' * 7}{self.bank_date}{self.debit_account}" + "0" * 22
        )
        found = [item_1, item_2]
        if self.text is not None:
            found.append(
                _record(f"NY09{self.type:02d}32{self.number:07d}{self.text:<40}" + "0" * 25)
            )
        return found


def ocr_file(*transactions: Transaction, newline: str = "\r\n") -> bytes:
    """A transmission of one assignment holding the transactions, with correct totals."""
    body = [record for transaction in transactions for record in transaction.records()]
    total = sum(t.amount_ore for t in transactions)
    assignment = [
        assignment_start(),
        *body,
        assignment_end(len(transactions), len(body) + 2, total),
    ]
    records = [
        transmission_start(),
        *assignment,
        transmission_end(len(transactions), len(assignment) + 2, total),
    ]
    return (newline.join(records) + newline).encode("ascii")


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# --------------------------------------------------------------------------- statement


def test_an_assignment_is_a_notification_of_the_assignment_account_in_nok() -> None:
    result = parse(
        ocr_file(
            Transaction(), Transaction(number=2, amount_ore=56000, archive_reference="097581675")
        )
    )

    assert result.source_format == "ocr-giro"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    assert header.bank_statement_id == "0170031-0000002"
    assert header.kind is StatementKind.NOTIFICATION
    assert header.source_format == "ocr-giro"
    assert header.account.other_id == ACCOUNT
    assert header.account.iban is None
    assert header.account.currency == "NOK"
    assert header.account.account_id == account_id_for(TENANT, ACCOUNT)
    assert header.period_from == date(1992, 1, 18)
    assert header.period_to == date(1992, 1, 20)
    assert header.opening_booked is None
    assert header.closing_booked is None
    assert header.entry_count == 2
    assert header.sum_credits == Decimal("1580.00")
    assert header.sum_debits == Decimal("0.00")
    assert [line.amount.amount for line in lines] == [Decimal("1020.00"), Decimal("560.00")]


def test_a_transaction_line_carries_kid_archive_reference_debit_account_and_dates() -> None:
    [(_, [line])] = parse(ocr_file(Transaction())).statements

    assert line.amount.amount == Decimal("1020.00")
    assert line.amount.currency == "NOK"
    assert line.booking_date == date(1992, 1, 20)
    assert line.structured_reference is not None
    assert line.structured_reference.value == "0000531"
    assert line.structured_reference.kind is ReferenceKind.KID
    assert line.bank_reference == "097596016"
    assert line.counterparty is not None
    assert line.counterparty.other_account == "99991005524"
    assert line.bank_transaction_code == BankTransactionCode(
        proprietary="10", proprietary_issuer="Nets"
    )
    assert line.reversal is False
    assert line.additional_info is not None
    assert "giro debited account" in line.additional_info
    assert "partial settlement 1 serial number 01464" in line.additional_info
    assert "bank date 1992-01-16" in line.additional_info
    assert "form number 9797596016" in line.additional_info


def test_reversing_with_kid_is_money_out_and_the_total_adds_it_unsigned() -> None:
    result = parse(
        ocr_file(
            Transaction(amount_ore=50000, archive_reference="000000000"),
            Transaction(number=2, type=18, amount_ore=20000, archive_reference="123456789"),
        )
    )

    assert result.diagnostics == []  # the assignment total 700.00 is 500.00 + |-200.00|
    [(header, lines)] = result.statements
    reversal = lines[1]
    assert reversal.amount.amount == Decimal("-200.00")
    assert reversal.reversal is True
    assert reversal.bank_transaction_code is not None
    assert reversal.bank_transaction_code.proprietary == "18"
    assert reversal.bank_reference is None  # a terminal's BAX and session number
    assert reversal.additional_info is not None
    assert "terminal (BAX) 123456 session 789" in reversal.additional_info
    assert lines[0].bank_reference is None  # all zeros: no archive reference
    assert header.sum_credits == Decimal("500.00")
    assert header.sum_debits == Decimal("200.00")


def test_a_minus_sign_makes_any_transaction_money_out() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(sign="-"))).statements

    assert line.amount.amount == Decimal("-1020.00")
    assert line.reversal is True


def test_purchase_with_text_reads_amount_item_3_as_remittance_text() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(type=21, text="Foo bar baz"))).statements

    assert line.remittance_text == "Foo bar baz"
    assert line.amount.amount == Decimal("1020.00")
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "21"


def test_direct_remittance_names_the_payers_agreement_not_an_archive_reference() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(type=12, archive_reference="001020169"))).statements

    assert line.bank_reference is None
    assert line.additional_info is not None
    assert "payer's agreement id 001020169" in line.additional_info


def test_an_unknown_transaction_type_is_read_as_money_in_with_a_diagnostic() -> None:
    result = parse(ocr_file(Transaction(type=22)))

    [(_, [line])] = result.statements
    assert line.amount.amount == Decimal("1020.00")
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "22"
    assert codes(result) == ["unknown_transaction_type"]


def test_no_debit_account_is_no_counterparty() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(debit_account="0" * 11))).statements

    assert line.counterparty is None


def test_lf_line_ends_and_trailing_blank_lines_are_read() -> None:
    data = ocr_file(Transaction(), newline="\n") + b"\n\n"

    [(_, lines)] = parse(data).statements
    assert len(lines) == 1


# ------------------------------------------------------------------------------ KIDs


@pytest.mark.parametrize(
    ("kid", "valid"),
    [
        ("123456782", True),  # the manual's modulus 10 example
        ("123456785", True),  # the manual's modulus 11 example
        ("1000005-", True),  # modulus 11, remainder 1
        ("0000531", True),
        ("02311291038304", True),
        ("123456789", False),
        ("1000005", False),
        ("7", False),
    ],
)
def test_kid_check_digit_is_mod10_or_mod11(kid: str, valid: bool) -> None:
    assert kid_check_digit_valid(kid) is valid


def test_a_kid_with_a_minus_check_digit_is_a_kid() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(kid="1000005-"))).statements

    assert line.structured_reference is not None
    assert line.structured_reference.value == "1000005-"
    assert line.structured_reference.kind is ReferenceKind.KID


def test_a_kid_with_a_wrong_check_digit_is_published_as_other_with_a_diagnostic() -> None:
    result = parse(ocr_file(Transaction(kid="123456789")))

    [(_, [line])] = result.statements
    assert line.structured_reference is not None
    assert line.structured_reference.value == "123456789"
    assert line.structured_reference.kind is ReferenceKind.OTHER
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "kid_check_digit"
    assert diagnostic.statement == "0170031-0000002"
    assert "123456789" in diagnostic.message
    assert "line 3" in diagnostic.message


def test_a_blank_kid_is_no_reference() -> None:
    [(_, [line])] = parse(ocr_file(Transaction(kid=""))).statements

    assert line.structured_reference is None


# ----------------------------------------------------------------------- control totals


def _records(data: bytes) -> list[str]:
    return data.decode("ascii").splitlines()


def _file(records: list[str]) -> bytes:
    return ("\r\n".join(records) + "\r\n").encode("ascii")


def test_assignment_end_counts_and_total_are_checked() -> None:
    records = _records(
        ocr_file(Transaction(), Transaction(number=2, archive_reference="097581675"))
    )
    records[-2] = assignment_end(3, 7, 204001)

    result = parse(_file(records))

    messages = [d.message for d in result.diagnostics if d.statement == "0170031-0000002"]
    assert any("says 3 entries but the statement has 2" in m for m in messages)
    assert any("says 7 records but the assignment has 6" in m for m in messages)
    assert any("total 2040.01 NOK but they add up to 2040.00" in m for m in messages)
    assert len(messages) == 3
    assert all(d.code == "summary_mismatch" for d in result.diagnostics)


def test_transmission_end_counts_and_total_are_checked() -> None:
    records = _records(ocr_file(Transaction()))
    records[-1] = transmission_end(2, 7, 102000)

    result = parse(_file(records))

    messages = [d.message for d in result.diagnostics]
    assert any("says 2 transactions but its assignments hold 1" in m for m in messages)
    assert any("says 7 records but the transmission has 6" in m for m in messages)
    assert all(d.code == "summary_mismatch" and d.statement is None for d in result.diagnostics)


def test_a_missing_assignment_end_is_a_diagnostic_and_the_lines_are_kept() -> None:
    records = _records(ocr_file(Transaction()))
    del records[-2]

    result = parse(_file(records))

    [(_, [line])] = result.statements
    assert line.amount.amount == Decimal("1020.00")
    assert "missing_end_record" in codes(result)


def test_a_missing_amount_item_2_is_a_diagnostic() -> None:
    records = _records(ocr_file(Transaction()))
    del records[3]  # the amount item 2

    result = parse(_file(records))

    [(_, [line])] = result.statements
    assert line.bank_reference is None
    assert "incomplete_transaction" in codes(result)


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r[:79], "79 characters long"),
        (lambda r: r + "9", "81 characters long"),
        (lambda r: "XY" + r[2:], "does not start with the format code NY"),
        (lambda r: r[:6] + "40" + r[8:], "record type '40' is not an OCR giro record type"),
        (lambda r: r[:40] + "12x4" + r[44:], "amount: positions 33-49 hold"),
        (lambda r: r[:15] + "320192" + r[21:], "which is not a date (DDMMYY)"),
    ],
)
def test_an_unreadable_transaction_record_is_refused_with_its_line(
    change: object, problem: str
) -> None:
    records = _records(ocr_file(Transaction()))
    records[2] = change(records[2])  # type: ignore[operator]

    with pytest.raises(InvalidRecord) as refused:
        parse(_file(records))

    assert problem in refused.value.message
    assert refused.value.line == 3
    assert "line 3" in refused.value.message


def test_trailing_blanks_after_position_80_are_cut() -> None:
    records = _records(ocr_file(Transaction()))
    records[2] += "   "

    [(_, [line])] = parse(_file(records)).statements
    assert line.amount.amount == Decimal("1020.00")


def test_amount_item_2_of_another_transaction_is_refused() -> None:
    records = _records(ocr_file(Transaction()))
    records[3] = Transaction(number=2).records()[1]

    with pytest.raises(InvalidRecord) as refused:
        parse(_file(records))

    assert "amount item 2 of transaction 2 does not follow" in refused.value.message
    assert refused.value.line == 4


def test_records_before_the_transmission_start_are_refused() -> None:
    records = _records(ocr_file(Transaction()))[1:]

    with pytest.raises(InvalidRecord) as refused:
        parse(_file(records), statement_format="ocr-giro")

    assert "transmission start record (NY000010)" in refused.value.message
    assert refused.value.line == 1


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        parse(b"  \r\n", statement_format="ocr-giro")


def test_another_format_asked_for_as_ocr_giro_is_a_format_mismatch() -> None:
    with pytest.raises(FormatMismatch) as refused:
        parse(b"<?xml version='1.0'?><Document/>", statement_format="ocr-giro")

    assert "not a Nets OCR giro file" in refused.value.message


# --------------------------------------------------------------------------- AvtaleGiro


def _avtalegiro_claims() -> list[str]:
    """An AvtaleGiro payment claim assignment as python-netsgiro's sample writes it."""
    return [
        _record("NY210020000000000400008688888888888" + "0" * 45),
        _record("NY2121300000001170604           00000000000000100          008000011688373000000"),
        _record("NY2121310000001NAVN" + " " * 56 + "00000"),
        _record("NY210088000000010000000400000000000000100170604170604" + "0" * 27),
    ]


def test_a_file_of_only_avtalegiro_claims_is_refused_as_not_a_statement() -> None:
    records = [transmission_start(), *_avtalegiro_claims(), transmission_end(1, 6, 100)]

    with pytest.raises(UnsupportedFormat) as refused:
        parse(_file(records))

    message = refused.value.message
    assert "AvtaleGiro" in message
    assert "payment claims (assignment type 00)" in message
    assert "not bank statements" in message
    assert "line 2" in message


def test_avtalegiro_assignments_beside_ocr_giro_are_skipped_with_a_diagnostic() -> None:
    ocr = _records(ocr_file(Transaction()))
    records = [
        ocr[0],
        *_avtalegiro_claims(),
        *ocr[1:-1],
        transmission_end(2, 10, 102100),
    ]

    result = parse(_file(records))

    [(header, [line])] = result.statements
    assert header.bank_statement_id == "0170031-0000002"
    assert line.amount.amount == Decimal("1020.00")
    assert codes(result) == ["avtalegiro_skipped"]
    assert "line 2" in result.diagnostics[0].message


def test_detection_sends_a_transmission_start_to_this_parser() -> None:
    result = parse(ocr_file(Transaction()))

    assert result.source_format == "ocr-giro"
