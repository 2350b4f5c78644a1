"""The chart of accounts over HTTP: create and rename GL accounts, move a role to another
account, link a bank account (with its IBAN/BBAN) to a GL code of the tenant's choice,
deactivate and reactivate accounts. The rules are the pure ``domain/chart.py``; each change
is one audited action (actor, reason, idempotency key) like the rest of the manual work.

Chart changes are not published: no topic carries the chart today (the other services
read postings, whose lines carry each account's code and role as posted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bankrec.contracts import AccountRole, account_id_for
from bankrec.ledger.domain import Account, Chart, ChartChange
from bankrec.ledger.domain.audit import ManualAction, accountability
from bankrec.ledger.domain.chart import bank_account_number, checked_code
from bankrec.ledger.errors import InvalidChartChange, UnknownAccount
from bankrec.ledger.manual_work import AuditedActions, ManualResult
from bankrec.ledger.ports import LedgerTransaction

BANK_ACCOUNT_ID_LENGTH_MAX = 100


def account_json(account: Account) -> dict[str, Any]:
    return {
        "code": account.code,
        "name": account.name,
        "role": account.role.value,
        "currency": account.currency,
        "bank_account_id": account.bank_account_id,
        "iban": account.iban,
        "bban": account.bban,
        "active": account.active,
    }


def role_note(role: AccountRole, change: ChartChange, holder: Account) -> str | None:
    """What a role move means for the books, said in the answer (and in the README)."""
    previous = change.previous
    if previous is None:
        return None
    note = (
        f"GL {holder.code} holds the {role.value} role from now on: new postings go there. "
        f"Entries posted before stay on GL {previous.code}, which is an 'other' account now; "
        "its balance is not moved (move it by hand if it should be)."
    )
    if role is AccountRole.INTERIM:
        note += (
            f" Suspense postings parked on GL {previous.code} are allocated off GL "
            f"{previous.code}, so it empties as they are worked off."
        )
    return note


@dataclass(frozen=True, slots=True)
class AccountView:
    """One account with its balance per currency (debit - credit over the journal)."""

    account: Account
    balances: dict[str, tuple[Decimal, Decimal]]  # currency -> (debit, credit)


ChartWork = Callable[[Chart, LedgerTransaction], Awaitable[ChartChange]]


class ChartBook(AuditedActions):
    """Changes to a tenant's chart of accounts, each an audited action."""

    async def _change(
        self,
        tenant_id: str,
        action: ManualAction,
        subject_id: str,
        request: dict[str, Any],
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None,
        decide: ChartWork,
        answer_for: Callable[[ChartChange], dict[str, Any]],
    ) -> ManualResult:
        by = accountability(actor, reason)

        async def work(
            tx: LedgerTransaction, _action_id: str, _now: datetime
        ) -> tuple[dict[str, Any], list[str]]:
            chart = await self._chart(tx, tenant_id)  # stored with the defaults on first use
            change = await decide(chart, tx)
            if change.changed:
                await tx.save_chart_change(tenant_id, change)
            return {"changed": change.changed, **answer_for(change)}, []

        return await self._act(tenant_id, action, subject_id, request, by, idempotency_key, work)

    async def create_account(
        self,
        tenant_id: str,
        *,
        code: str,
        name: str,
        role: AccountRole,
        take_role: bool,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """A new GL account; ``take_role`` moves a role another account holds to it."""
        request = {"code": code, "name": name, "role": role.value, "take_role": take_role}

        async def decide(chart: Chart, _tx: LedgerTransaction) -> ChartChange:
            return chart.add_account(code, name, role, take_role=take_role)

        def answer(change: ChartChange) -> dict[str, Any]:
            created = change.chart.account(checked_code(code))
            return {
                "account": account_json(created),
                "previous_role_holder": _previous_json(change),
                "note": role_note(role, change, created),
            }

        return await self._change(
            tenant_id,
            ManualAction.CREATE_ACCOUNT,
            code,
            request,
            actor,
            reason,
            idempotency_key,
            decide,
            answer,
        )

    async def rename_account(
        self,
        tenant_id: str,
        code: str,
        *,
        name: str,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        async def decide(chart: Chart, _tx: LedgerTransaction) -> ChartChange:
            return chart.rename(code, name)

        def answer(change: ChartChange) -> dict[str, Any]:
            renamed = change.chart.by_code(code)
            assert renamed is not None
            return {"account": account_json(renamed)}

        return await self._change(
            tenant_id,
            ManualAction.RENAME_ACCOUNT,
            code,
            {"code": code, "name": name},
            actor,
            reason,
            idempotency_key,
            decide,
            answer,
        )

    async def assign_role(
        self,
        tenant_id: str,
        role: AccountRole,
        *,
        code: str,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Give a role (interim, receivable, ...) to another account from now on."""

        async def decide(chart: Chart, _tx: LedgerTransaction) -> ChartChange:
            return chart.assign_role(role, code)

        def answer(change: ChartChange) -> dict[str, Any]:
            holder = change.chart.for_role(role)
            return {
                "role": role.value,
                "account": account_json(holder),
                "previous_account": _previous_json(change),
                "note": role_note(role, change, holder),
            }

        return await self._change(
            tenant_id,
            ManualAction.ASSIGN_ACCOUNT_ROLE,
            code,
            {"role": role.value, "code": code},
            actor,
            reason,
            idempotency_key,
            decide,
            answer,
        )

    async def link_bank_account(
        self,
        tenant_id: str,
        *,
        gl_account: str,
        currency: str,
        iban: str | None,
        bban: str | None,
        bank_account_id: str | None,
        name: str | None,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Link a bank account to the GL code ``gl_account`` (instead of the next free
        1920+ code on its first posting). ``bank_account_id`` defaults to the id ingest gives
        the IBAN's statements (``account_id_for``)."""
        checked_iban, checked_bban = bank_account_number(iban, bban)
        if bank_account_id is not None and (
            not bank_account_id.strip() or len(bank_account_id) > BANK_ACCOUNT_ID_LENGTH_MAX
        ):
            raise InvalidChartChange(
                "bank_account_id", f"must be 1 to {BANK_ACCOUNT_ID_LENGTH_MAX} characters"
            )
        linked_id = bank_account_id or account_id_for(tenant_id, checked_iban)
        request = {
            "gl_account": gl_account,
            "currency": currency,
            "iban": checked_iban,
            "bban": checked_bban,
            "bank_account_id": linked_id,
            "name": name,
        }

        async def decide(chart: Chart, _tx: LedgerTransaction) -> ChartChange:
            return chart.link_bank_account(
                linked_id, currency, gl_account, iban=checked_iban, bban=checked_bban, name=name
            )

        def answer(change: ChartChange) -> dict[str, Any]:
            return {
                "account": account_json(change.chart.bank_account(linked_id)),
                "created": change.link is not None and change.link[0] is None,
            }

        return await self._change(
            tenant_id,
            ManualAction.LINK_BANK_ACCOUNT,
            gl_account,
            request,
            actor,
            reason,
            idempotency_key,
            decide,
            answer,
        )

    async def deactivate_account(
        self,
        tenant_id: str,
        code: str,
        *,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        """Deactivate an account: no new postings; refused while it holds a role, is a bank
        account's or has a non-zero balance."""

        async def decide(chart: Chart, tx: LedgerTransaction) -> ChartChange:
            return chart.deactivate(code, await tx.account_balances(tenant_id, code))

        return await self._change(
            tenant_id,
            ManualAction.DEACTIVATE_ACCOUNT,
            code,
            {"code": code},
            actor,
            reason,
            idempotency_key,
            decide,
            lambda change: {"account": account_json(_account(change.chart, code))},
        )

    async def reactivate_account(
        self,
        tenant_id: str,
        code: str,
        *,
        actor: str | None,
        reason: str | None,
        idempotency_key: str | None = None,
    ) -> ManualResult:
        async def decide(chart: Chart, _tx: LedgerTransaction) -> ChartChange:
            return chart.reactivate(code)

        return await self._change(
            tenant_id,
            ManualAction.REACTIVATE_ACCOUNT,
            code,
            {"code": code},
            actor,
            reason,
            idempotency_key,
            decide,
            lambda change: {"account": account_json(_account(change.chart, code))},
        )

    # --- reads --------------------------------------------------------------------------

    async def chart(self, tenant_id: str) -> Chart:
        """The tenant's chart; the default one (not stored yet) before its first use."""
        return await self._views.chart(tenant_id) or Chart.default()

    async def account(self, tenant_id: str, code: str) -> AccountView:
        account = _account(await self.chart(tenant_id), code)
        balances = {
            row.currency: (row.debit, row.credit)
            for row in await self._views.account_totals(tenant_id)
            if row.account_code == code
        }
        return AccountView(account, balances)


def _previous_json(change: ChartChange) -> dict[str, Any] | None:
    """The account that held a role before it moved, as it is now (role other)."""
    if change.previous is None:
        return None
    return account_json(_account(change.chart, change.previous.code))


def _account(chart: Chart, code: str) -> Account:
    found = chart.by_code(code)
    if found is None:
        raise UnknownAccount(f"GL account {code!r} is not in the chart")
    return found


__all__ = ["AccountView", "ChartBook", "account_json", "role_note"]
