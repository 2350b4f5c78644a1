"""The default chart of accounts, one bank GL account per bank account, and the changes a
tenant makes to its chart (create, rename, move a role, link, deactivate)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bankrec.contracts import AccountRole
from bankrec.ledger.domain import BANK_CODE_FIRST, BANK_CODE_LAST, UNIQUE_ROLES, Chart
from bankrec.ledger.domain.chart import bank_account_number
from bankrec.ledger.errors import (
    AccountExists,
    AccountInUse,
    BankAccountLinked,
    ChartExhausted,
    CurrencyMismatch,
    InactiveAccount,
    InvalidChartChange,
    RoleTaken,
    UnknownAccount,
)

IBAN = "NO9386011117947"
BBAN = "86011117947"


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


def roles(chart: Chart) -> dict[AccountRole, str]:
    """Every role one account holds -> that account's code (asserting it is one account)."""
    held: dict[AccountRole, str] = {}
    for account in chart.accounts:
        if account.role in UNIQUE_ROLES:
            assert account.role not in held, f"two {account.role.value} accounts"
            held[account.role] = account.code
    assert set(held) == UNIQUE_ROLES
    return held


# --- creating and renaming ----------------------------------------------------------------


def test_an_account_is_created_with_a_unique_code() -> None:
    change = Chart.default().add_account(
        " 3000 ", "  Salgsinntekt,   avgiftspliktig ", AccountRole.OTHER
    )
    created = change.chart.account("3000")
    assert (created.name, created.role, created.active) == (
        "Salgsinntekt, avgiftspliktig",
        AccountRole.OTHER,
        True,
    )
    assert change.accounts == ((None, created),)
    assert change.changed
    assert change.previous is None
    assert [a.code for a in change.chart.accounts] == sorted(a.code for a in change.chart.accounts)
    with pytest.raises(AccountExists, match="3000 is in the chart already"):
        change.chart.add_account("3000", "Other", AccountRole.OTHER)


@pytest.mark.parametrize(
    ("code", "name", "role", "field"),
    [
        ("30", "x", AccountRole.OTHER, "code"),
        ("30AB", "x", AccountRole.OTHER, "code"),
        ("3000", "  ", AccountRole.OTHER, "name"),
        ("3000", "x" * 201, AccountRole.OTHER, "name"),
        ("1930", "Bank", AccountRole.BANK, "role"),
    ],
    ids=["short-code", "letters", "blank-name", "long-name", "bank"],
)
def test_invalid_accounts_name_the_field(
    code: str, name: str, role: AccountRole, field: str
) -> None:
    with pytest.raises(InvalidChartChange) as raised:
        Chart.default().add_account(code, name, role)
    assert raised.value.field == field


def test_a_role_moves_to_a_new_account_only_when_asked() -> None:
    with pytest.raises(RoleTaken, match=r"2900 holds the interim role; send take_role: true"):
        Chart.default().add_account("2910", "Interim 2", AccountRole.INTERIM)
    change = Chart.default().add_account("2910", "Interim 2", AccountRole.INTERIM, take_role=True)
    assert roles(change.chart)[AccountRole.INTERIM] == "2910"
    assert change.chart.account("2900").role is AccountRole.OTHER
    assert change.previous is not None
    assert change.previous.code == "2900"
    # the old holder is written first, so no moment has two interim accounts
    assert [(before and before.code, after.code) for before, after in change.accounts] == [
        ("2900", "2900"),
        (None, "2910"),
    ]


def test_an_account_is_renamed() -> None:
    change = Chart.default().rename("7770", "Bankgebyrer")
    assert change.chart.account("7770").name == "Bankgebyrer"
    assert change.chart.account("7770").role is AccountRole.BANK_FEES
    assert not change.chart.rename("7770", "Bankgebyrer").changed
    with pytest.raises(UnknownAccount):
        Chart.default().rename("3000", "x")
    with pytest.raises(InvalidChartChange):
        Chart.default().rename("7770", "")


# --- roles ----------------------------------------------------------------------------------


