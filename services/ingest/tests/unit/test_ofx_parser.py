"""The OFX/QFX parser on small files written here: one behaviour per test."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bankrec.contracts import (
    BankTransactionCode,
    Counterparty,
    CurrencyExchange,
    EntryStatus,
    account_id_for,
)
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers import ofx
from bankrec.ingest.domain.parsers.ofx import parse_ofx_amount, parse_ofx_datetime
from bankrec.ingest.errors import (
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    FormatMismatch,
    IngestError,
    InvalidRecord,
    InvalidValue,
    MissingElement,
)

TENANT = "t-ofx"

SGML_HEADER = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

"""
XML_HEADER = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
"""

# A checking account in SGML: leaf elements are not closed.
SGML_BODY = b"""<OFX>
<SIGNONMSGSRSV1><SONRS>
<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20260301063000.000[-5:EST]
<LANGUAGE>ENG
<FI><ORG>FIRST BANK<FID>1101</FI>
<INTU.BID>51123
</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS>
<TRNUID>0
<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS>
<CURDEF>USD
<BANKACCTFROM>
<BANKID>021000021
<ACCTID>1452687~7
<ACCTTYPE>CHECKING
</BANKACCTFROM>
<BANKTRANLIST>
<DTSTART>20260201
<DTEND>20260228235959
<STMTTRN>
<TRNTYPE>CREDIT
<DTPOSTED>20260203120000.000[-5:EST]
<DTAVAIL>20260204
<TRNAMT>1500.00
<FITID>0000486
<NAME>NORDIC SUPPLY AS
<MEMO>INVOICE 2026-001 &amp; 2026-002
</STMTTRN>
<STMTTRN>
<TRNTYPE>CHECK
<DTPOSTED>20260207
<DTUSER>20260205
<TRNAMT>-250.75
<FITID>0000487
<CHECKNUM>321
<REFNUM>R-99
<PAYEE><NAME>CITY WATER<ADDR1>1 MAIN ST<CITY>SPRINGFIELD<STATE>IL<POSTALCODE>62701</PAYEE>
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>11249.25<DTASOF>20260228235959</LEDGERBAL>
<AVAILBAL><BALAMT>11000<DTASOF>20260228235959</AVAILBAL>
</STMTRS>
</STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""
SGML = SGML_HEADER + SGML_BODY


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def as_xml(body: bytes) -> bytes:
    """The same content as OFX 2 XML: every leaf closed."""
    closed = re.sub(rb"<([A-Z0-9.]+)>([^<\n]+)", rb"<\1>\2</\1>", body)
    return XML_HEADER + closed


def bank_file(transactions: str, *, curdef: str = "USD", extra: str = "") -> bytes:
    """An SGML file with one checking statement holding the given STMTTRN bodies."""
    body = "".join(f"<STMTTRN>{t}</STMTTRN>\n" for t in transactions.split("|") if t)
    return (
        SGML_HEADER
        + (
            "<OFX><BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>"
            f"<STMTRS><CURDEF>{curdef}<BANKACCTFROM><BANKID>1<ACCTID>555<ACCTTYPE>CHECKING"
            "</BANKACCTFROM><BANKTRANLIST><DTSTART>20260101<DTEND>20260131\n"
            f"{body}</BANKTRANLIST>{extra}</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n"
        ).encode()
    )


# --------------------------------------------------------------------- a bank statement


