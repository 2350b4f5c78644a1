"""The MT940/MT942 parser on small inline files: one behaviour per test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bankrec.contracts import (
    BankTransactionCode,
    Counterparty,
    ReferenceKind,
    StatementKind,
    StructuredReference,
    account_id_for,
)
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers import mt940
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

TENANT = "t-mt940"
IBAN = "DE89370400440532013000"


def parse(text: str | bytes, statement_format: str = "mt940") -> ParseResult:
    data = text.encode() if isinstance(text, str) else text
    return mt940.parse(data, tenant_id=TENANT, sha256="0" * 64, statement_format=statement_format)


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def statement(
    *lines: str,
    reference: str = "STARTUMS",
    account: str = IBAN,
    number: str = "00042/001",
    opening: str = "C240131EUR1000,00",
    closing: str | None = "auto",
) -> str:
    """One MT940 message; ``lines`` are ``:61:``/``:86:`` fields (with their tags)."""
    fields = [f":20:{reference}", f":25:{account}", f":28C:{number}", f":60F:{opening}"]
    fields.extend(lines)
    if closing == "auto":
        closing = "C240201EUR1000,00"
    if closing is not None:
        fields.append(f":62F:{closing}")
    return "\r\n".join(fields) + "\r\n-\r\n"


# ------------------------------------------------------------------------ header


def test_header_carries_account_balances_sequence_number_and_id() -> None:
    text = statement(
        ":61:2402010201C250,00NTRFINV-2024-17//BANKREF0001",
        ":61:2402010201D40,50NMSCNONREF//BANKREF0002",
        closing="C240201EUR1209,50",
    )
    result = parse(text)

    assert result.source_format == "mt940"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    assert header.account.iban == IBAN
    assert header.account.account_id == account_id_for(TENANT, IBAN)
    assert header.account.currency == "EUR"
    assert header.bank_statement_id == "STARTUMS 00042/001 2024-02-01"
    assert header.kind is StatementKind.END_OF_DAY
    assert header.source_format == "mt940"
    assert header.electronic_sequence_number == 42
    assert header.legal_sequence_number == 42
    assert header.opening_booked is not None
    assert header.opening_booked.amount.amount == Decimal("1000.00")
    assert header.opening_booked.date == date(2024, 1, 31)
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("1209.50")
    assert header.period_to == date(2024, 2, 1)
    assert (header.entry_count, header.sum_credits, header.sum_debits) == (
        2,
        Decimal("250.00"),
        Decimal("40.50"),
    )
    first, second = lines
    assert first.amount.amount == Decimal("250.00")
    assert first.customer_reference == "INV-2024-17"
    assert first.bank_reference == "BANKREF0001"
    assert first.bank_transaction_code == BankTransactionCode(
        proprietary="NTRF", proprietary_issuer="SWIFT"
    )
    assert second.amount.amount == Decimal("-40.50")
    assert second.customer_reference is None  # NONREF
    assert (second.booking_date, second.value_date) == (date(2024, 2, 1), date(2024, 2, 1))


def test_amounts_get_the_currency_decimals_and_debit_balances_are_negative() -> None:
    text = statement(":61:240201D9,NMSCNONREF", opening="D240131EUR0,", closing="D240201EUR9,")
    [(header, [line])] = parse(text).statements

    assert line.amount.amount == Decimal("-9.00")
    assert str(line.amount.amount) == "-9.00"
    assert header.opening_booked is not None
    assert header.closing_booked is not None
    assert header.opening_booked.amount.amount == Decimal("0.00")
    assert header.closing_booked.amount.amount == Decimal("-9.00")


@pytest.mark.parametrize(
    ("account", "iban", "other_id", "bic"),
    [
        ("NL34RABO0142623393 EUR", "NL34RABO0142623393", None, None),
        ("NL91ABNA0417164300EUR", "NL91ABNA0417164300", None, None),
        ("NL77INGB0574908765EUR", None, "NL77INGB0574908765", None),  # check digits fail
        ("10020030/1234567", None, "10020030/1234567", None),
        ("DABADKKK/1111.11.11111", None, "1111.11.11111", "DABADKKK"),
        ("BILLLULLXXX/LU540026121160200600", "LU540026121160200600", None, "BILLLULLXXX"),
        ("1700.59.286USD", None, "1700.59.286USD", None),
    ],
)
def test_account_identification_variants(
    account: str, iban: str | None, other_id: str | None, bic: str | None
) -> None:
    [(header, _)] = parse(statement(account=account, closing="C240131EUR1000,00")).statements

    assert header.account.iban == iban
    assert header.account.other_id == other_id
    assert header.account.servicer_bic == bic


def test_account_option_p_names_the_servicing_bank_on_its_second_line() -> None:
    text = statement(closing="C240131EUR1000,00").replace(
        f":25:{IBAN}", f":25P:{IBAN}\r\nCOBADEFFXXX"
    )
    [(header, _)] = parse(text).statements

    assert (header.account.iban, header.account.servicer_bic) == (IBAN, "COBADEFFXXX")


def test_a_statement_without_closing_balance_says_it_cannot_be_checked() -> None:
    result = parse(statement(":61:240201C5,00NTRFNONREF", closing=None))

    assert codes(result) == ["missing_balance"]
    assert "no closing (:62F:) balance" in result.diagnostics[0].message
    assert result.diagnostics[0].statement == "STARTUMS 00042/001 2024-01-31"


def test_proprietary_ns_fields_are_ignored() -> None:
    text = statement(
        ":61:0203170320CM5000,00S05168790452",
        ":NS:01Verwendungszweck 1\r\n02Verwendungszweck 2\r\n15Empfaenger",
        closing="C240201EUR6000,00",
    ).replace(":28C:00042/001", ":28:1/1\r\n:NS:22Test GmbH\r\n23Testkonto")
    result = parse(text)

    assert result.diagnostics == []
    [(header, [line])] = result.statements
    assert header.electronic_sequence_number == 1
    assert line.amount.amount == Decimal("5000.00")  # funds code M (DEM) after the mark
    assert line.customer_reference == "68790452"
    assert line.remittance_text is None


def test_statement_without_lines_is_a_statement() -> None:
    [(header, lines)] = parse(statement(closing="C240201EUR1000,00")).statements

    assert lines == []
    assert header.entry_count == 0
    assert header.sum_credits == Decimal("0.00")


def test_balances_that_do_not_add_up_are_a_diagnostic() -> None:
    result = parse(statement(":61:240201C5,00NTRFNONREF", closing="C240201EUR1000,00"))

    assert codes(result) == ["balance_mismatch"]
    assert result.diagnostics[0].statement == "STARTUMS 00042/001 2024-02-01"
    assert "difference -5.00 EUR" in result.diagnostics[0].message


def test_a_balance_without_currency_takes_the_statements_with_a_diagnostic() -> None:
    result = parse(statement(closing="C2402011000,00"))

    assert codes(result) == ["balance_without_currency"]
    [(header, _)] = result.statements
    assert header.closing_booked is not None
    assert header.closing_booked.amount.currency == "EUR"


# ------------------------------------------------------------------- statement lines


@pytest.mark.parametrize(
    ("mark", "amount", "reversal"),
    [
        ("C", "12.00", False),
        ("D", "-12.00", False),
        ("RD", "12.00", True),  # reversal of a debit: the money comes back
        ("RC", "-12.00", True),  # reversal of a credit: the money goes out again
        ("CR", "12.00", False),  # credit, funds code R (EUR)
        ("DR", "-12.00", False),
        ("RDR", "12.00", True),
        ("RCR", "-12.00", True),
    ],
)
def test_debit_credit_marks_reversals_and_funds_codes(
    mark: str, amount: str, reversal: bool
) -> None:
    closing = f"C240201EUR{1000 + Decimal(amount):.2f}".replace(".", ",")
    text = statement(f":61:2402010201{mark}12,00NTRFNONREF", closing=closing)
    result = parse(text)

    [(_, [line])] = result.statements
    assert line.amount.amount == Decimal(amount)
    assert line.reversal is reversal
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("value_and_entry", "value_date", "booking_date"),
    [
        ("2312300102", date(2023, 12, 30), date(2024, 1, 2)),  # booked in the next year
        ("2401021229", date(2024, 1, 2), date(2023, 12, 29)),  # booked in the year before
        ("2402290301", date(2024, 2, 29), date(2024, 3, 1)),  # leap day
        ("240615", date(2024, 6, 15), date(2024, 6, 15)),  # no entry date: booked on value
    ],
)
def test_entry_date_takes_the_year_nearest_the_value_date(
    value_and_entry: str, value_date: date, booking_date: date
) -> None:
    text = statement(f":61:{value_and_entry}C1,00NTRFNONREF", closing=None)
    [(_, [line])] = parse(text).statements

    assert (line.value_date, line.booking_date) == (value_date, booking_date)


def test_a_date_that_does_not_exist_is_refused_with_its_line() -> None:
    text = statement(":61:1602300301DR6,00N024NONREF")
    with pytest.raises(InvalidRecord) as refused:
        parse(text)

    assert refused.value.line == 5
    assert refused.value.path == ":61: value date"
    assert "2016-02-30 does not exist" in refused.value.message
    assert "statement 'STARTUMS'" in refused.value.message


def test_an_amount_without_its_decimal_comma_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="has no decimal comma") as refused:
        parse(statement(":61:1407290729C500NTRF29-07-2014 10:05//B4G29PGDCK1QFV3E"))

    assert refused.value.line == 5


def test_a_balance_that_cannot_be_read_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="is not a balance") as refused:
        parse(statement(opening="C221004EURO0,00"))

    assert refused.value.path == ":60F:"
    assert refused.value.line == 4


def test_transaction_type_references_and_supplementary_details() -> None:
    text = statement(
        ":61:0910010930DK2214,00NCHGGebyrer ifolge//nota",
        ":61:1003230323DK5968,64NTRFOverforing med//melding\r\nCard transaction",
        ":61:110527D1213,28N0440121470966      W.P. Jansen",  # Rabobank: padded reference
        ":61:2011301130DN220000,00//19239782213",  # no type, no customer reference
        ":61:2009020902D20,00NONREF",  # no type code at all
        closing=None,
    )
    lines = parse(text).statements[0][1]

    assert [(line.customer_reference, line.bank_reference) for line in lines] == [
        ("Gebyrer ifolge", "nota"),
        ("Overforing med", "melding"),
        ("0121470966", None),
        (None, "19239782213"),
        (None, None),
    ]
    assert lines[1].additional_info == "Card transaction"
    assert lines[2].additional_info == "W.P. Jansen"
    assert lines[0].bank_transaction_code is not None
    assert lines[0].bank_transaction_code.proprietary == "NCHG"
    assert lines[3].bank_transaction_code is None
    assert lines[4].bank_transaction_code is None


def test_original_amount_and_charges_of_the_supplementary_details() -> None:
    text = statement(
        ":61:1804090409DR12,34NTRF0000549855700010//025498557/000001\r\n"
        "/OCMT/CAD47,11/CHGS/EUR1,23",
        closing=None,
    )
    [(_, [line])] = parse(text).statements

    assert line.exchange is not None
    assert line.exchange.instructed_amount is not None
    assert line.exchange.instructed_amount.amount == Decimal("47.11")
    assert line.exchange.instructed_amount.currency == "CAD"
    assert [(c.amount.amount, c.amount.currency) for c in line.charges] == [
        (Decimal("1.23"), "EUR")
    ]


# --------------------------------------------------------------------- :86: dialects


def test_german_structured_details_with_sepa_keys() -> None:
    text = statement(
        ":61:2006080608D12,35NRTIKREF+//2016021783252833",
        ":86:109?00SEPA-LASTSCHR. RETOURE CORE?109075/629?20EREF+A1.200080779.\r\n"
        "400143254?21.4961336 KREF+SEPA-DA202006?2201221740-34972000-P1 MR\r\n"
        "EF+2?230852HW2723821 CRED+DE41EON0?240000129793 PURP+GDDS SVWZ+?\r\n"
        "25RF18 5390 0754 7034 GAS-ABR?26ECHNUNG?30COBADEFFXXX?31DE8937040044\r\n"
        "0532013000?32STADTWERKE MUSTERSTADT GMBH?33 & CO. KG?60ABWA+Kunde 4711",
        closing="C240201EUR987,65",
    )
    [(_, [line])] = parse(text).statements

    assert line.bank_transaction_code == BankTransactionCode(
        proprietary="109", proprietary_issuer="DK"
    )
    assert line.end_to_end_id == "A1.200080779.400143254.4961336"
    assert line.customer_reference == "SEPA-DA20200601221740-34972000-P1"
    assert line.purpose_code == "GDDS"
    assert line.counterparty == Counterparty(
        name="STADTWERKE MUSTERSTADT GMBH & CO. KG", iban=IBAN, bic="COBADEFFXXX"
    )
    assert line.remittance_text == "RF18 5390 0754 7034 GAS-ABRECHNUNG"
    assert line.structured_reference == StructuredReference(
        value="RF18539007547034", kind=ReferenceKind.RF
    )
    assert line.additional_info is not None
    assert line.additional_info.startswith("SEPA-LASTSCHR. RETOURE CORE")
    assert "mandate 20852HW2723821" in line.additional_info
    assert "creditor id DE41EON00000129793" in line.additional_info
    assert "ultimate party Kunde 4711" in line.additional_info


def test_german_structured_legacy_bank_code_and_not_provided_end_to_end_id() -> None:
    text = statement(
        ":61:2103310331C50,00 NTRFNONREF//2109025460313532",
        ":86:166?00SEPA-GUTSCHRIFT?109075/611?20EREF+NOTPROVIDED SVWZ+VERTR?21\r\n"
        ":KO:NR:401113172APRIL 2021?3050652124?31900932005?32XXXXXXA MXXXXXX",
        closing="C240201EUR1050,00",
    )
    [(_, [line])] = parse(text).statements

    assert line.end_to_end_id is None
    # ?20 is full (27 characters): ?21 continues it without a space
    assert line.remittance_text == "VERTR:KO:NR:401113172APRIL 2021"
    assert line.counterparty == Counterparty(
        name="XXXXXXA MXXXXXX", other_account="50652124/900932005"
    )


def test_german_structured_remittance_pieces_join_without_breaks() -> None:
    text = statement(
        ":61:1008010802DR5,9N024NONREF",
        ":86:809?00ENTGELTABSCHLUSS?106666?20ABRECHNUNG 30.07.2010?24ABRECHNUNGS\r\n"
        "ZEITRAUM VOM 01.?2507.2010 BIS 30.07.2010",
        closing="C240201EUR994,10",
    )
    [(_, [line])] = parse(text).statements

    assert (
        line.remittance_text
        == "ABRECHNUNG 30.07.2010 ABRECHNUNGSZEITRAUM VOM 01.07.2010 BIS 30.07.2010"
    )
    assert line.additional_info == "ENTGELTABSCHLUSS"


def test_slash_keyed_ing_details() -> None:
    text = statement(
        ":61:1402200220C32,00NTRFEREF//00000000001011\r\n/TRCD/00108/",
        ":86:/EREF/15814016000676480//CNTP/NL32INGB0000012345/INGBNL2A/J.J\r\n"
        "anssen///REMI/STRD/CUR/9001123412341234/",
        ":61:1402200220D1,57NTRFPREF//00000000001006\r\n/TRCD/00200/",
        ":86:/PREF/M000000003333333//REMI/USTD//TOTAAL 1 VZ/",
        closing="C240201EUR1030,43",
    )
    [(_, [credit, debit])] = parse(text).statements

    assert credit.end_to_end_id == "15814016000676480"
    assert credit.counterparty == Counterparty(
        name="J.Janssen", iban="NL32INGB0000012345", bic="INGBNL2A"
    )
    # Currence's Dutch payment reference is digits, but no Norwegian KID
    assert credit.structured_reference == StructuredReference(
        value="9001123412341234", kind=ReferenceKind.OCR
    )
    assert credit.remittance_text is None
    assert credit.additional_info == "/TRCD/00108/"
    assert debit.customer_reference == "M000000003333333"  # the batch: /PREF/
    assert debit.remittance_text == "TOTAAL 1 VZ"


def test_slash_keyed_abn_amro_details_with_a_creditor_reference() -> None:
    text = statement(
        ":61:1205120514C500,01N654NONREF",
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/DE89370400440532013000/BIC/COBADEFF\r\n"
        "/NAME/QASD JGRED/REMI/CDTRREFTP//CD/SCOR/ISSR/ISO/CDTRREF/RF18539007\r\n"
        "547034/EREF/NOTPROVIDED",
        closing="C240201EUR1500,01",
    )
    [(_, [line])] = parse(text).statements

    assert line.counterparty == Counterparty(name="QASD JGRED", iban=IBAN, bic="COBADEFF")
    assert line.structured_reference == StructuredReference(
        value="RF18539007547034", kind=ReferenceKind.RF
    )
    assert line.end_to_end_id is None
    assert line.additional_info == "SEPA OVERBOEKING"


def test_rabobank_counterparty_iban_on_the_statement_line() -> None:
    text = statement(
        ":61:140102C000000000400,00N541NONREF\r\nNL66RABO0160878799",
        ":86:/ORDP//NAME/R. SMITH/ADDR/Green market 74 3311BE Sheepcity Nederl\r\n"
        "and NL/REMI/Test money paid by other partner:\r\n/ISDT/2014-01-02",
        closing="C240201EUR1400,00",
    )
    [(_, [line])] = parse(text).statements

    assert line.counterparty is not None
    assert line.counterparty.name == "R. SMITH"
    assert line.counterparty.account_number == "NL66RABO0160878799"
    assert line.remittance_text == "Test money paid by other partner:"


def test_free_text_wrapped_at_65_characters_and_several_86_fields() -> None:
    full = "GIRO AUS ONLINE-SIC 80701 AUFTRAGGEBER: XXXXXXXXX XXX XXXXXXXXSTR"
    assert len(":86:" + full) == 69
    text = statement(
        ":61:1312161216D79,9FMSC01916//NONREF",
        f":86:{full}\r\nASSE 111 1234 ZUERICH\r\nMITTEILUNGEN: 1 SONNE",
        ":86:SECOND FIELD",
        closing="C240201EUR920,10",
    )
    [(_, [line])] = parse(text).statements

    assert line.remittance_text == (
        "GIRO AUS ONLINE-SIC 80701 AUFTRAGGEBER: XXXXXXXXX XXX XXXXXXXXSTRASSE 111 1234 "
        "ZUERICH MITTEILUNGEN: 1 SONNE SECOND FIELD"
    )
    assert line.bank_reference is None  # NONREF


def test_statement_information_before_the_lines_and_after_the_closing_is_not_a_line() -> None:
    text = (
        ":20:3996-11.11.11111\n:25:DABADKKK/1111.11.11111\n:28C:00147/001\n"
        ":60F:C100311NOK100,00\n:86:For your inform. IBAN no.: NO1111111111111\n"
        ":61:1003230323DK5,00NTRFOverforing//melding\n:86:Overforing melding\n"
        ":62F:C100323NOK95,00\n:86:D000001C000000D5,00C0,00\n"
    )
    [(header, [line])] = parse(text).statements

    assert line.remittance_text == "Overforing melding"
    assert header.account.currency == "NOK"


def test_triodos_subfields_with_angle_brackets() -> None:
    text = statement(
        ":61:121123C150,00NET NONREF",
        ":86:000>100000000000\r\n>20BBBBAA2U\r\n>21NL91ABNA0417164300\r\n"
        ">22TENAAMSTELLING TEGENREKENIN>23G EN ADRES\r\n>310666666666",
        closing="C240201EUR1150,00",
    )
    [(_, [line])] = parse(text).statements

    assert line.counterparty == Counterparty(iban="NL91ABNA0417164300", bic="BBBBAA2U")
    assert line.remittance_text == "TENAAMSTELLING TEGENREKENING EN ADRES"
    # Triodos' 000 is no German business transaction code: the SWIFT type is kept
    assert line.bank_transaction_code == BankTransactionCode(
        proprietary="NET", proprietary_issuer="SWIFT"
    )


def test_sns_free_text_starts_with_the_counterparty() -> None:
    padding = " " * 65
    text = statement(
        ":61:1712271227D713,13NOVBNL91ABNA0417164300\r\ngerrits glas en schilderwerk",
        ":86:NL91ABNA0417164300 gerrits glas en schilderwerk\r\n"
        f"{padding}\r\nFactuur 17227/248/20{' ' * 45}\r\n{padding}",
        closing="C240201EUR286,87",
    )
    [(_, [line])] = parse(text).statements

    assert line.counterparty == Counterparty(
        name="gerrits glas en schilderwerk", iban="NL91ABNA0417164300"
    )
    assert line.remittance_text == "Factuur 17227/248/20"


def test_knab_free_text_names_the_counterparty_account() -> None:
    text = statement(
        ":61:1407290729D7260,NTRFNONREF//B4G29PGCVO7Q06US",
        ":86:FACTUUR 201403110, 201403113\r\nREK: NL91ABNA0417164300/NAAM: PICQER",
        closing="D240201EUR6260,00",
    )
    [(_, [line])] = parse(text).statements

    assert line.counterparty == Counterparty(name="PICQER", iban="NL91ABNA0417164300")
    assert (
        line.remittance_text == "FACTUUR 201403110, 201403113 REK: NL91ABNA0417164300/NAAM: PICQER"
    )


# ------------------------------------------------------------ files and envelopes


def test_several_messages_with_envelopes_headers_and_separators() -> None:
    first = statement(reference="MSG1", number="00001/001", closing="C240201EUR1000,00")
    second = statement(
        reference="MSG2",
        number="00002/001",
        opening="C240201EUR1000,00",
        closing="C240202EUR1000,00",
    )
    text = (
        "ABNANL2A\r\n940\r\nABNANL2A\r\n"
        "{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{3:{108:X}}{4:\r\n"
        + first.replace("\r\n-\r\n", "\r\n-}{5:{CHK:0000}}\r\n")
        + "{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{4:\r\n"
        + second.replace("\r\n-\r\n", "\r\n-}\r\n")
    )
    result = parse(text)

    assert [h.bank_statement_id for h, _ in result.statements] == [
        "MSG1 00001/001 2024-02-01",
        "MSG2 00002/001 2024-02-02",
    ]
    assert codes(result) == ["skipped_lines"]
    assert "3 line(s)" in result.diagnostics[0].message
    assert "line 1: 'ABNANL2A'" in result.diagnostics[0].message


def test_a_dash_line_inside_information_to_account_owner_is_text() -> None:
    text = statement(
        ":61:1402200220D1,14NDDTEREF//00000000001009",
        ":86:/EREF/EV123//MARF/MND\r\n-\r\nEV01//CSID/NL32ZZZ999999991234//REMI/USTD//X/",
        closing="C240201EUR998,86",
    )
    result = parse(text)

    [(_, [line])] = result.statements
    assert line.additional_info is not None
    assert "mandate MND - EV01" in line.additional_info
    assert "creditor id NL32ZZZ999999991234" in line.additional_info
    assert result.diagnostics == []


def test_same_reference_and_number_on_different_days_gives_distinct_ids() -> None:
    day_one = statement(number="00000/001", closing="C240201EUR1000,00")
    day_two = statement(
        number="00000/001", opening="C240201EUR1000,00", closing="C240202EUR1000,00"
    )
    result = parse(day_one + day_two)

    ids = [h.statement_id for h, _ in result.statements]
    assert len(set(ids)) == 2
    assert [h.electronic_sequence_number for h, _ in result.statements] == [None, None]


def test_pages_of_one_statement_are_distinct_statements() -> None:
    page_one = statement(":61:240201C5,00NTRFNONREF", number="999/1", closing="C240201EUR1005,00")
    page_two = statement(
        ":61:240201C5,00NTRFNONREF",
        number="999/2",
        opening="C240201EUR1005,00",
        closing="C240201EUR1010,00",
    ).replace(":60F:", ":60M:")
    result = parse(page_one.replace(":62F:", ":62M:") + page_two)

    assert result.diagnostics == []
    assert [h.bank_statement_id for h, _ in result.statements] == [
        "STARTUMS 999/1 2024-02-01",
        "STARTUMS 999/2 2024-02-01",
    ]
    line_ids = [line.line_id for _, lines in result.statements for line in lines]
    assert len(set(line_ids)) == 2


def test_a_repeated_statement_keeps_its_id_and_a_different_one_with_its_id_is_renamed() -> None:
    one = statement(":61:240201C5,00NTRFNONREF", closing="C240201EUR1005,00")
    other = statement(":61:240201C7,00NTRFNONREF", closing="C240201EUR1007,00")
    result = parse(one + one + other)

    assert [h.bank_statement_id for h, _ in result.statements] == [
        "STARTUMS 00042/001 2024-02-01",
        "STARTUMS 00042/001 2024-02-01",
        "STARTUMS 00042/001 2024-02-01 #2",
    ]
    assert codes(result) == ["duplicate_statement", "statement_id_reused"]


def test_line_endings_encodings_and_at_sign_breaks_read_alike() -> None:
    crlf = statement(":61:240201C5,00NTRFNONREF", ":86:MIETE M\xc4RZ", closing="C240201EUR1005,00")
    lf = crlf.replace("\r\n", "\n")
    at_signs = crlf.replace("\r\n", "@@")

    results = [
        parse(crlf.encode("cp1252")),
        parse(lf.encode("utf-8")),
        parse(at_signs.encode("utf-8")),
    ]
    texts = [r.statements[0][1][0].remittance_text for r in results]
    assert texts == ["MIETE MÄRZ"] * 3
    assert all(r.diagnostics == [] for r in results)


def test_an_unknown_tag_at_the_start_of_a_continuation_line_is_text() -> None:
    text = statement(
        ":61:1601300301DR6,00N024NONREF",
        ":86:805?00ENTGELTABSCHLUSS?20Pauschalen?602017-01-01T13\r\n:12:11",
        closing="C240201EUR994,00",
    )
    [(_, [line])] = parse(text).statements

    assert line.remittance_text == "Pauschalen 2017-01-01T13:12:11"


def test_rabobank_decimal_points_are_read_with_a_diagnostic() -> None:
    text = statement(
        ":61:030109C000000000300.00NMSCNONREF",
        opening="C030108EUR000000020000.00",
        closing="C030109EUR000000020300.00",
    )
    result = parse(text)

    assert codes(result) == ["decimal_point"]
    [(header, [line])] = result.statements
    assert line.amount.amount == Decimal("300.00")
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("20300.00")


# ---------------------------------------------------------------------------- MT942


MT942 = (
    "{1:F01BANKDEFFXXXX0000000000}{2:O942BANKDEFFXXXXN}{4:\r\n"
    ":20:INTRADAY1\r\n:25:10020030/1234567\r\n:28C:13/1\r\n"
    ":34F:EURD0,00\r\n:34F:EURC0,00\r\n:13D:2401091733+0100\r\n"
    ":61:240109C9792,00FTRFNONREF\r\n:86:008?00DAUERAUFTRAG?20Miete Januar\r\n"
    ":61:240109D100,00FTRFNONREF\r\n"
    ":90D:1EUR100,00\r\n:90C:1EUR9792,00\r\n-}"
)


def test_mt942_intraday_report_with_its_totals() -> None:
    result = parse(MT942, "mt942")

    assert result.source_format == "mt942"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    assert header.kind is StatementKind.INTRADAY
    assert header.source_format == "mt942"
    assert header.account.currency == "EUR"
    assert header.opening_booked is None
    assert header.closing_booked is None
    assert header.created_at == datetime(2024, 1, 9, 17, 33, tzinfo=timezone(timedelta(hours=1)))
    assert header.bank_statement_id == "INTRADAY1 13/1 2024-01-09T17:33"
    assert [line.amount.amount for line in lines] == [Decimal("9792.00"), Decimal("-100.00")]


def test_mt942_totals_that_do_not_match_are_a_diagnostic() -> None:
    result = parse(MT942.replace(":90D:1EUR100,00", ":90D:2EUR150,00"), "mt942")

    assert codes(result) == ["summary_mismatch", "summary_mismatch"]
    assert "says 2 debit entries but the statement has 1" in result.diagnostics[0].message


def test_mt942_totals_with_a_count_of_thousands_of_digits_are_refused() -> None:
    # found by fuzzing: int() refuses 4300 digits and more with a ValueError
    text = MT942.replace(":90D:1EUR100,00", ":90D:" + "1" * 5000 + "EUR100,00")
    with pytest.raises(InvalidRecord, match=r"the number of entries has 5000 digits"):
        parse(text, "mt942")


def test_mt942_report_time_without_offset_is_read_as_utc_with_a_diagnostic() -> None:
    text = MT942.replace(":13D:2401091733+0100", ":13:2401091733").replace(
        ":34F:EURD0,00\r\n:34F:EURC0,00\r\n", ""
    )
    result = parse(text, "mt942")

    assert codes(result) == ["date_time_without_offset"]
    [(header, _)] = result.statements
    assert header.created_at == datetime(2024, 1, 9, 17, 33, tzinfo=UTC)
    assert header.account.currency == "EUR"  # from the :90D: totals


def test_an_mt942_message_in_a_file_read_as_mt940_is_intraday() -> None:
    [(header, _)] = parse(MT942, "mt940").statements

    assert header.kind is StatementKind.INTRADAY


# ------------------------------------------------------------------------- refusals


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        parse(b"  \r\n ")


def test_a_file_that_is_not_swift_mt_is_a_format_mismatch() -> None:
    with pytest.raises(FormatMismatch, match="no :20:"):
        parse("Date;Amount;Text\n2024-02-01;12,50;Coffee\n")


def test_a_second_account_in_one_statement_is_refused() -> None:
    text = statement(
        ":61:0709070904CR50990,05NTRFNONREF//0724710333343453",
        ":25:166?00GUTSCHRIFT?100399?20EREF+EndToEndId",
    )
    with pytest.raises(InvalidRecord, match="a second :25:") as refused:
        parse(text)

    assert refused.value.line == 6


def test_a_statement_line_after_the_closing_balance_is_refused() -> None:
    text = statement(closing="C240201EUR1000,00").replace(
        "\r\n-\r\n", "\r\n:61:240201C5,00NTRFNONREF\r\n-\r\n"
    )
    with pytest.raises(
        InvalidRecord, match="after the closing balance :62F: \\(line 5\\)"
    ) as refused:
        parse(text)

    assert refused.value.line == 6


def test_balances_in_two_currencies_are_refused() -> None:
    with pytest.raises(InvalidRecord, match="the balance is in USD but") as refused:
        parse(statement(closing="C240201USD1000,00"))

    assert refused.value.path == ":62F: currency"


def test_a_statement_without_account_is_refused() -> None:
    text = ":20:STARTUMSE\r\n:28C:00000/001\r\n:60F:C160229EUR1200,00\r\n:62F:C160301EUR1200,00\r\n"
    with pytest.raises(InvalidRecord, match="no account identification"):
        parse(text)


def test_a_field_before_the_first_transaction_reference_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="before any :20:") as refused:
        parse(":25:PL25106000760000888888888888\r\n:20:X\r\n")

    assert refused.value.line == 1


def test_a_statement_without_any_currency_is_refused() -> None:
    text = ":20:BOFA/US220647USD\n:25:55590040647\n:28C:00478/01\n:61:100930D20,NCMZNOREF\n-"
    with pytest.raises(InvalidRecord, match="names its currency"):
        parse(text)


# Found by fuzzing (test_parser_fuzzing.py): each escaped as another exception.


@pytest.mark.parametrize("offset", ["+2599", "-2400", "+0160"])
def test_a_report_time_with_an_impossible_utc_offset_is_refused(offset: str) -> None:
    text = MT942.replace(":13D:2401091733+0100", f":13D:2401091733{offset}")
    with pytest.raises(InvalidRecord, match=r"is not a UTC offset") as refused:
        parse(text, "mt942")  # was ValueError from datetime.timezone

    assert refused.value.path == ":13D: UTC offset"
    assert refused.value.line == 7


@pytest.mark.parametrize("number", ["0\u00b3004/001", "9" * 5000 + "/001"])
def test_a_statement_number_int_does_not_read_is_no_sequence_number(number: str) -> None:
    # a superscript 3 passed isdigit(); 5000 digits pass the 4300 digits int() reads
    [(header, _)] = parse(statement(number=number)).statements

    assert header.electronic_sequence_number is None  # was ValueError from int()


@pytest.mark.parametrize(
    ("opening", "line", "path"),
    [
        ("C240131EUR" + "9" * 40 + ",00", ":61:2402010201C1,00NTRFNONREF", "opening balance"),
        ("C240131EUR1000,00", ":61:2402010201C" + "1" * 19 + ",NTRFNONREF", "line 1 amount"),
    ],
)
def test_an_amount_of_more_than_18_digits_is_refused(opening: str, line: str, path: str) -> None:
    with pytest.raises(InvalidRecord, match=r"more than 18 digits before the decimal mark") as err:
        parse(statement(line, opening=opening, closing=None))  # was decimal.InvalidOperation

    assert err.value.path == path


# ----------------------------------------------------------------- through dispatch


def test_parse_statement_file_detects_mt940_and_mt942() -> None:
    detected = parse_statement_file(statement().encode(), tenant_id=TENANT)
    intraday = parse_statement_file(MT942.encode(), tenant_id=TENANT)
    forced = parse_statement_file(statement().encode(), tenant_id=TENANT, statement_format="mt940")

    assert detected.source_format == "mt940"
    assert intraday.source_format == "mt942"
    assert forced.statements[0][0].bank_statement_id == "STARTUMS 00042/001 2024-02-01"


def test_a_large_statement_keeps_every_line_and_its_sums() -> None:
    count = 2000
    lines = []
    for index in range(count):
        lines.append(f":61:2402010201C1,25NTRFREF{index}//B{index:07d}")
        lines.append(
            f":86:166?00GUTSCHRIFT?20EREF+E2E-{index}?21SVWZ+Rechnung {index}"
            f"?30COBADEFFXXX?31{IBAN}?32Kunde {index}"
        )
    result = parse(statement(*lines, closing="C240201EUR3500,00"))

    assert result.diagnostics == []
    [(header, parsed)] = result.statements
    assert header.line_count == count
    assert header.sum_credits == Decimal("2500.00")
    assert parsed[-1].end_to_end_id == f"E2E-{count - 1}"
    assert parsed[-1].remittance_text == f"Rechnung {count - 1}"
    assert len({line.line_id for line in parsed}) == count
