"""The CSV parser against every CSV file of the statement corpus (``../shared/corpus``).

Each file is listed below with what must happen to it: parsed with its figures checked
(counts, sums, balances, first and last line), parsed once the account number is given (the
bank's export does not name it), or refused with the error a user would see. Where the
corpus ships another project's conversion of the file (reubano/csv2ofx ``data/converted``),
the lines are compared with it. The corpus is read in place; without it these tests skip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ingest_factories import CORPUS_DIR

from bankrec.contracts import EntryStatus
from bankrec.ingest.domain import ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers.csv_profiles import looks_like_csv, parse_csv
from bankrec.ingest.errors import IngestError

TENANT = "t-csv-corpus"
ACCOUNT = "NO9386011117947"  # given with the files whose export names no account
CSV2OFX = "reubano+csv2ofx/data"
OCA_CH = "OCA+l10n-switzerland/l10n_ch_account_statement_base_import/data"
_NO_CORPUS = pytest.mark.skip(reason=f"statement corpus not found at {CORPUS_DIR}")

CSV_FILES = (
    sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if CORPUS_DIR.is_dir()
    else []
)


def _name(path: Path) -> str:
    return path.relative_to(CORPUS_DIR).as_posix()


@dataclass(frozen=True)
class Figures:
    """What one statement of a parsed file must show."""

    profile: str
    account: str
    currency: str
    lines: int
    credits: str
    debits: str
    opening: str | None
    closing: str | None
    first: tuple[date, str]  # booking date (value date when none) and amount, oldest line
    last: tuple[date, str]
    diagnostics: tuple[str, ...] = ()


# Files a shipped profile reads and that name their own account.
PARSED: dict[str, Figures] = {
    f"{CSV2OFX}/test/gls.csv": Figures(
        "gls-bank", "1234567890", "EUR", 1, "0.00", "98.76", "1333.32", "1234.56",
        (date(2017, 10, 10), "-98.76"), (date(2017, 10, 10), "-98.76"),
    ),
    f"{CSV2OFX}/test/ubs-ch-fr_trimmed.csv": Figures(
        "ubs-classic", "0123 45678901.23A", "CHF", 3, "240.00", "210.00", "11383.94",
        "11413.94", (date(2019, 3, 31), "-10.00"), (date(2019, 4, 27), "-200.00"),
    ),
    f"{OCA_CH}/UBS_export.csv": Figures(
        # newest line first; the footer states "Solde final" 20827.00 and "Solde initial"
        # 20289.60, which the running balance confirms (no diagnostic); the IBAN column
        # fails its check digits, so the account is kept as the bank's own id
        "ubs-classic", "CH08 0029 8298 9999 9901 Q", "CHF", 6, "665.40", "128.00",
        "20289.60", "20827.00", (date(2014, 8, 31), "76.00"), (date(2014, 8, 6), "-88.00"),
    ),
    f"{CSV2OFX}/test/outbank.csv": Figures(
        "outbank", "DE81254326973657190105", "EUR", 4, "100.00", "135.89", None, None,
        (date(2019, 1, 5), "-25.00"), (date(2019, 2, 20), "100.00"),
    ),
}  # fmt: skip

# Files a shipped profile reads whose export does not name the account: refused as they
# are, parsed with ``ACCOUNT`` given.
NEEDS_ACCOUNT: dict[str, Figures] = {
    f"{CSV2OFX}/test/n26.csv": Figures(
        "n26", ACCOUNT, "EUR", 2, "328.00", "328.00", None, None,
        (date(2020, 3, 7), "328.00"), (date(2020, 3, 7), "-328.00"),
    ),
    f"{CSV2OFX}/test/n26-fr.csv": Figures(
        "n26", ACCOUNT, "EUR", 2, "328.00", "328.00", None, None,
        (date(2020, 3, 7), "328.00"), (date(2020, 3, 7), "-328.00"),
    ),
    f"{OCA_CH}/raiffeisen_details.csv": Figures(
        "raiffeisen-ch", ACCOUNT, "CHF", 7, "50100.00", "49764.95", "200.00", "535.05",
        (date(2014, 8, 6), "50.00"), (date(2014, 8, 25), "-49193.00"),
    ),
    **{
        f"{CSV2OFX}/test/schwab-checking{case}.csv": Figures(
            "schwab", ACCOUNT, "USD", 4, "20.00", "235.27", "1093.74", "878.47",
            (date(2022, 8, 4), "-57.27"), (date(2022, 8, 17), "20.00"),
        )
        for case in ("", "-baltest-case1", "-baltest-case3", "-baltest-case4")
    },
    **{
        f"{CSV2OFX}/test/schwab-checking-baltest-case{case}.csv": Figures(
            "schwab", ACCOUNT, "USD", 4, "20.00", "235.27", "1093.74", "878.47",
            (date(2022, 8, 17), "-57.27"), (date(2022, 8, 17), "20.00"),
        )
        for case in ("5", "6")
    },
    # the lines are out of order (04, 09 between two 17 August lines); in booking-date order
    # the running balance follows, which gives the balances csv2ofx leaves out
    f"{CSV2OFX}/test/schwab-checking-baltest-case2.csv": Figures(
        "schwab", ACCOUNT, "USD", 4, "20.00", "235.27", "1093.74", "878.47",
        (date(2022, 8, 4), "-57.27"), (date(2022, 8, 17), "20.00"),
    ),
    # -20.00 then +20.00 on one day: the balances fit both orders, so none is derived
    # (csv2ofx gives none either)
    f"{CSV2OFX}/test/schwab-checking-baltest-case7.csv": Figures(
        "schwab", ACCOUNT, "USD", 2, "20.00", "20.00", None, None,
        (date(2022, 8, 17), "-20.00"), (date(2022, 8, 17), "20.00"),
        ("csv_balance_order_unknown",),
    ),
}  # fmt: skip

_NOT_A_BANK_EXPORT = "not a bank account statement export"
# Files no shipped profile reads, with the error a user gets for format=csv, and why.
REFUSED: dict[str, tuple[str, str]] = {
    "gurkodil+ofxstatement-handelsbanken/tests/sample-statement.csv": (
        "empty_file",
        "the plugin's sample is an empty file (its tests moved to xlsx)",
    ),
    **{
        f"OCA+bank-statement-import/account_bank_statement_import_adyen/test_files/{name}": (
            "format_mismatch",
            f"Adyen settlement detail report: a payment processor's report, {_NOT_A_BANK_EXPORT}",
        )
        for name in ("settlement_detail_report_batch_238.csv", "settlement_detail_report_batch_380.csv")
    },
    **{
        f"OCA+bank-statement-import/{module}/tests/fixtures/{name}": (
            "format_mismatch",
            "PayPal activity/statement export: a wallet provider, no profile shipped",
        )
        for module in ("account_bank_statement_import_paypal", "account_statement_import_paypal")
        for name in ("activity_en.csv", "empty_activity.csv", "statement_en.csv", "statement_es.csv")
    },
    **{
        f"OCA+bank-statement-import/{module}/tests/fixtures/{name}": (
            "format_mismatch",
            "Odoo's configurable sheet-import test fixture: a made-up layout, no bank's export",
        )
        for module, names in (
            (
                "account_bank_statement_import_txt_xlsx",
                ("balance.csv", "debit_credit.csv", "empty_statement_en.csv", "multi_currency.csv",
                 "original_currency.csv", "original_currency_empty.csv",
                 "original_currency_no_header.csv", "sample_statement_en.csv"),
            ),
            (
                "account_statement_import_txt_xlsx",
                ("balance.csv", "debit_credit.csv", "debit_credit_amount.csv",
                 "empty_lines_statement.csv", "empty_statement_en.csv", "multi_currency.csv", "original_currency.csv",
                 "original_currency_empty.csv", "original_currency_no_header.csv",
                 "sample_statement_en.csv"),
            ),
            (
                "account_statement_import_sheet_file",
                ("balance.csv", "debit_credit.csv", "debit_credit_amount.csv",
                 "empty_statement_en.csv", "meta_data_separated_credit_debit.csv",
                 "multi_currency.csv", "original_currency.csv", "original_currency_empty.csv",
                 "original_currency_no_header.csv",
                 "sample_statement_credit_card_inverse_sign_en.csv", "sample_statement_en.csv"),
            ),
        )
        for name in names
    },
    **{
        f"egh+ledger-autosync/fixtures/{name}": ("format_mismatch", reason)
        for name, reason in (
            ("amazon.csv", f"Amazon order history, {_NOT_A_BANK_EXPORT}"),
            ("amazon2.csv", f"Amazon order history, {_NOT_A_BANK_EXPORT}"),
            ("mint.csv", "Mint aggregator export (categories, no account number)"),
            ("paypal.csv", "PayPal activity export: a wallet provider, no profile shipped"),
            ("paypal_alternate.csv", "PayPal activity export: a wallet provider, no profile shipped"),
            ("venmo.csv", "Venmo wallet statement, no profile shipped"),
        )
    },
    **{
        f"{CSV2OFX}/test/{name}": ("format_mismatch", reason)
        for name, reason in (
            ("amazon.csv", f"Amazon order history, {_NOT_A_BANK_EXPORT}"),
            ("capitalone.csv", "Capital One credit card export (a card, not an account)"),
            ("creditunion.csv", "csv2ofx's made-up credit union sample (no bank's layout)"),
            ("default.csv", "csv2ofx's own default layout (Row, Num, Account names)"),
            ("ingesp.csv", "ING Spain app export by category: no account, no profile shipped"),
            ("mint.csv", "Mint aggregator export (categories, no account number)"),
            ("mint_extra.csv", "Mint aggregator export (categories, no account number)"),
            ("mint_headerless.csv", "Mint aggregator export without a header"),
            ("payoneer.csv", "Payoneer payment-service export, no profile shipped"),
            ("pcmastercard.csv", "PC Financial Mastercard card export (a card, not an account)"),
            ("stripe-all.csv", f"Stripe payments report, {_NOT_A_BANK_EXPORT}"),
            ("stripe-default.csv", f"Stripe payments report, {_NOT_A_BANK_EXPORT}"),
            ("xero.csv", f"Xero accounting journal, {_NOT_A_BANK_EXPORT}"),
        )
    },
}  # fmt: skip


def _params(names: list[str]) -> list[Any]:
    if not CSV_FILES:
        return [pytest.param(None, marks=_NO_CORPUS, id="no-corpus")]
    return [pytest.param(name, id=name) for name in names]


def _read(name: str) -> bytes:
    return (CORPUS_DIR / name).read_bytes()


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_every_csv_file_of_the_corpus_is_listed_with_its_outcome() -> None:
    listed = set(PARSED) | set(NEEDS_ACCOUNT) | set(REFUSED)
    found = {_name(path) for path in CSV_FILES}

    assert found - listed == set(), "a corpus CSV file without an expected outcome"
    assert listed - found == set(), "an expected outcome for a file the corpus lacks"
    assert len(found) == 74


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_only_the_files_of_a_shipped_layout_are_detected_as_csv() -> None:
    everything = sorted(p for p in CORPUS_DIR.rglob("*") if p.is_file())

    detected = {_name(path) for path in everything if looks_like_csv(path.read_bytes())}

    assert detected == set(PARSED) | set(NEEDS_ACCOUNT)


def _check(result: ParseResult, figures: Figures) -> None:
    [(header, lines)] = result.statements
    assert header.source_format == f"csv:{figures.profile}"
    assert header.account.number in (figures.account, figures.account.replace(" ", ""))
    assert header.account.currency == figures.currency
    assert header.line_count == len(lines) == figures.lines
    assert (str(header.sum_credits), str(header.sum_debits)) == (figures.credits, figures.debits)
    opening = header.opening_booked.amount.amount if header.opening_booked else None
    closing = header.closing_booked.amount.amount if header.closing_booked else None
    assert (opening, closing) == (
        None if figures.opening is None else Decimal(figures.opening),
        None if figures.closing is None else Decimal(figures.closing),
    )
    if opening is not None and closing is not None:  # the invariant, checked independently
        booked = sum(
            (line.amount.amount for line in lines if line.status is EntryStatus.BOOKED),
            Decimal(0),
        )
        assert opening + booked == closing
    ends = [(line.booking_date or line.value_date, str(line.amount.amount)) for line in lines]
    assert (ends[0], ends[-1]) == (figures.first, figures.last)
    assert tuple(d.code for d in result.diagnostics) == figures.diagnostics
    assert result.file_sha256 == header.file_sha256


@pytest.mark.parametrize("name", _params(sorted(PARSED)))
def test_files_naming_their_account_parse_with_their_figures(name: str) -> None:
    result = parse_statement_file(_read(name), tenant_id=TENANT)  # detected, not asked for

    assert result.source_format == "csv"
    _check(result, PARSED[name])


@pytest.mark.parametrize("name", _params(sorted(NEEDS_ACCOUNT)))
def test_files_without_their_account_are_refused_and_parse_with_it(name: str) -> None:
    data = _read(name)
    with pytest.raises(IngestError) as refused:
        parse_statement_file(data, tenant_id=TENANT)
    assert refused.value.code == "invalid_record"
    assert refused.value.message.startswith("account: ")
    assert "name the account with the upload (?account=" in refused.value.message

    _check(parse_csv(data, tenant_id=TENANT, account_number=ACCOUNT), NEEDS_ACCOUNT[name])


@pytest.mark.parametrize("name", _params(sorted(REFUSED)))
def test_files_of_no_shipped_layout_are_refused_with_a_reason(name: str) -> None:
    code, _why = REFUSED[name]

    with pytest.raises(IngestError) as refused:
        parse_statement_file(_read(name), tenant_id=TENANT, statement_format="csv")

    assert refused.value.code == code
    if code == "format_mismatch":
        assert "no CSV profile recognises the file's header" in refused.value.message


# ------------------------------------------------------------ csv2ofx's conversions


def _ofx_transactions(name: str) -> list[dict[str, str]]:
    text = (CORPUS_DIR / CSV2OFX / "converted" / name).read_text(encoding="utf-8")
    blocks = re.findall(r"<STMTTRN>(.*?)</STMTTRN>", text, re.DOTALL)
    return [dict(re.findall(r"<(\w+)>([^<\r\n]*)", block)) for block in blocks]


def _ofx_balance(name: str) -> Decimal | None:
    text = (CORPUS_DIR / CSV2OFX / "converted" / name).read_text(encoding="utf-8")
    found = re.search(r"<BALAMT>([^<\s]+)", text)
    return Decimal(found.group(1)) if found else None


def _ofx_date(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_gls_matches_csv2ofx() -> None:
    [expected] = _ofx_transactions("gls.ofx")
    result = parse_statement_file(_read(f"{CSV2OFX}/test/gls.csv"), tenant_id=TENANT)

    [(header, [line])] = result.statements
    assert header.account.currency == "EUR"  # <CURDEF>EUR
    assert line.amount.amount == Decimal(expected["TRNAMT"])
    assert line.booking_date == _ofx_date(expected["DTPOSTED"])
    assert line.counterparty is not None
    assert line.counterparty.name == expected["NAME"] == "Drillisch Online AG"
    assert line.bank_transaction_code is not None
    assert line.bank_transaction_code.proprietary == expected["MEMO"]
    assert line.remittance_text == "B4658645 U123456789 B123456 987 SIMply Rechnung"  # VWZ1-2
    assert line.value_date == date(2017, 10, 10)


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_outbank_matches_csv2ofx() -> None:
    expected = _ofx_transactions("outbank.ofx")
    result = parse_statement_file(_read(f"{CSV2OFX}/test/outbank.csv"), tenant_id=TENANT)

    [(header, lines)] = result.statements
    assert header.account.iban == "DE81254326973657190105"
    ours = [
        (
            line.booking_date,
            line.amount.amount,
            line.counterparty.name if line.counterparty else None,
            line.remittance_text,
        )
        for line in reversed(lines)  # the file and csv2ofx list the newest first
    ]
    assert ours == [
        (_ofx_date(t["DTPOSTED"]), Decimal(t["TRNAMT"]), t["NAME"], t["MEMO"]) for t in expected
    ]
    shell = lines[2]
    assert shell.counterparty is not None
    assert (shell.counterparty.iban, shell.counterparty.bic) == (
        "DE33674643548447246470",
        "CHASDEFX",
    )
    assert shell.end_to_end_id == "0123456789"
    assert shell.bank_transaction_code is not None
    assert shell.bank_transaction_code.proprietary == "Lastschrifteinzug"


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_n26_matches_csv2ofx() -> None:
    expected = _ofx_transactions("n26.ofx")
    result = parse_csv(_read(f"{CSV2OFX}/test/n26.csv"), tenant_id=TENANT, account_number=ACCOUNT)

    [(_header, lines)] = result.statements
    assert [(line.booking_date, line.amount.amount) for line in lines] == [
        (_ofx_date(t["DTPOSTED"]), Decimal(t["TRNAMT"])) for t in expected
    ]
    assert lines[0].counterparty is not None
    assert lines[0].counterparty.name == "Compte courant"
    # the sample's partner IBAN fails its check digits: kept as an account number, not an IBAN
    assert lines[0].counterparty.other_account == "DE27100110000000000000"
    assert lines[0].bank_transaction_code is not None
    assert lines[0].bank_transaction_code.proprietary == "Credit Transfer"


SCHWAB = [
    "schwab-checking",
    *(f"schwab-checking-baltest-case{case}" for case in range(1, 8)),
]


@pytest.mark.parametrize("name", _params(SCHWAB))
def test_schwab_matches_csv2ofx_lines_and_balance(name: str) -> None:
    expected = _ofx_transactions(f"{name}.ofx")
    data = _read(f"{CSV2OFX}/test/{name}.csv")

    result = parse_csv(data, tenant_id=TENANT, account_number=ACCOUNT)

    [(header, lines)] = result.statements
    ours = sorted(
        (line.booking_date, line.amount.amount, line.remittance_text, line.customer_reference or "")
        for line in lines
    )
    assert ours == sorted(
        (_ofx_date(t["DTPOSTED"]), Decimal(t["TRNAMT"]), t["NAME"], t.get("CHECKNUM", ""))
        for t in expected
    )
    closing = header.closing_booked.amount.amount if header.closing_booked else None
    if name == "schwab-checking-baltest-case2":
        assert _ofx_balance(f"{name}.ofx") is None  # csv2ofx gives up on the shuffled file
        assert closing == Decimal("878.47")  # the booking-date order's running balance
    else:
        assert closing == _ofx_balance(f"{name}.ofx")
    assert _ofx_balance("schwab-checking-msmoney.ofx") == Decimal("878.47")


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_ubs_matches_csv2ofx_qif() -> None:
    qif = (CORPUS_DIR / CSV2OFX / "converted" / "ubs-ch-fr.qif").read_text(encoding="utf-8")
    records = [
        {line[0]: line[1:] for line in block.strip().splitlines() if line}
        for block in qif.split("^")
    ]
    expected = [record for record in records if "D" in record]  # the transactions
    assert len(expected) == 3
    result = parse_statement_file(_read(f"{CSV2OFX}/test/ubs-ch-fr_trimmed.csv"), tenant_id=TENANT)

    [(header, lines)] = result.statements
    assert header.account.other_id == "0123 45678901.23A"  # QIF !Account N...
    assert [
        (line.bank_reference, str(line.value_date), str(line.amount.amount)) for line in lines
    ] == [(r["N"], r["D"], r["T"]) for r in expected]
    assert lines[1].remittance_text == (
        "ASSOCIATION FOO-BAR BVD DE QUELQUE-PART 1, 1201 GENEVE, CH"
    )


@pytest.mark.skipif(not CSV_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_raiffeisen_detail_rows_become_the_additional_information_of_their_line() -> None:
    data = _read(f"{OCA_CH}/raiffeisen_details.csv")

    result = parse_csv(data, tenant_id=TENANT, account_number=ACCOUNT)

    lines = result.statements[0].lines
    collective = lines[4]
    assert collective.amount.amount == Decimal("-300.00")
    assert collective.remittance_text == "Ordre collectif e-banking de paiements individuels"
    assert collective.additional_info is not None
    assert collective.additional_info.splitlines() == [
        "Supplier3 0254 Roopi Fcature 6751168 CHF 93.00",
        "Supplier4 1111 Gruppi CHF 57.50",
        "Supplier5 2222 Cassi CHF 100.00",
        "Supplier6 3333 Pion CHF 42.50",
    ]
    assert lines[0].remittance_text == "Crédit Customer1"  # Windows-1252 read as such
    assert lines[5].value_date == date(2014, 8, 22)