def test_sgml_statement_header_balances_and_lines() -> None:
    result = parse(SGML)

    assert result.source_format == "ofx.102"
    assert codes(result) == ["no_opening_balance"]
    [(header, lines)] = result.statements
    account_id = account_id_for(TENANT, "1452687~7")
    assert header.account.account_id == account_id
    assert header.account.other_id == "1452687~7"
    assert header.account.currency == "USD"
    assert header.bank_statement_id == "1452687~7:2026-02-01/2026-02-28T23:59:59"
    assert header.statement_id == f"{account_id}:1452687~7:2026-02-01/2026-02-28T23:59:59"
    assert header.source_format == "ofx.102"
    assert header.created_at == datetime(2026, 3, 1, 6, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert (header.period_from, header.period_to) == (date(2026, 2, 1), date(2026, 2, 28))
    assert header.opening_booked is None
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("11249.25")
    assert header.closing_booked.date == date(2026, 2, 28)
    assert header.closing_available is not None
    assert header.closing_available.amount.amount == Decimal("11000.00")
    assert (header.sum_credits, header.sum_debits) == (Decimal("1500.00"), Decimal("250.75"))

    credit, check = lines
    assert credit.amount.amount == Decimal("1500.00")
    assert credit.status is EntryStatus.BOOKED
    assert credit.booking_date == date(2026, 2, 3)  # as written, never shifted to UTC
    assert credit.value_date == date(2026, 2, 4)
    assert credit.bank_reference == credit.entry_reference == "0000486"
    assert credit.bank_transaction_code == BankTransactionCode(
        proprietary="CREDIT", proprietary_issuer="OFX"
    )
    assert credit.counterparty == Counterparty(name="NORDIC SUPPLY AS")
    assert credit.remittance_text == "INVOICE 2026-001 & 2026-002"
    assert credit.customer_reference is None

    assert check.amount.amount == Decimal("-250.75")
    assert check.booking_date == date(2026, 2, 7)
    assert check.customer_reference == "321"
    assert check.counterparty == Counterparty(name="CITY WATER")
    assert check.additional_info == "transaction date 2026-02-05; reference number R-99"


def test_xml_ofx_2_reads_the_same_as_sgml() -> None:
    sgml, xml = parse(SGML), parse(as_xml(SGML_BODY))
    assert xml.source_format == "ofx.211"
    [(sgml_header, sgml_lines)] = sgml.statements
    [(xml_header, xml_lines)] = xml.statements
    assert xml_header.statement_id == sgml_header.statement_id
    assert [line.model_dump() for line in xml_lines] == [line.model_dump() for line in sgml_lines]
    assert xml_header.closing_booked == sgml_header.closing_booked


def test_the_file_is_detected_as_ofx_without_asking() -> None:
    assert parse(SGML).source_format == "ofx.102"
    assert parse(SGML_BODY).source_format == "ofx"  # no header at all


def test_parsing_twice_gives_the_same_ids() -> None:
    ids = [[line.line_id for line in lines] for _, lines in parse(SGML).statements]
    assert ids == [[line.line_id for line in lines] for _, lines in parse(SGML).statements]


# ---------------------------------------------------------------- credit cards, several


def test_credit_card_statement_and_several_statements_in_one_file() -> None:
    card = b"""<CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>2
<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<CCSTMTRS><CURDEF>EUR<CCACCTFROM><ACCTID>4111111111111111</CCACCTFROM>
<BANKTRANLIST><DTSTART>20260201<DTEND>20260228
<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20260210<TRNAMT>-42,50<FITID>C1<NAME>CAFE</STMTTRN>
<STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20260220<TRNAMT>100,00<FITID>C2<MEMO>PAYMENT</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>-1.234,56<DTASOF>20260228</LEDGERBAL>
</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1>
</OFX>"""
    data = SGML.replace(b"</OFX>\n", card)
    result = parse(data)
    (bank, _), (card_header, card_lines) = result.statements
    assert bank.account.currency == "USD"
    assert card_header.account.other_id == "4111111111111111"
    assert card_header.account.currency == "EUR"
    assert card_header.bank_statement_id == "4111111111111111:2026-02-01/2026-02-28"
    assert [line.amount.amount for line in card_lines] == [Decimal("-42.50"), Decimal("100.00")]
    assert card_header.closing_booked is not None
    assert card_header.closing_booked.amount.amount == Decimal("-1234.56")
    assert codes(result) == ["no_opening_balance"]


def test_a_statement_without_transaction_list_is_identified_by_its_balance_date() -> None:
    data = bank_file("").replace(
        b"<BANKTRANLIST><DTSTART>20260101<DTEND>20260131\n</BANKTRANLIST>",
        b"<LEDGERBAL><BALAMT>111<DTASOF>20120603133220.000[-7:PDT]</LEDGERBAL>",
    )
    [(header, lines)] = parse(data).statements
    assert header.bank_statement_id == "555:asof-2012-06-03T13:32:20"
    assert lines == []
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("111.00")


def test_a_statement_with_neither_period_nor_balance_date_is_refused() -> None:
    data = bank_file("").replace(b"<DTSTART>20260101<DTEND>20260131", b"")
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert refused.value.path == "STMTRS/BANKTRANLIST/DTEND"


def test_the_same_statement_twice_is_noted() -> None:
    statement = SGML_BODY[SGML_BODY.index(b"<STMTTRNRS>") : SGML_BODY.index(b"</BANKMSGSRSV1>")]
    data = SGML.replace(b"</BANKMSGSRSV1>", statement + b"</BANKMSGSRSV1>")
    result = parse(data)
    assert len(result.statements) == 2
    assert "duplicate_statement" in codes(result)


# ------------------------------------------------------------------ values: dates, amounts


@pytest.mark.parametrize(
    ("text", "day", "key", "offset_hours"),
    [
        ("20260203", date(2026, 2, 3), "2026-02-03", None),
        ("202602031230", date(2026, 2, 3), "2026-02-03T12:30:00", None),
        ("20260203123045.123", date(2026, 2, 3), "2026-02-03T12:30:45", None),
        ("20260203233000.000[-5:EST]", date(2026, 2, 3), "2026-02-03T23:30:00", -5.0),
        ("20260203000000[0:GMT]", date(2026, 2, 3), "2026-02-03T00:00:00", 0.0),
        ("20260203000000[+5.5:IST]", date(2026, 2, 3), "2026-02-03T00:00:00", 5.5),
        ("20180804093914:014", date(2018, 8, 4), "2018-08-04T09:39:14", None),
        ("20240402000000[-3:GMT]", date(2024, 4, 2), "2024-04-02T00:00:00", -3.0),
    ],
)
def test_ofx_dates(text: str, day: date, key: str, offset_hours: float | None) -> None:
    moment = parse_ofx_datetime(text)
    assert moment is not None
    assert moment.day == day
    assert moment.key == key
    expected = None if offset_hours is None else timedelta(hours=offset_hours)
    assert moment.offset == expected
    assert moment.aware().tzinfo is not None


@pytest.mark.parametrize("text", ["20120231", "201120000000", "2026-02-03", "", "20260203[99]"])
def test_not_ofx_dates(text: str) -> None:
    assert parse_ofx_datetime(text) is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("-12.34", "-12.34"),
        ("12,34", "12.34"),
        ("+5", "5"),
        (".50", "0.50"),
        ("-0", "0"),
        ("1,234.56", "1234.56"),
        ("-1.234,56", "-1234.56"),
        ("1.234.567,8", "1234567.8"),
        (" 100.00 ", "100.00"),
    ],
)
def test_ofx_amounts(text: str, amount: str) -> None:
    assert parse_ofx_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["$120", "", "-", "1.234.56", "12,34.56", "1e5", "NaN"])
