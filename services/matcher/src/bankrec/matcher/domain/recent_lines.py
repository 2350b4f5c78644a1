"""A bounded memory of the lines each bank account has seen lately, to find the line a
reversal cancels (``rules/reversal_pair.py``) without a scan.

What is kept of a line is what the rule reads (``RecentLine``: ids, amount, dates, bank
reference), not the line: the memory holds many thousands of lines per tenant. Each is
findable by (currency, amount) and by each of its references (end-to-end id, bank reference,
structured reference; camt's ``NOTPROVIDED`` is no reference). A line that was paired leaves
the memory, so it is never paired twice.

Bounded two ways, so a running matcher's memory stops growing with the lines it decides:
a line leaves once it is ``HORIZON_DAYS`` older than its account's newest line (no policy may
pair lines further apart: ``policy.REVERSAL_TOLERANCE_DAYS_MAX``), and the oldest leave
first beyond ``LINES_MAX`` per tenant. Whether a line is recent enough for a tenant's policy
is the rule's check (dates, against ``reversal_tolerance_days``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from bankrec.contracts import Money, StatementLine
from bankrec.matcher.domain.policy import REVERSAL_TOLERANCE_DAYS_MAX

HORIZON_DAYS = REVERSAL_TOLERANCE_DAYS_MAX
LINES_MAX = 100_000  # per tenant; about 1 KiB each
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
class RecentLine:
    """What the reversal rule reads of an earlier line."""

    line_id: str
    statement_id: str
    sequence: int
    amount: Money
    booking_date: date | None
    value_date: date | None
    bank_reference: str | None

    @classmethod
    def of(cls, line: StatementLine) -> RecentLine:
        return cls(
            line.line_id,
            line.statement_id,
            line.sequence,
            line.amount,
            line.booking_date,
            line.value_date,
            line.bank_reference,
        )

    @property
    def on(self) -> date | None:
        return self.booking_date or self.value_date


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A remembered line with the keys it is filed under, worked out once (when it leaves,
    they are not read from the line again)."""

    line: RecentLine
    amount_key: tuple[str, Decimal]
    references: tuple[ReferenceKey, ...]


@dataclass
class _AccountLines:
    by_id: dict[str, _Remembered]
    # line ids as dict keys: an ordered set, in the order the lines were remembered
    by_amount: dict[tuple[str, Decimal], dict[str, None]]
    by_reference: dict[ReferenceKey, dict[str, None]]
    newest: date | None = None


class RecentLines:
    """One tenant's recent lines, per bank account."""

    def __init__(self, lines_max: int = LINES_MAX, horizon_days: int = HORIZON_DAYS) -> None:
        self._max = lines_max
        self._horizon = timedelta(days=horizon_days)
        self._accounts: dict[str, _AccountLines] = {}
        # (account, line) in the order remembered; a line forgotten meanwhile is skipped
        self._order: deque[tuple[str, str]] = deque()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def remember(self, line: StatementLine) -> None:
        account_id = line.account.account_id
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = _AccountLines({}, {}, {})
        line_id = line.line_id
        if line_id in account.by_id:
            return  # a redelivery
        kept = RecentLine.of(line)
        amount = kept.amount
        entry = _Remembered(kept, (amount.currency, amount.amount), line_references(line))
        self._order.append((account_id, line_id))
        account.by_id[line_id] = entry
        self._count += 1
        _file(account.by_amount, entry.amount_key, line_id)
        for reference in entry.references:
            _file(account.by_reference, reference, line_id)
        on = kept.on
        if on is not None and (account.newest is None or on > account.newest):
            account.newest = on
        self._leave_old()

    def _leave_old(self) -> None:
        """The oldest lines leave while there are too many or they are past the horizon
        of their account (checked at the front only: the order is arrival, not date)."""
        order = self._order
        while order:
            account_id, line_id = order[0]
            account = self._accounts[account_id]
            entry = account.by_id.get(line_id)
            if entry is None:  # forgotten (paired) already
                order.popleft()
                continue
            on, newest = entry.line.on, account.newest
            past = on is not None and newest is not None and newest - on > self._horizon
            if not past and self._count <= self._max:
                return
            order.popleft()
            self._drop(account, line_id)

    def forget(self, account_id: str, line_id: str) -> None:
        """Take a line out (it was paired); its place in the order is skipped later."""
        account = self._accounts.get(account_id)
        if account is not None and line_id in account.by_id:
            self._drop(account, line_id)

    def get(self, account_id: str, line_id: str) -> RecentLine | None:
        account = self._accounts.get(account_id)
        entry = account.by_id.get(line_id) if account is not None else None
        return entry.line if entry is not None else None

    def has_amount(self, account_id: str, currency: str, amount: Decimal) -> bool:
        """Whether any remembered line of the account has exactly this amount (one lookup:
        most lines have no earlier line of the opposite amount, and need nothing more)."""
        account = self._accounts.get(account_id)
        return account is not None and (currency, amount) in account.by_amount

    def by_amount(self, account_id: str, currency: str, amount: Decimal) -> list[RecentLine]:
        """The remembered lines of the account with exactly this amount, oldest first."""
        account = self._accounts.get(account_id)
        if account is None:
            return []
        ids = account.by_amount.get((currency, amount), {})
        # sorted by date: lines may be remembered out of date order, and the reversal rule
        # names the candidates in this order
        return sorted((account.by_id[line_id].line for line_id in ids), key=_chronological)

    def by_reference(self, account_id: str, reference: ReferenceKey) -> list[RecentLine]:
        """The remembered lines of the account with this reference, in the order they were
        remembered (not sorted: the reversal rule takes only a single one)."""
        account = self._accounts.get(account_id)
        if account is None:
            return []
        ids = account.by_reference.get(reference)
        return [account.by_id[line_id].line for line_id in ids] if ids else []

    def _drop(self, account: _AccountLines, line_id: str) -> None:
        entry = account.by_id.pop(line_id, None)
        if entry is None:
            return
        self._count -= 1
        _discard(account.by_amount, entry.amount_key, line_id)
        for reference in entry.references:
            _discard(account.by_reference, reference, line_id)


def _chronological(line: RecentLine) -> tuple[date, str, int, str]:
    return (
        line.on or date.min,
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
