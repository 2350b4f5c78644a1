"""The camt parser on small files built by the factories: one behaviour per test."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from ingest_factories import DEMO_STATEMENT, IBAN, Detail, Entry, Statement, camt_file

from bankrec.contracts import (
    BankTransactionCode,
    EntryStatus,
    ReferenceKind,
    StatementKind,
    account_id_for,
)
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.errors import (
    FormatMismatch,
    InvalidValue,
    MissingElement,
    UnknownNamespace,
    UnsupportedFormat,
)

TENANT = "t-parser"


def parse(data: bytes, **options: object) -> ParseResult:
    return parse_statement_file(data, tenant_id=TENANT, **options)  # type: ignore[arg-type]


def codes(result: ParseResult) -> list[str]:
    return [d.code for d in result.diagnostics]


# ------------------------------------------------------------------- statement header


def test_header_carries_account_balances_sequence_numbers_and_sums() -> None:
    entries = [Entry(amount="250.00"), Entry(amount="40.50", indicator="DBIT")]
    result = parse(camt_file(Statement(entries=entries, opening="1000.00")))

    assert result.source_format == "camt.053.001.02"
    assert result.diagnostics == []
    [(header, lines)] = result.statements
    account_id = account_id_for(TENANT, IBAN)
    assert header.account.account_id == account_id
    assert header.account.iban == IBAN
    assert header.account.currency == "NOK"
    assert header.account.owner_name == "NORDISK VERKSTED AS"
    assert header.statement_id == f"{account_id}:2026-11-20-00321"
    assert header.bank_statement_id == "2026-11-20-00321"
    assert header.kind is StatementKind.END_OF_DAY
    assert header.electronic_sequence_number == 321
    assert header.legal_sequence_number == 321
    assert header.created_at == datetime(2026, 11, 20, 22, 15, 2, tzinfo=UTC)
    assert (header.period_from, header.period_to) == (date(2026, 11, 20), date(2026, 11, 20))
    assert header.opening_booked is not None
    assert header.opening_booked.amount.amount == Decimal("1000.00")
    assert header.closing_booked is not None
    assert header.closing_booked.amount.amount == Decimal("1209.50")
    assert (header.entry_count, header.line_count) == (2, 2)
    assert header.sum_credits == Decimal("250.00")
    assert header.sum_debits == Decimal("40.50")  # a positive figure, like TxsSummry
    assert header.file_sha256 == result.file_sha256
    assert len(lines) == 2


def test_debit_balance_is_negative_and_prcd_is_the_opening_without_opbd() -> None:
    prcd = (
        "<Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy='NOK'>50.00</Amt>"
        "<CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2026-11-19</Dt></Dt></Bal>"
        "<Bal><Tp><CdOrPrtry><Cd>CLAV</Cd></CdOrPrtry></Tp><Amt Ccy='NOK'>70.00</Amt>"
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>"
    )
    statement = Statement(entries=[Entry(amount="100.00")], opening=None, closing="50.00")
    statement.extra_xml = prcd
    [(header, _)] = parse(camt_file(statement)).statements
    assert header.opening_booked is not None
    assert header.opening_booked.amount.amount == Decimal("-50.00")
    assert header.opening_booked.date == date(2026, 11, 19)
    assert header.closing_available is not None
    assert header.closing_available.amount.amount == Decimal("70.00")


def test_currency_comes_from_the_balances_when_the_account_has_none() -> None:
    statement = Statement(entries=[Entry(currency="SEK")], currency=None)
    # balances are written in the statement currency; the factory uses NOK without Acct/Ccy
    [(header, lines)] = parse(camt_file(statement)).statements
    assert header.account.currency == "NOK"
    assert lines[0].amount.currency == "SEK"


def test_currency_comes_from_the_entries_without_account_currency_or_balances() -> None:
    statement = Statement(
        entries=[Entry(currency="EUR")], currency=None, opening=None, closing=None
    )
    result = parse(camt_file(statement))
    assert result.statements[0].header.account.currency == "EUR"
    assert "currency_from_entries" in codes(result)


def test_account_without_currency_balances_or_entries_is_refused() -> None:
    statement = Statement(entries=[], currency=None, opening=None, closing=None)
    with pytest.raises(MissingElement, match=r"Stmt/Acct/Ccy"):
        parse(camt_file(statement))


def test_other_account_id_is_used_without_iban() -> None:
    [(header, _)] = parse(camt_file(Statement(iban=None, other_id="12345678903"))).statements
    assert header.account.iban is None
    assert header.account.other_id == "12345678903"
    assert header.account.account_id == account_id_for(TENANT, "12345678903")


def test_creation_time_without_offset_is_read_as_utc_and_said_so() -> None:
    result = parse(camt_file(Statement(created_at="2026-11-20T23:15:02.123456789")))
    assert result.statements[0].header.created_at == datetime(
        2026, 11, 20, 23, 15, 2, 123456, tzinfo=UTC
    )
    assert "assumed_utc" in codes(result)


def test_creation_time_falls_back_to_the_group_header() -> None:
    [(header, _)] = parse(camt_file(Statement(created_at=None))).statements
    assert header.created_at == datetime(
        2026, 11, 20, 23, 15, 2, tzinfo=timezone(timedelta(hours=1))
    )


def test_missing_group_header_and_balances_are_diagnostics() -> None:
    result = parse(camt_file(Statement(opening=None, closing=None), group_header=False))
    assert codes(result) == ["missing_group_header", "missing_balance"]


def test_balance_that_does_not_add_up_is_a_diagnostic_not_a_refusal() -> None:
    result = parse(camt_file(Statement(entries=[Entry(amount="10.00")], closing="999.00")))
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "balance_mismatch"
    assert diagnostic.statement == "2026-11-20-00321"
    assert "1000.00 + booked entries 10.00 = 1010.00" in diagnostic.message
    assert "closing balance is 999.00" in diagnostic.message


def test_pending_entries_are_not_part_of_the_balance_check() -> None:
    entries = [Entry(amount="10.00"), Entry(amount="99.00", status="PDNG")]
    result = parse(camt_file(Statement(entries=entries)))  # closing = opening + booked
    assert result.diagnostics == []
    assert result.statements[0].header.sum_credits == Decimal("109.00")


def test_transaction_summary_is_checked_against_the_entries() -> None:
    summary = (
        "<TxsSummry><TtlNtries><NbOfNtries>3</NbOfNtries></TtlNtries>"
        "<TtlCdtNtries><NbOfNtries>1</NbOfNtries><Sum>10.00</Sum></TtlCdtNtries></TxsSummry>"
    )
    statement = Statement(entries=[Entry(amount="10.00")], extra_xml=summary)
    result = parse(camt_file(statement))
    [diagnostic] = result.diagnostics
    assert diagnostic.code == "summary_mismatch"
    assert "NbOfNtries> says 3 but the statement has 1" in diagnostic.message


def test_several_statements_in_one_file() -> None:
    first = Statement(entries=[Entry()], statement_id="S-1")
    second = Statement(entries=[Entry(), Entry()], statement_id="S-2", iban="NO8330001234567")
    result = parse(camt_file(first, second))
    assert [h.bank_statement_id for h, _ in result.statements] == ["S-1", "S-2"]
    assert [len(lines) for _, lines in result.statements] == [1, 2]
    assert result.statements[0].header.account.account_id != (
        result.statements[1].header.account.account_id
    )


def test_a_statement_without_entries_has_no_lines() -> None:
    [(header, lines)] = parse(camt_file(Statement(entries=[]))).statements
    assert lines == []
    assert (header.entry_count, header.sum_credits, header.sum_debits) == (
        0,
        Decimal("0.00"),
        Decimal("0.00"),
    )


# ------------------------------------------------------------------------------ entries


def test_entry_fields_become_the_line() -> None:
    entry = Entry(
        amount="1250.00",
        reference="7",
        bank_reference="BANKREF-7",
        value_date="2026-11-21",
        proprietary="230",
        proprietary_issuer="NO-BANK",
        additional_info="Giro  innbetaling",
        details=[
            Detail(
                end_to_end_id="E2E-1",
                instruction_id="INSTR-1",
                debtor="FJORDLAND BYGG AS",
                debtor_iban="NO83 3000 1234 567",
                creditor="NORDISK VERKSTED AS",
                unstructured=["Faktura 10234", "  sjobris   marine "],
                referred_documents=["10234"],
                additional_info="detail info",
            )
        ],
    )
    [(header, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.statement_id == header.statement_id
    assert line.sequence == 0
    assert line.amount.amount == Decimal("1250.00")
    assert line.amount.currency == "NOK"
    assert line.status is EntryStatus.BOOKED
    assert line.booking_date == date(2026, 11, 20)
    assert line.value_date == date(2026, 11, 21)
    assert line.entry_reference == "7"
    assert line.entry_amount is None
    assert line.detail_index is None
    assert line.bank_reference == "BANKREF-7"
    assert line.end_to_end_id == "E2E-1"
    assert line.instruction_id == "INSTR-1"
    assert line.bank_transaction_code == BankTransactionCode(
        domain="PMNT",
        family="RCDT",
        sub_family="DMCT",
        proprietary="230",
        proprietary_issuer="NO-BANK",
    )
    assert line.counterparty is not None
    assert line.counterparty.name == "FJORDLAND BYGG AS"  # a credit: the debtor paid us
    assert line.counterparty.iban == "NO8330001234567"
    assert line.remittance_text == "Faktura 10234 sjobris marine"
    assert line.referred_documents == ["10234"]
    assert line.additional_info == "detail info / Giro innbetaling"
    assert line.reversal is False


def test_a_debit_has_a_negative_amount_and_the_creditor_as_counterparty() -> None:
    entry = Entry(
        amount="15000.00",
        indicator="DBIT",
        details=[Detail(debtor="NORDISK VERKSTED AS", creditor="STAALGROSSISTEN AS")],
    )
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.amount.amount == Decimal("-15000.00")
    assert line.counterparty is not None
    assert line.counterparty.name == "STAALGROSSISTEN AS"


def test_version_8_parties_wrapped_in_pty_are_read() -> None:
    entry = Entry(details=[Detail(debtor="KARI HANSEN", debtor_iban="NO8330001234567")])
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]), version=8)).statements
    assert line.counterparty is not None
    assert line.counterparty.name == "KARI HANSEN"


def test_not_provided_end_to_end_id_is_dropped() -> None:
    entry = Entry(details=[Detail(end_to_end_id="NOTPROVIDED")])
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.end_to_end_id is None


def test_reversal_keeps_the_sign_of_its_indicator_and_is_flagged() -> None:
    reversed_credit = Entry(
        amount="500.00",
        indicator="DBIT",
        reversal=True,
        details=[Detail(debtor="OLA NORDMANN", creditor="NORDISK VERKSTED AS")],
    )
    [(_, [line])] = parse(camt_file(Statement(entries=[reversed_credit]))).statements
    assert line.amount.amount == Decimal("-500.00")
    assert line.reversal is True
    assert line.counterparty is not None
    assert line.counterparty.name == "OLA NORDMANN"  # the payer of the reversed payment


@pytest.mark.parametrize(
    ("code", "form", "expected"),
    [
        ("BOOK", "text", EntryStatus.BOOKED),
        ("BOOK", "code", EntryStatus.BOOKED),
        ("PDNG", "text", EntryStatus.PENDING),
        ("PDNG", "code", EntryStatus.PENDING),
        ("INFO", "code", EntryStatus.INFO),
        ("FUTR", "code", EntryStatus.PENDING),
    ],
)
def test_status_in_the_old_and_the_new_form(code: str, form: str, expected: EntryStatus) -> None:
    entry = Entry(status=code, status_form=form)
    [(_, [line])] = parse(camt_file(Statement(entries=[entry], closing=None))).statements
    assert line.status is expected


def test_missing_or_unknown_status_is_a_diagnostic() -> None:
    entries = [Entry(status=None), Entry(status="WHAT")]
    result = parse(camt_file(Statement(entries=entries, closing=None)))
    assert [line.status for line in result.statements[0].lines] == [
        EntryStatus.BOOKED,
        EntryStatus.INFO,
    ]
    assert {"missing_status", "unknown_status"} <= set(codes(result))


def test_booking_date_given_as_date_time() -> None:
    entry = Entry(booking_date_time="2026-11-20T14:30:00+01:00")
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.booking_date == date(2026, 11, 20)


# ------------------------------------------------------------------ batch entries (TxDtls)


def test_batch_entry_becomes_one_line_per_transaction_detail() -> None:
    batch = Entry(
        amount="3750.00",
        reference="2",
        details=[
            Detail(amount="2500.00", debtor="KARI HANSEN", creditor_reference="1002351003"),
            Detail(amount="1250.00", amount_path="", debtor="PER OLSEN", bank_reference="R-2"),
        ],
    )
    statement = Statement(
        entries=[Entry(amount="5.00", reference="1"), batch, Entry(reference="3")]
    )
    [(header, lines)] = parse(camt_file(statement)).statements

    assert (header.entry_count, header.line_count) == (3, 4)
    assert [line.sequence for line in lines] == [0, 1, 2, 3]
    first, second = lines[1], lines[2]
    assert [first.amount.amount, second.amount.amount] == [Decimal("2500.00"), Decimal("1250.00")]
    assert [first.detail_index, second.detail_index] == [0, 1]
    assert first.entry_reference == second.entry_reference == "2"
    assert first.entry_amount is not None
    assert first.entry_amount.amount == Decimal("3750.00")
    assert first.counterparty is not None
    assert first.counterparty.name == "KARI HANSEN"
    assert first.structured_reference is not None
    assert first.structured_reference.kind is ReferenceKind.KID
    assert second.bank_reference == "R-2"
    assert lines[0].detail_index is None
    assert lines[3].detail_index is None


def test_batch_with_mixed_signs_uses_each_details_own_indicator() -> None:
    batch = Entry(
        amount="70.00",
        details=[
            Detail(amount="100.00", amount_path="", indicator="CRDT"),
            Detail(amount="30.00", amount_path="", indicator="DBIT"),
        ],
    )
    [(_, lines)] = parse(camt_file(Statement(entries=[batch]))).statements
    assert [line.amount.amount for line in lines] == [Decimal("100.00"), Decimal("-30.00")]


def test_batch_whose_details_do_not_add_up_stays_one_line() -> None:
    batch = Entry(
        amount="100.00",
        details=[
            Detail(amount="60.00", unstructured=["first"]),
            Detail(amount="30.00", unstructured=["second"]),
        ],
    )
    result = parse(camt_file(Statement(entries=[batch])))
    [(header, [line])] = result.statements
    assert line.amount.amount == Decimal("100.00")
    assert line.detail_index is None
    assert line.remittance_text == "first second"
    assert header.line_count == 1
    assert codes(result) == ["batch_not_split"]


def test_batch_with_a_detail_without_amount_stays_one_line() -> None:
    batch = Entry(amount="100.00", details=[Detail(amount="100.00"), Detail()])
    result = parse(camt_file(Statement(entries=[batch])))
    assert len(result.statements[0].lines) == 1
    assert codes(result) == ["batch_not_split"]


def test_single_transaction_detail_takes_the_entry_amount() -> None:
    entry = Entry(amount="100.00", details=[Detail(amount="99.00")])
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.amount.amount == Decimal("100.00")
    assert line.entry_amount is None


def test_demo_statement_splits_its_ocr_batch() -> None:
    result = parse(DEMO_STATEMENT.read_bytes())
    [(header, lines)] = result.statements
    assert (header.entry_count, header.line_count) == (6, 7)
    assert sum((line.amount.amount for line in lines), Decimal(0)) == Decimal("14225.00")
    assert result.diagnostics == []


# ------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("reference", "kind", "value"),
    [
        ("1002345005", ReferenceKind.KID, "1002345005"),
        ("RF18 5390 0754 7034", ReferenceKind.RF, "RF18539007547034"),
        ("RF19 5390 0754 7034", ReferenceKind.OTHER, "RF19 5390 0754 7034"),
        ("302388292000011111111111111", ReferenceKind.OTHER, "302388292000011111111111111"),
        ("INV-2026-11", ReferenceKind.OTHER, "INV-2026-11"),
    ],
)
def test_structured_reference_is_classified(
    reference: str, kind: ReferenceKind, value: str
) -> None:
    entry = Entry(details=[Detail(creditor_reference=reference)])
    [(_, [line])] = parse(camt_file(Statement(entries=[entry]))).statements
    assert line.structured_reference is not None
    assert (line.structured_reference.kind, line.structured_reference.value) == (kind, value)


# ---------------------------------------------------------------------- determinism


def test_the_same_file_gives_the_same_ids() -> None:
    data = camt_file(Statement(entries=[Entry(details=[Detail(amount="1.00")] * 1), Entry()]))
    first, second = parse(data), parse(data)
    assert [line.line_id for line in first.statements[0].lines] == [
        line.line_id for line in second.statements[0].lines
    ]
    assert first.statements[0].header == second.statements[0].header


def test_ids_depend_on_tenant_and_payment_not_on_the_statement() -> None:
    """The same payments reported in another statement of the account (an overlapping or
    re-sent statement) keep their ids, so they are never published twice."""
    data = camt_file(Statement(entries=[Entry(), Entry()]))
    ours = [line.line_id for line in parse(data).statements[0].lines]
    theirs = [
        line.line_id for line in parse_statement_file(data, tenant_id="t-other").statements[0].lines
    ]
    other_statement = [
        line.line_id
        for line in parse(camt_file(Statement(entries=[Entry(), Entry()], statement_id="S-9")))
        .statements[0]
        .lines
    ]
    assert len(set(ours)) == 2
    assert not set(ours) & set(theirs)
    assert ours == other_statement
    assert all(uuid.UUID(line_id).version == 5 for line_id in ours)


@pytest.mark.parametrize("last", ["false", "true"])
def test_pages_of_one_statement_get_their_own_ids(last: str) -> None:
    """A bank splitting statement S-1 over two messages: page 2's entries must not take
    page 1's ids (consumers would drop them as duplicates)."""

    def page(number: int, last_page: str) -> ParseResult:
        pagination = (
            f"<StmtPgntn><PgNb>{number}</PgNb><LastPgInd>{last_page}</LastPgInd></StmtPgntn>"
        )
        entries = [Entry(bank_reference=f"P{number}-{n}") for n in (1, 2)]
        data = camt_file(Statement(entries=entries, statement_id="S-1"))
        return parse(data.replace(b"<Id>S-1</Id>", b"<Id>S-1</Id>" + pagination.encode()))

    first, second = page(1, "false"), page(2, last)
    first_ids = {line.line_id for line in first.statements[0].lines}
    second_ids = {line.line_id for line in second.statements[0].lines}
    assert not first_ids & second_ids
    assert first.statements[0].header.statement_id.endswith(":S-1/p1")
    assert second.statements[0].header.statement_id.endswith(":S-1/p2")
    assert second.statements[0].header.bank_statement_id == "S-1"
    assert "paginated_statement" in codes(second)