def test_not_ofx_amounts(text: str) -> None:
    assert parse_ofx_amount(text) is None


def test_an_unreadable_amount_is_refused_with_its_line() -> None:
    data = bank_file("<TRNTYPE>DEBIT<DTPOSTED>20260105\n<TRNAMT>$120<FITID>1")
    with pytest.raises(InvalidValue) as refused:
        parse(data)
    assert refused.value.path == "STMTRS/BANKTRANLIST/STMTTRN/TRNAMT"
    assert refused.value.statement == "555:2026-01-01/2026-01-31"
    assert refused.value.line == 13
    assert "'$120'" in refused.value.message


def test_a_missing_amount_is_refused() -> None:
    with pytest.raises(MissingElement) as refused:
        parse(bank_file("<TRNTYPE>DEBIT<DTPOSTED>20260105<FITID>1"))
    assert refused.value.path == "STMTRS/BANKTRANLIST/STMTTRN/TRNAMT"


def test_an_invalid_posting_date_is_refused_and_a_missing_one_noted() -> None:
    with pytest.raises(InvalidValue) as refused:
        parse(bank_file("<TRNTYPE>DEBIT<DTPOSTED>20120231<TRNAMT>-1<FITID>1"))
    assert refused.value.path == "STMTRS/BANKTRANLIST/STMTTRN/DTPOSTED"

    result = parse(bank_file("<TRNTYPE>DEBIT<DTPOSTED><TRNAMT>-1<FITID>1"))
    [line] = result.statements[0].lines
    assert line.booking_date is None
    assert "missing_booking_date" in codes(result)


