"""The ESR V11 (Swiss ISR type-3 credit records) parser on small files built here: one
behaviour per test.

Records are composed field by field as the Credit Suisse BVRB documentation numbers the
positions, so a test changes only the field it is about. Check digits are computed here with
the spec's mod10 recursive table, independently of the parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import (
    BankTransactionCode,
    Charge,
    Money,
    ReferenceKind,
    StatementKind,
    account_id_for,
)
from bankrec.ingest.domain import ParseResult, StatementFormat, detect_format, parse_statement_file
from bankrec.ingest.domain.parsers.esr_v11 import (
    participant_number,
    reference_check_digit_valid,
)
from bankrec.ingest.errors import (
    EmptyStatementFile,
    FormatMismatch,
    InvalidRecord,
    UnsupportedFormat,
)

TENANT = "t-esr"
PARTICIPANT = "010001628"  # 01-162-8, check digit 8
OTHER_PARTICIPANT = "010526000"  # 01-52600-0
_MOD10_RECURSIVE = (0, 9, 4, 6, 8, 2, 7, 1, 3, 5)  # the spec's carry table


def mod10_recursive(body: str) -> str:
    carry = 0
    for digit in body:
        carry = _MOD10_RECURSIVE[(carry + int(digit)) % 10]
    return str((10 - carry) % 10)


def reference(number: int) -> str:
    """A 27-digit ESR reference: 26 digits and their check digit."""
    body = f"{number:026d}"
    return body + mod10_recursive(body)


@dataclass
class Credit:
    """One credit record (100 characters)."""

    amount_centimes: int = 6500
    code: str = "002"
    participant: str = PARTICIPANT
    reference: str = reference(264200013590)
    submission_reference: str = "8026  0400"
    submitted: str = "121114"
    processed: str = "121115"
    credited: str = "121116"
    microfilm: str = "000010095"
    reject: str = "0"
    charges_centimes: int = 0

    @property
    def signed_centimes(self) -> int:
        return -self.amount_centimes if self.code[2] == "5" else self.amount_centimes

    @property
    def signed_charges(self) -> int:
        return -self.charges_centimes if self.code[2] == "5" else self.charges_centimes

    def record(self) -> str:
        text = (
            f"{self.code}{self.participant}{self.reference}{self.amount_centimes:010d}"
            f"{self.submission_reference:<10}{self.submitted}{self.processed}{self.credited}"
            f"{self.microfilm}{self.reject}{'0' * 9}{self.charges_centimes:04d}"
        )
        assert len(text) == 100, (len(text), text)
        return text


def total(
    amount_centimes: int,
    count: int,
    *,
    participant: str = PARTICIPANT,
    created: str = "121115",
    charges_centimes: int = 0,
    code: str | None = None,
) -> str:
    """A total record: 999 for a positive total, 995 for a negative one (87 characters, as
    the OCA sample files end it)."""
    code = code or ("995" if amount_centimes < 0 else "999")
    text = (
        f"{code}{participant}{'9' * 27}{abs(amount_centimes):012d}{count:012d}{created}"
        f"{abs(charges_centimes):09d}{'0' * 9}"
    )
    assert len(text) == 87, (len(text), text)
    return text


def group(*credits: Credit, participant: str = PARTICIPANT, created: str = "121115") -> list[str]:
    """Credit records and the total record with their correct count, amount and charges."""
    return [
        *(credit.record() for credit in credits),
        total(
            sum(credit.signed_centimes for credit in credits),
            len(credits),
            participant=participant,
            created=created,
            charges_centimes=sum(credit.signed_charges for credit in credits),
        ),
    ]


def esr_file(*groups: list[str], newline: str = "\r\n", width: int | None = None) -> bytes:
    """The records, each padded with blanks to ``width`` when given (Credit Suisse: 126)."""
    records = [record for records in groups for record in records]
    if width is not None:
        records = [record.ljust(width) for record in records]
    return (newline.join(records) + newline).encode("ascii")


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# --------------------------------------------------------------------------- statement


def test_a_total_record_closes_a_notification_of_the_participant() -> None:
    result = parse(
        esr_file(group(Credit(), Credit(amount_centimes=110000, reference=reference(31520))))
    )

    assert result.source_format == "esr-v11"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    assert header.bank_statement_id == "010001628-20121115"  # participant, creation date
    assert header.kind is StatementKind.NOTIFICATION
    assert header.source_format == "esr-v11"
    assert header.account.other_id == "01-162-8"
    assert header.account.account_id == account_id_for(TENANT, "01-162-8")
    assert header.account.currency == "CHF"
    assert header.period_from == header.period_to == date(2012, 11, 15)
    assert header.entry_count == header.line_count == 2
    assert header.sum_credits == Decimal("1165.00")
    assert header.sum_debits == Decimal("0.00")
    assert [line.amount.amount for line in lines] == [Decimal("65.00"), Decimal("1100.00")]


def test_a_credit_line_carries_reference_dates_code_and_charges() -> None:
    credit = Credit(code="112", reject="1", charges_centimes=120)
    [(_, [line])] = parse(esr_file(group(credit))).statements

    assert line.amount == Money(amount=Decimal("65.00"), currency="CHF")
    assert line.booking_date == date(2012, 11, 15)  # processing date
    assert line.value_date == date(2012, 11, 16)  # credit date
    assert line.structured_reference is not None
    assert line.structured_reference.value == credit.reference
    # the contract has no ISR kind; OCR and KID are checked downstream with other algorithms
    assert line.structured_reference.kind is ReferenceKind.OTHER
    assert line.bank_transaction_code == BankTransactionCode(
        proprietary="112", proprietary_issuer="ESR"
    )
    assert line.charges == [
        Charge(amount=Money(amount=Decimal("1.20"), currency="CHF"), bearer="CRED")
    ]
    assert line.additional_info == (
        "ISR+ credit, paid at the post office counter (code 112); submitted 2012-11-14; "
        "submission reference 8026  0400; microfilm number 000010095; reject code 1"
    )
    assert line.bank_reference is None
    assert line.reversal is False
    assert line.counterparty is None


def test_a_reversal_is_money_out_and_a_correction_money_in() -> None:
    reversal = Credit(code="005", amount_centimes=7000, reference=reference(29410))
    correction = Credit(code="008", amount_centimes=6500, reference=reference(33620))
    result = parse(esr_file(group(Credit(amount_centimes=20500), reversal, correction)))

    assert result.diagnostics == []  # the total nets the reversal
    [(header, [_, reversed_line, corrected])] = result.statements
    assert reversed_line.amount.amount == Decimal("-70.00")
    assert reversed_line.reversal is True
    assert reversed_line.additional_info is not None
    assert reversed_line.additional_info.startswith("ISR reversal, paid without the slip")
    assert corrected.amount.amount == Decimal("65.00")
    assert corrected.reversal is False
    assert header.sum_credits == Decimal("270.00")
    assert header.sum_debits == Decimal("70.00")


def test_a_995_total_states_a_negative_total() -> None:
    records = group(Credit(code="015", amount_centimes=7000, charges_centimes=90))
    assert records[-1].startswith("995")

    result = parse(esr_file(records))

    assert result.diagnostics == []
    [(header, [line])] = result.statements
    assert line.amount.amount == Decimal("-70.00")
    assert header.sum_debits == Decimal("70.00")


def test_a_995_total_whose_amount_is_the_credits_sum_is_a_mismatch() -> None:
    records = [Credit().record(), total(6500, 1, code="995")]

    result = parse(esr_file(records))

    [diagnostic] = result.diagnostics
    assert diagnostic.code == "summary_mismatch"
    assert "says the credits total -65.00 CHF but they add up to 65.00" in diagnostic.message


# ----------------------------------------------------------------------------- references


def test_a_reference_failing_its_check_digit_is_kept_with_a_diagnostic() -> None:
    good = reference(264200013590)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    result = parse(esr_file(group(Credit(reference=bad))))

    [(_, [line])] = result.statements
    assert line.structured_reference is not None
    assert line.structured_reference.value == bad
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "esr_check_digit"
    assert diagnostic.statement == "010001628-20121115"
    assert bad in diagnostic.message
    assert f"expected {good[-1]}" in diagnostic.message
    assert "line 1" in diagnostic.message


def test_a_reference_of_zeros_is_no_reference() -> None:
    [(_, [line])] = parse(esr_file(group(Credit(reference="0" * 27)))).statements

    assert line.structured_reference is None


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (reference(313947143000901), True),  # leading zeros leave the carry at 0
        ("005095000000000000000000013", True),  # OCA's sample file
        ("000000000000000000012345676", True),
        ("000000000000000000012345677", False),
        ("12345676", False),  # not 27 digits
        ("00000000000000000001234567X", False),
    ],
)
def test_reference_check_digit_is_mod10_recursive(value: str, valid: bool) -> None:
    assert reference_check_digit_valid(value) is valid


def test_mod10_recursive_of_the_spec_example() -> None:
    # Credit Suisse's worked example: 313947143000901 has check digit 8
    assert mod10_recursive("313947143000901") == "8"
    assert reference(313947143000901).endswith("3139471430009018")


def test_participant_number_as_printed_on_the_slip() -> None:
    assert participant_number("010001628") == "01-162-8"
    assert participant_number("010026540") == "01-2654-0"  # the spec's example


def test_a_participant_number_failing_its_check_digit_is_a_diagnostic() -> None:
    result = parse(esr_file(group(Credit(participant="010001627"), participant="010001627")))

    assert codes(result) == ["participant_check_digit"]
    assert result.statements[0].header.account.other_id == "01-162-7"


# ----------------------------------------------------------------------- control totals


def test_the_total_records_amount_count_and_charges_are_checked() -> None:
    records = [Credit(charges_centimes=120).record(), total(6501, 2, charges_centimes=100)]

    result = parse(esr_file(records))

    messages = [d.message for d in result.diagnostics if d.code == "summary_mismatch"]
    assert len(messages) == 3
    assert any("says the credits total 65.01 CHF but they add up to 65.00" in m for m in messages)
    assert any(
        "says the charges total 1.00 CHF but the credit records' charges add up to 1.20" in m
        for m in messages
    )
    assert any("says 2 entries but the statement has 1" in m for m in messages)
    assert {d.statement for d in result.diagnostics} == {"010001628-20121115"}
    assert all("the total record (line 2)" in m for m in messages)


def test_each_total_record_is_its_own_statement() -> None:
    result = parse(
        esr_file(
            group(Credit(), Credit(amount_centimes=6000, reference=reference(28340))),
            group(
                Credit(participant=OTHER_PARTICIPANT, reference=reference(1111111020123443)),
                participant=OTHER_PARTICIPANT,
            ),
            group(Credit(processed="121116"), created="121116"),
        )
    )

    assert result.diagnostics == []
    assert [
        (h.bank_statement_id, h.account.other_id, h.entry_count) for h, _ in result.statements
    ] == [
        ("010001628-20121115", "01-162-8", 2),
        ("010526000-20121115", "01-52600-0", 1),
        ("010001628-20121116", "01-162-8", 1),
    ]


def test_two_total_records_of_one_participant_and_day_are_a_duplicate_statement() -> None:
    result = parse(esr_file(group(Credit()), group(Credit(reference=reference(5)))))

    assert codes(result) == ["duplicate_statement"]
    assert [h.statement_id for h, _ in result.statements] == [
        result.statements[0].header.statement_id
    ] * 2


def test_a_total_record_with_no_credit_records_is_an_empty_statement() -> None:
    [(header, lines)] = parse(esr_file([total(0, 0)])).statements

    assert lines == []
    assert header.entry_count == 0
    assert header.period_from == header.period_to == date(2012, 11, 15)


def test_credit_records_the_file_ends_after_still_make_a_statement() -> None:
    records = [*group(Credit()), Credit(reference=reference(7), processed="121116").record()]

    result = parse(esr_file(records))

    assert [h.bank_statement_id for h, _ in result.statements] == [
        "010001628-20121115",
        "010001628-20121116-no-total",
    ]
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "missing_total_record"
    assert diagnostic.statement == "010001628-20121116-no-total"
    assert "lines 3-3" in diagnostic.message
    assert "the file ends" in diagnostic.message
    assert result.statements[1].lines[0].amount.amount == Decimal("65.00")


def test_another_participants_credit_closes_the_records_before_it_without_a_total() -> None:
    records = [
        Credit().record(),
        *group(
            Credit(participant=OTHER_PARTICIPANT, reference=reference(8)),
            participant=OTHER_PARTICIPANT,
        ),
    ]

    result = parse(esr_file(records))

    assert [h.account.other_id for h, _ in result.statements] == ["01-162-8", "01-52600-0"]
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "missing_total_record"
    assert "line 2 is a credit of another participant" in diagnostic.message


def test_a_total_record_of_another_participant_leaves_the_credits_untotalled() -> None:
    records = [Credit().record(), total(6500, 1, participant=OTHER_PARTICIPANT)]

    result = parse(esr_file(records))

    assert [h.account.other_id for h, _ in result.statements] == ["01-162-8", "01-52600-0"]
    assert codes(result) == ["missing_total_record", "summary_mismatch", "summary_mismatch"]
    assert result.statements[1].lines == []


# ------------------------------------------------------------------------- real habits


def test_credit_suisse_records_padded_to_126_characters_read_the_same() -> None:
    records = group(Credit(), Credit(code="005", amount_centimes=100, reference=reference(9)))
    plain = parse(esr_file(records))
    padded = parse(esr_file(records, width=126))

    assert padded.diagnostics == []
    assert [line.line_id for line in padded.statements[0].lines] == [
        line.line_id for line in plain.statements[0].lines
    ]


def test_line_breaks_lf_and_cr_read_the_same() -> None:
    records = group(Credit())
    ids = {
        tuple(
            line.line_id for line in parse(esr_file(records, newline=newline)).statements[0].lines
        )
        for newline in ("\r\n", "\n", "\r")
    }

    assert len(ids) == 1


def test_the_same_payment_twice_keeps_two_line_ids_and_a_resent_file_the_same_ones() -> None:
    data = esr_file(group(Credit(), Credit()))

    first = [line.line_id for line in parse(data).statements[0].lines]
    again = [line.line_id for line in parse(data).statements[0].lines]

    assert len(set(first)) == 2
    assert first == again


def test_an_unreadable_submission_date_is_a_diagnostic() -> None:
    result = parse(esr_file(group(Credit(submitted="121332"))))

    [(_, [line])] = result.statements
    assert line.additional_info is not None
    assert "submitted" not in line.additional_info
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "invalid_date"
    assert "submission date" in diagnostic.message


# ---------------------------------------------------------------------------- refusals


def test_an_unknown_record_type_is_refused_with_its_line_and_content() -> None:
    records = group(Credit())
    records.insert(1, "003" + records[0][3:])

    with pytest.raises(InvalidRecord) as refused:
        parse(esr_file(records))  # detected from the first record

    assert refused.value.code == "invalid_record"
    assert refused.value.line == 2
    assert "'003010001628" in refused.value.message
    assert "transaction code '003' is neither" in refused.value.message


@pytest.mark.parametrize(
    ("index", "change", "problem"),
    [
        (0, lambda r: r + "7", "101 characters long"),
        (0, lambda r: r[:99], "99 characters long; a credit record has 100"),
        (1, lambda r: r[:80], "80 characters long; a total record has its fields up to"),
        (0, lambda r: r[:41] + "x" + r[42:], "002 amount: positions 40-49 hold"),
        (0, lambda r: r[:65] + "000000" + r[71:], "002 processing date"),
        (0, lambda r: r[:65] + "121399" + r[71:], "002 processing date"),
        (1, lambda r: r[:5] + " " + r[6:], "999 participant number"),
        (1, lambda r: r[:63] + "000000" + r[69:], "999 creation date"),
        (1, lambda r: r[:55] + "?" + r[56:], "999 number of records"),
    ],
)
def test_a_record_of_the_wrong_width_or_an_unreadable_field_is_refused(
    index: int, change: object, problem: str
) -> None:
    records = group(Credit())
    records[index] = change(records[index])  # type: ignore[operator]

    with pytest.raises(InvalidRecord) as refused:
        # a broken first record is not detected as ESR: ask for the format
        parse(esr_file(records), statement_format="esr-v11")

    assert problem in refused.value.message
    assert refused.value.line == index + 1


def test_a_bad_record_after_the_first_is_detected_and_refused_with_its_line() -> None:
    records = group(Credit(), Credit(reference=reference(3)))
    records[1] = records[1][:41] + "x" + records[1][42:]

    with pytest.raises(InvalidRecord) as refused:
        parse(esr_file(records))

    assert "002 amount: positions 40-49 hold" in refused.value.message
    assert refused.value.line == 2


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        parse(b"\r\n  \r\n", statement_format="esr-v11")


def test_another_format_asked_for_as_esr_is_a_format_mismatch() -> None:
    with pytest.raises(FormatMismatch) as refused:
        parse(b"<?xml version='1.0'?><Document/>", statement_format="esr-v11")

    assert "not an ESR V11 file" in refused.value.message


DEBIT_DIRECT = (
    "081  1111560   116149669100029449230090067CHF00000004210520021129000905610300001000000102"
    "   200211292002112920021129   3001384130042000001CHF000000"
).ljust(200)


@pytest.mark.parametrize("statement_format", [None, "esr-v11"])
def test_a_debit_direct_delivery_is_refused_as_unsupported(statement_format: str | None) -> None:
    with pytest.raises(UnsupportedFormat) as refused:
        parse((DEBIT_DIRECT + "\r\n").encode(), statement_format=statement_format)

    assert "PostFinance Debit Direct" in refused.value.message


def test_200_character_records_are_refused_as_unsupported() -> None:
    with pytest.raises(UnsupportedFormat) as refused:
        parse(("01" + "0" * 198 + "\r\n").encode(), statement_format="esr-v11")

    assert "200-character records" in refused.value.message


# --------------------------------------------------------------------------- detection


def test_esr_records_are_detected() -> None:
    assert detect_format(esr_file(group(Credit()))) is StatementFormat.ESR_V11
    assert detect_format(esr_file(group(Credit()), width=126)) is StatementFormat.ESR_V11
    assert detect_format(DEBIT_DIRECT.encode()) is StatementFormat.ESR_V11


def test_a_file_longer_than_the_sniffed_bytes_is_detected_with_its_last_line_cut() -> None:
    credits = [Credit(reference=reference(n)) for n in range(1, 80)]
    data = esr_file(group(*credits))
    assert len(data) > 4096

    assert detect_format(data) is StatementFormat.ESR_V11
    result = parse(data)
    assert result.diagnostics == []
    assert result.statements[0].header.entry_count == 79


@pytest.mark.parametrize(
    "data",
    [
        ("0" * 80 + "\r\n") * 3,  # 80-character digits: another layout
        "003" + Credit().record()[3:] + "\r\n",  # not a transaction code of type 3
        Credit().record() + "\r\n" + "x" * 100 + "\r\n",  # a later line is not a record
        Credit().record() + "7" * 10 + "\r\n",  # digits beyond position 100
    ],
    ids=["80-digits", "unknown-code", "later-line", "too-wide"],
)
def test_near_misses_are_not_detected(data: str) -> None:
    assert detect_format(data.encode()) is StatementFormat.UNKNOWN