def test_a_single_page_statement_keeps_its_plain_id() -> None:
    pagination = b"<StmtPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></StmtPgntn>"
    data = camt_file(Statement(entries=[Entry()], statement_id="S-1"))
    result = parse(data.replace(b"<Id>S-1</Id>", b"<Id>S-1</Id>" + pagination))
    assert result.statements[0].header.statement_id.endswith(":S-1")
    assert result.diagnostics == []


# ---------------------------------------------------------------- versions and shapes


@pytest.mark.parametrize("version", range(1, 15))
def test_every_camt_053_version_is_read(version: int) -> None:
    entry = Entry(amount="42.00", details=[Detail(debtor="KARI HANSEN")])
    result = parse(camt_file(Statement(entries=[entry]), version=version))
    assert result.source_format == f"camt.053.001.{version:02d}"
    [(_, [line])] = result.statements
    assert line.amount.amount == Decimal("42.00")
    assert line.counterparty is not None
    assert line.counterparty.name == "KARI HANSEN"


@pytest.mark.parametrize(
    ("message", "kind"),
    [("camt.052", StatementKind.INTRADAY), ("camt.054", StatementKind.NOTIFICATION)],
)
def test_camt_052_and_054_are_read_with_their_kind(message: str, kind: StatementKind) -> None:
    result = parse(camt_file(Statement(entries=[Entry()]), message=message, version=8))
    assert result.statements[0].header.kind is kind
    assert result.statements[0].header.source_format == f"{message}.001.08"