def test_an_amount_with_fewer_decimals_than_the_currency_is_padded() -> None:
    [line] = (
        parse(bank_file("<TRNTYPE>POS<DTPOSTED>20260105<TRNAMT>-80<FITID>1")).statements[0].lines
    )
    assert str(line.amount.amount) == "-80.00"


def test_a_zero_check_number_is_no_reference_and_a_missing_fitid_is_noted() -> None:
    result = parse(bank_file("<TRNTYPE>CHECK<DTPOSTED>20260105<TRNAMT>-5<CHECKNUM>0"))
    [line] = result.statements[0].lines
    assert line.customer_reference is None
    assert line.bank_reference is None
    assert line.entry_reference == "entry-1"
    assert "missing_fitid" in codes(result)


# ------------------------------------------------------------------------- currencies


def test_original_currency_keeps_the_amount_and_states_the_exchange() -> None:
    data = bank_file(
        "<TRNTYPE>POS<DTPOSTED>20260105<TRNAMT>-110.00<FITID>1"
        "<ORIGCURRENCY><CURRATE>1.10<CURSYM>EUR</ORIGCURRENCY>"
    )
    result = parse(data)
    [line] = result.statements[0].lines
    assert line.amount.amount == Decimal("-110.00")
    assert line.amount.currency == "USD"
    assert line.exchange == CurrencyExchange(
        source_currency="EUR", target_currency="USD", rate=Decimal("1.10")
    )
    assert result.statements[0][0].sum_debits == Decimal("110.00")


def test_a_transaction_in_another_currency_keeps_it_and_stays_out_of_the_sums() -> None:
    data = bank_file(
        "<TRNTYPE>POS<DTPOSTED>20260105<TRNAMT>-100.00<FITID>1"
        "<CURRENCY><CURRATE>1.10<CURSYM>EUR</CURRENCY>"
    )
    result = parse(data)
    [(header, [line])] = result.statements
    assert line.amount.currency == "EUR"
    assert line.amount.amount == Decimal("-100.00")
    assert line.exchange is not None
    assert line.exchange.rate == Decimal("1.10")
    assert header.sum_debits == Decimal("0.00")
    assert "entry_currency" in codes(result)


def test_an_empty_curdef_takes_the_currency_the_transactions_name() -> None:
    data = bank_file(
        "<TRNTYPE>Credit<DTPOSTED>20180507<TRNAMT>12.34<FITID>1"
        "<CURRENCY><CURRATE>1.0000<CURSYM>AUD</CURRENCY>",
        curdef="</CURDEF>",
    )
    result = parse(data)
    [(header, [line])] = result.statements
    assert header.account.currency == "AUD"
    assert line.amount.currency == "AUD"
    assert line.exchange is None
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "CREDIT"
    assert "currency_from_transactions" in codes(result)


def test_no_currency_at_all_is_refused() -> None:
    with pytest.raises(MissingElement) as refused:
        parse(bank_file("<TRNAMT>1<FITID>1", curdef="</CURDEF>"))
    assert refused.value.path == "STMTRS/CURDEF"


def test_the_currency_code_is_upper_cased() -> None:
    [(header, _)] = parse(bank_file("<TRNAMT>1<FITID>1", curdef="cad")).statements
    assert header.account.currency == "CAD"


# ----------------------------------------------------------------------- the tokenizer


