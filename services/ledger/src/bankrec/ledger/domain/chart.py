"""The chart of accounts: the one every tenant starts with (Norwegian standard, NS 4102
codes), and the changes a tenant makes to it over the API.

One bank GL account per bank account: the first bank account a tenant uses is linked to
1920, the next to 1921, and so on, each fixed to that bank account's currency, unless the
tenant links a bank account to a code of its choice first (``Chart.link_bank_account``).

Roles reconciliation posts to by role (receivable, payable, interim, bank fees, rounding,
interest income and expense) are held by exactly one account each. A role moves to another
account only when asked explicitly (``assign_role``, or ``add_account(take_role=True)``);
the account that held it becomes an ``other`` account. Entries are never edited: what was
posted on the old account stays there, new postings go to the new one.

Every change returns a ``ChartChange``: the chart after it and the rows to write, so the
adapter stores exactly what the pure rules decided.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from stdnum import iban as iban_numbers
from stdnum.exceptions import ValidationError
from stdnum.no import kontonr

from bankrec.contracts import AccountRole, mask_account_number
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

BANK_CODE_FIRST = 1920
BANK_CODE_LAST = 1949  # 1950 is the tax-withholding bank account in NS 4102
ACCOUNT_CODE_PATTERN = re.compile(r"^\d{4,10}$")
ACCOUNT_NAME_LENGTH_MAX = 200
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
NORWEGIAN_BBAN_PATTERN = re.compile(r"^\d{11}$")

UNIQUE_ROLES: frozenset[AccountRole] = frozenset(
    {
        AccountRole.RECEIVABLE,
        AccountRole.PAYABLE,
        AccountRole.INTERIM,
        AccountRole.BANK_FEES,
        AccountRole.ROUNDING,
        AccountRole.INTEREST_INCOME,
        AccountRole.INTEREST_EXPENSE,
    }
)
"""Roles the postings look up by role: exactly one account of the chart holds each."""


@dataclass(frozen=True, slots=True)
class Account:
    """A GL account. A bank account's GL account carries its bank account id and currency,
    and the bank account's number when it was linked with one."""

    code: str
    name: str
    role: AccountRole
    currency: str | None = None
    bank_account_id: str | None = None
    iban: str | None = None
    bban: str | None = None
    active: bool = True


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
class ChartChange:
    """One change of a chart: the chart after it and what to write.

    ``accounts``: every account row written, ``(before, after)``; ``before`` is None for a
    new account. ``link``: the bank account link written, ``(before, after)``; ``before`` is
    None for a new link. ``previous``: the account that held the role before a role moved.
    """

    chart: Chart
    accounts: tuple[tuple[Account | None, Account], ...] = ()
    link: tuple[Account | None, Account] | None = None
    previous: Account | None = None

    @property
    def changed(self) -> bool:
        return bool(self.accounts) or self.link is not None


def checked_code(code: str) -> str:
    """A GL account code: 4 to 10 digits (NS 4102 codes are four; sub-accounts add more)."""
    text = code.strip()
    if not ACCOUNT_CODE_PATTERN.match(text):
        raise InvalidChartChange(
            "code",
            f"{code!r} must be 4 to 10 digits (NS 4102 codes are four digits, e.g. 2910)",
        )
    return text


def checked_name(name: str) -> str:
    text = " ".join(name.split())
    if not text or len(text) > ACCOUNT_NAME_LENGTH_MAX:
        raise InvalidChartChange(
            "name", f"must be 1 to {ACCOUNT_NAME_LENGTH_MAX} characters (the account's name)"
        )
    return text


def checked_currency(currency: str) -> str:
    text = currency.strip().upper()
    if not CURRENCY_PATTERN.match(text):
        raise InvalidChartChange(
            "currency", f"{currency!r} must be the ISO 4217 code of the account, e.g. NOK"
        )
    return text


