"""The bank CSV parser and its profiles on small inline files: one behaviour per test.

Each shipped bank profile is exercised on a realistic file in its bank's layout (values made
up, shapes from the public sources each profile names); the corpus files are in
``test_csv_corpus.py``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bankrec.contracts import EntryStatus, ReferenceKind, account_id_for
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers import csv_profiles
from bankrec.ingest.domain.parsers.csv_profiles import (
    CsvProfile,
    NumberFormat,
    ProfileError,
    load_profile,
    looks_like_csv,
    parse_csv,
    profile_named,
    shipped_profiles,
)
from bankrec.ingest.domain.parsers.registry import parser_for
from bankrec.ingest.errors import EmptyStatementFile, FormatMismatch, InvalidRecord

TENANT = "t-csv"
NBSP = "\u00a0"


def parse(text: str, *, encoding: str = "utf-8", **options: object) -> ParseResult:
    return parse_csv(text.encode(encoding), tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def amounts(result: ParseResult, statement: int = 0) -> list[Decimal]:
    return [line.amount.amount for line in result.statements[statement].lines]


def balances(result: ParseResult, statement: int = 0) -> tuple[Decimal | None, Decimal | None]:
    header = result.statements[statement].header
    opening = header.opening_booked.amount.amount if header.opening_booked else None
    closing = header.closing_booked.amount.amount if header.closing_booked else None
    return opening, closing


# ============================================================================ profiles


def test_every_shipped_profile_loads_from_the_installed_package() -> None:
    names = {profile.name for profile in shipped_profiles()}

    assert names == {
        "danske-bank-dk",
        "danske-bank-no",
        "dnb",
        "generic",
        "gls-bank",
        "gls-bank-atruvia",
        "handelsbanken-se",
        "n26",
        "nordea-dk",
        "nordea-no",
        "nordea-se",
        "outbank",
        "raiffeisen-ch",
        "schwab",
        "sparebank1",
        "ubs",
        "ubs-classic",
    }
    for profile in shipped_profiles():
        assert profile.file.startswith("bank_csv_profiles/")
        assert profile.bank
        assert profile.source  # every layout says which public source it follows


def test_no_two_shipped_profiles_require_the_same_header() -> None:
    headers = [
        frozenset(frozenset(column.alternatives) for column in profile.header)
        for profile in shipped_profiles()
    ]
    assert len(set(headers)) == len(headers)


MINIMAL_PROFILE = """
name = "test-bank"
bank = "Test Bank"
source = "inline test"

[file]
delimiter = ";"

[header]
required = ["Account", "Date", "Amount"]

[dates]
formats = ["%Y-%m-%d"]

[columns]
booking_date = "Date"

[amount]
amount = "Amount"

[account]
source = "column"
column = "Account"