def test_document_inside_an_application_header_envelope() -> None:
    result = parse(camt_file(Statement(entries=[Entry()]), envelope=True))
    assert len(result.statements[0].lines) == 1


def test_forced_format_must_match_the_file() -> None:
    data = camt_file(Statement(entries=[Entry()]), message="camt.054")
    assert parse(data, statement_format="camt.054").statements
    with pytest.raises(FormatMismatch, match=r"format=camt.053 .* the file is camt.054.001.02"):
        parse(data, statement_format="camt.053")


def test_forcing_a_format_ingest_does_not_read_is_refused() -> None:
    with pytest.raises(UnsupportedFormat):
        parse(camt_file(), statement_format="pdf")


@pytest.mark.parametrize("name", ["mt940", "mt942", "bai2", "ofx", "ocr-giro", "bgmax"])
def test_forcing_another_format_on_a_camt_file_is_a_mismatch(name: str) -> None:
    with pytest.raises(FormatMismatch):
        parse(camt_file(), statement_format=name)


@pytest.mark.parametrize(
    "ns",
    [
        "urn:iso:std:iso:20022:tech:xsd:camt.053.001.99",
        "urn:iso:std:iso:20022:tech:xsd:camt.055.001.09",
        "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
        "",
    ],
)
def test_unknown_namespace_names_what_was_found_and_what_is_read(ns: str) -> None:
    attribute = f' xmlns="{ns}"' if ns else ""
    data = f"<Document{attribute}><BkToCstmrStmt/></Document>".encode()
    with pytest.raises(UnknownNamespace) as refused:
        parse(data)
    assert refused.value.found == ns
    assert (f"'{ns}'" if ns else "no namespace") in refused.value.message
    assert "camt.053" in refused.value.message
    assert "001.14" in refused.value.message