def test_an_aggregate_left_open_is_closed_by_its_sibling_or_parent() -> None:
    """Nubank leaves BANKTRANLIST open; the LEDGERBAL after it still belongs to CCSTMTRS."""
    data = SGML_HEADER + (
        b"<OFX><CREDITCARDMSGSRSV1><CCSTMTTRNRS><TRNUID>1001\n"
        b"<CCSTMTRS><CURDEF>BRL<CCACCTFROM><ACCTID>1111</CCACCTFROM>\n"
        b"<BANKTRANLIST><DTSTART>20240224000000[-3:GMT]<DTEND>20240326000000[-3:GMT]\n"
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240323000000[-3:GMT]<TRNAMT>-13.00<FITID>A\n"
        b"<MEMO>-memo-message-\n</STMTTRN>\n"
        b"<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240322<TRNAMT>-9.02<FITID>B</STMTTRN>\n"
        b"<LEDGERBAL><BALAMT>-1280.91<DTASOF>20240325000000[-3:GMT]</LEDGERBAL>\n"
        b"</CCSTMTRS></CCSTMTTRNRS></CREDITCARDMSGSRSV1></OFX>\n"
    )
    [(header, lines)] = parse(data).statements
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("-1280.91")
    assert [line.bank_reference for line in lines] == ["A", "B"]
    assert lines[0].remittance_text == "-memo-message-"


def test_comments_cdata_and_entities() -> None:
    data = bank_file(
        "<TRNTYPE>DEBIT<!-- <TRNAMT>-999 --><DTPOSTED>20260105<TRNAMT>-16.85<FITID>1"
        "<NAME><![CDATA[EFTPOS WDL ALDI <STORE>  ]]></NAME><MEMO>A&lt;B &#233;t&#xE9; &foo;"
    )
    [line] = parse(data).statements[0].lines
    assert line.amount.amount == Decimal("-16.85")
    assert line.counterparty == Counterparty(name="EFTPOS WDL ALDI <STORE>")
    assert line.remittance_text == "A<B été &foo;"


def test_empty_xml_elements_are_empty_leaves() -> None:
    data = as_xml(SGML_BODY).replace(b"<NAME>NORDIC SUPPLY AS</NAME>", b"<NAME></NAME><SIC/>")
    [credit, _] = parse(data).statements[0].lines
    assert credit.counterparty is None
    assert credit.remittance_text == "INVOICE 2026-001 & 2026-002"


def test_a_transfer_account_is_the_counterparty_account() -> None:
    data = bank_file(
        "<TRNTYPE>XFER<DTPOSTED>20260105<TRNAMT>-500<FITID>1<NAME>SAVINGS"
        "<BANKACCTTO><BANKID>1<ACCTID>NO93 8601 1117 947<ACCTTYPE>SAVINGS</BANKACCTTO>|"
        "<TRNTYPE>XFER<DTPOSTED>20260105<TRNAMT>-5<FITID>2"
        "<CCACCTTO><ACCTID>4111-0000</CCACCTTO>"
    )
    iban_line, card_line = parse(data).statements[0].lines
    assert iban_line.counterparty == Counterparty(name="SAVINGS", iban="NO9386011117947")
    assert card_line.counterparty == Counterparty(other_account="4111-0000")


def test_a_repeated_fitid_is_noted() -> None:
    data = bank_file("<TRNAMT>-1<FITID>A|<TRNAMT>-2<FITID>A")
    result = parse(data)
    assert len(result.statements[0].lines) == 2
    [message] = [d.message for d in result.diagnostics if d.code == "repeated_fitid"]
    assert "FITID 'A' of the transaction of line 13 is also that of line 12" in message


def test_a_correction_is_imported_as_its_own_line_with_a_note() -> None:
    data = bank_file(
        "<TRNTYPE>PAYMENT<DTPOSTED>20260105<TRNAMT>-58.73<FITID>9"
        "<CORRECTFITID>8<CORRECTACTION>REPLACE"
    )
    result = parse(data)
    [line] = result.statements[0].lines
    assert line.additional_info == "correction REPLACE of FITID 8"
    assert "correction" in codes(result)


# ------------------------------------------------------------------------- encodings


def test_windows_1252_as_the_header_declares() -> None:
    data = bank_file("<TRNAMT>-1<FITID>1<NAME>Virement Interac à: Jean")
    data = data.replace("à".encode(), b"\xe0")  # as Windows-1252 writes it
    [line] = parse(data).statements[0].lines
    assert line.counterparty == Counterparty(name="Virement Interac à: Jean")


