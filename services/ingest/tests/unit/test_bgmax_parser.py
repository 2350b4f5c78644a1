"""The Bankgirot BgMax parser on small files built here: one behaviour per test.

Records are composed field by field as Bankgirot's BgMax layout numbers the positions, so a
test changes only the field it is about. Files are written in ISO-8859-1, as Bankgirot does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import BankTransactionCode, ReferenceKind, StatementKind, account_id_for
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers.bgmax import ocr_check_digit_valid
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

TENANT = "t-bgmax"
BANK_ACCOUNT = "5841000001009823"


def _record(text: str) -> str:
    assert len(text) <= 80, (len(text), text)
    return text.ljust(80)


def start(marker: str = "P", layout: str = "BGMAX", timestamp: str = "20040525173035010331") -> str:
    return _record(f"01{layout:<20}01{timestamp}{marker}")


def opening(bankgiro: str = "0009912346", currency: str = "SEK") -> str:
    return _record(f"05{bankgiro}{' ' * 10}{currency}")


def deposit(
    amount_ore: int,
    count: int,
    *,
    serial: str = "00074",
    account: str = BANK_ACCOUNT,
    currency: str = "SEK",
) -> str:
    return _record(f"15{account:0>35}20040525{serial}{amount_ore:018d}{currency}{count:08d} ")


def end(payments: int, deductions: int = 0, extra_references: int = 0, deposits: int = 1) -> str:
    return _record(f"70{payments:08d}{deductions:08d}{extra_references:08d}{deposits:08d}")


@dataclass
class Extra:
    """An extra reference record (22, or 23 when negative)."""

    reference: str
    amount_ore: int = 0
    reference_code: str = "2"
    negative: bool = False


@dataclass
class Payment:
    """A payment (20) or deduction (21) with the records that follow it."""

    reference: str = "655969"
    amount_ore: int = 100000
    reference_code: str = "2"
    deduction: bool = False
    sender: str = "0003783511"
    channel: str = "2"
    serial: str = "000000000010"
    image: str = "0"
    extras: list[Extra] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    name: str | None = "Kalles Plåt AB"
    street: str | None = "Storgatan 2"
    city: str | None = "Storåker"
    organisation_number: str | None = "005500001234"

    @property
    def signed_ore(self) -> int:
        return -self.amount_ore if self.deduction else self.amount_ore

    def _reference_field(self, reference: str, code: str) -> str:
        return f"{reference:>25}" if code == "2" else f"{reference:<25}"

    def records(self) -> list[str]:
        code = "21" if self.deduction else "20"
        found = [
            _record(
                f"{code}{self.sender}{self._reference_field(self.reference, self.reference_code)}"
                f"{self.amount_ore:018d}{self.reference_code}{self.channel}{self.serial}"
                f"{self.image}{'1' if self.deduction else ''}"
            )
        ]
        for extra in self.extras:
            found.append(
                _record(
                    f"{'23' if extra.negative else '22'}{self.sender}"
                    f"{self._reference_field(extra.reference, extra.reference_code)}"
                    f"{extra.amount_ore:018d}{extra.reference_code}{self.channel}{self.serial}"
                    f"{self.image}"
                )
            )
        found.extend(_record(f"25{text:<50}") for text in self.texts)
        if self.name is not None:
            found.append(_record(f"26{self.name:<35}"))
        if self.street is not None:
            found.append(_record(f"27{self.street:<35}12345"))
        if self.city is not None:
            found.append(_record(f"28{self.city:<35}"))
        if self.organisation_number is not None:
            found.append(_record(f"29{self.organisation_number}"))
        return found


def section(*payments: Payment, serial: str = "00074", currency: str = "SEK") -> list[str]:
    """An opening record, the payments and a deposit record with their correct total."""
    records = [opening(currency=currency)]
    for payment in payments:
        records.extend(payment.records())
    total = sum(payment.signed_ore for payment in payments)
    records.append(deposit(total, len(payments), serial=serial, currency=currency))
    return records


def bgmax_file(*sections: list[str], newline: str = "\r\n") -> bytes:
    """A start record, the sections and an end record with their correct counts."""
    body = [record for records in sections for record in records]
    records = [
        start(),
        *body,
        end(
            payments=sum(r.startswith("20") for r in body),
            deductions=sum(r.startswith("21") for r in body),
            extra_references=sum(r.startswith(("22", "23")) for r in body),
            deposits=sum(r.startswith("15") for r in body),
        ),
    ]
    return (newline.join(records) + newline).encode("latin-1")


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def _lines_of(data: bytes) -> list[str]:
    return data.decode("latin-1").splitlines()


def _file(records: list[str]) -> bytes:
    return ("\r\n".join(records) + "\r\n").encode("latin-1")


# --------------------------------------------------------------------------- statement


def test_a_deposit_is_a_notification_of_the_receiving_bank_account() -> None:
    result = parse(
        bgmax_file(
            section(Payment(), Payment(reference="650861", amount_ore=5000, serial="000000000011"))
        )
    )

    assert result.source_format == "bgmax"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    assert header.bank_statement_id == "20040525-00074"
    assert header.kind is StatementKind.NOTIFICATION
    assert header.source_format == "bgmax"
    assert header.account.other_id == BANK_ACCOUNT
    assert header.account.account_id == account_id_for(TENANT, BANK_ACCOUNT)
    assert header.account.currency == "SEK"
    assert header.period_from == date(2004, 5, 25)
    assert header.period_to == date(2004, 5, 25)
    assert header.created_at is not None
    # Swedish summer time
    assert header.created_at.isoformat() == "2004-05-25T17:30:35.010331+02:00"
    assert header.entry_count == 2
    assert header.sum_credits == Decimal("1050.00")
    assert [line.amount.amount for line in lines] == [Decimal("1000.00"), Decimal("50.00")]


def test_a_payment_line_carries_ocr_reference_payer_and_bgc_serial_number() -> None:
    [(_, [line])] = parse(bgmax_file(section(Payment(image="1")))).statements

    assert line.amount.amount == Decimal("1000.00")
    assert line.amount.currency == "SEK"
    assert line.booking_date == date(2004, 5, 25)
    assert line.structured_reference is not None
    assert line.structured_reference.value == "655969"
    assert line.structured_reference.kind is ReferenceKind.OCR
    assert line.bank_reference == "20040525-00074/000000000010"  # deposit / BGC serial number
    assert line.bank_transaction_code == BankTransactionCode(
        proprietary="20", proprietary_issuer="Bankgirot"
    )
    assert line.counterparty is not None
    assert line.counterparty.name == "Kalles Plåt AB"
    assert line.counterparty.other_account == "3783511"
    assert line.additional_info is not None
    assert "Leverantörsbetalningar" in line.additional_info
    assert "an image of the payment slip is available" in line.additional_info
    assert "address: Storgatan 2, 12345 Storåker" in line.additional_info
    assert "organisation number 5500001234" in line.additional_info
    assert line.reversal is False


def test_a_deduction_is_money_out_and_the_deposit_is_payments_less_deductions() -> None:
    result = parse(
        bgmax_file(
            section(
                Payment(),
                Payment(
                    deduction=True,
                    reference="89853",
                    reference_code="3",
                    amount_ore=50000,
                    serial="000230000111",
                ),
            )
        )
    )

    assert result.diagnostics == []
    [(header, [_, deduction])] = result.statements
    assert deduction.amount.amount == Decimal("-500.00")
    assert deduction.bank_transaction_code is not None
    assert deduction.bank_transaction_code.proprietary == "21"
    assert deduction.additional_info is not None
    assert deduction.additional_info.startswith("whole deduction, no remainder")
    assert header.sum_credits == Decimal("1000.00")
    assert header.sum_debits == Decimal("500.00")


def test_extra_references_and_texts_go_to_remittance_text_and_referred_documents() -> None:
    payment = Payment(
        reference="",
        reference_code="0",
        amount_ore=140000,
        extras=[
            Extra("7495575", 100000),
            Extra("8988777", 40000, reference_code="5"),
            Extra("74450", 50000, negative=True),
        ],
        texts=["Betalning med extra refnr"],
    )

    [(_, [line])] = parse(bgmax_file(section(payment))).statements

    assert line.structured_reference is None
    assert line.referred_documents == ["7495575", "8988777"]
    assert line.remittance_text == (
        "Betalning med extra refnr\n"
        "extra references: 7495575 1000.00, 8988777 400.00 incorrect\n"
        "negative extra references: 74450 500.00"
    )


@pytest.mark.parametrize(
    ("code", "reference", "kind", "value"),
    [
        ("2", "655969", ReferenceKind.OCR, "655969"),
        ("3", "657866 658765 657767", ReferenceKind.OTHER, "657866 658765 657767"),
        ("4", "RF18 5390 0754 7034", ReferenceKind.RF, "RF18539007547034"),
        ("5", "8988777", ReferenceKind.OTHER, "8988777"),
        ("0", "", None, None),
        ("1", "", None, None),
    ],
)
def test_the_reference_code_decides_the_reference_kind(
    code: str, reference: str, kind: ReferenceKind | None, value: str | None
) -> None:
    result = parse(bgmax_file(section(Payment(reference=reference, reference_code=code))))

    [(_, [line])] = result.statements
    if kind is None:
        assert line.structured_reference is None
    else:
        assert line.structured_reference is not None
        assert line.structured_reference.kind is kind
        assert line.structured_reference.value == value
    assert result.diagnostics == []


def test_an_ocr_reference_failing_luhn_is_other_with_a_diagnostic() -> None:
    result = parse(bgmax_file(section(Payment(reference="655968"))))

    [(_, [line])] = result.statements
    assert line.structured_reference is not None
    assert line.structured_reference.kind is ReferenceKind.OTHER
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "ocr_check_digit"
    assert diagnostic.statement == "20040525-00074"
    assert "655968" in diagnostic.message
    assert "line 3" in diagnostic.message


@pytest.mark.parametrize(
    ("reference", "valid"),
    [("655969", True), ("7495575", True), ("655968", False), ("8988777", False), ("5", False)],
)
def test_ocr_check_digit_is_luhn(reference: str, valid: bool) -> None:
    assert ocr_check_digit_valid(reference) is valid


def test_a_payment_without_payer_records_has_only_the_sender_bankgiro() -> None:
    payment = Payment(name=None, street=None, city=None, organisation_number=None)

    [(_, [line])] = parse(bgmax_file(section(payment))).statements

    assert line.counterparty is not None
    assert line.counterparty.name is None
    assert line.counterparty.other_account == "3783511"


def test_each_deposit_is_its_own_statement_in_its_own_currency() -> None:
    result = parse(
        bgmax_file(
            section(Payment()),
            section(Payment(serial="000000000011"), serial="00075", currency="EUR"),
        )
    )

    assert [header.bank_statement_id for header, _ in result.statements] == [
        "20040525-00074",
        "20040525-00075",
    ]
    assert [header.account.currency for header, _ in result.statements] == ["SEK", "EUR"]


def test_the_bankgiro_number_is_the_account_when_the_deposit_has_no_bank_account() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records[-2] = deposit(100000, 1, account="0")

    [(header, _)] = parse(_file(records)).statements

    assert header.account.other_id == "9912346"


def test_the_opening_records_currency_serves_when_the_deposit_has_none() -> None:
    records = _lines_of(bgmax_file(section(Payment(), currency="EUR")))
    records[-2] = records[-2][:68] + "   " + records[-2][71:]

    [(header, _)] = parse(_file(records)).statements

    assert header.account.currency == "EUR"


# ----------------------------------------------------------------------- control totals


def test_the_deposit_amount_and_count_are_checked_against_its_lines() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records[-2] = deposit(100001, 2)

    result = parse(_file(records))

    messages = [d.message for d in result.diagnostics if d.code == "summary_mismatch"]
    assert any(
        "deposit is 1000.01 SEK but its payments less deductions add up to" in m for m in messages
    )
    assert any("says 2 entries but the statement has 1" in m for m in messages)
    assert {d.statement for d in result.diagnostics} == {"20040525-00074"}


def test_the_end_record_counts_are_checked() -> None:
    records = _lines_of(bgmax_file(section(Payment(extras=[Extra("665760")]))))
    records[-1] = end(payments=2, deductions=1, extra_references=0, deposits=5)

    result = parse(_file(records))

    messages = [d.message for d in result.diagnostics]
    assert any("says 2 payment records (20) but the file has 1" in m for m in messages)
    assert any("says 1 deduction records (21) but the file has 0" in m for m in messages)
    assert any("says 0 extra reference records (22, 23) but the file has 1" in m for m in messages)
    assert any("says 5 deposit records (15) but the file has 1" in m for m in messages)
    assert all(d.code == "summary_mismatch" and d.statement is None for d in result.diagnostics)


def test_a_test_file_is_marked_by_a_diagnostic() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records[0] = start(marker="T")

    result = parse(_file(records))

    assert codes(result) == ["test_file"]
    assert len(result.statements) == 1


def test_a_file_without_start_and_end_records_is_read_when_asked_for() -> None:
    records = _lines_of(bgmax_file(section(Payment())))[1:-1]

    result = parse(_file(records), statement_format="bgmax")

    assert len(result.statements) == 1
    assert codes(result) == ["missing_start_record", "missing_end_record"]


# ------------------------------------------------------------------------- real habits


def test_records_with_their_trailing_blanks_cut_are_padded() -> None:
    data = _file([record.rstrip() for record in _lines_of(bgmax_file(section(Payment())))])

    result = parse(data)

    [(_, [line])] = result.statements
    assert line.amount.amount == Decimal("1000.00")
    assert result.diagnostics == []


def test_tabs_are_expanded_to_stops_of_eight_with_a_diagnostic() -> None:
    payment = Payment(reference="", reference_code="0", extras=[Extra("657965")])
    records = _lines_of(bgmax_file(section(payment)))
    assert records[3].startswith("22")
    records[3] = records[3][:12] + "\t\t" + records[3][24:]  # as Bankgirot's example file

    result = parse(_file(records))

    [(_, [line])] = result.statements
    assert line.referred_documents == ["657965"]
    assert codes(result) == ["tab_characters"]
    assert "line(s) 4" in result.diagnostics[0].message


def test_an_unknown_transaction_code_is_skipped_with_a_diagnostic() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records.insert(3, _record("24something new"))

    result = parse(_file(records))

    assert len(result.statements) == 1
    assert codes(result) == ["unknown_record"]


def test_a_payer_record_following_no_payment_is_skipped_with_a_diagnostic() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records.insert(2, _record("26Nobody"))

    result = parse(_file(records))

    [(_, [line])] = result.statements
    assert line.counterparty is not None
    assert line.counterparty.name == "Kalles Plåt AB"
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "orphan_record"
    assert diagnostic.statement == "20040525-00074"
    assert "line 3" in diagnostic.message


def test_utf8_and_latin1_names_read_the_same() -> None:
    latin1 = parse(bgmax_file(section(Payment(name="Olles färg AB"))))
    utf8 = parse(bgmax_file(section(Payment(name="Olles färg AB"))).decode("latin-1").encode())

    for result in (latin1, utf8):
        [(_, [line])] = result.statements
        assert line.counterparty is not None
        assert line.counterparty.name == "Olles färg AB"


def test_replacement_characters_from_an_earlier_conversion_are_a_diagnostic() -> None:
    latin1 = bgmax_file(section(Payment(city=None)))
    data = latin1.replace("Plåt".encode("latin-1"), "Pl\ufffdt".encode())  # as BgMaxfil4_broken

    result = parse(data)

    [(_, [line])] = result.statements
    assert line.counterparty is not None
    assert line.counterparty.name == "Kalles Pl\ufffdt AB"
    assert codes(result) == ["replacement_characters"]


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("index", "change", "problem"),
    [
        (2, lambda r: r[:40] + "x" + r[41:], "20 amount: positions 38-55 hold"),
        (2, lambda r: r + "9", "81 characters long"),
        (2, lambda r: "X" + r[1:], "a BgMax record starts with a two-digit transaction code"),
        (1, lambda r: r[:4] + "BGMAX" + r[9:], "05 receiving bankgiro number"),
        (-2, lambda r: r[:40] + "1332" + r[44:], "15 payment date"),
        (-2, lambda r: r[:72] + "x" + r[73:], "15 number of payments"),
        (-1, lambda r: r[:3] + "?" + r[4:], "70 number of payment records"),
    ],
)
def test_an_unreadable_field_is_refused_with_its_record_and_line(
    index: int, change: object, problem: str
) -> None:
    records = _lines_of(
        bgmax_file(section(Payment(name=None, street=None, city=None, organisation_number=None)))
    )
    line = index + 1 if index >= 0 else len(records) + index + 1
    records[index] = change(records[index])  # type: ignore[operator]

    with pytest.raises(InvalidRecord) as refused:
        parse(_file(records))

    assert problem in refused.value.message
    assert refused.value.line == line


def test_a_payment_before_any_opening_record_is_refused() -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(_file(Payment().records()), statement_format="bgmax")

    assert "comes before any opening record (05)" in refused.value.message
    assert refused.value.line == 1


def test_a_section_cut_before_its_deposit_record_is_refused() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    del records[-2]

    with pytest.raises(InvalidRecord) as refused:
        parse(_file(records))

    assert "before its deposit record (15)" in refused.value.message
    assert "opened at line 2" in refused.value.message


def test_another_layout_name_is_a_format_mismatch() -> None:
    records = _lines_of(bgmax_file(section(Payment())))
    records[0] = start(layout="BGMIN")

    with pytest.raises(FormatMismatch) as refused:
        parse(_file(records), statement_format="bgmax")

    assert "'BGMIN'" in refused.value.message


def test_another_format_asked_for_as_bgmax_is_a_format_mismatch() -> None:
    with pytest.raises(FormatMismatch) as refused:
        parse(b"<?xml version='1.0'?><Document/>", statement_format="bgmax")

    assert "not a Bankgirot BgMax file" in refused.value.message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        parse(b"\r\n  \r\n", statement_format="bgmax")