def test_a_role_is_given_to_an_other_account() -> None:
    chart = Chart.default().add_account("2910", "Interim 2", AccountRole.OTHER).chart
    change = chart.assign_role(AccountRole.INTERIM, "2910")
    assert roles(change.chart)[AccountRole.INTERIM] == "2910"
    assert change.chart.for_role(AccountRole.INTERIM).code == "2910"
    assert change.chart.account("2900").role is AccountRole.OTHER
    assert change.previous is not None
    assert change.previous.code == "2900"
    assert not change.chart.assign_role(AccountRole.INTERIM, "2910").changed
    back = change.chart.assign_role(AccountRole.INTERIM, "2900")
    assert roles(back.chart)[AccountRole.INTERIM] == "2900"


def test_a_role_is_not_given_where_it_would_orphan_another() -> None:
    with pytest.raises(AccountInUse, match="GL 7770 is the bank_fees account"):
        Chart.default().assign_role(AccountRole.INTERIM, "7770")
    with pytest.raises(AccountInUse, match="GL 1920 is the bank account"):
        Chart.default().assign_role(AccountRole.INTERIM, "1920")
    with pytest.raises(InvalidChartChange, match="link a bank account"):
        Chart.default().assign_role(AccountRole.BANK, "1920")
    with pytest.raises(InvalidChartChange, match="not a role one account holds"):
        Chart.default().assign_role(AccountRole.OTHER, "2900")
    with pytest.raises(UnknownAccount):
        Chart.default().assign_role(AccountRole.INTERIM, "2910")


# --- bank accounts --------------------------------------------------------------------------


def test_bank_account_numbers_are_validated_and_completed() -> None:
    assert bank_account_number(IBAN, None) == (IBAN, BBAN)
    assert bank_account_number("no93 8601 1117 947", None) == (IBAN, BBAN)
    assert bank_account_number(None, "8601.11.17947") == (IBAN, BBAN)
    assert bank_account_number(IBAN, BBAN) == (IBAN, BBAN)
    german = "DE89370400440532013000"
    assert bank_account_number(german, None) == (german, None)


@pytest.mark.parametrize(
    ("iban", "bban", "field", "message"),
    [
        (None, None, "iban", "give the bank account's IBAN"),
        ("NO9386011117948", None, "iban", "not a valid IBAN"),
        (None, "86011117948", "bban", "not a Norwegian account number"),
        (None, "1234567", "bban", "not a Norwegian account number"),
        (IBAN, "12345678903", "bban", "not the account number in IBAN"),
        ("DE89370400440532013000", BBAN, "bban", "only taken for a Norwegian account"),
    ],
    ids=["none", "iban-check-digits", "bban-mod11", "bban-short", "disagree", "foreign"],
)
def test_bad_bank_account_numbers_are_refused(
    iban: str | None, bban: str | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidChartChange, match=message) as raised:
        bank_account_number(iban, bban)
    assert raised.value.field == field
    assert "17948" not in raised.value.message  # numbers are masked in messages


def test_a_bank_account_is_linked_to_a_code_of_choice() -> None:
    change = Chart.default().link_bank_account("acc-x", "eur", "1930", iban=IBAN, bban=BBAN)
    linked = change.chart.bank_account("acc-x")
    assert (linked.code, linked.currency, linked.iban, linked.bban) == ("1930", "EUR", IBAN, BBAN)
    assert change.link == (None, linked)
    assert change.accounts == ((None, linked),)
    # the next bank account without a choice still gets 1920, the first free bank account
    chart, link = change.chart.with_bank_account("acc-y", "NOK")
    assert link.account.code == "1920"
    # linking the same again changes nothing
    assert not chart.link_bank_account("acc-x", "EUR", "1930", iban=IBAN, bban=BBAN).changed


def test_a_bank_account_is_linked_to_the_unlinked_1920() -> None:
    change = Chart.default().link_bank_account(
        "acc-x", "NOK", "1920", iban=IBAN, bban=BBAN, name="DNB driftskonto"
    )
    linked = change.chart.bank_account("acc-x")
    assert (linked.code, linked.name, linked.role) == ("1920", "DNB driftskonto", AccountRole.BANK)
    assert change.link is not None
    assert change.link[0] is None