def test_utf8_in_a_file_declared_1252_is_read_as_utf8() -> None:
    data = bank_file("<TRNAMT>-1<FITID>1<NAME>Tchênzema Ằdøłƥh")
    result = parse(data)
    [line] = result.statements[0].lines
    assert line.counterparty == Counterparty(name="Tchênzema Ằdøłƥh")
    assert "declared_charset" in codes(result)


def test_xml_encoding_declaration_is_followed() -> None:
    data = as_xml(SGML_BODY).replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    data = data.replace(b"NORDIC SUPPLY AS", "NORDISK LEVERANDØR AS".encode("latin-1"))
    [credit, _] = parse(data).statements[0].lines
    assert credit.counterparty == Counterparty(name="NORDISK LEVERANDØR AS")


def test_a_declared_charset_with_a_nul_character_is_an_unknown_encoding() -> None:
    # found by fuzzing: codecs.lookup() raises ValueError, not LookupError, on a NUL
    data = SGML.replace(b"CHARSET:1252", b"CHARSET:12\x0052")
    result = parse(data)
    assert "unknown_encoding" in codes(result)
    assert len(result.statements[0].lines) == 2


# -------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data",
    [
        SGML.replace(b"<OFX>", b'<!DOCTYPE OFX [<!ENTITY x "boom">]>\n<OFX>'),
        as_xml(SGML_BODY).replace(b"<OFX>", b'<!ENTITY lol "lol"><OFX>'),
    ],
)
def test_doctype_and_entity_declarations_are_refused(data: bytes) -> None:
    with pytest.raises(ForbiddenXmlConstruct):
        parse(data)


def test_investment_statements_are_refused_saying_what_the_file_holds() -> None:
    data = SGML_HEADER + (
        b"<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<INVSTMTRS><CURDEF>USD"
        b"<INVACCTFROM><BROKERID>fidelity.com<ACCTID>X0000001</INVACCTFROM>"
        b"</INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1></OFX>"
    )
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert "investment statements (INVSTMTRS), which ingest does not read" in (
        refused.value.message
    )


def test_an_investment_statement_beside_a_bank_statement_is_noted() -> None:
    investment = b"<INVSTMTMSGSRSV1><INVSTMTTRNRS><INVSTMTRS></INVSTMTRS></INVSTMTTRNRS>"
    data = SGML.replace(b"</OFX>", investment + b"</INVSTMTMSGSRSV1></OFX>")
    result = parse(data)
    assert len(result.statements) == 1
    assert "not_a_bank_statement" in codes(result)


def test_an_error_answer_of_the_bank_is_the_reason_given() -> None:
    data = SGML_HEADER + (
        b"<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR"
        b"<MESSAGE>Invalid password</STATUS><DTSERVER>20130325211209</SONRS>"
        b"</SIGNONMSGSRSV1></OFX>"
    )
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert "the bank answered with status 15500 ERROR: Invalid password" in refused.value.message


def test_a_warning_status_beside_a_statement_is_noted() -> None:
    data = SGML.replace(
        b"<TRNUID>0\n<STATUS><CODE>0<SEVERITY>INFO</STATUS>",
        b"<TRNUID>0\n<STATUS><CODE>2020<SEVERITY>WARN<MESSAGE>Partial</STATUS>",
    )
    result = parse(data)
    assert "bank_status" in codes(result)


def test_a_statement_without_account_is_refused() -> None:
    data = SGML.replace(b"<ACCTID>1452687~7\n", b"")
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert refused.value.path == "STMTRS/BANKACCTFROM/ACCTID"


def test_a_file_without_ofx_element_is_a_format_mismatch() -> None:
    with pytest.raises(FormatMismatch):
        parse(b"01,BANK,ACME,260301,0615,1,,,2/\n", statement_format="ofx")
    with pytest.raises(MissingElement):
        parse(SGML_HEADER + b"nothing here", statement_format="ofx")