def test_xml_that_is_no_iso_document_is_an_unknown_namespace() -> None:
    with pytest.raises(UnknownNamespace, match=r"root element is <OFX>"):
        parse(b"<?xml version='1.0'?><OFX><BANKMSGSRSV1/></OFX>".replace(b"<OFX>", b"<OFX >"))


# ---------------------------------------------------------------- content errors


def test_entry_without_amount_names_the_element_and_statement() -> None:
    data = camt_file(Statement(entries=[Entry()])).replace(b'<Amt Ccy="NOK">100.00</Amt>', b"")
    with pytest.raises(MissingElement) as refused:
        parse(data)
    assert refused.value.path == "Ntry/Amt"
    assert refused.value.statement == "2026-11-20-00321"
    assert "Ntry/Amt" in refused.value.message
    assert "2026-11-20-00321" in refused.value.message


def test_entry_without_credit_debit_indicator_is_refused() -> None:
    with pytest.raises(MissingElement, match=r"Ntry/CdtDbtInd"):
        parse(camt_file(Statement(entries=[Entry(indicator=None)], closing=None)))


def test_entry_with_an_unreadable_amount_is_refused() -> None:
    with pytest.raises(InvalidValue, match=r"<Ntry/Amt> holds '12,50'"):
        parse(camt_file(Statement(entries=[Entry(amount="12,50")], closing=None)))