def test_a_number_is_added_to_a_link_made_on_first_use() -> None:
    chart, _ = Chart.default().with_bank_account("acc-x", "NOK")
    change = chart.link_bank_account("acc-x", "NOK", "1920", iban=IBAN, bban=BBAN)
    before, after = change.link or (None, None)
    assert before is not None
    assert after is not None
    assert (before.iban, after.iban, change.accounts) == (None, IBAN, ())


def test_links_that_would_move_or_share_a_bank_account_are_refused() -> None:
    chart, _ = Chart.default().with_bank_account("acc-x", "NOK")
    with pytest.raises(BankAccountLinked, match="linked to GL 1920 already"):
        chart.link_bank_account("acc-x", "NOK", "1930", iban=IBAN, bban=BBAN)
    with pytest.raises(CurrencyMismatch, match="kept in NOK"):
        chart.link_bank_account("acc-x", "EUR", "1920", iban=IBAN, bban=BBAN)
    with pytest.raises(BankAccountLinked, match="GL 1920 is bank account acc-x's"):
        chart.link_bank_account("acc-y", "NOK", "1920", iban=IBAN, bban=BBAN)
    numbered = chart.link_bank_account("acc-x", "NOK", "1920", iban=IBAN, bban=BBAN).chart
    with pytest.raises(BankAccountLinked, match="is bank account acc-x's"):
        numbered.link_bank_account("acc-y", "NOK", "1930", iban=IBAN, bban=BBAN)
    german = "DE89370400440532013000"
    with pytest.raises(BankAccountLinked, match="linked with IBAN"):
        numbered.link_bank_account("acc-x", "NOK", "1920", iban=german, bban=None)
    with pytest.raises(InvalidChartChange, match="GL 2900 is the interim account") as raised:
        chart.link_bank_account("acc-z", "NOK", "2900", iban=german, bban=None)
    assert raised.value.field == "gl_account"


# --- deactivating ---------------------------------------------------------------------------


def test_an_account_without_role_or_balance_is_deactivated_and_reactivated() -> None:
    chart = Chart.default().add_account("3000", "Salg", AccountRole.OTHER).chart
    change = chart.deactivate("3000", {"NOK": Decimal("0.00")})
    inactive = change.chart.by_code("3000")
    assert inactive is not None
    assert not inactive.active
    with pytest.raises(InactiveAccount, match=r"3000 .* is deactivated; reactivate it"):
        change.chart.account("3000")
    assert not change.chart.deactivate("3000", {}).changed
    again = change.chart.reactivate("3000")
    assert again.chart.account("3000").active
    assert not again.chart.reactivate("3000").changed


@pytest.mark.parametrize(
    ("code", "balances", "message"),
    [
        ("2900", {}, r"GL 2900 holds the interim role; give the role to another account first"),
        ("7770", {}, r"holds the bank_fees role"),
        ("1920", {}, r"GL 1920 is the GL account of bank account acc-x"),
        (
            "3000",
            {"NOK": Decimal("125.00"), "EUR": Decimal("-3.50")},
            r"balance of 3.50 EUR credit, 125.00 NOK debit; post it to zero",
        ),
    ],
    ids=["interim", "fees", "bank", "balance"],
)
def test_deactivating_is_refused_with_the_reason(
    code: str, balances: dict[str, Decimal], message: str
) -> None:
    chart, _ = Chart.default().with_bank_account("acc-x", "NOK")
    chart = chart.add_account("3000", "Salg", AccountRole.OTHER).chart
    with pytest.raises(AccountInUse, match=message):
        chart.deactivate(code, balances)


def test_an_inactive_unlinked_bank_account_is_not_linked_on_first_use() -> None:
    chart = Chart.default().deactivate("1920", {}).chart
    chart, link = chart.with_bank_account("acc-x", "NOK")
    assert (link.account.code, link.account_created) == ("1921", True)
    with pytest.raises(InactiveAccount):
        chart.link_bank_account("acc-y", "NOK", "1920", iban=IBAN, bban=BBAN)
    with pytest.raises(InactiveAccount):
        chart.check_postable(["1921", "1920"])
