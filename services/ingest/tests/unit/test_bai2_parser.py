"""The BAI2 parser on small files written here: one behaviour per test.

Amounts in BAI2 are minor units, so ``123456`` USD is 1,234.56 throughout.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import BankTransactionCode, EntryStatus, StatementKind, account_id_for
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers import bai2
from bankrec.ingest.domain.parsers.bai2 import direction_of
from bankrec.ingest.errors import (
    EmptyStatementFile,
    FormatMismatch,
    IngestError,
    InvalidRecord,
    MissingElement,
)

TENANT = "t-bai2"

# One account, opening 10,000.00, a credit of 1,500.00 and a debit of 250.75,
# closing 11,249.25; every control figure is right.
CLEAN = b"""01,BANKUS33,ACME,260301,0615,1,,,2/
02,ACME,021000021,1,260228,2400,USD,2/
03,1234567890,USD,010,1000000,,,015,1124925,,,045,1100000,,,100,150000,1,,400,25075,1,/
16,195,150000,0,WIRE0001,INV-2026-001,INCOMING WIRE FROM NORDIC SUPPLY AS/
16,475,25075,,CHK000321,321,CHECK PAID/
49,3575075,4/
98,3575075,1,6/
99,3575075,1,8/
"""


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def bai2_file(*account_records: str, currency: str = "USD", modifier: str = "2") -> bytes:
    """A file with one group around the given account section records; the trailers'
    figures are left blank (not checked) so a test can focus on the records."""
    body = "\n".join(account_records)
    return (
        "01,BANKUS33,ACME,260301,0615,1,,,2/\n"
        f"02,ACME,021000021,1,260228,1030,{currency},{modifier}/\n"
        f"{body}\n98,,,/\n99,,,/\n"
    ).encode()


# --------------------------------------------------------------------- a clean file


def test_account_section_becomes_a_statement_with_balances_and_signed_lines() -> None:
    result = parse(CLEAN)

    assert result.source_format == "bai2"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    account_id = account_id_for(TENANT, "1234567890")
    assert header.account.account_id == account_id
    assert header.account.other_id == "1234567890"
    assert header.account.currency == "USD"
    assert header.bank_statement_id == "1234567890:2026-02-28"
    assert header.statement_id == f"{account_id}:1234567890:2026-02-28"
    assert header.kind is StatementKind.END_OF_DAY
    assert header.created_at is None  # BAI2 times have no zone
    assert (header.period_from, header.period_to) == (date(2026, 2, 28), date(2026, 2, 28))
    assert header.opening_booked is not None
    assert header.closing_booked is not None
    assert header.opening_booked.amount.amount == Decimal("10000.00")
    assert header.closing_booked.amount.amount == Decimal("11249.25")
    assert header.closing_available is not None
    assert header.closing_available.amount.amount == Decimal("11000.00")
    assert header.closing_booked.date == date(2026, 2, 28)
    assert (header.entry_count, header.line_count) == (2, 2)
    assert (header.sum_credits, header.sum_debits) == (Decimal("1500.00"), Decimal("250.75"))

    wire, check = lines
    assert wire.amount.amount == Decimal("1500.00")
    assert check.amount.amount == Decimal("-250.75")
    assert wire.booking_date == check.booking_date == date(2026, 2, 28)
    assert wire.value_date is None
    assert wire.bank_transaction_code == BankTransactionCode(
        proprietary="195", proprietary_issuer="BAI"
    )
    assert (wire.bank_reference, wire.customer_reference) == ("WIRE0001", "INV-2026-001")
    assert wire.entry_reference == "WIRE0001"
    assert wire.remittance_text == "INCOMING WIRE FROM NORDIC SUPPLY AS"
    assert (check.bank_reference, check.customer_reference) == ("CHK000321", "321")
    assert check.remittance_text == "CHECK PAID"
    assert all(line.status is EntryStatus.BOOKED for line in lines)


def test_the_file_is_detected_as_bai2_without_asking() -> None:
    assert parse(CLEAN).source_format == "bai2"
    assert parse(CLEAN, statement_format="bai2").source_format == "bai2"


def test_parsing_twice_gives_the_same_ids() -> None:
    first, second = parse(CLEAN), parse(CLEAN)
    ids = [line.line_id for _, lines in first.statements for line in lines]
    assert ids == [line.line_id for _, lines in second.statements for line in lines]
    assert len(set(ids)) == len(ids)


def test_windows_line_ends_and_trailing_spaces_are_read() -> None:
    data = CLEAN.replace(b"\n", b"   \r\n")
    result = parse(data)
    assert result.diagnostics == []
    assert [line.amount.amount for line in result.statements[0].lines] == [
        Decimal("1500.00"),
        Decimal("-250.75"),
    ]


# ------------------------------------------------------------------ type codes, signs


@pytest.mark.parametrize(
    ("type_code", "direction"),
    [
        ("100", 1),
        ("195", 1),
        ("399", 1),
        ("920", 1),
        ("959", 1),
        ("400", -1),
        ("475", -1),
        ("699", -1),
        ("960", -1),
        ("999", -1),
        ("010", None),
        ("720", None),
        ("890", None),
        ("905", None),
    ],
)
def test_type_code_ranges_give_the_direction(type_code: str, direction: int | None) -> None:
    assert direction_of(type_code) == direction


def test_a_detail_code_outside_the_credit_and_debit_ranges_is_an_information_line() -> None:
    data = bai2_file("03,55,,010,100,,/", "16,890,0,,,,RATE CHANGE NOTICE/", "49,,/")
    result = parse(data)
    [line] = result.statements[0].lines
    assert line.status is EntryStatus.INFO
    assert line.amount.amount == Decimal("0.00")
    assert line.remittance_text == "RATE CHANGE NOTICE"
    assert "non_monetary_type_code" in codes(result)


def test_a_signed_detail_amount_is_refused() -> None:
    data = bai2_file("03,55,,/", "16,195,-5000,,,,/", "49,,/")
    with pytest.raises(InvalidRecord) as refused:
        parse(data)
    assert refused.value.path == "16 amount"
    assert refused.value.line == 4
    assert "'-5000'" in refused.value.message


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ("16,,500,,,,/", "16 type code"),
        ("16,19X,500,,,,/", "16 type code"),
        ("16,195,,,,,/", "16 amount"),
        ("16,195,12.50,,,,/", "16 amount"),
        ("16,195,500,X,,,/", "16 funds type"),
        ("16,195,500,V,260231,,,,/", "16 value date"),
        ("16,195,500,D,two,,,/", "16 number of distributions"),
    ],
)
def test_a_detail_that_cannot_be_read_is_refused_naming_the_field(record: str, path: str) -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(bai2_file("03,55,,/", record, "49,,/"))
    assert refused.value.path == path
    assert refused.value.line == 4
    assert refused.value.code == "invalid_record"


# -------------------------------------------------------------------- amounts, currencies


def test_amounts_are_minor_units_of_the_currency() -> None:
    data = bai2_file(
        "03,77,JPY,010,500000,,,015,512345,,/",
        "16,195,12345,,,,/",
        "49,,/",
    )
    [(header, lines)] = parse(data).statements
    assert header.account.currency == "JPY"
    assert header.opening_booked is not None
    assert header.opening_booked.amount.amount == Decimal("500000")
    assert lines[0].amount.amount == Decimal("12345")


def test_the_currency_falls_back_to_the_group_then_to_usd() -> None:
    group_currency = bai2_file("03,77,,010,100,,/", "49,,/", currency="CAD")
    assert parse(group_currency).statements[0][0].account.currency == "CAD"
    no_currency = bai2_file("03,77,,010,100,,/", "49,,/", currency="")
    assert parse(no_currency).statements[0][0].account.currency == "USD"


def test_signed_summary_amounts_give_negative_balances() -> None:
    data = bai2_file("03,77,,010,-3500,,,015,+3600,,/", "16,142,7100,Z,,,/", "49,,/")
    result = parse(data)
    header = result.statements[0][0]
    assert header.opening_booked is not None
    assert header.closing_booked is not None
    assert header.opening_booked.amount.amount == Decimal("-35.00")
    assert header.closing_booked.amount.amount == Decimal("36.00")
    assert "balance_mismatch" not in codes(result)


def test_an_unreadable_balance_is_refused() -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(bai2_file("03,77,,010,12O0,,/", "49,,/"))
    assert refused.value.path == "03 type code 010 amount"


def test_an_invalid_currency_is_refused() -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(bai2_file("03,77,US,010,100,,/", "49,,/"))
    assert refused.value.path == "03 currency code"


# ------------------------------------------------------------- continuations, funds types


def test_an_03_continued_in_88_mid_amount_and_distributed_availability() -> None:
    """The 03 ends after a type code, its amount is in the 88; 110 has a D distribution."""
    data = (
        b"01,BANK,ACME,040621,0200,1,65,,2/\n"
        b"02,ACME,BANK,1,040620,2359,,2/\n"
        b"03,0975312468,,010,500000,,,190/\n"
        b"88,70000000,4,0,110,70000000,15,D,3,0,20000000,1,30000000,3,20000000,015,500000,,/\n"
        b"49,141000000,3/\n"
        b"98,141000000,1,5/\n"
        b"99,141000000,1,7/\n"
    )
    result = parse(data)
    assert result.diagnostics == []
    header = result.statements[0][0]
    assert header.opening_booked is not None
    assert header.closing_booked is not None
    assert header.opening_booked.amount.amount == Decimal("5000.00")
    assert header.closing_booked.amount.amount == Decimal("5000.00")


def test_the_comma_before_the_slash_opens_no_amount_across_an_88() -> None:
    data = bai2_file("03,77,,010,100,,,/", "88,015,250,,,/", "16,195,150,,,,/", "49,,/")
    result = parse(data)
    header = result.statements[0][0]
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("2.50")
    assert "balance_mismatch" not in codes(result)


def test_value_dated_and_split_availability_funds_types() -> None:
    data = bai2_file(
        "03,77,,/",
        "16,195,450000,S,100000,200000,150000,BR1,CR1,SPLIT/",
        "16,218,20000000,V,260302,1200,SP4738,YRC065321/",
        "88,PROCEEDS OF LETTER OF CREDIT",
        "16,115,500,D,2,0,200,1,300,LB1,,LOCKBOX/",
        "49,,/",
    )
    split, dated, distributed = parse(data).statements[0].lines
    assert split.additional_info == (
        "availability: immediate 1,000.00 USD, one day 2,000.00 USD, two or more days 1,500.00 USD"
    )
    assert (split.bank_reference, split.customer_reference) == ("BR1", "CR1")
    assert split.remittance_text == "SPLIT"
    assert dated.value_date == date(2026, 3, 2)
    assert (dated.bank_reference, dated.customer_reference) == ("SP4738", "YRC065321")
    assert dated.remittance_text == "PROCEEDS OF LETTER OF CREDIT"
    assert distributed.additional_info == "availability: 0 day(s) 2.00 USD, 1 day(s) 3.00 USD"
    assert distributed.bank_reference == "LB1"
    assert distributed.remittance_text == "LOCKBOX"


def test_text_holds_commas_and_slashes_and_runs_over_88_records() -> None:
    data = bai2_file(
        "03,77,USD,,,,,060,100,,,100,000,0,,400,000,0,/",
        "16,447,60000,,SPB23,AB/GS/0001,ACH Credit Payment,Entry Description: EXP; -, "
        "Remittance: 08/18/23 Invoice",
        "88,EREF: AB/GS/0001",
        "88,DBNM: TEST INC",
        "49,,/",
    )
    [line] = parse(data).statements[0].lines
    assert line.amount.amount == Decimal("-600.00")
    assert line.customer_reference == "AB/GS/0001"
    assert line.remittance_text == (
        "ACH Credit Payment,Entry Description: EXP; -, Remittance: 08/18/23 Invoice "
        "EREF: AB/GS/0001 DBNM: TEST INC"
    )


def test_a_16_without_text_takes_its_text_from_the_88s() -> None:
    data = bai2_file("03,77,,/", "16,699,971,,,/", "88,LVP XBANKGO24 RELAY TFR", "49,,/")
    [line] = parse(data).statements[0].lines
    assert line.amount.amount == Decimal("-9.71")
    assert (line.bank_reference, line.customer_reference) == (None, None)
    assert line.remittance_text == "LVP XBANKGO24 RELAY TFR"


# ------------------------------------------------------------------ record delimiting


def test_several_records_on_one_line_and_a_text_wrapped_onto_its_own_line() -> None:
    data = (
        b"01,103100195,103100195,220919,2112,4,,,2/   02,103100195,103100195,1,220919,"
        b"2400,USD,2/\n"
        b"03,1111111,,010,-3500,,,015,-3600,,,100,3100,3,,400,3200,3,/\n"
        b"16,142,2500,Z,,,TRANSFER   PAYPAL   PPD/ 16,142,500,Z,,,TRANSFER MSPBNA PPD/\n"
        b"16,142,100,Z,,,Ext Trnsfr JPMorgan Chase     PPD/\n"
        b"16,451,2500,Z,,,111111     ACH_SETL   1111111111\n"
        b"111111111111111        /\n"
        b"88,       1111111111/\n"
        b"16,451,600,Z,,,ACH_SETL/ 16,451,100,Z,,,Ext Trnsfr/ 49,5500,9/  98,5500,1,11/\n"
        b"99,5500,1,13/\n"
    )
    result = parse(data)
    assert codes(result) == ["wrapped_record"]
    lines = result.statements[0].lines
    assert [line.amount.amount for line in lines] == [
        Decimal("25.00"),
        Decimal("5.00"),
        Decimal("1.00"),
        Decimal("-25.00"),
        Decimal("-6.00"),
        Decimal("-1.00"),
    ]
    assert lines[0].remittance_text == "TRANSFER   PAYPAL   PPD"
    assert lines[3].remittance_text == (
        "111111     ACH_SETL   1111111111 111111111111111 1111111111"
    )


def test_a_record_written_88_colon_is_read_with_a_note() -> None:
    data = bai2_file("03,77,,/", "16,255,931,,SC1,,Check Return", "88:EREF: 0737", "49,,/")
    result = parse(data)
    assert result.statements[0].lines[0].remittance_text == "Check Return EREF: 0737"
    assert "record_separator" in codes(result)


def test_text_after_the_end_of_a_record_is_ignored_with_a_note() -> None:
    data = bai2_file("03,77,,010,100,,/ trailing words", "49,,/")
    result = parse(data)
    assert "ignored_text" in codes(result)
    assert result.statements[0][0].opening_booked is not None


# ------------------------------------------------------------------- control figures


def test_wrong_trailer_totals_and_counts_are_diagnostics() -> None:
    data = CLEAN.replace(b"49,3575075,4/", b"49,3575076,5/").replace(
        b"99,3575075,1,8/", b"99,3575075,2,9/"
    )
    result = parse(data)
    found = [(d.code, d.message) for d in result.diagnostics]
    assert found == [
        (
            "control_total_mismatch",
            "the account trailer (49, line 6) of account 1234567890 says the amounts of the "
            "account add up to 3575076 but they add up to 3575075",
        ),
        (
            "record_count_mismatch",
            "the account trailer (49, line 6) of account 1234567890 says the account has 5 "
            "records but it has 4",
        ),
        (
            "control_total_mismatch",
            "the group trailer (98, line 7) says its account control totals add up to 3575075 "
            "but they add up to 3575076",
        ),
        (
            "group_count_mismatch",
            "the file trailer (99, line 8) says the file has 2 groups but it has 1",
        ),
        (
            "record_count_mismatch",
            "the file trailer (99, line 8) says the file has 9 records but it has 8",
        ),
    ]
    assert result.diagnostics[0].statement == "1234567890:2026-02-28"
    assert len(result.statements[0].lines) == 2


def test_the_group_trailer_is_checked_against_the_account_trailers() -> None:
    data = CLEAN.replace(b"98,3575075,1,6/", b"98,3575000,2,6/").replace(
        b"99,3575075,", b"99,3575000,"
    )
    found = [(d.code, d.message) for d in parse(data).diagnostics]
    assert found == [
        (
            "control_total_mismatch",
            "the group trailer (98, line 7) says its account control totals add up to 3575000 "
            "but they add up to 3575075",
        ),
        (
            "account_count_mismatch",
            "the group trailer (98, line 7) says the group has 2 accounts but it has 1",
        ),
    ]


def test_the_100_and_400_totals_are_checked_against_the_details() -> None:
    data = CLEAN.replace(b"100,150000,1,,400,25075,1", b"100,150000,2,,400,25000,1")
    data = data.replace(b"3575075", b"3575000")
    result = parse(data)
    messages = [d.message for d in result.diagnostics]
    assert codes(result) == ["summary_mismatch", "summary_mismatch"]
    assert any("says 2 credit entries but the statement has 1" in m for m in messages)
    assert any("says 250.00 sum of debits but the statement has 250.75" in m for m in messages)
    assert all(d.statement == "1234567890:2026-02-28" for d in result.diagnostics)


def test_a_summary_only_account_is_noted_once_instead_of_mismatching() -> None:
    data = bai2_file("03,77,,010,100,,,100,208500,3,,400,0,0,/", "49,,/")
    result = parse(data)
    assert codes(result) == ["summary_only"]
    assert "total credits 2,085.00 USD" in result.diagnostics[0].message
    assert result.statements[0].lines == []


def test_opening_plus_lines_not_closing_is_a_balance_mismatch() -> None:
    data = CLEAN.replace(b"015,1124925", b"015,1124900").replace(b"3575075", b"3575050")
    result = parse(data)
    assert codes(result) == ["balance_mismatch"]
    assert "difference -0.25 USD" in result.diagnostics[0].message


def test_missing_trailers_are_noted_and_the_accounts_still_read() -> None:
    data = (
        b"01,BANK,ACME,260301,0615,1,,,2/\n"
        b"02,ACME,BANK,1,260228,2400,USD,2/\n"
        b"03,111,,010,100,,/\n"
        b"16,195,50,,,,/\n"
        b"03,222,,010,200,,/\n"
        b"16,475,25,,,,/\n"
    )
    result = parse(data)
    assert [header.account.other_id for header, _ in result.statements] == ["111", "222"]
    assert codes(result) == ["missing_trailer"] * 4
    assert "account 111 (line 3) has no account trailer (49) before line 5" in (
        result.diagnostics[0].message
    )


def test_a_blank_trailer_figure_is_not_checked() -> None:
    data = (
        b"01,1111,testcompany,210101,0101,010101010101,,,2/\n"
        b"02,testcompany,1111,1,210101,2359,,2/\n"
        b"03,12345,/\n49,,2/\n03,54321,/\n49,,2/\n98,0,2,6/\n99,0,1,8/\n"
    )
    result = parse(data)
    assert result.diagnostics == []
    assert [h.bank_statement_id for h, _ in result.statements] == [
        "12345:2021-01-01",
        "54321:2021-01-01",
    ]


def test_an_unreadable_trailer_figure_is_noted_not_refused() -> None:
    data = CLEAN.replace(b"49,3575075,4/", b"49,48X9850,4/")
    result = parse(data)
    assert "invalid_trailer" in codes(result)
    assert len(result.statements) == 1


# -------------------------------------------------------------- ids, groups, modifiers


def test_an_account_reported_twice_for_a_day_gets_a_numbered_id() -> None:
    data = bai2_file("03,77,,010,100,,/", "49,,/", "03,77,,010,100,,/", "49,,/")
    result = parse(data)
    assert [h.bank_statement_id for h, _ in result.statements] == [
        "77:2026-02-28",
        "77:2026-02-28#2",
    ]
    assert codes(result) == ["repeated_account"]


def test_an_interim_same_day_report_is_intraday_with_its_time_in_the_id() -> None:
    [(header, _)] = parse(bai2_file("03,77,,/", "49,,/", modifier="3")).statements
    assert header.kind is StatementKind.INTRADAY
    assert header.bank_statement_id == "77:2026-02-28-interim-1030"


def test_several_groups_and_files_in_one_upload() -> None:
    one = (
        "01,B,A,260301,0615,1,,,2/\n"
        "02,A,B,1,260227,2400,USD,2/\n03,1,,010,100,,/\n49,100,2/\n98,100,1,4/\n"
        "02,A,B,1,260228,2400,EUR,2/\n03,2,,010,200,,/\n49,200,2/\n98,200,1,4/\n"
        "99,300,2,10/\n"
    )
    result = parse((one + one.replace("260227", "260226")).encode())
    assert [(h.bank_statement_id, h.account.currency) for h, _ in result.statements] == [
        ("1:2026-02-27", "USD"),
        ("2:2026-02-28", "EUR"),
        ("1:2026-02-26", "USD"),
        ("2:2026-02-28#2", "EUR"),
    ]
    assert codes(result) == ["repeated_account"]  # the second file repeats 2026-02-28


def test_group_status_and_version_other_than_expected_are_noted() -> None:
    data = CLEAN.replace(b"02,ACME,021000021,1,", b"02,ACME,021000021,4,").replace(
        b"0615,1,,,2/", b"0615,1,,,1/"
    )
    assert codes(parse(data)) == ["bai_version", "group_status"]


# -------------------------------------------------------------------------- refusals


def test_a_file_that_is_not_bai2_is_a_format_mismatch_when_bai2_is_asked_for() -> None:
    with pytest.raises(FormatMismatch) as refused:
        parse(b"00,0004,1/2/345,06/0321,0829,001,80,1,2/\n", statement_format="bai2")
    assert "'00,0004" in refused.value.message


@pytest.mark.parametrize(
    ("data", "path", "line"),
    [
        (b"01,B,A,260301,0615,1,,,2/\n16,195,100,,,,/\n", "16", 2),
        (b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,260228,,,/\n16,195,100,,,,/\n", "16", 3),
        (b"01,B,A,260301,0615,1,,,2/\n03,1,,/\n", "03", 2),
        (b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,,,,/\n", "02 as-of date", 2),
        (b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,20260228,,,/\n", "02 as-of date", 2),
        (
            b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,260228,,,/\n03,,USD,/\n",
            "03 customer account number",
            3,
        ),
        (b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,260228,,,/\n49,1,2/\n", "49", 3),
        (b"01,B,A,260301,0615,1,,,2/\n99,0,0,2/\n02,A,B,1,260228,,,/\n", "02", 3),
        (b"01,B,A,260301,0615,1,,,2/\nHELLO\n", "line 2", 2),
    ],
)
def test_records_out_of_place_are_refused_with_their_line(
    data: bytes, path: str, line: int
) -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(data)
    assert (refused.value.path, refused.value.line) == (path, line)


def test_an_empty_upload_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        bai2.parse(b" \n", tenant_id=TENANT, sha256="0" * 64, statement_format="bai2")


def test_a_file_without_accounts_is_refused() -> None:
    data = b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,260228,2400,,2/\n98,0,0,2/\n99,0,1,4/\n"
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert "no account identifier (03 record)" in refused.value.message


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        # moov-io/bai2's fuzz seeds (test/fuzz/testdata/fuzz/FuzzReaderWriter_ValidFiles)
        (b"020,0,,000110,,,\n03,0,\n16,,,,,,\n03,\n88,0", FormatMismatch),
        (b"020,0,,000101,,,\n03,0,\n16,,0", FormatMismatch),
        (b"0", FormatMismatch),
        (b"\xfa", FormatMismatch),
        (b"01,\n88", MissingElement),
        (b"01,/\n02,/\n03,/\n16,/\n88,/\n49,/\n98,/\n99,/", InvalidRecord),
        (b"01,B,A,260301,0615,1,,,2/\n02,A,B,1,260228,,,/\n03,1,,/\n16,/", InvalidRecord),
    ],
)
def test_odd_inputs_are_refused_with_an_ingest_error(
    data: bytes, refusal: type[IngestError]
) -> None:
    with pytest.raises(refusal):
        parse(data, statement_format="bai2")


@pytest.mark.parametrize("statement_format", [None, "bai2", "mt940", "ocr-giro", "bgmax"])
def test_a_utf16_file_cut_mid_character_is_refused(statement_format: str | None) -> None:
    """Found by fuzzing: an odd number of bytes after a UTF-16 byte order mark escaped as
    UnicodeDecodeError from every parser reading text."""
    data = CLEAN.decode().encode("utf-16")[:-1]
    with pytest.raises(InvalidRecord, match=r"UTF-16 .* damaged or cut short") as refused:
        parse(data, statement_format=statement_format)
    assert refused.value.path == "UTF-16 text"
    assert parse(CLEAN.decode().encode("utf-16")).line_count == 2


def test_a_figure_of_thousands_of_digits_is_refused_or_noted_not_a_crash() -> None:
    """Found by fuzzing: int() refuses 4300 digits and more with a ValueError."""
    with pytest.raises(InvalidRecord, match=r"more than 18 digits") as refused:
        parse(bai2_file("03,55,,/", "16,195," + "9" * 5000 + ",0,REF/"))
    assert refused.value.path == "16 amount"

    result = parse(bai2_file("03,55,,/", "16,195,100,0,REF/", "49," + "1" * 5000 + ",3/"))
    assert "invalid_trailer" in codes(result)  # a trailer figure that cannot be read


def test_a_huge_distribution_count_is_refused_not_looped_over() -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(bai2_file("03,55,,/", "16,195,500,D,999999999,,,/", "49,,/"))
    assert refused.value.path == "16 number of distributions"


def test_a_large_file_is_read_whole_and_checked() -> None:
    """10,000 details (a busy account's day); a quadratic step would show here."""
    count = 10_000
    records = [f"03,1,USD,010,0,,,015,{count * 100},,,100,{count * 100},{count},/"]
    records += [f"16,195,100,,REF{i},CR{i},PAYMENT {i}, WITH COMMA/" for i in range(count)]
    data = bai2_file(*records, "49,,/")
    started = time.perf_counter()
    result = parse(data)
    elapsed = time.perf_counter() - started
    [(header, lines)] = result.statements
    assert len(lines) == count
    assert header.sum_credits == Decimal(count)
    assert lines[-1].remittance_text == f"PAYMENT {count - 1}, WITH COMMA"
    assert result.diagnostics == []
    assert elapsed < 30


def test_every_truncation_of_a_file_gives_a_result_or_an_ingest_error() -> None:
    """Cut anywhere (mid-record, mid-field), the parser refuses cleanly or reads it."""
    outcomes = {"parsed": 0, "refused": 0}
    for end in range(1, len(CLEAN)):
        try:
            parse(CLEAN[:end], statement_format="bai2")
            outcomes["parsed"] += 1
        except IngestError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 0
    assert outcomes["refused"] > 0