def test_a_negative_amount_is_refused_because_the_indicator_gives_the_sign() -> None:
    with pytest.raises(InvalidValue, match=r"never negative"):
        parse(camt_file(Statement(entries=[Entry(amount="-5.00")], closing=None)))


def test_entry_with_an_invalid_date_is_refused() -> None:
    with pytest.raises(InvalidValue, match=r"BookgDt/Dt"):
        parse(camt_file(Statement(entries=[Entry(booking_date="2026-13-45")])))


def test_statement_without_id_is_refused() -> None:
    with pytest.raises(MissingElement, match=r"Stmt/Id"):
        parse(camt_file(Statement(statement_id=None)))


def test_statement_without_account_id_is_refused() -> None:
    with pytest.raises(MissingElement, match=r"Stmt/Acct/Id/IBAN"):
        parse(camt_file(Statement(iban=None)))


def test_document_without_statements_is_refused() -> None:
    data = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>'
    with pytest.raises(MissingElement, match=r"BkToCstmrStmt/Stmt"):
        parse(data)


# Found by fuzzing (test_parser_fuzzing.py): each escaped as another exception, or worse.


def test_a_namespace_holding_a_closing_brace_is_an_unknown_namespace() -> None:
    data = b'<Document xmlns="}rn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
    with pytest.raises(UnknownNamespace) as refused:  # was ValueError from lxml's QName
        parse(data)
    assert refused.value.found == "}rn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def test_entries_of_a_statement_outside_the_container_are_refused() -> None:
    data = camt_file(Statement(entries=[Entry()])).replace(
        b"<BkToCstmrStmt>", b"<BkToCstmrStmt><Wrapper>"
    )
    data = data.replace(b"</BkToCstmrStmt>", b"</Wrapper></BkToCstmrStmt>")
    with pytest.raises(MissingElement, match=r"not inside <BkToCstmrStmt>") as refused:
        parse(data)  # was AssertionError("an entry outside a statement")
    assert refused.value.path == "Document/BkToCstmrStmt"


