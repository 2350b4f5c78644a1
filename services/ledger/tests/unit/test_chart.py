"""The default chart of accounts and one bank GL account per bank account."""

from __future__ import annotations

import pytest

from bankrec.contracts import AccountRole
from bankrec.ledger.domain import BANK_CODE_FIRST, BANK_CODE_LAST, Chart
from bankrec.ledger.errors import ChartExhausted, CurrencyMismatch, UnknownAccount


def test_the_default_chart_has_the_norwegian_standard_codes() -> None:
    chart = Chart.default()
    assert {(a.code, a.role) for a in chart.accounts} == {
        ("1920", AccountRole.BANK),
        ("1500", AccountRole.RECEIVABLE),
        ("2400", AccountRole.PAYABLE),
        ("2900", AccountRole.INTERIM),
        ("7770", AccountRole.BANK_FEES),
        ("8040", AccountRole.INTEREST_INCOME),
        ("8140", AccountRole.INTEREST_EXPENSE),
        ("7790", AccountRole.ROUNDING),
    }
    assert chart.for_role(AccountRole.INTERIM).code == "2900"


def test_bank_accounts_get_1920_then_1921_on_first_use() -> None:
    chart, first = Chart.default().with_bank_account("acc-a", "NOK")
    assert (first.account.code, first.linked_now, first.account_created) == ("1920", True, False)
    chart, second = chart.with_bank_account("acc-b", "EUR")
    assert (second.account.code, second.account.currency) == ("1921", "EUR")
    assert second.account_created
    assert chart.bank_account("acc-a").code == "1920"
    assert chart.bank_account("acc-b").code == "1921"
    again, link = chart.with_bank_account("acc-a", "NOK")
    assert again == chart
    assert not link.linked_now


def test_a_bank_account_keeps_its_currency() -> None:
    chart, _ = Chart.default().with_bank_account("acc-a", "NOK")
    with pytest.raises(CurrencyMismatch, match="kept in NOK"):
        chart.with_bank_account("acc-a", "EUR")


def test_an_unknown_bank_account_or_code_is_refused() -> None:
    with pytest.raises(UnknownAccount):
        Chart.default().bank_account("acc-a")
    with pytest.raises(UnknownAccount, match="3000"):
        Chart.default().account("3000")


def test_the_bank_codes_run_out_with_a_clear_error() -> None:
    chart = Chart.default()
    for number in range(BANK_CODE_LAST - BANK_CODE_FIRST + 1):
        chart, _ = chart.with_bank_account(f"acc-{number}", "NOK")
    with pytest.raises(ChartExhausted, match=r"1920\.\.1949"):
        chart.with_bank_account("acc-one-too-many", "NOK")
