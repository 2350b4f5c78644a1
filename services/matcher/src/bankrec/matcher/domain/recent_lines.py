"""A bounded memory of the lines each bank account has seen lately, to find the line a
reversal cancels (``rules/reversal_pair.py``) without a scan.

Per account at most ``LINES_PER_ACCOUNT_MAX`` lines are kept (the oldest leave first);
each is findable by (currency, amount) and by each of its references (end-to-end id, bank
reference, structured reference; camt's ``NOTPROVIDED`` is no reference). A line that was
paired leaves the memory, so it is never paired twice. Whether a line is recent enough is
the rule's check (dates, against the policy's ``reversal_tolerance_days``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from bankrec.contracts import StatementLine

LINES_PER_ACCOUNT_MAX = 10_000
NOT_PROVIDED = "NOTPROVIDED"

ReferenceKey = tuple[str, str]  # (field, value)
K = TypeVar("K")


def line_references(line: StatementLine) -> tuple[ReferenceKey, ...]:
    """The references a reversal repeats, each with the field it is in."""
    found: list[ReferenceKey] = []
    if line.end_to_end_id and line.end_to_end_id.strip().upper() != NOT_PROVIDED:
        found.append(("end_to_end_id", line.end_to_end_id.strip()))
    if line.bank_reference and line.bank_reference.strip().upper() != NOT_PROVIDED:
        found.append(("bank_reference", line.bank_reference.strip()))
    if line.structured_reference is not None and line.structured_reference.value.strip():
        found.append(("structured_reference", line.structured_reference.value.strip()))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A remembered line with the keys it is filed under, worked out once (when it leaves,
    they are not read from the line again)."""

    line: StatementLine
    amount_key: tuple[str, Decimal]
    references: tuple[ReferenceKey, ...]


@dataclass
class _AccountLines:
    order: deque[str]
    by_id: dict[str, _Remembered]
    # line ids as dict keys: an ordered set, in the order the lines were remembered
    by_amount: dict[tuple[str, Decimal], dict[str, None]]
    by_reference: dict[ReferenceKey, dict[str, None]]


class RecentLines:
    """One tenant's recent lines, per bank account."""

    def __init__(self, per_account_max: int = LINES_PER_ACCOUNT_MAX) -> None:
        self._max = per_account_max
        self._accounts: dict[str, _AccountLines] = {}

    def remember(self, line: StatementLine) -> None:
        account_id = line.account.account_id
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = _AccountLines(deque(), {}, {}, {})
        line_id = line.line_id
        if line_id in account.by_id:
            return  # a redelivery
        amount = line.amount
        entry = _Remembered(line, (amount.currency, amount.amount), line_references(line))
        account.order.append(line_id)
        account.by_id[line_id] = entry
        _file(account.by_amount, entry.amount_key, line_id)
        for reference in entry.references:
            _file(account.by_reference, reference, line_id)
        while len(account.order) > self._max:
            self._drop(account, account.order.popleft())

    def forget(self, account_id: str, line_id: str) -> None:
        """Take a line out (it was paired); its place in the order is skipped later."""
        account = self._accounts.get(account_id)
        if account is not None and line_id in account.by_id:
            self._drop(account, line_id)

    def get(self, account_id: str, line_id: str) -> StatementLine | None:
        account = self._accounts.get(account_id)
        entry = account.by_id.get(line_id) if account is not None else None
        return entry.line if entry is not None else None

    def has_amount(self, account_id: str, currency: str, amount: Decimal) -> bool:
        """Whether any remembered line of the account has exactly this amount (one lookup:
        most lines have no earlier line of the opposite amount, and need nothing more)."""
        account = self._accounts.get(account_id)
        return account is not None and (currency, amount) in account.by_amount

    def by_amount(self, account_id: str, currency: str, amount: Decimal) -> list[StatementLine]:
        """The remembered lines of the account with exactly this amount, oldest first."""
        account = self._accounts.get(account_id)
        if account is None:
            return []
        ids = account.by_amount.get((currency, amount), {})
        # sorted by date: lines may be remembered out of date order, and the reversal rule
        # names the candidates in this order
        return sorted((account.by_id[line_id].line for line_id in ids), key=_chronological)

    def by_reference(self, account_id: str, reference: ReferenceKey) -> list[StatementLine]:
        """The remembered lines of the account with this reference, in the order they were
        remembered (not sorted: the reversal rule takes only a single one)."""
        account = self._accounts.get(account_id)
        if account is None:
            return []
        ids = account.by_reference.get(reference)
        return [account.by_id[line_id].line for line_id in ids] if ids else []

    @staticmethod
    def _drop(account: _AccountLines, line_id: str) -> None:
        entry = account.by_id.pop(line_id, None)
        if entry is None:
            return
        _discard(account.by_amount, entry.amount_key, line_id)
        for reference in entry.references:
            _discard(account.by_reference, reference, line_id)


def _amount_key(line: StatementLine) -> tuple[str, Decimal]:
    return (line.amount.currency, line.amount.amount)


def _chronological(line: StatementLine) -> tuple[date, str, int, str]:
    return (
        line.booking_date or line.value_date or date.min,
        line.statement_id,
        line.sequence,
        line.line_id,
    )


def _file(mapping: dict[K, dict[str, None]], key: K, line_id: str) -> None:
    # not setdefault(key, {}): that builds a dict for every line, and most keys exist
    ids = mapping.get(key)
    if ids is None:
        mapping[key] = {line_id: None}
    else:
        ids[line_id] = None


def _discard(mapping: dict[K, dict[str, None]], key: K, line_id: str) -> None:
    ids = mapping.get(key)
    if ids is not None:
        ids.pop(line_id, None)
        if not ids:
            del mapping[key]