@pytest.mark.parametrize("amount", ["9" * 40, "9" * 27 + ".99", "1E+999999", "1E+18"])
def test_an_amount_of_more_than_18_digits_is_refused_not_rounded(amount: str) -> None:
    # 40 nines used to become 1.000000000000000000000000000E+40 without a word
    data = camt_file(Statement(entries=[Entry(amount=amount)], closing=None))
    with pytest.raises(InvalidValue, match=r"at most 18 digits before the point"):
        parse(data)
    largest = camt_file(Statement(entries=[Entry(amount="9" * 18 + ".99")], closing=None))
    [(_, [line])] = parse(largest).statements
    assert line.amount.amount == Decimal("9" * 18 + ".99")


def test_a_date_time_with_an_offset_of_a_day_or_more_is_invalid_not_a_crash() -> None:
    # datetime.timezone refuses offsets of 24 hours and more with a ValueError
    late = "2026-11-20T23:15:02+25:00"
    result = parse(camt_file(Statement(entries=[Entry()], created_at=late)))
    assert codes(result) == ["invalid_created_at"]

    booked_at = Entry(booking_date=None, booking_date_time="2026-11-20T10:00:00-99:99")
    with pytest.raises(InvalidValue, match=r"BookgDt/DtTm"):
        parse(camt_file(Statement(entries=[booked_at])))