def bank_account_number(iban: str | None, bban: str | None) -> tuple[str, str | None]:
    """The bank account's IBAN and (Norwegian) BBAN, validated and compacted.

    A BBAN is checked as a Norwegian account number (11 digits, mod 11) and gives its IBAN;
    a Norwegian IBAN gives its BBAN. An account abroad is given by its IBAN."""
    if not (iban and iban.strip()) and not (bban and bban.strip()):
        raise InvalidChartChange("iban", "give the bank account's IBAN (or its Norwegian BBAN)")
    checked_bban: str | None = None
    if bban and bban.strip():
        try:
            checked_bban = kontonr.validate(bban)
        except ValidationError as exc:
            raise InvalidChartChange(
                "bban",
                f"{mask_account_number(bban)} is not a Norwegian account number ({exc}); "
                "check it for a typing error, or send the IBAN of an account abroad",
            ) from exc
        if not NORWEGIAN_BBAN_PATTERN.match(checked_bban):
            raise InvalidChartChange(
                "bban", "a Norwegian account number has 11 digits (4 bank, 2 group, 5 account)"
            )
    if not (iban and iban.strip()):
        assert checked_bban is not None
        return kontonr.to_iban(checked_bban), checked_bban
    try:
        checked_iban: str = iban_numbers.validate(iban)
    except ValidationError as exc:
        raise InvalidChartChange(
            "iban",
            f"{mask_account_number(iban)} is not a valid IBAN ({exc}); check it for a typing error",
        ) from exc
    if checked_iban.startswith("NO"):
        in_iban = checked_iban[4:]
        if checked_bban is not None and checked_bban != in_iban:
            raise InvalidChartChange(
                "bban",
                f"{mask_account_number(checked_bban)} is not the account number in IBAN "
                f"{mask_account_number(checked_iban)}; send one of them, or both agreeing",
            )
        return checked_iban, in_iban
    if checked_bban is not None:
        raise InvalidChartChange(
            "bban",
            f"IBAN {mask_account_number(checked_iban)} is not Norwegian; a BBAN is only "
            "taken for a Norwegian account (the IBAN is enough)",
        )
    return checked_iban, None


def _describe_balances(balances: Mapping[str, Decimal]) -> str:
    return ", ".join(
        f"{format(abs(amount), 'f')} {currency} {'debit' if amount > 0 else 'credit'}"
        for currency, amount in sorted(balances.items())
    )