def test_an_empty_upload_is_refused() -> None:
    with pytest.raises(EmptyStatementFile):
        ofx.parse(b"  ", tenant_id=TENANT, sha256="0" * 64, statement_format="ofx")


def test_an_unreadable_balance_or_period_is_refused() -> None:
    data = bank_file(
        "<TRNAMT>1<FITID>1", extra="<LEDGERBAL><BALAMT>12O.00<DTASOF>20260131</LEDGERBAL>"
    )
    with pytest.raises(InvalidValue) as refused:
        parse(data)
    assert refused.value.path == "STMTRS/LEDGERBAL/BALAMT"
    assert refused.value.statement == "555:2026-01-01/2026-01-31"

    with pytest.raises(InvalidValue) as refused:
        parse(bank_file("<TRNAMT>1<FITID>1").replace(b"<DTEND>20260131", b"<DTEND>2026-01-31"))
    assert refused.value.path == "STMTRS/BANKTRANLIST/DTEND"
    assert refused.value.line == 11


@pytest.mark.parametrize(
    ("transactions", "extra", "path"),
    [
        ("<TRNAMT>" + "9" * 40 + "<FITID>1", "", "line 1 amount"),
        (
            "<TRNAMT>1<FITID>1",
            "<LEDGERBAL><BALAMT>1" + "0" * 30 + ".01<DTASOF>20260131</LEDGERBAL>",
            "closing balance",
        ),
    ],
)
def test_an_amount_of_more_than_18_digits_is_refused(
    transactions: str, extra: str, path: str
) -> None:
    """Found by fuzzing: quantizing such an amount raised decimal.InvalidOperation."""
    with pytest.raises(InvalidRecord, match=r"more than 18 digits before the decimal mark") as err:
        parse(bank_file(transactions, extra=extra))
    assert err.value.path == path


def test_a_blank_ledger_balance_is_noted_not_refused() -> None:
    data = bank_file("<TRNAMT>1<FITID>1", extra="<LEDGERBAL><BALAMT> <DTASOF>20260131</LEDGERBAL>")
    result = parse(data)
    assert result.statements[0][0].closing_booked is None
    assert "missing_balance" in codes(result)


def test_every_truncation_of_a_file_gives_a_result_or_an_ingest_error() -> None:
    parsed = refused = 0
    for end in range(1, len(SGML), 3):
        try:
            parse(SGML[:end], statement_format="ofx")
            parsed += 1
        except IngestError:
            refused += 1
    assert parsed > 0
    assert refused > 0


def test_a_large_file_is_read_whole() -> None:
    """10,000 transactions; a quadratic step (or a collector walking every leaf) would
    show here."""
    count = 10_000
    transactions = "|".join(
        f"<TRNTYPE>CREDIT<DTPOSTED>20260105<TRNAMT>1.00<FITID>F{i}<NAME>PAYER {i}"
        for i in range(count)
    )
    started = time.perf_counter()
    result = parse(bank_file(transactions))
    elapsed = time.perf_counter() - started
    [(header, lines)] = result.statements
    assert len(lines) == count
    assert header.sum_credits == Decimal(count)
    assert lines[-1].bank_reference == f"F{count - 1}"
    assert elapsed < 30


@pytest.mark.parametrize(
    ("opener", "what"),
    [(b"<!--", "comment"), (b"<![CDATA[", "CDATA section"), (b"<?", "processing instruction")],
)
def test_markup_never_closed_is_refused_rather_than_hide_the_rest(opener: bytes, what: str) -> None:
    data = SGML.replace(b"<STMTTRN>\n<TRNTYPE>CHECK", opener + b"<STMTTRN>\n<TRNTYPE>CHECK")
    with pytest.raises(InvalidRecord) as refused:
        parse(data)
    assert refused.value.line == 41  # the second transaction's line
    assert f"the {what} opened at line 41 is never closed" in refused.value.message


def test_deep_nesting_does_not_exhaust_the_stack() -> None:
    data = SGML.replace(b"<MEMO>", b"<X>" * 50_000 + b"<MEMO>" + b"</X>" * 50_000)
    assert len(parse(data).statements) == 1