@pytest.mark.parametrize("number", ["1E+999999", "9" * 19])
def test_a_sequence_number_of_more_than_18_digits_is_a_diagnostic(number: str) -> None:
    # int() of 1E+999999 took two minutes; 19 digits fit no consumer's column either
    data = camt_file(Statement(entries=[Entry()], electronic_sequence_number=number))
    result = parse(data)

    assert codes(result) == ["invalid_sequence_number"]
    assert "at most 18 digits" in result.diagnostics[0].message
    [(header, _)] = result.statements
    assert header.electronic_sequence_number is None
    assert header.legal_sequence_number == 321


# ------------------------------------------------------------------------- streaming


def test_a_large_statement_streams_through() -> None:
    """5 000 entries (2 MB): every entry read, sums and balance consistent.

    Speed and memory on bigger files are measured by ``services/ingest/bench/parse_bench.py``.
    """
    entries = [
        Entry(
            amount=f"{(index % 997) + 1}.{index % 100:02d}",
            indicator="DBIT" if index % 3 == 0 else "CRDT",
            reference=str(index),
            details=[Detail(debtor="KARI HANSEN", unstructured=[f"Faktura {index}"])],
        )
        for index in range(5_000)
    ]
    data = camt_file(Statement(entries=entries))
    assert len(data) > 2_000_000
    result = parse(data)
    [(header, lines)] = result.statements
    assert (header.entry_count, header.line_count) == (5_000, 5_000)
    assert result.diagnostics == []  # the closing balance adds up
    assert header.sum_credits - header.sum_debits == sum(e.signed for e in entries)
    assert lines[-1].remittance_text == "Faktura 4999"