@dataclass(frozen=True, slots=True)
class Chart:
    """A tenant's accounts, ordered by code."""

    accounts: tuple[Account, ...]

    @classmethod
    def default(cls) -> Chart:
        return cls(DEFAULT_ACCOUNTS)

    def by_code(self, code: str) -> Account | None:
        """The account with this code, active or not."""
        return next((account for account in self.accounts if account.code == code), None)

    def account(self, code: str) -> Account:
        """The active account with this code: what a new posting may name."""
        found = self.by_code(code)
        if found is None:
            known = ", ".join(account.code for account in self.accounts if account.active)
            raise UnknownAccount(f"GL account {code!r} is not in the chart (known: {known})")
        if not found.active:
            raise InactiveAccount(
                f"GL account {code} ({found.name}) is deactivated; reactivate it "
                "(POST .../accounts/{code}/reactivate) or post to another account"
            )
        return found

    def check_postable(self, codes: Iterable[str]) -> None:
        """Refuse a posting (a reversal too) that names an account deactivated since."""
        for code in codes:
            self.account(code)

    def for_role(self, role: AccountRole) -> Account:
        """The one account of a non-bank role (bank accounts are per bank account)."""
        if role is AccountRole.BANK:
            raise UnknownAccount("the bank account depends on the bank account id")
        for account in self.accounts:
            if account.role is role and account.active:
                return account
        raise UnknownAccount(f"the chart has no {role.value} account")

    def bank_account(self, bank_account_id: str) -> Account:
        for account in self.accounts:
            if account.bank_account_id == bank_account_id:
                return account
        raise UnknownAccount(f"bank account {bank_account_id} has no GL account yet")

    def _with(self, *changed: Account) -> Chart:
        codes = {account.code for account in changed}
        kept = tuple(account for account in self.accounts if account.code not in codes)
        return Chart(tuple(sorted((*kept, *changed), key=lambda account: account.code)))

    def _holder(self, role: AccountRole) -> Account | None:
        return next((account for account in self.accounts if account.role is role), None)

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
                if account.role is AccountRole.BANK
                and account.bank_account_id is None
                and account.active
            ),
            None,
        )
        if unlinked is not None:
            linked = replace(unlinked, currency=currency, bank_account_id=bank_account_id)
            return self._with(linked), BankAccountLink(
                linked, linked_now=True, account_created=False
            )
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
                return self._with(created), BankAccountLink(
                    created, linked_now=True, account_created=True
                )
        raise ChartExhausted(
            f"every bank GL code {BANK_CODE_FIRST}..{BANK_CODE_LAST} is in use; "
            "a tenant can have at most "
            f"{BANK_CODE_LAST - BANK_CODE_FIRST + 1} bank accounts in this chart "
            "(link more to codes of your choice: POST .../bank-accounts with gl_account)"
        )

    # --- changes over the API -----------------------------------------------------------

    def add_account(
        self, code: str, name: str, role: AccountRole, *, take_role: bool = False
    ) -> ChartChange:
        """A new account; a role held by another account moves to it only with ``take_role``."""
        code, name = checked_code(code), checked_name(name)
        existing = self.by_code(code)
        if existing is not None:
            raise AccountExists(
                f"GL {code} is in the chart already ({existing.name}, {existing.role.value}"
                f"{'' if existing.active else ', deactivated'}); choose another code, or rename it"
            )
        if role is AccountRole.BANK:
            raise InvalidChartChange(
                "role",
                "a bank GL account belongs to a bank account: link one to this code "
                "(POST .../bank-accounts with gl_account)",
            )
        created = Account(code, name, role)
        holder = self._holder(role) if role in UNIQUE_ROLES else None
        if holder is None:
            return ChartChange(self._with(created), accounts=((None, created),))
        if not take_role:
            raise RoleTaken(
                f"GL {holder.code} holds the {role.value} role; send take_role: true to move it "
                f"to {code} (entries posted before stay on {holder.code}), or create {code} "
                "with role other"
            )
        demoted = replace(holder, role=AccountRole.OTHER)
        return ChartChange(
            self._with(demoted, created),
            accounts=((holder, demoted), (None, created)),
            previous=holder,
        )

    def rename(self, code: str, name: str) -> ChartChange:
        account = self.by_code(code)
        if account is None:
            raise UnknownAccount(f"GL account {code!r} is not in the chart")
        renamed = replace(account, name=checked_name(name))
        if renamed == account:
            return ChartChange(self)
        return ChartChange(self._with(renamed), accounts=((account, renamed),))

    def assign_role(self, role: AccountRole, code: str) -> ChartChange:
        """Move a role to the account ``code`` (an active ``other`` account) from now on."""
        if role not in UNIQUE_ROLES:
            held = ", ".join(sorted(r.value for r in UNIQUE_ROLES))
            raise InvalidChartChange(
                "role",
                f"{role.value} is not a role one account holds (those are: {held}); "
                + (
                    "link a bank account instead (POST .../bank-accounts)"
                    if role is AccountRole.BANK
                    else "create the account with role other"
                ),
            )
        target = self.account(code)
        holder = self._holder(role)
        if holder is not None and holder.code == target.code:
            return ChartChange(self)
        if target.role is not AccountRole.OTHER:
            raise AccountInUse(
                f"GL {target.code} is the {target.role.value} account; a role moves to an "
                "account of role other (create one: POST .../accounts)"
            )
        promoted = replace(target, role=role)
        if holder is None:  # pragma: no cover - every chart holds every role (moves only)
            return ChartChange(self._with(promoted), accounts=((target, promoted),))
        demoted = replace(holder, role=AccountRole.OTHER)
        return ChartChange(
            self._with(demoted, promoted),
            accounts=((holder, demoted), (target, promoted)),
            previous=holder,
        )

    def link_bank_account(
        self,
        bank_account_id: str,
        currency: str,
        code: str,
        *,
        iban: str,
        bban: str | None,
        name: str | None = None,
    ) -> ChartChange:
        """Link a bank account (``iban``/``bban`` validated by ``bank_account_number``) to GL
        ``code``: a new bank account, or an unlinked bank account of the chart. Linking it
        again to the same code only adds the number if it had none."""
        code, currency = checked_code(code), checked_currency(currency)
        for account in self.accounts:
            if account.iban == iban and account.bank_account_id != bank_account_id:
                raise BankAccountLinked(
                    f"IBAN {mask_account_number(iban)} is bank account "
                    f"{account.bank_account_id}'s (GL {account.code})"
                )
        linked = next((a for a in self.accounts if a.bank_account_id == bank_account_id), None)
        if linked is not None:
            if linked.code != code:
                raise BankAccountLinked(
                    f"bank account {bank_account_id} is linked to GL {linked.code} already and "
                    "its entries are there; a bank account's GL account does not move"
                )
            if linked.currency != currency:
                raise CurrencyMismatch(
                    f"bank account {bank_account_id} is kept in {linked.currency} "
                    f"(GL {linked.code}), not {currency}"
                )
            if linked.iban not in (None, iban):
                raise BankAccountLinked(
                    f"bank account {bank_account_id} is linked with IBAN "
                    f"{mask_account_number(linked.iban)}, not {mask_account_number(iban)}"
                )
            numbered = replace(linked, iban=iban, bban=bban)
            if numbered == linked:
                return ChartChange(self)
            return ChartChange(self._with(numbered), link=(linked, numbered))
        target = self.by_code(code)
        if target is None:
            created = Account(
                code=code,
                name=checked_name(name or f"Bankinnskudd {mask_account_number(iban)} ({currency})"),
                role=AccountRole.BANK,
                currency=currency,
                bank_account_id=bank_account_id,
                iban=iban,
                bban=bban,
            )
            return ChartChange(
                self._with(created), accounts=((None, created),), link=(None, created)
            )
        target = self.account(code)  # an inactive one is refused with its reason
        if target.role is not AccountRole.BANK:
            raise InvalidChartChange(
                "gl_account",
                f"GL {code} is the {target.role.value} account; link the bank account to a "
                "free code or to an unlinked bank account",
            )
        if target.bank_account_id is not None:
            raise BankAccountLinked(
                f"GL {code} is bank account {target.bank_account_id}'s; choose a free code"
            )
        chosen = replace(
            target,
            name=checked_name(name) if name else target.name,
            currency=currency,
            bank_account_id=bank_account_id,
            iban=iban,
            bban=bban,
        )
        return ChartChange(self._with(chosen), accounts=((target, chosen),), link=(None, chosen))

    def deactivate(self, code: str, balances: Mapping[str, Decimal]) -> ChartChange:
        """Deactivate an account: refused while it holds a role, is a bank account's or has
        a non-zero balance (``balances``: debit - credit per currency over the journal)."""
        account = self.by_code(code)
        if account is None:
            raise UnknownAccount(f"GL account {code!r} is not in the chart")
        if not account.active:
            return ChartChange(self)
        if account.role in UNIQUE_ROLES:
            raise AccountInUse(
                f"GL {code} holds the {account.role.value} role; give the role to another "
                f"account first (PUT .../account-roles/{account.role.value})"
            )
        if account.bank_account_id is not None:
            raise AccountInUse(
                f"GL {code} is the GL account of bank account {account.bank_account_id}, "
                "whose postings arrive there"
            )
        open_balances = {currency: amount for currency, amount in balances.items() if amount}
        if open_balances:
            raise AccountInUse(
                f"GL {code} has a balance of {_describe_balances(open_balances)}; post it to "
                "zero (move it to another account) before deactivating"
            )
        inactive = replace(account, active=False)
        return ChartChange(self._with(inactive), accounts=((account, inactive),))

    def reactivate(self, code: str) -> ChartChange:
        account = self.by_code(code)
        if account is None:
            raise UnknownAccount(f"GL account {code!r} is not in the chart")
        if account.active:
            return ChartChange(self)
        active = replace(account, active=True)
        return ChartChange(self._with(active), accounts=((account, active),))
