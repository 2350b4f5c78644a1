"""The chart of accounts every tenant starts with (Norwegian standard, NS 4102 codes).

One bank GL account per bank account: the first bank account a tenant uses is linked to
1920, the next to 1921, and so on, each fixed to that bank account's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bankrec.contracts import AccountRole
from bankrec.ledger.errors import ChartExhausted, CurrencyMismatch, UnknownAccount

BANK_CODE_FIRST = 1920
BANK_CODE_LAST = 1949  # 1950 is the tax-withholding bank account in NS 4102


@dataclass(frozen=True, slots=True)
class Account:
    """A GL account. A bank account's GL account carries its bank account id and currency."""

    code: str
    name: str
    role: AccountRole
    currency: str | None = None
    bank_account_id: str | None = None


DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account("1500", "Kundefordringer (receivables)", AccountRole.RECEIVABLE),
    Account("1920", "Bankinnskudd (bank)", AccountRole.BANK),
    Account("2400", "Leverandørgjeld (payables)", AccountRole.PAYABLE),
    Account("2900", "Interimskonto (suspense: paid in, no match)", AccountRole.INTERIM),
    Account("7770", "Bank- og kortgebyrer (bank fees)", AccountRole.BANK_FEES),
    Account("7790", "Øreavrunding (rounding)", AccountRole.ROUNDING),
    Account("8040", "Renteinntekt (interest income)", AccountRole.INTEREST_INCOME),
    Account("8140", "Rentekostnad (interest expense)", AccountRole.INTEREST_EXPENSE),
)


@dataclass(frozen=True, slots=True)
class BankAccountLink:
    """The bank GL account of a bank account, and whether the link (or account) is new."""

    account: Account
    linked_now: bool
    account_created: bool


@dataclass(frozen=True, slots=True)
class Chart:
    """A tenant's accounts, ordered by code."""

    accounts: tuple[Account, ...]

    @classmethod
    def default(cls) -> Chart:
        return cls(DEFAULT_ACCOUNTS)

    def by_code(self, code: str) -> Account | None:
        return next((account for account in self.accounts if account.code == code), None)

    def account(self, code: str) -> Account:
        found = self.by_code(code)
        if found is None:
            known = ", ".join(account.code for account in self.accounts)
            raise UnknownAccount(f"GL account {code!r} is not in the chart (known: {known})")
        return found

    def for_role(self, role: AccountRole) -> Account:
        """The one account of a non-bank role (bank accounts are per bank account)."""
        if role is AccountRole.BANK:
            raise UnknownAccount("the bank account depends on the bank account id")
        for account in self.accounts:
            if account.role is role:
                return account
        raise UnknownAccount(f"the chart has no {role.value} account")

    def bank_account(self, bank_account_id: str) -> Account:
        for account in self.accounts:
            if account.bank_account_id == bank_account_id:
                return account
        raise UnknownAccount(f"bank account {bank_account_id} has no GL account yet")

    def with_bank_account(
        self, bank_account_id: str, currency: str
    ) -> tuple[Chart, BankAccountLink]:
        """The chart with a GL account for this bank account, linking the next free code."""
        for account in self.accounts:
            if account.bank_account_id == bank_account_id:
                if account.currency != currency:
                    raise CurrencyMismatch(
                        f"bank account {bank_account_id} is kept in {account.currency} "
                        f"(GL {account.code}), not {currency}"
                    )
                return self, BankAccountLink(account, linked_now=False, account_created=False)
        unlinked = next(
            (
                account
                for account in self.accounts
                if account.role is AccountRole.BANK and account.bank_account_id is None
            ),
            None,
        )
        if unlinked is not None:
            linked = replace(unlinked, currency=currency, bank_account_id=bank_account_id)
            accounts = tuple(linked if a.code == unlinked.code else a for a in self.accounts)
            return Chart(accounts), BankAccountLink(linked, linked_now=True, account_created=False)
        used = {account.code for account in self.accounts}
        for number in range(BANK_CODE_FIRST, BANK_CODE_LAST + 1):
            if str(number) not in used:
                created = Account(
                    code=str(number),
                    name=f"Bankinnskudd {bank_account_id} ({currency})",
                    role=AccountRole.BANK,
                    currency=currency,
                    bank_account_id=bank_account_id,
                )
                accounts = tuple(sorted((*self.accounts, created), key=lambda a: a.code))
                return Chart(accounts), BankAccountLink(
                    created, linked_now=True, account_created=True
                )
        raise ChartExhausted(
            f"every bank GL code {BANK_CODE_FIRST}..{BANK_CODE_LAST} is in use; "
            "a tenant can have at most "
            f"{BANK_CODE_LAST - BANK_CODE_FIRST + 1} bank accounts in this chart"
        )