[currency]
fixed = "EUR"
"""


def profile_from(text: str = MINIMAL_PROFILE) -> CsvProfile:
    return load_profile(text, source="test_bank.toml")


def test_a_minimal_profile_has_the_documented_defaults() -> None:
    profile = profile_from()

    assert profile.encodings == ("utf-8",)
    assert profile.quote == '"'
    assert profile.numbers.decimal_marks == (".",)
    assert profile.amount.convention is csv_profiles.AmountConvention.SIGNED
    assert profile.statement_id.value == "period"
    assert profile.order.value == "auto"


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("[amount]", "[amount]\nsign = 'x'"), "amount.sign", "unknown key"),
        (("[dates]", "[datez]"), "datez", "unknown table or key"),
        (('booking_date = "Date"', 'value_date = "Date"'), "columns.booking_date", "required"),
        (('formats = ["%Y-%m-%d"]', 'formats = ["%H:%M"]'), "dates.formats", "day, month"),
        (('delimiter = ";"', 'delimiter = ";;"'), "file.delimiter", "one character"),
        (('delimiter = ";"', 'delimiter = ";"\nencoding = "klingon"'), "file.encoding", "known"),
        (('fixed = "EUR"', 'fixed = "euro"'), "currency.fixed", "ISO 4217"),
        (('fixed = "EUR"', 'column = "Currency"\nfixed = "EUR"'), "currency.fixed", "default"),
        (('amount = "Amount"', 'amount = "Betrag"'), "amount.amount", "header.required"),
        (('amount = "Amount"', 'convention = "debit_credit"'), "amount.debit", "required"),
        (('source = "column"', 'source = "preamble"'), "account.label", "label or a pattern"),
        (('column = "Account"', 'column = "Account"\npattern = "("'), "account.pattern", "regular"),
        (("[dates]", '[numbers]\ndecimal = ","\nthousands = ","\n[dates]'), "numbers", "ambiguous"),
        (('name = "test-bank"', 'name = "Test Bank"'), "name", "lower case"),
        (('bank = "Test Bank"', ""), "bank", "required"),
        (('required = ["Account", "Date", "Amount"]', "required = 3"), "header.required", "string"),
        (("[currency]", '[rows]\nstop_at_blank = "yes"\n[currency]'), "rows.stop_at_blank", "true"),
        (("[currency]", '[footer]\nclosing_balance = "Saldo"\n[currency]'), "footer", "rows.stop"),
        (('name = "test-bank"', 'name = "test-bank"\n[[x]]'), "x", "unknown table"),
    ],
)
def test_a_broken_profile_is_refused_naming_the_file_and_key(
    change: tuple[str, str], key: str, problem: str
) -> None:
    old, new = change
    assert old in MINIMAL_PROFILE
    with pytest.raises(ProfileError) as refused:
        profile_from(MINIMAL_PROFILE.replace(old, new, 1))

    assert refused.value.key.startswith(key)
    assert "test_bank.toml" in str(refused.value)
    assert problem in str(refused.value)


def test_a_profile_that_is_not_toml_is_refused_with_its_file_name() -> None:
    with pytest.raises(ProfileError, match=r"test_bank\.toml: \(file\): is not valid TOML"):
        profile_from("name = ")


# ============================================================================ numbers, dates

NORDIC = NumberFormat((",",), (".", " ", NBSP, "\u202f"))
SWISS = NumberFormat((".",), ("'", "\u2019"))


@pytest.mark.parametrize(
    ("numbers", "text", "expected"),
    [
        (NORDIC, "1.234,56", "1234.56"),
        (NORDIC, f"1{NBSP}234,56", "1234.56"),
        (NORDIC, "1 234 567,5", "1234567.5"),
        (NORDIC, "-12,50", "-12.50"),
        (NORDIC, "12,50-", "-12.50"),
        (NORDIC, "\u221212,50", "-12.50"),
        (NORDIC, "+7", "7"),
        (SWISS, "1'234.56", "1234.56"),
        (SWISS, "(12.50)", "-12.50"),
        (SWISS, "20827.000000000", "20827.000000000"),
        (NumberFormat((".",), (",",), ("$",)), "$1,036.47", "1036.47"),
        (NumberFormat((".",), (",",), ("$",)), "-$57.27", "-57.27"),
    ],
)
def test_amounts_in_the_shapes_banks_write(numbers: NumberFormat, text: str, expected: str) -> None:
    assert numbers.read(text) == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["12.34,56", "1,2,3", "12,5,0", "abc", "", "-", "(12,50-)", "1 2345,00", "12.50"]
)
def test_amounts_that_do_not_read_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"number|minus"):
        NORDIC.read(text)


# ============================================================================ SpareBank 1

SPAREBANK1 = (
    "\ufeffDato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;\r\n"
    '"01.09.2026";"BYGG OG MALING AS";"01.09.2026";;"-499,00";"88889900112";"12345678903";\r\n'
    '"02.09.2026";"Betaling for ""hytta""; siste del\r\nrest";"02.09.2026";;"-12 000,00";'
    '"77778899001";"12345678903";\r\n'
    '"03.09.2026";"Kari Nordmann";"03.09.2026";"2 000,00";;"12345678903";"33334455667";\r\n'
    '"04.09.2026";"Overføring";"04.09.2026";"1 500,00";;"98765432109";"12345678903";\r\n'
    '"04.09.2026";"Overføring";"04.09.2026";;"1 500,00";"98765432109";"12345678903";\r\n'
    "\r\n\r\n"
)


def test_sparebank1_gives_one_statement_per_own_account_by_direction() -> None:
    result = parse(SPAREBANK1)

    assert result.source_format == "csv"
    assert [h.account.other_id for h, _ in result.statements] == ["12345678903", "98765432109"]
    assert amounts(result, 0) == [
        Decimal("-499.00"),
        Decimal("-12000.00"),
        Decimal("2000.00"),
        Decimal("-1500.00"),  # "Ut" without a minus is still money out
    ]
    assert amounts(result, 1) == [Decimal("1500.00")]
    header, lines = result.statements[0]
    assert header.source_format == "csv:sparebank1"
    assert header.account.currency == "NOK"
    assert header.bank_statement_id == "csv:2026-09-01..2026-09-04"
    assert (
        header.statement_id == f"{account_id_for(TENANT, '12345678903')}:csv:2026-09-01..2026-09-04"
    )
    assert (header.sum_credits, header.sum_debits) == (Decimal("2000.00"), Decimal("13999.00"))
    assert header.opening_booked is None  # SpareBank 1 has no balance column
    first, quoted, incoming, _ = lines
    assert first.booking_date == first.value_date == date(2026, 9, 1)
    assert first.remittance_text == "BYGG OG MALING AS"
    assert first.counterparty is not None
    assert first.counterparty.other_account == "88889900112"  # "Til konto" of money out
    assert quoted.remittance_text == 'Betaling for "hytta"; siste del\r\nrest'
    assert incoming.counterparty is not None
    assert incoming.counterparty.other_account == "33334455667"  # "Fra konto" of money in
    assert result.diagnostics == []


def test_a_row_after_a_quoted_line_break_is_named_by_its_file_line() -> None:
    broken = SPAREBANK1.replace('"03.09.2026";"Kari', '"31.02.2026";"Kari')

    with pytest.raises(InvalidRecord) as refused:
        parse(broken)

    assert refused.value.line == 5  # the quoted field of the row before spans lines 3-4
    assert str(refused.value) == (
        "column 'Dato': '31.02.2026' is not a date in the expected format DD.MM.YYYY (line 5)"
    )


def test_an_empty_amount_is_refused_with_line_and_columns() -> None:
    broken = SPAREBANK1.replace(';"2 000,00";;', ";;;")

    with pytest.raises(InvalidRecord) as refused:
        parse(broken)

    assert refused.value.line == 5
    assert "column 'Ut' and column 'Inn': the amount is empty" in str(refused.value)


def test_an_amount_in_both_columns_is_refused() -> None:
    broken = SPAREBANK1.replace(';;"-499,00";', ';"10,00";"-499,00";')

    with pytest.raises(InvalidRecord, match=r"both hold an amount.*\(line 2\)"):
        parse(broken)


def test_an_amount_that_does_not_read_names_value_and_expected_shape() -> None:
    broken = SPAREBANK1.replace('"-499,00"', '"-4,99,00"')

    with pytest.raises(InvalidRecord) as refused:
        parse(broken)

    message = str(refused.value)
    assert message.startswith("column 'Ut': '-4,99,00' is not an amount")
    assert "decimal mark ','" in message
    assert message.endswith("(line 2)")


# ============================================================================ DNB

DNB = (
    '"Dato";"Forklaring";"Rentedato";"Ut fra konto";"Inn på konto"\r\n'
    '"08.08.2026";"Varekjøp i butikk REMA EIK Reservert transaksjon ";"10.08.2026";35.8;""\r\n'
    '"07.08.2026";"Overføring Innland 83328 Kari Nordmann ";"07.08.2026";"";"1 000,00"\r\n'
    '"06.08.2026";"Visa Varekjøp EasyPark AS ";"07.08.2026";"21,83";""'
)


def test_dnb_names_no_account_so_the_file_is_refused_saying_how_to_provide_it() -> None:
    with pytest.raises(InvalidRecord) as refused:
        parse(DNB)

    message = str(refused.value)
    assert message.startswith("account: the DNB CSV export (profile 'dnb') does not name")
    assert "camt.053 or MT940" in message
    assert "account number" in message


def test_dnb_with_the_account_given_reads_oldest_first_and_reserved_lines_as_pending() -> None:
    result = parse(DNB, account_number="1503.02.12345")

    [(header, lines)] = result.statements
    assert header.account.other_id == "1503.02.12345"
    assert [line.amount.amount for line in lines] == [
        Decimal("-21.83"),
        Decimal("1000.00"),
        Decimal("-35.80"),  # the text export writes a decimal point
    ]
    assert [line.status for line in lines] == [
        EntryStatus.BOOKED,
        EntryStatus.BOOKED,
        EntryStatus.PENDING,
    ]
    assert lines[0].value_date == date(2026, 8, 7)
    assert lines[2].booking_date == date(2026, 8, 8)
    assert (header.period_from, header.period_to) == (date(2026, 8, 6), date(2026, 8, 8))


def test_older_dnb_headers_uttak_innskudd_read_the_same() -> None:
    older = (
        '"Dato";"Forklaring";"Rentedato";"Uttak";"Innskudd"\n"14.12.2014";"Sparing";"";"3,00";""'
    )

    result = parse(older, account_number="12345678903")

    assert amounts(result) == [Decimal("-3.00")]
    assert result.statements[0].lines[0].value_date is None


# ============================================================================ Nordea

NORDEA_NO = (
    "Bokføringsdato;Beløp;Avsender;Mottaker;Navn;Tittel;Saldo;Valuta\n"
    "Reservert;-115,70;6219.12.77436;;;JOKER ILA OSLO NO;;NOK\n"
    "2026/09/03;-300,00;6219.12.77436;1503.02.12345;Brage Daae;Husleie;9700,00;NOK\n"
    "2026/09/01;10000,00;1111.22.33333;6219.12.77436;Ola Nordmann;Lønn;10000,00;NOK\n"
)


def test_nordea_norway_direction_pending_rows_and_balances_from_the_saldo_column() -> None:
    result = parse(NORDEA_NO)

    [(header, lines)] = result.statements
    assert header.source_format == "csv:nordea-no"
    assert header.account.other_id == "6219.12.77436"
    assert header.bank_statement_id == "csv:2026-09-01..2026-09-03"
    assert [line.amount.amount for line in lines] == [
        Decimal("10000.00"),
        Decimal("-300.00"),
        Decimal("-115.70"),
    ]
    assert balances(result) == (Decimal("0.00"), Decimal("9700.00"))
    reserved = lines[2]
    assert reserved.status is EntryStatus.PENDING
    assert reserved.booking_date is None
    assert lines[0].counterparty is not None
    assert lines[0].counterparty.name == "Ola Nordmann"
    assert lines[0].counterparty.other_account == "1111.22.33333"
    assert lines[1].counterparty is not None
    assert lines[1].counterparty.other_account == "1503.02.12345"
    assert lines[1].remittance_text == "Husleie"
    assert result.diagnostics == []


def test_nordea_norway_without_saldo_but_with_betalingstype() -> None:
    text = (
        "Bokføringsdato;Beløp;Avsender;Mottaker;Navn;Tittel;Valuta;Betalingstype\n"
        "2026/09/03;-300,00;6219.12.77436;;;Brage Daae;NOK;Straksutbetaling\n"
    )

    [(header, [line])] = parse(text).statements

    assert header.opening_booked is None
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "Straksutbetaling"


def test_an_empty_signed_amount_is_refused_naming_the_column() -> None:
    broken = NORDEA_NO.replace("2026/09/03;-300,00;", "2026/09/03;;")

    with pytest.raises(InvalidRecord) as refused:
        parse(broken)

    assert str(refused.value) == (
        "column 'Beløp': the amount is empty; every transaction row needs an amount (line 3)"
    )


NORDEA_SE = (
    "Bokföringsdag;Belopp;Avsändare;Mottagare;Namn;Ytterligare detaljer;Meddelande;"
    "Egna anteckningar;Saldo;Valuta;\n"
    "Reserverat;-89,00;;;Espresso House;Kortköp;;;;SEK;\n"
    "2025/12/29;-1 158,75;1709 20 72840;5343-2795;LOOPIA AB;LOOPIA AB (WEBSUPPORT);"
    "62500016901740;Webhotell Q1;9 911,33;SEK;\n"
    "2025/12/19;-200,57;1709 20 72840;;KORT CLAUDE.AI;KORT CLAUDE.AI SUBSC;"
    "CLAUDE.AI SUBSC 2656;;11 070,08;SEK;\n"
)


def test_nordea_sweden_ocr_references_free_messages_and_an_assumed_account() -> None:
    result = parse(NORDEA_SE)

    [(header, lines)] = result.statements
    assert header.account.currency == "SEK"
    assert header.account.other_id == "1709 20 72840"
    assert balances(result) == (Decimal("11270.65"), Decimal("9911.33"))
    claude, loopia, reserved = lines
    assert loopia.structured_reference is not None
    assert loopia.structured_reference.kind is ReferenceKind.OCR
    assert loopia.structured_reference.value == "62500016901740"
    assert loopia.additional_info == "Webhotell Q1"
    assert loopia.counterparty is not None
    assert loopia.counterparty.other_account == "5343-2795"
    assert claude.structured_reference is None
    assert claude.remittance_text == "KORT CLAUDE.AI SUBSC CLAUDE.AI SUBSC 2656"
    assert reserved.status is EntryStatus.PENDING
    assert codes(result) == ["csv_account_assumed"]
    assert "file line 2" in result.diagnostics[0].message


NORDEA_DK = (
    "Bogføringsdato;Beløb;Afsender;Modtager;Navn;Beskrivelse;Saldo;Valuta;Afstemt;\r\n"
    "Reserveret;-39,95;9040298476;;;REMA 1000 BRØNS;;DKK;;\r\n"
    "2026/09/07;-33,00;9040298476;;KVICKLY ALLERØD;KVICKLY ALLERØD;10577,22;DKK;;\r\n"
    "2026/09/07;-77,00;9040298476;;Vipps MobilePay;MobilePay Netto;10610,22;DKK;;\r\n"
    "2026/08/31;7000,00;;9040298476;;Fra Lønkonto;10687,22;DKK;;\r\n"
)


def test_nordea_denmark_in_windows_1252() -> None:
    result = parse(NORDEA_DK, encoding="cp1252")

    [(header, lines)] = result.statements
    assert header.account.currency == "DKK"
    assert [line.amount.amount for line in lines] == [
        Decimal("7000.00"),
        Decimal("-77.00"),
        Decimal("-33.00"),
        Decimal("-39.95"),
    ]
    assert lines[2].remittance_text == "KVICKLY ALLERØD"
    assert balances(result) == (Decimal("3687.22"), Decimal("10577.22"))
    assert result.diagnostics == []


# ============================================================================ Danske Bank

DANSKE_DK = (
    '"Dato";"Tekst";"Beløb";"Saldo";"Status";"Afstemt"\r\n'
    '"25.11.2024";"Netto ScanNGo";"-41,80";"98.302,29";"Udført";"Nej"\r\n'
    '"26.11.2024";"Løn";"28.500,00";"126.802,29";"Udført";"Nej"\r\n'
    '"27.11.2024";"Dankort-nota Føtex";"-1.234,50";"125.567,79";"Venter";"Nej"\r\n'
)


def test_danske_bank_denmark_thousands_points_and_waiting_lines() -> None:
    with pytest.raises(InvalidRecord, match=r"Danske Bank \(Denmark\) CSV export"):
        parse(DANSKE_DK, encoding="cp1252")

    result = parse(DANSKE_DK, encoding="cp1252", account_number="DK5000400440116243")

    [(header, lines)] = result.statements
    assert header.account.iban == "DK5000400440116243"
    assert header.account.currency == "DKK"
    assert [line.amount.amount for line in lines] == [
        Decimal("-41.80"),
        Decimal("28500.00"),
        Decimal("-1234.50"),
    ]
    assert [line.status for line in lines][-1] is EntryStatus.PENDING
    assert lines[1].remittance_text == "Løn"
    assert balances(result) == (Decimal("98344.09"), Decimal("126802.29"))
    assert result.diagnostics == []


def test_an_unknown_status_value_is_a_diagnostic_and_the_line_counts_as_booked() -> None:
    text = DANSKE_DK.replace('"Venter"', '"Afvist"')

    result = parse(text, account_number="DK5000400440116243")

    assert codes(result) == ["csv_status_unknown"]
    assert "'Afvist' (1)" in result.diagnostics[0].message
    assert "column 'Status'" in result.diagnostics[0].message
    assert result.statements[0].lines[2].status is EntryStatus.BOOKED
    assert balances(result)[1] == Decimal("125567.79")


def test_danske_bank_norway_reads_the_category_as_transaction_type() -> None:
    text = (
        '"Dato";"Kategori";"Underkategori";"Tekst";"Beløp";"Saldo";"Status";"Avstemt"\n'
        '"02.01.2026";"Mat og drikke";"Dagligvarer";"KIWI 505";"-249,90";"10.400,10";'
        '"Utført";"Nei"\n'
    )

    result = parse(text, account_number="NO9386011117947")

    [(header, [line])] = result.statements
    assert header.source_format == "csv:danske-bank-no"
    assert header.account.currency == "NOK"
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == "Dagligvarer"
    assert balances(result) == (Decimal("10650.00"), Decimal("10400.10"))


# ============================================================================ Handelsbanken

HANDELSBANKEN = (
    "Transaktioner;;;;\n"
    "Allkonto 123 456 789;;;;\n"
    "Period;2025-01-01 - 2025-01-31;;;\n"
    ";;;;\n"
    "Reskontradatum;Transaktionsdatum;Text;Belopp;Saldo\n"
    f"2025-01-03;2025-01-02;blupp;-228,00;10{NBSP}544,00\n"
    f"2025-01-02;2025-01-02;blipp;-238,00;10{NBSP}772,00\n"
    f"2025-01-02;2025-01-01;Lön;1{NBSP}234,56;11{NBSP}010,00\n"
)


def test_handelsbanken_reads_the_account_from_the_title_lines() -> None:
    result = parse(HANDELSBANKEN)

    [(header, lines)] = result.statements
    assert header.account.other_id == "123 456 789"
    assert header.account.currency == "SEK"
    assert [line.remittance_text for line in lines] == ["Lön", "blipp", "blupp"]
    assert lines[0].value_date == date(2025, 1, 1)
    assert balances(result) == (Decimal("9775.44"), Decimal("10544.00"))
    assert result.diagnostics == []


def test_handelsbanken_without_an_account_line_is_refused() -> None:
    text = HANDELSBANKEN.replace("Allkonto 123 456 789", "Allkonto")

    with pytest.raises(InvalidRecord, match=r"no row or preamble line .* names the account"):
        parse(text)


# ============================================================================ GLS Bank

GLS_ATRUVIA = (
    "Bezeichnung Auftragskonto;IBAN Auftragskonto;BIC Auftragskonto;Bankname Auftragskonto;"
    "Buchungstag;Valutadatum;Name Zahlungsbeteiligter;IBAN Zahlungsbeteiligter;"
    "BIC (SWIFT-Code) Zahlungsbeteiligter;Buchungstext;Verwendungszweck;Betrag;Waehrung;"
    "Saldo nach Buchung;Bemerkung;Gekennzeichneter Umsatz;Glaeubiger ID;Mandatsreferenz\n"
    "GLS Konto;DE89370400440532013000;GENODEM1GLS;GLS Gemeinschaftsbank eG;17.12.2025;"
    "17.12.2025;Max Mustermann;DE02120300000000202051;BYLADEM1001;Basislastschrift;"
    "Miete Dezember;-520,00;EUR;28.764,28;;;;\n"
    "GLS Konto;DE89370400440532013000;GENODEM1GLS;GLS Gemeinschaftsbank eG;15.12.2025;"
    "15.12.2025;Kunde GmbH;DE12500105170648489890;INGDDEFFXXX;Gutschrift;RE 2025-117;"
    "1.190,00;EUR;29.284,28;;;;\n"
)


def test_gls_atruvia_export_with_account_and_counterparty_iban_and_bic() -> None:
    result = parse(GLS_ATRUVIA)

    [(header, lines)] = result.statements
    assert header.account.iban == "DE89370400440532013000"
    assert header.account.servicer_bic == "GENODEM1GLS"
    assert header.account.currency == "EUR"
    credit, debit = lines
    assert credit.amount.amount == Decimal("1190.00")
    assert credit.counterparty is not None
    assert credit.counterparty.iban == "DE12500105170648489890"
    assert credit.counterparty.bic == "INGDDEFFXXX"
    assert debit.remittance_text == "Miete Dezember"
    assert debit.bank_transaction_code is not None
    assert debit.bank_transaction_code.proprietary == "Basislastschrift"
    assert balances(result) == (Decimal("28094.28"), Decimal("28764.28"))
    assert result.diagnostics == []


# ============================================================================ UBS

UBS = (
    "Kontonummer:;0235 00123456.01A;\n"
    "IBAN:;CH93 0076 2011 6238 5295 7;\n"
    "Von:;2026-09-01;\n"
    "Bis:;2026-09-30;\n"
    "Anfangssaldo:;1384.56;\n"
    "Schlusssaldo:;6411.16;\n"
    "Bewertet in:;CHF;\n"
    "Anzahl Transaktionen in diesem Zeitraum:;5;\n"
    "\n"
    "Abschlussdatum;Abschlusszeit;Buchungsdatum;Valutadatum;Währung;Belastung;Gutschrift;"
    "Einzelbetrag;Saldo;Transaktions-Nr.;Beschreibung1;Beschreibung2;Beschreibung3;Fussnoten;\n"
    "2026-09-30;18:02:11;;2026-09-30;CHF;-8.50;;;;9930273BN0000004;Exempla Café Bern;"
    "Zahlung Debitkarte;;;\n"
    "2026-09-29;14:23:05;2026-09-30;2026-09-30;CHF;-23.40;;;6411.16;9930272BN0000001;"
    "Mustermarkt-4567 Zürich;Zahlung Debitkarte;Kartennummer: XXXX 1234;;\n"
    ";;2026-09-28;2026-09-28;CHF;-150.00;;;6434.56;9930271TO0000002;Sammelauftrag;"
    "e-banking-Auftrag;;;\n"
    ";;2026-09-28;2026-09-28;CHF;;;-100.00;;9930271TO0000002;Fictiva Versicherung AG;;"
    "Police 4711;;\n"
    ";;2026-09-28;2026-09-28;CHF;;;-50.00;;9930271TO0000002;Beispiel Verein;;Beitrag 2026;;\n"
    ";;2026-09-25;2026-09-25;CHF;;5'200.00;;6584.56;9930268TO0000003;Fictiva Arbeitgeber AG;"
    "Gutschrift;Lohn September;;\n"
)


def test_ubs_preamble_period_balances_and_a_collective_order_split_into_its_payments() -> None:
    result = parse(UBS)

    [(header, lines)] = result.statements
    assert header.account.iban == "CH9300762011623852957"  # IBAN: wins over Kontonummer:
    assert header.account.currency == "CHF"
    assert header.bank_statement_id == "csv:2026-09-01..2026-09-30"
    assert (header.period_from, header.period_to) == (date(2026, 9, 1), date(2026, 9, 30))
    assert balances(result) == (Decimal("1384.56"), Decimal("6411.16"))
    assert [line.amount.amount for line in lines] == [
        Decimal("5200.00"),
        Decimal("-100.00"),
        Decimal("-50.00"),
        Decimal("-23.40"),
        Decimal("-8.50"),
    ]
    assert header.entry_count == 4
    assert header.line_count == 5
    salary, insurance, club, card, pending = lines
    assert salary.counterparty is not None
    assert salary.counterparty.name == "Fictiva Arbeitgeber AG"
    assert salary.remittance_text == "Lohn September"
    assert insurance.entry_amount is not None
    assert insurance.entry_amount.amount == Decimal("-150.00")
    assert (insurance.detail_index, club.detail_index) == (0, 1)
    assert insurance.bank_reference == club.bank_reference == "9930271TO0000002"
    assert insurance.counterparty is not None
    assert insurance.counterparty.name == "Fictiva Versicherung AG"
    assert insurance.remittance_text == "Police 4711"
    assert card.bank_reference == "9930272BN0000001"
    assert pending.status is EntryStatus.PENDING
    assert pending.booking_date is None
    assert pending.value_date == date(2026, 9, 30)
    assert result.diagnostics == []


def test_ubs_preamble_balance_that_disagrees_with_the_saldo_column_is_a_diagnostic() -> None:
    text = UBS.replace("Anfangssaldo:;1384.56;", "Anfangssaldo:;1384.00;")

    result = parse(text)

    assert codes(result) == ["csv_balance_column_mismatch", "balance_mismatch"]
    assert "Anfangssaldo:" in result.diagnostics[0].message
    assert "1384.56" in result.diagnostics[0].message
    assert balances(result)[0] == Decimal("1384.00")  # what the file states is published


def test_details_that_do_not_add_up_keep_the_collective_entry_as_one_line() -> None:
    text = UBS.replace(";;;-50.00;;", ";;;-40.00;;")

    result = parse(text)

    assert "csv_batch_details_mismatch" in codes(result)
    assert amounts(result)[1] == Decimal("-150.00")


def test_a_detail_row_before_any_transaction_is_refused() -> None:
    header_end = UBS.index("2026-09-30;18:02:11")
    first_rows_end = UBS.index(";;2026-09-28;2026-09-28;CHF;;;-100.00")
    text = UBS[:header_end] + UBS[first_rows_end:]

    with pytest.raises(InvalidRecord, match=r"Einzelbetrag.*before any transaction"):
        parse(text)


# ============================================================================ generic

GENERIC = (
    "Account,Booking date,Value date,Amount,Currency,Counterparty,Counterparty account,Text,"
    "Reference,Bank reference,Balance,Status\n"
    "NO9386011117947,2026-11-02,2026-11-02,1250.00,NOK,Kunde AS,NO8330001234567,"
    "Faktura 1001,2345676,NETS-000123,11250.00,booked\n"
    'NO9386011117947,2026-11-03,2026-11-03,-250.50,NOK,Utleier AS,,"Husleie, november",'
    "RF18539007547034,NETS-000124,10999.50,booked\n"
    "NO9386011117947,2026-11-04,,-99.00,NOK,,,Kortkjøp,,,,pending\n"
)


def test_the_generic_layout_reads_kid_and_rf_references_and_statuses() -> None:
    result = parse(GENERIC)

    [(header, lines)] = result.statements
    assert header.source_format == "csv:generic"
    assert header.account.iban == "NO9386011117947"
    assert balances(result) == (Decimal("10000.00"), Decimal("10999.50"))
    invoice, rent, card = lines
    assert invoice.structured_reference is not None
    assert invoice.structured_reference.kind is ReferenceKind.KID
    assert invoice.structured_reference.value == "2345676"
    assert invoice.bank_reference == "NETS-000123"
    assert invoice.counterparty is not None
    assert invoice.counterparty.name == "Kunde AS"
    assert rent.structured_reference is not None
    assert rent.structured_reference.kind is ReferenceKind.RF
    assert rent.remittance_text == "Husleie, november"  # a quoted comma
    assert card.status is EntryStatus.PENDING
    assert result.diagnostics == []


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_the_generic_layout_accepts_semicolons_and_tabs(delimiter: str) -> None:
    text = (
        delimiter.join(["Account", "Booking date", "Amount", "Currency"])
        + "\n"
        + delimiter.join(["NO9386011117947", "2026-11-02", "12.50", "NOK"])
        + "\n"
    )

    assert amounts(parse(text)) == [Decimal("12.50")]


def test_a_three_decimal_amount_in_nok_is_a_precision_diagnostic() -> None:
    text = "Account,Booking date,Amount,Currency\nNO9386011117947,2026-11-02,12.505,NOK\n"

    result = parse(text)

    assert codes(result) == ["amount_precision"]


def test_a_currency_that_is_not_a_code_is_refused() -> None:
    text = "Account,Booking date,Amount,Currency\nNO9386011117947,2026-11-02,12.50,kroner\n"

    with pytest.raises(InvalidRecord, match=r"column 'Currency': 'kroner' is not a three-letter"):
        parse(text)


# ============================================================================ layout rules


def test_rows_to_skip_and_a_footer_after_a_stop_row() -> None:
    profile = profile_from(
        MINIMAL_PROFILE
        + "\n[rows]\nskip = ['^;Zwischensumme']\nstop = ['^Summe']\n"
        + "\n[footer]\nclosing_balance = 'Endsaldo'\n"
    )
    text = (
        "Account;Date;Amount\n"
        "DE89370400440532013000;2026-01-02;10.00\n"
        ";Zwischensumme;10.00\n"
        "DE89370400440532013000;2026-01-03;-4.00\n"
        "Summe;;6.00\n"
        "Endsaldo;106.00\n"
    )

    result = parse(text, profiles=[profile])

    assert amounts(result) == [Decimal("10.00"), Decimal("-4.00")]
    assert balances(result) == (None, Decimal("106.00"))


def test_a_preamble_entry_count_that_int_does_not_read_is_refused() -> None:
    """Found by fuzzing: a superscript digit passed ``isdigit`` and then int() raised."""
    profile = profile_from(MINIMAL_PROFILE + "\n[preamble]\nrows = 1\nentry_count = 'Anzahl'\n")
    text = "Anzahl;2\u00b3\nAccount;Date;Amount\nDE89370400440532013000;2026-01-02;10.00\n"

    with pytest.raises(InvalidRecord, match=r"'2\u00b3' is not a number of transactions"):
        parse(text, profiles=[profile])
    assert amounts(parse(text.replace("\u00b3", ""), profiles=[profile])) == [Decimal("10.00")]


def test_an_amount_of_more_than_18_digits_is_refused() -> None:
    """Found by fuzzing: quantizing such an amount raised decimal.InvalidOperation."""
    text = f"Account;Date;Amount\nDE89370400440532013000;2026-01-02;{'9' * 40}.00\n"

    with pytest.raises(InvalidRecord, match=r"more than 18 digits before the decimal mark") as err:
        parse(text, profiles=[profile_from()])
    assert err.value.path == "line 1 amount"


def test_a_debit_credit_indicator_column() -> None:
    profile = profile_from(
        MINIMAL_PROFILE.replace('"Amount"]', '"Amount", "D/C"]').replace(
            'amount = "Amount"',
            'convention = "indicator"\namount = "Amount"\nindicator = "D/C"\n'
            'credit_values = ["C", "CR"]\ndebit_values = ["D", "DR"]',
        )
    )
    text = (
        "Account;Date;Amount;D/C\n"
        "DE89370400440532013000;2026-01-02;33.50;D\n"
        "DE89370400440532013000;2026-01-02;1533.50;cr\n"
    )

    assert amounts(parse(text, profiles=[profile])) == [Decimal("-33.50"), Decimal("1533.50")]
    with pytest.raises(InvalidRecord, match=r"column 'D/C': 'X' is not a debit/credit indicator"):
        parse(text.replace(";cr", ";X"), profiles=[profile])


def test_debit_positive_amounts_are_money_out() -> None:
    profile = profile_from(
        MINIMAL_PROFILE.replace(
            'amount = "Amount"', 'convention = "debit_positive"\namount = "Amount"'
        )
    )
    text = "Account;Date;Amount\nDE89370400440532013000;2026-01-02;36.33\n"

    assert amounts(parse(text, profiles=[profile])) == [Decimal("-36.33")]


def test_statement_id_from_the_file_hash_when_the_profile_says_so() -> None:
    profile = profile_from(MINIMAL_PROFILE + '\n[statement]\nid = "file"\n')
    data = b"Account;Date;Amount\nDE89370400440532013000;2026-01-02;1.00\n"

    result = parse_csv(data, tenant_id=TENANT, profiles=[profile])

    assert result.statements[0].header.bank_statement_id == f"csv:{result.file_sha256[:16]}"


def test_running_balances_that_do_not_follow_from_the_amounts_give_no_balances() -> None:
    text = GENERIC.replace("10999.50,booked", "10990.50,booked")

    result = parse(text)

    assert codes(result) == ["csv_balance_chain"]
    assert "file line 3 says 10990.50" in result.diagnostics[0].message
    assert balances(result) == (None, None)


def test_balances_that_fit_both_orders_on_one_day_are_not_guessed() -> None:
    text = (
        "Account,Booking date,Amount,Currency,Balance\n"
        "NO9386011117947,2026-11-02,-20.00,NOK,858.47\n"
        "NO9386011117947,2026-11-02,20.00,NOK,878.47\n"
    )

    result = parse(text)

    assert codes(result) == ["csv_balance_order_unknown"]
    assert balances(result) == (None, None)


def test_a_row_without_its_own_account_in_a_file_of_several_accounts_is_refused() -> None:
    text = (
        "Bokføringsdato;Beløp;Avsender;Mottaker;Navn;Tittel;Valuta\n"
        "2026/09/03;-300,00;6219.12.77436;;;a;NOK\n"
        "2026/09/04;-300,00;1503.02.12345;;;b;NOK\n"
        "2026/09/05;-300,00;;;;c;NOK\n"
    )

    with pytest.raises(InvalidRecord, match=r"holds several \(6219.12.77436, 1503.02.12345\)"):
        parse(text)


def test_profiles_that_fit_equally_well_are_a_diagnostic() -> None:
    twin = profile_from(MINIMAL_PROFILE.replace('name = "test-bank"', 'name = "test-twin"'))
    text = "Account;Date;Amount\nDE89370400440532013000;2026-01-02;1.00\n"

    result = parse(text, profiles=[twin, profile_from()])

    assert codes(result) == ["csv_profile_ambiguous"]
    assert result.statements[0].header.source_format == "csv:test-bank"  # by name


# ============================================================================ the file


def test_a_utf16_file_with_bom_is_read() -> None:
    result = parse(GENERIC, encoding="utf-16")

    assert amounts(result)[0] == Decimal("1250.00")


def test_an_empty_file_is_refused() -> None:
    for data in (b"", b" \r\n", b"\xef\xbb\xbf\n"):
        with pytest.raises(EmptyStatementFile):
            parse_csv(data, tenant_id=TENANT)


def test_a_header_without_transactions_is_refused() -> None:
    with pytest.raises(EmptyStatementFile, match="has a header but no transactions"):
        parse("Account,Booking date,Amount,Currency\n\n")


def test_a_header_without_transactions_but_with_a_preamble_account_is_an_empty_statement() -> None:
    text = UBS[: UBS.index("2026-09-30;18:02:11")]

    result = parse(text)

    [(header, lines)] = result.statements
    assert lines == []
    assert header.entry_count == 0
    assert balances(result) == (Decimal("1384.56"), Decimal("6411.16"))
    assert codes(result) == ["balance_mismatch"]  # the preamble's balances differ, no lines


def test_an_unknown_header_is_refused_listing_the_layouts_ingest_reads() -> None:
    with pytest.raises(FormatMismatch) as refused:
        parse("Datum;Omschrijving;Bedrag\n2026-01-02;x;1,00\n")

    message = str(refused.value)
    assert "'Datum;Omschrijving;Bedrag'" in message
    assert "sparebank1 (SpareBank 1)" in message
    assert "ubs (UBS (Switzerland))" in message


def test_a_profile_can_be_forced_by_name() -> None:
    with pytest.raises(FormatMismatch, match="no CSV profile recognises"):
        parse(GENERIC, profile="dnb")
    with pytest.raises(FormatMismatch, match="no CSV profile named 'nope'"):
        parse(GENERIC, profile="nope")
    assert profile_named("dnb").bank == "DNB"


def test_an_excel_separator_hint_line_is_skipped() -> None:
    result = parse("sep=,\n" + GENERIC)

    assert len(amounts(result)) == 3


# ============================================================================ dispatch


def test_looks_like_csv_only_for_headers_a_profile_recognises() -> None:
    assert looks_like_csv(SPAREBANK1.encode())
    assert looks_like_csv(NORDEA_DK.encode("cp1252"))
    assert looks_like_csv(UBS.encode())
    assert not looks_like_csv(b"Date,Description,Amount\n2026-01-01,x,1\n")
    assert not looks_like_csv(b"<?xml version='1.0'?><Document/>")
    assert not looks_like_csv(b"\x00\x01\x02binary")
    assert not looks_like_csv(b"")


def test_parse_statement_file_detects_csv_and_gives_lines_their_stable_ids() -> None:
    result = parse_statement_file(UBS.encode(), tenant_id=TENANT)

    assert result.source_format == "csv"
    [(header, lines)] = result.statements
    assert header.source_format == "csv:ubs"
    assert len({line.line_id for line in lines}) == 5
    assert result.diagnostics == []


def test_format_csv_is_dispatched_to_this_parser() -> None:
    assert parser_for("csv") is csv_profiles.parse
    result = parse_statement_file(GENERIC.encode(), tenant_id=TENANT, statement_format="csv")
    assert result.statements[0].header.source_format == "csv:generic"
    with pytest.raises(FormatMismatch):
        parse_statement_file(b"<Document/>", tenant_id=TENANT, statement_format="csv")
