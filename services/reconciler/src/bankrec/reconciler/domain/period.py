"""A reconciliation period for one bank account: what the bank says against what the books say.

The period collects facts, each keyed by its own id: statements (by ``statement_id``), statement
lines (by ``line_id``), the matcher's decision per line and the ledger's bank-side postings (by
``entry_id``). Every figure is computed from those facts, never accumulated, so:

- applying a message is a pure function ``(period, message) -> period``;
- applying the same message twice returns the very same period (``is``);
- the figures do not depend on the order the messages arrived in (Kafka orders per topic and
  key only, so a posting may come before its line and a decision before either).

Manual entries (opening balance, statement balance) are commands, not facts: they override the
figure taken from the statements, see :func:`enter_opening_balance` and
:func:`enter_statement_balance`.

The period's workflow state lives here too, as data the figures read: the user's flags per item
(:class:`ItemMark`), adjustments requested from the period (:class:`Adjustment`), lines removed
by hand (tombstones, so a late redelivery does not bring them back), the status with the release
sequence number, the opening balance carried from the previous released period, and the audit
trail (:class:`AuditRecord`). The commands that change them live in their own modules
(``item_flags``, ``adjustments``, ``manual_lines``, ``period_status``, ``carry_forward``).

Reconciled, with no flag set by a user (today's automatic behaviour):

- a ledger entry's bank-side part counts towards the reconciled balance when it names a
  statement line (it is on the statement), or when the entry posts an adjustment requested from
  this period; an entry carried forward from the previous period does not count until marked;
- a statement line is reconciled when a non-reversal, non-reversed entry that counts names it.

A flag set by a user wins: an entry marked reconciled counts with all its parts, one marked
not reconciled with none; a line marked not reconciled takes the parts naming it out (unless
their entry is marked reconciled itself). Reconciled balance = opening + the counted parts.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from math import isqrt
from typing import Any, TypeVar

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    Balance,
    BankAccountRef,
    DecisionKind,
    EntrySource,
    JournalEntryPosted,
    ManualMatchKind,
    ManualMatchOutcome,
    MatchDecision,
    Money,
    PeriodEvent,
    PeriodEventKind,
    PeriodStatus,
    StatementHeader,
    StatementLine,
    currency_exponent,
)
from bankrec.reconciler.domain.charges import charge_kind
from bankrec.reconciler.errors import (
    AmountPrecisionError,
    CurrencyMismatchError,
    InvalidCommandError,
    OpeningFromPreviousPeriodError,
    PeriodReleasedError,
)

MATCHED_KINDS = frozenset({DecisionKind.MATCH, DecisionKind.PARTIAL})
SUSPENSE_KINDS = frozenset({DecisionKind.SUSPENSE, DecisionKind.PROPOSAL})

_EARLIEST = datetime.min.replace(tzinfo=UTC)
TEXT_LENGTH_MAX = 300  # a line's text is kept for the diagnosis and the report, not in full
NAME_LENGTH_MAX = 200
REASON_LENGTH_MAX = 1000


class BalanceSource(StrEnum):
    """Where a period's opening or statement balance comes from."""

    MISSING = "missing"  # no statement gave it and nobody entered it: the opening counts as 0
    STATEMENT = "statement"
    MANUAL = "manual"
    PREVIOUS_PERIOD = "previous_period"  # the closing balance of the released previous period


class LineOrigin(StrEnum):
    """Where a statement line comes from."""

    BANK = "bank"  # a statement file or the bank integration
    MANUAL = "manual"  # added by hand in the reconciliation (a mid-month start)


class AuditAction(StrEnum):
    """What a user did to a period (kept in its audit trail)."""

    SAVED_BALANCED = "saved_balanced"
    PUT_ON_HOLD = "put_on_hold"
    RELEASED = "released"
    VOIDED = "voided"
    LINE_ADDED = "line_added"
    LINE_REMOVED = "line_removed"
    ADJUSTMENT_REQUESTED = "adjustment_requested"
    MATCH_REQUESTED = "match_requested"
    UNMATCH_REQUESTED = "unmatch_requested"


K = TypeVar("K")
V = TypeVar("V")
LAYER_ITEMS_MIN = 16  # a layer this small is copied faster than anything saves


class LayeredMapping(Mapping[K, V]):
    """An immutable mapping: a shared base dict plus a small layer of recent changes.

    A message adds or replaces one item of a period's lines or postings; copying the whole
    map for that made each message O(period). ``with_item`` copies the layer only and folds
    it into a new base once it holds about √n items, so a message costs O(√n) amortized.
    Reading an item is O(1); iterating flattens the map once (cached, it never changes).
    """

    __slots__ = ("_base", "_flat", "_len", "_top")

    def __init__(self, base: Mapping[K, V], top: dict[K, V]) -> None:
        self._base = base
        self._top = top
        self._len = len(base) + sum(1 for key in top if key not in base)
        self._flat: dict[K, V] | None = None

    def __getitem__(self, key: K) -> V:
        top = self._top
        return top[key] if key in top else self._base[key]

    def get(self, key: K, default: Any = None) -> Any:
        top = self._top
        return top[key] if key in top else self._base.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._top or key in self._base

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[K]:
        return iter(self.flattened())

    def keys(self) -> KeysView[K]:
        return self.flattened().keys()

    def items(self) -> ItemsView[K, V]:
        return self.flattened().items()

    def values(self) -> ValuesView[V]:
        return self.flattened().values()

    def flattened(self) -> dict[K, V]:
        if self._flat is None:
            self._flat = {**self._base, **self._top}
        return self._flat

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LayeredMapping):
            return self.flattened() == other.flattened()
        if isinstance(other, Mapping):
            return self.flattened() == (other if isinstance(other, dict) else dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LayeredMapping({self.flattened()!r})"


def with_item(items: Mapping[K, V], key: K, value: V) -> Mapping[K, V]:
    """``{**items, key: value}`` without copying every item (see ``LayeredMapping``)."""
    if isinstance(items, LayeredMapping):
        base, top = items._base, items._top
    else:
        base, top = items, {}
    if len(top) >= max(LAYER_ITEMS_MIN, isqrt(len(base))):
        return {**base, **top, key: value}
    return LayeredMapping(base, {**top, key: value})


def zero(currency: str) -> Money:
    """Zero with the currency's minor-unit digits ("0.00 NOK")."""
    return Money(amount=Decimal(0).scaleb(-currency_exponent(currency)), currency=currency)


@dataclass(frozen=True, slots=True)
class StatementBalances:
    """The balances one statement reports for the account."""

    statement_id: str
    opening: Balance | None
    closing: Balance | None
    sequence_no: int | None = None
    created_at: datetime | None = None

    @classmethod
    def of(cls, header: StatementHeader) -> StatementBalances:
        sequence = header.electronic_sequence_number
        if sequence is None:
            sequence = header.legal_sequence_number
        return cls(
            statement_id=header.statement_id,
            opening=header.opening_booked,
            closing=header.closing_booked,
            sequence_no=sequence,
            created_at=header.created_at,
        )

    def rank(self, on: date | None) -> tuple[date, int, datetime, str]:
        """Statements order by balance date, then sequence number, creation time and id."""
        sequence = -1 if self.sequence_no is None else self.sequence_no
        return (on or date.min, sequence, self.created_at or _EARLIEST, self.statement_id)


@dataclass(frozen=True, slots=True)
class LineDecision:
    """The matcher's decision about one line; a later decision supersedes an earlier one."""

    decision_id: str
    kind: DecisionKind
    decided_at: datetime
    counterparty_id: str | None = None  # the customer or supplier the decision names

    def supersedes(self, other: LineDecision) -> bool:
        if self.decision_id == other.decision_id:
            return False  # a redelivery, perhaps in a new envelope: the first one stands
        return (self.decided_at, self.decision_id) > (other.decided_at, other.decision_id)


@dataclass(frozen=True, slots=True)
class PeriodLine:
    """A statement line the period knows of, from the line itself or a decision about it.

    ``received`` says the line message itself arrived; until then amount, booking date and
    statement come from the decision (which copies them from the line). ``counterparty`` (the
    payer's or payee's name), ``text`` and ``charge_kind`` (a bank fee or interest line) feed
    the diagnosis.
    """

    line_id: str
    statement_id: str
    amount: Money
    booking_date: date | None
    received: bool
    decision: LineDecision | None = None
    origin: LineOrigin = LineOrigin.BANK
    counterparty: str | None = None
    text: str | None = None
    charge_kind: AdjustmentKind | None = None


@dataclass(frozen=True, slots=True)
class PostingPart:
    """The bank-side net (debit - credit) of one journal entry for one statement line."""

    statement_line_id: str | None
    amount: Money


@dataclass(frozen=True, slots=True)
class BankPosting:
    """A journal entry's bank-side lines on this period's account."""

    entry_id: str
    posting_date: date
    parts: tuple[PostingPart, ...]
    reverses_entry_id: str | None = None
    source: EntrySource | None = None
    source_ref: str | None = None  # the decision id, adjustment id or user behind the entry
    adjustment_kind: AdjustmentKind | None = None
    counterparty_id: str | None = None
    description: str | None = None
    carried_from: int | None = None  # the period number it was outstanding in and came from

    @property
    def amount(self) -> Money:
        """The bank-side net of every part."""
        total = self.parts[0].amount
        for part in self.parts[1:]:
            total = total + part.amount
        return total


@dataclass(frozen=True, slots=True)
class ItemMark:
    """Flags a user set on one item; None leaves the automatic value (see the module doc)."""

    cleared: bool | None
    reconciled: bool | None
    marked_by: str
    marked_at: datetime


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A bank fee, interest or other difference requested from the period, to be posted by the
    ledger (Dr fee / Cr bank, Dr bank / Cr interest). Signed as on the statement: a fee of 50
    is -50. It is posted once a journal entry with source ``adjustment`` and this id as its
    ``source_ref`` is in the period (see ``adjustments.adjustment_state``)."""

    adjustment_id: str
    kind: AdjustmentKind
    amount: Money
    requested_by: str
    requested_at: datetime
    reason: str
    statement_line_id: str | None = None
    gl_account: str | None = None
    description: str | None = None
    posting_date: date | None = None
    refusal_code: str | None = None  # the ledger refused to post it: why (stable code, text)
    refusal_reason: str | None = None
    refused_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MatchRequest:
    """A manual match (or its removal) asked of the ledger from this period
    (``manual_matches.py``); ``outcome`` is None until the ledger answers."""

    request_id: str
    kind: ManualMatchKind
    line_id: str
    decision_id: str  # the matcher's decision about the line that the ledger builds on
    requested_by: str
    requested_at: datetime
    reason: str
    allocations: tuple[tuple[str, Money], ...] = ()  # match: (open item id, amount)
    undoes_request_id: str | None = None  # unmatch of a manual match: that match's request
    outcome: ManualMatchOutcome | None = None
    entry_ids: tuple[str, ...] = ()
    refusal_code: str | None = None
    refusal_reason: str | None = None
    settled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One thing a user did to the period, with who, when and why.

    A ``released`` record keeps what was released (opening and closing balance, date), so the
    history of an account reads from its records even after a void.
    """

    action: AuditAction
    actor: str
    at: datetime
    reason: str | None = None
    subject_id: str | None = None  # the line or adjustment it is about
    sequence_no: int | None = None
    amount: Money | None = None  # the closing balance released, the line's amount, ...
    opening_balance: Money | None = None
    reconciliation_date: date | None = None


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """What the period's report shows; every figure is computed from the period's facts."""

    currency: str
    opening_balance: Money
    opening_source: BalanceSource
    statement_balance: Money | None
    statement_source: BalanceSource
    reconciled_total: Money
    reconciled_balance: Money
    difference: Money | None
    lines: int
    reconciled: int
    matched: int
    in_suspense: int
    other: int
    outstanding: int
    statement_ids: tuple[str, ...]
    reconciliation_date: date | None
    entries: int = 0  # ledger entries (bank side) in the period
    entries_reconciled: int = 0
    adjustments_not_posted: int = 0

    @property
    def entries_outstanding(self) -> int:
        """Ledger entries not (yet) on the statement."""
        return self.entries - self.entries_reconciled

    @property
    def undecided(self) -> int:
        """Known lines the matcher has not decided about (yet)."""
        return self.lines - self.matched - self.in_suspense - self.other


@dataclass(frozen=True, slots=True)
class ReconciliationPeriod:
    """One reconciliation period of one tenant's bank account."""

    tenant_id: str
    account_id: str
    currency: str
    period_no: int = 1
    status: PeriodStatus = PeriodStatus.ON_HOLD
    account_number: str | None = None
    manual_opening_balance: Money | None = None
    manual_statement_balance: Money | None = None
    statements: Mapping[str, StatementBalances] = field(default_factory=dict)
    lines: Mapping[str, PeriodLine] = field(default_factory=dict)
    postings: Mapping[str, BankPosting] = field(default_factory=dict)
    sequence_no: int | None = None  # while released: the number this release got
    opening_from_previous: Money | None = None
    line_marks: Mapping[str, ItemMark] = field(default_factory=dict)
    entry_marks: Mapping[str, ItemMark] = field(default_factory=dict)
    adjustments: Mapping[str, Adjustment] = field(default_factory=dict)
    removed_lines: Mapping[str, PeriodLine] = field(default_factory=dict)
    audit: tuple[AuditRecord, ...] = ()
    match_requests: Mapping[str, MatchRequest] = field(default_factory=dict)
    # the figures' running sums, kept by apply_line/decision/posting (see RunningFigures);
    # derived state, so not part of equality
    running: RunningFigures | None = field(default=None, compare=False, repr=False)

    @property
    def period_id(self) -> str:
        return period_id_for(self.account_id, self.period_no)

    @property
    def kafka_key(self) -> str:
        return f"{self.tenant_id}:{self.account_id}"

    @property
    def is_released(self) -> bool:
        return self.status is PeriodStatus.RELEASED


def period_id_for(account_id: str, period_no: int) -> str:
    """Deterministic, so two instances opening the same period agree on its id."""
    return f"{account_id}-p{period_no}"


def open_period(
    tenant_id: str, account_id: str, currency: str, account_number: str | None = None
) -> ReconciliationPeriod:
    """The first period of an account, on hold, with nothing in it."""
    return ReconciliationPeriod(
        tenant_id=tenant_id,
        account_id=account_id,
        currency=currency.upper(),
        account_number=account_number or None,
    )


# ------------------------------------------------------------------------------ messages


def apply_statement(period: ReconciliationPeriod, header: StatementHeader) -> ReconciliationPeriod:
    """Record a statement's balances; a statement already known changes nothing.

    When the new statement is now the latest one with a closing balance, its closing balance
    replaces a statement balance entered by hand.
    """
    _require_account(period, header.account, f"statement {header.statement_id}")
    if header.statement_id in period.statements:
        return period
    for balance, what in (
        (header.opening_booked, "opening balance"),
        (header.closing_booked, "closing balance"),
    ):
        if balance is not None:
            _require_currency(period, balance.amount, f"{what} of statement {header.statement_id}")
    statement = StatementBalances.of(header)
    statements = {**period.statements, statement.statement_id: statement}
    manual = period.manual_statement_balance
    latest = _latest_closing(statements)
    if manual is not None and latest is statement:
        manual = None
    return replace(
        _with_account_number(period, header.account),
        statements=statements,
        manual_statement_balance=manual,
    )


def apply_line(period: ReconciliationPeriod, line: StatementLine) -> ReconciliationPeriod:
    """Record a statement line; a line already received changes nothing."""
    _require_account(period, line.account, f"statement line {line.line_id}")
    known = period.lines.get(line.line_id)
    if (known is not None and known.received) or line.line_id in period.removed_lines:
        return period  # a line removed by hand stays removed when it is delivered again
    _require_currency(period, line.amount, f"statement line {line.line_id}")
    text = " ".join(t for t in (line.remittance_text, line.additional_info) if t).strip()
    name = line.counterparty.name if line.counterparty is not None else None
    recorded = PeriodLine(
        line_id=line.line_id,
        statement_id=line.statement_id,
        amount=line.amount,
        booking_date=line.booking_date,
        received=True,
        decision=known.decision if known is not None else None,
        counterparty=name[:NAME_LENGTH_MAX] if name else None,
        text=text[:TEXT_LENGTH_MAX] or None,
        charge_kind=charge_kind(line),
    )
    after = replace(
        _with_account_number(period, line.account),
        lines=with_item(period.lines, line.line_id, recorded),
    )
    return _advanced(period, after, line_ids=(line.line_id,))


def apply_decision(
    period: ReconciliationPeriod, decision: MatchDecision, decided_at: datetime
) -> ReconciliationPeriod:
    """Record the matcher's decision about a line; the latest decision per line wins.

    ``decided_at`` is when the matcher decided (its envelope's ``occurred_at``); ties are broken
    by decision id, so the winner does not depend on arrival order.
    """
    _require_account(period, decision.account, f"decision {decision.decision_id}")
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be an aware datetime")
    _require_currency(period, decision.amount, f"decision {decision.decision_id}")
    if decision.line_id in period.removed_lines:
        return period
    counterparty = decision.counterparty_id or next(
        (a.counterparty_id for a in decision.allocations if a.counterparty_id), None
    )
    new = LineDecision(
        decision.decision_id, decision.kind, decided_at.astimezone(UTC), counterparty
    )
    known = period.lines.get(decision.line_id)
    if known is None:
        recorded = PeriodLine(
            line_id=decision.line_id,
            statement_id=decision.statement_id,
            amount=decision.amount,
            booking_date=decision.booking_date,
            received=False,
            decision=new,
        )
    elif known.decision is not None and not new.supersedes(known.decision):
        return period
    elif known.received:
        recorded = replace(known, decision=new)
    else:  # the line itself has not arrived: describe it as the winning decision does
        recorded = replace(
            known,
            statement_id=decision.statement_id,
            amount=decision.amount,
            booking_date=decision.booking_date,
            decision=new,
        )
    after = replace(
        _with_account_number(period, decision.account),
        lines=with_item(period.lines, decision.line_id, recorded),
    )
    return _advanced(period, after, line_ids=(decision.line_id,))


def decide_line(
    period: ReconciliationPeriod, line_id: str, decision: LineDecision
) -> ReconciliationPeriod:
    """Give a known line a decision made elsewhere than in the matcher (a manual match the
    ledger applied); like the matcher's, it wins only when it is the latest."""
    known = period.lines.get(line_id)
    if known is None or (known.decision is not None and not decision.supersedes(known.decision)):
        return period
    after = replace(
        period, lines=with_item(period.lines, line_id, replace(known, decision=decision))
    )
    return _advanced(period, after, line_ids=(line_id,))


def bank_accounts(entry: JournalEntryPosted) -> dict[str, str]:
    """The bank accounts a journal entry has bank-side lines on (sorted), each with the
    currency of its first such line."""
    found: dict[str, str] = {}
    for line in entry.lines:
        account_id = line.bank_account_id or entry.bank_account_id
        if line.account_role is AccountRole.BANK and account_id:
            found.setdefault(account_id, line.currency)
    return dict(sorted(found.items()))


def apply_posting(period: ReconciliationPeriod, entry: JournalEntryPosted) -> ReconciliationPeriod:
    """Record a journal entry's bank-side lines on this account; an entry already known, or
    one without a bank-side line on the account, changes nothing.

    A bank-side line names its statement line itself or through the entry; its amount is
    debit - credit (the bank account is an asset: money in is a debit).
    """
    if entry.entry_id in period.postings:
        return period
    nets: dict[str | None, Decimal] = {}
    for line in entry.lines:
        if line.account_role is not AccountRole.BANK:
            continue
        if (line.bank_account_id or entry.bank_account_id) != period.account_id:
            continue
        if line.currency != period.currency:
            raise CurrencyMismatchError(
                f"journal entry {entry.entry_id} posts {line.currency} on account "
                f"{period.account_id}, whose period is in {period.currency}"
            )
        line_id = line.statement_line_id or entry.statement_line_id
        nets[line_id] = nets.get(line_id, Decimal(0)) + line.debit - line.credit
    if not nets:
        return period
    parts = tuple(
        PostingPart(line_id, Money(amount=net, currency=period.currency))
        for line_id, net in sorted(nets.items(), key=lambda item: item[0] or "")
    )
    counterparty = next(
        (line.counterparty_id for line in entry.lines if line.counterparty_id), None
    )
    posting = BankPosting(
        entry_id=entry.entry_id,
        posting_date=entry.posting_date,
        parts=parts,
        reverses_entry_id=entry.reverses_entry_id,
        source=entry.source,
        source_ref=entry.source_ref[:NAME_LENGTH_MAX],
        adjustment_kind=entry.adjustment_kind,
        counterparty_id=counterparty,
        description=entry.description[:TEXT_LENGTH_MAX] or None,
    )
    after = replace(period, postings=with_item(period.postings, entry.entry_id, posting))
    return _advanced(period, after, entry_id=entry.entry_id)


# ------------------------------------------------------------------------------ commands


def enter_opening_balance(period: ReconciliationPeriod, amount: Money) -> ReconciliationPeriod:
    """Set the opening balance by hand; it wins over the statements' until entered again.

    Refused while the opening balance is the closing balance of the released previous period.
    """
    require_changeable(period)
    if period.opening_from_previous is not None:
        raise OpeningFromPreviousPeriodError(
            f"the opening balance of period {period.period_no} of account {period.account_id} "
            f"is the closing balance of released period {period.period_no - 1} "
            f"({period.opening_from_previous}); void period {period.period_no - 1} to change it"
        )
    require_entry(period, amount, "opening balance")
    if period.manual_opening_balance == amount:
        return period
    return replace(period, manual_opening_balance=amount)


def enter_statement_balance(period: ReconciliationPeriod, amount: Money) -> ReconciliationPeriod:
    """Set the statement balance by hand; the next statement that is the latest replaces it."""
    require_changeable(period)
    require_entry(period, amount, "statement balance")
    if period.manual_statement_balance == amount:
        return period
    return replace(period, manual_statement_balance=amount)


# ------------------------------------------------------------------------------ figures


def opening_balance(period: ReconciliationPeriod) -> tuple[Money, BalanceSource]:
    """The previous released period's closing balance, else entered by hand, else the opening
    booked balance of the period's earliest statement."""
    if period.opening_from_previous is not None:
        return period.opening_from_previous, BalanceSource.PREVIOUS_PERIOD
    if period.manual_opening_balance is not None:
        return period.manual_opening_balance, BalanceSource.MANUAL
    with_opening = [s for s in period.statements.values() if s.opening is not None]
    if not with_opening:
        return zero(period.currency), BalanceSource.MISSING
    earliest = min(with_opening, key=lambda s: s.rank(s.opening.date if s.opening else None))
    assert earliest.opening is not None
    return earliest.opening.amount, BalanceSource.STATEMENT


def earliest_statement(period: ReconciliationPeriod) -> StatementBalances | None:
    """The period's earliest statement with an opening balance."""
    with_opening = [s for s in period.statements.values() if s.opening is not None]
    if not with_opening:
        return None
    return min(with_opening, key=lambda s: s.rank(s.opening.date if s.opening else None))


def statement_balance(period: ReconciliationPeriod) -> tuple[Money | None, BalanceSource]:
    """Entered by hand, else the closing booked balance of the period's latest statement."""
    if period.manual_statement_balance is not None:
        return period.manual_statement_balance, BalanceSource.MANUAL
    latest = _latest_closing(period.statements)
    if latest is None or latest.closing is None:
        return None, BalanceSource.MISSING
    return latest.closing.amount, BalanceSource.STATEMENT


def cancelled_entries(postings: Mapping[str, BankPosting]) -> frozenset[str]:
    """Entries undone by a reversal that is not itself undone (a reversal of a reversal
    reinstates the original)."""
    reversed_by: dict[str, list[str]] = {}
    for posting in postings.values():
        if posting.reverses_entry_id is not None:
            reversed_by.setdefault(posting.reverses_entry_id, []).append(posting.entry_id)
    cancelled: dict[str, bool] = {}

    def is_cancelled(entry_id: str, seen: frozenset[str]) -> bool:
        if entry_id not in cancelled:
            cancelled[entry_id] = any(
                reversal not in seen and not is_cancelled(reversal, seen | {reversal})
                for reversal in reversed_by.get(entry_id, ())
            )
        return cancelled[entry_id]

    return frozenset(
        entry_id for entry_id in postings if is_cancelled(entry_id, frozenset({entry_id}))
    )


def is_own_adjustment(period: ReconciliationPeriod, posting: BankPosting) -> bool:
    """The entry posts an adjustment requested from this period."""
    return posting.source is EntrySource.ADJUSTMENT and posting.source_ref in period.adjustments


def part_counts(period: ReconciliationPeriod, posting: BankPosting, part: PostingPart) -> bool:
    """Whether one bank-side part adds to the reconciled balance (see the module docstring)."""
    mark = period.entry_marks.get(posting.entry_id)
    if mark is not None and mark.reconciled is not None:
        return mark.reconciled
    if posting.carried_from is not None:
        return False  # outstanding last period: on a statement only once a user says so
    if part.statement_line_id is not None:
        line_mark = period.line_marks.get(part.statement_line_id)
        return line_mark is None or line_mark.reconciled is not False
    return is_own_adjustment(period, posting)


def entry_is_reconciled(period: ReconciliationPeriod, posting: BankPosting) -> bool:
    """An entry is reconciled when any of its parts counts."""
    return any(part_counts(period, posting, part) for part in posting.parts)


def reconciled_entry_ids(period: ReconciliationPeriod) -> frozenset[str]:
    return frozenset(
        entry_id
        for entry_id, posting in period.postings.items()
        if entry_is_reconciled(period, posting)
    )


def reconciled_line_ids(period: ReconciliationPeriod) -> frozenset[str]:
    """Statement lines with a counted posting that is neither a reversal nor reversed, plus the
    lines a user marked reconciled, minus those marked not reconciled. May name lines whose own
    message has not arrived yet."""
    cancelled = cancelled_entries(period.postings)
    found = {
        part.statement_line_id
        for posting in period.postings.values()
        if posting.reverses_entry_id is None and posting.entry_id not in cancelled
        for part in posting.parts
        if part.statement_line_id is not None and part_counts(period, posting, part)
    }
    for line_id, mark in period.line_marks.items():
        if mark.reconciled is True:
            found.add(line_id)
        elif mark.reconciled is False:
            found.discard(line_id)
    return frozenset(found)


def line_is_cleared(period: ReconciliationPeriod, line: PeriodLine) -> bool:
    """Verified: a line from the bank is, a line added by hand is once a user clears it."""
    mark = period.line_marks.get(line.line_id)
    if mark is not None and mark.cleared is not None:
        return mark.cleared
    return line.origin is LineOrigin.BANK


def entry_is_cleared(period: ReconciliationPeriod, posting: BankPosting) -> bool:
    """Verified: entries from the bank integration (decisions, their reversals) and the
    period's own adjustments are; manual entries are once a user clears them."""
    mark = period.entry_marks.get(posting.entry_id)
    if mark is not None and mark.cleared is not None:
        return mark.cleared
    if posting.source in (EntrySource.DECISION, EntrySource.REVERSAL):
        return True
    if posting.source is EntrySource.ADJUSTMENT:
        return is_own_adjustment(period, posting)
    if posting.source is None:
        return any(part.statement_line_id is not None for part in posting.parts)
    return False


def posted_adjustment_ids(period: ReconciliationPeriod) -> frozenset[str]:
    """Adjustments of the period with a journal entry in it that is not reversed."""
    cancelled = cancelled_entries(period.postings)
    return frozenset(
        posting.source_ref
        for posting in period.postings.values()
        if posting.entry_id not in cancelled
        and posting.reverses_entry_id is None
        and posting.source_ref is not None
        and is_own_adjustment(period, posting)
    )


def adjustments_waiting(period: ReconciliationPeriod) -> int:
    """Adjustments neither posted nor refused by the ledger (they block a release)."""
    posted = posted_adjustment_ids(period)
    return sum(
        1
        for a in period.adjustments.values()
        if a.adjustment_id not in posted and a.refusal_code is None
    )


def figures(period: ReconciliationPeriod) -> PeriodFigures:
    """The period's figures: from the running sums when they are current (every message
    keeps them, so recomputing after one message touches only what it changed), else a
    full recount (``recount``); both give the same figures (a property test asserts it)."""
    running = period.running
    if running is None or not running.is_current(period):
        return recount(period)
    opening, opening_source = opening_balance(period)
    statement, statement_source = statement_balance(period)
    total = zero(period.currency) + Money(amount=running.counted, currency=period.currency)
    return _checked(
        period,
        opening=(opening, opening_source),
        statement=(statement, statement_source),
        total=total,
        counts=(
            running.reconciled,
            running.matched,
            running.in_suspense,
            running.other,
            running.outstanding,
        ),
        entries_reconciled=running.entries_reconciled,
        adjustments_not_posted=_adjustments_waiting_by_index(period, running),
    )


def recount(period: ReconciliationPeriod) -> PeriodFigures:
    """The period's figures counted from every fact; see the module docstring for why they
    are order independent."""
    opening, opening_source = opening_balance(period)
    statement, statement_source = statement_balance(period)
    counted = Decimal(0)
    entries_reconciled = 0
    for posting in period.postings.values():
        counts = [part_counts(period, posting, part) for part in posting.parts]
        counted += sum(
            (part.amount.amount for part, c in zip(posting.parts, counts, strict=True) if c),
            Decimal(0),
        )
        entries_reconciled += any(counts)
    total = zero(period.currency) + Money(amount=counted, currency=period.currency)
    reconciled_ids = reconciled_line_ids(period)
    kinds = [line.decision.kind for line in period.lines.values() if line.decision is not None]
    matched = sum(1 for kind in kinds if kind in MATCHED_KINDS)
    in_suspense = sum(1 for kind in kinds if kind in SUSPENSE_KINDS)
    outstanding = sum(1 for line_id in period.lines if line_id not in reconciled_ids)
    return _checked(
        period,
        opening=(opening, opening_source),
        statement=(statement, statement_source),
        total=total,
        counts=(
            len(reconciled_ids),
            matched,
            in_suspense,
            len(kinds) - matched - in_suspense,
            outstanding,
        ),
        entries_reconciled=entries_reconciled,
        adjustments_not_posted=adjustments_waiting(period),
    )


def _checked(
    period: ReconciliationPeriod,
    *,
    opening: tuple[Money, BalanceSource],
    statement: tuple[Money | None, BalanceSource],
    total: Money,
    counts: tuple[int, int, int, int, int],
    entries_reconciled: int,
    adjustments_not_posted: int,
) -> PeriodFigures:
    """The figures from their parts, with the money invariants asserted."""
    reconciled, matched, in_suspense, other, outstanding = counts
    reconciled_balance = opening[0] + total
    latest = _latest_closing(period.statements)
    result = PeriodFigures(
        currency=period.currency,
        opening_balance=opening[0],
        opening_source=opening[1],
        statement_balance=statement[0],
        statement_source=statement[1],
        reconciled_total=total,
        reconciled_balance=reconciled_balance,
        difference=None if statement[0] is None else statement[0] - reconciled_balance,
        lines=len(period.lines),
        reconciled=reconciled,
        matched=matched,
        in_suspense=in_suspense,
        other=other,
        outstanding=outstanding,
        statement_ids=tuple(sorted(period.statements)),
        reconciliation_date=latest.closing.date if latest and latest.closing else None,
        entries=len(period.postings),
        entries_reconciled=entries_reconciled,
        adjustments_not_posted=adjustments_not_posted,
    )
    assert result.reconciled_balance == result.opening_balance + result.reconciled_total
    assert result.undecided >= 0
    assert result.outstanding <= result.lines
    assert 0 <= result.entries_reconciled <= result.entries
    assert result.adjustments_not_posted >= 0
    assert result.difference is None or (
        result.statement_balance is not None
        and result.difference + result.reconciled_balance == result.statement_balance
    )
    return result


# ------------------------------------------------------------------------------ running sums


@dataclass(frozen=True, slots=True)
class RunningFigures:
    """The sums and counts behind the figures, with the indexes that update them per message.

    They hold for exactly the mappings in ``basis`` (the period's lines, postings, marks and
    adjustments they were computed over, compared by identity): a command that replaces any
    of them (a flag, an adjustment, a line removed) leaves them stale, and ``figures`` then
    recounts. A message (line, decision, posting) updates them in O(what it touches): the
    entry, the lines it names, and the lines of the entries up its reversal chain.
    """

    basis: tuple[Mapping[str, object], ...]
    naming: Mapping[str, frozenset[str]]  # statement line id -> entries with a part naming it
    reversed_by: Mapping[str, frozenset[str]]  # entry id -> the entries reversing it
    adjustment_entries: Mapping[str, frozenset[str]]  # source_ref -> adjustment entries
    counted: Decimal  # the bank-side parts that count
    entries_reconciled: int
    reconciled: int  # statement line ids reconciled (known or not yet)
    outstanding: int  # known lines not reconciled
    matched: int
    in_suspense: int
    other: int

    def is_current(self, period: ReconciliationPeriod) -> bool:
        return all(a is b for a, b in zip(self.basis, _basis(period), strict=True))


def _basis(period: ReconciliationPeriod) -> tuple[Mapping[str, object], ...]:
    return (
        period.lines,
        period.postings,
        period.line_marks,
        period.entry_marks,
        period.adjustments,
    )


def running_figures(period: ReconciliationPeriod) -> RunningFigures:
    """The period's running sums: kept ones when current, else counted from every fact."""
    if period.running is not None and period.running.is_current(period):
        return period.running
    naming: dict[str, set[str]] = {}
    reversed_by: dict[str, set[str]] = {}
    adjustment_entries: dict[str, set[str]] = {}
    for posting in period.postings.values():
        _index(posting, naming, reversed_by, adjustment_entries)
    frozen = (
        {k: frozenset(v) for k, v in naming.items()},
        {k: frozenset(v) for k, v in reversed_by.items()},
        {k: frozenset(v) for k, v in adjustment_entries.items()},
    )
    counted, entries_reconciled = Decimal(0), 0
    for posting in period.postings.values():
        amount, counts = _entry_share(period, posting)
        counted += amount
        entries_reconciled += counts
    line_ids = set(period.lines) | set(frozen[0]) | set(period.line_marks)
    tally = [0, 0, 0, 0, 0]  # reconciled, outstanding, matched, in suspense, other
    for line_id in line_ids:
        for i, value in enumerate(_line_share(period, line_id, frozen[0], frozen[1])):
            tally[i] += value
    return RunningFigures(
        basis=_basis(period),
        naming=frozen[0],
        reversed_by=frozen[1],
        adjustment_entries=frozen[2],
        counted=counted,
        entries_reconciled=entries_reconciled,
        reconciled=tally[0],
        outstanding=tally[1],
        matched=tally[2],
        in_suspense=tally[3],
        other=tally[4],
    )


def _index(
    posting: BankPosting,
    naming: dict[str, set[str]],
    reversed_by: dict[str, set[str]],
    adjustment_entries: dict[str, set[str]],
) -> None:
    for part in posting.parts:
        if part.statement_line_id is not None:
            naming.setdefault(part.statement_line_id, set()).add(posting.entry_id)
    if posting.reverses_entry_id is not None:
        reversed_by.setdefault(posting.reverses_entry_id, set()).add(posting.entry_id)
    if posting.source is EntrySource.ADJUSTMENT and posting.source_ref is not None:
        adjustment_entries.setdefault(posting.source_ref, set()).add(posting.entry_id)


def _entry_share(period: ReconciliationPeriod, posting: BankPosting) -> tuple[Decimal, int]:
    """What one entry adds to the counted total and to the reconciled entries."""
    amount, counts = Decimal(0), False
    for part in posting.parts:
        if part_counts(period, posting, part):
            amount += part.amount.amount
            counts = True
    return amount, int(counts)


def _cancelled(
    entry_id: str, reversed_by: Mapping[str, frozenset[str]], seen: frozenset[str]
) -> bool:
    """As ``cancelled_entries``, for one entry through the index."""
    return any(
        reversal not in seen and not _cancelled(reversal, reversed_by, seen | {reversal})
        for reversal in reversed_by.get(entry_id, ())
    )


def _line_share(
    period: ReconciliationPeriod,
    line_id: str,
    naming: Mapping[str, frozenset[str]],
    reversed_by: Mapping[str, frozenset[str]],
) -> tuple[int, int, int, int, int]:
    """One line id's part of (reconciled, outstanding, matched, in suspense, other), as
    ``recount`` counts it."""
    mark = period.line_marks.get(line_id)
    if mark is not None and mark.reconciled is not None:
        reconciled = mark.reconciled
    else:
        reconciled = any(
            posting.reverses_entry_id is None
            and not _cancelled(entry_id, reversed_by, frozenset({entry_id}))
            and any(
                part.statement_line_id == line_id and part_counts(period, posting, part)
                for part in posting.parts
            )
            for entry_id in naming.get(line_id, ())
            for posting in (period.postings[entry_id],)
        )
    line = period.lines.get(line_id)
    kind = line.decision.kind if line is not None and line.decision is not None else None
    matched = kind in MATCHED_KINDS
    suspense = kind in SUSPENSE_KINDS
    return (
        int(reconciled),
        int(line is not None and not reconciled),
        int(matched),
        int(suspense),
        int(kind is not None and not matched and not suspense),
    )


def _advanced(
    before: ReconciliationPeriod,
    after: ReconciliationPeriod,
    *,
    line_ids: tuple[str, ...] = (),
    entry_id: str | None = None,
) -> ReconciliationPeriod:
    """``after`` (``before`` with one line, decision or new entry) with its running sums
    updated by what changed only: the lines it names and, for a reversal, the lines of the
    entries up its chain (their cancellation may flip)."""
    if after is before:
        return after
    old = running_figures(before)
    naming, reversed_by, adjustment_entries = old.naming, old.reversed_by, old.adjustment_entries
    counted, entries_reconciled = old.counted, old.entries_reconciled
    touched = set(line_ids)
    if entry_id is not None:
        posting = after.postings[entry_id]
        added_naming: dict[str, set[str]] = {}
        added_reversed: dict[str, set[str]] = {}
        added_adjustment: dict[str, set[str]] = {}
        _index(posting, added_naming, added_reversed, added_adjustment)
        naming = _merged(naming, added_naming)
        reversed_by = _merged(reversed_by, added_reversed)
        adjustment_entries = _merged(adjustment_entries, added_adjustment)
        amount, counts = _entry_share(after, posting)
        counted += amount
        entries_reconciled += counts
        chain: str | None = entry_id
        seen: set[str] = set()
        while chain is not None and chain not in seen:  # a cycle of reversals stops here
            seen.add(chain)
            current = after.postings.get(chain)
            if current is None:
                break
            touched.update(p.statement_line_id for p in current.parts if p.statement_line_id)
            chain = current.reverses_entry_id
    tally = [old.reconciled, old.outstanding, old.matched, old.in_suspense, old.other]
    for line_id in touched:
        gone = _line_share(before, line_id, old.naming, old.reversed_by)
        come = _line_share(after, line_id, naming, reversed_by)
        for i in range(5):
            tally[i] += come[i] - gone[i]
    running = RunningFigures(
        basis=_basis(after),
        naming=naming,
        reversed_by=reversed_by,
        adjustment_entries=adjustment_entries,
        counted=counted,
        entries_reconciled=entries_reconciled,
        reconciled=tally[0],
        outstanding=tally[1],
        matched=tally[2],
        in_suspense=tally[3],
        other=tally[4],
    )
    return replace(after, running=running)


def _merged(
    index: Mapping[str, frozenset[str]], added: Mapping[str, set[str]]
) -> Mapping[str, frozenset[str]]:
    for key, entry_ids in added.items():
        index = with_item(index, key, index.get(key, frozenset()) | entry_ids)
    return index


def _adjustments_waiting_by_index(period: ReconciliationPeriod, running: RunningFigures) -> int:
    """``adjustments_waiting`` through the index of adjustment entries (no scan)."""
    waiting = 0
    for adjustment in period.adjustments.values():
        if adjustment.refusal_code is not None:
            continue
        posted = any(
            period.postings[entry_id].reverses_entry_id is None
            and not _cancelled(entry_id, running.reversed_by, frozenset({entry_id}))
            for entry_id in running.adjustment_entries.get(adjustment.adjustment_id, ())
        )
        waiting += not posted
    return waiting


def updated_event(
    period: ReconciliationPeriod, reason: str, actor: str | None = None
) -> PeriodEvent:
    """The ``updated`` period event carrying the period's current figures."""
    return period_event(period, PeriodEventKind.UPDATED, reason, actor)


def period_event(
    period: ReconciliationPeriod, kind: PeriodEventKind, reason: str, actor: str | None = None
) -> PeriodEvent:
    """A period event of any kind, with the period's figures, status and sequence number."""
    result = figures(period)
    return PeriodEvent(
        period_id=period.period_id,
        account_id=period.account_id,
        event=kind,
        status=period.status,
        reconciliation_date=result.reconciliation_date,
        opening_balance=result.opening_balance,
        statement_balance=result.statement_balance,
        reconciled_balance=result.reconciled_balance,
        difference=result.difference,
        sequence_no=period.sequence_no,
        actor=actor,
        reason=reason,
    )


def require_changeable(period: ReconciliationPeriod) -> None:
    """A released period is immutable: every command on it is refused."""
    if period.is_released:
        raise PeriodReleasedError(
            f"period {period.period_no} of account {period.account_id} is released "
            f"(sequence number {period.sequence_no}) and cannot change; void it first "
            "(only the latest released period of an account can be voided)"
        )


def require_accountability(actor: str, reason: str | None, *, reason_required: bool) -> None:
    """Every command says who does it; some also why (kept in the audit trail)."""
    if not actor.strip():
        raise InvalidCommandError("actor is required: say who does this (free text)")
    if len(actor) > NAME_LENGTH_MAX:
        raise InvalidCommandError(
            f"actor is {len(actor)} characters long; at most {NAME_LENGTH_MAX}"
        )
    if reason_required and not (reason or "").strip():
        raise InvalidCommandError("reason is required: say why (kept in the audit trail)")
    if reason is not None and len(reason) > REASON_LENGTH_MAX:
        raise InvalidCommandError(
            f"reason is {len(reason)} characters long; at most {REASON_LENGTH_MAX}"
        )


def require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("the time of a command must be an aware datetime")


# ------------------------------------------------------------------------------ checks


def decimal_places(value: Decimal) -> int:
    """Significant decimals: 12.50 has 1, 12 has 0 (exact, unlike a context-bound quantize)."""
    text = format(value, "f")
    return len(text.partition(".")[2].rstrip("0"))


def _latest_closing(statements: Mapping[str, StatementBalances]) -> StatementBalances | None:
    with_closing = [s for s in statements.values() if s.closing is not None]
    if not with_closing:
        return None
    return max(with_closing, key=lambda s: s.rank(s.closing.date if s.closing else None))


def _with_account_number(
    period: ReconciliationPeriod, account: BankAccountRef
) -> ReconciliationPeriod:
    if period.account_number or not account.number:
        return period
    return replace(period, account_number=account.number)


def _require_account(period: ReconciliationPeriod, account: BankAccountRef, what: str) -> None:
    if account.account_id != period.account_id:
        raise ValueError(
            f"{what} of account {account.account_id} was applied to the period of "
            f"{period.account_id}"
        )
    if account.currency != period.currency:
        raise CurrencyMismatchError(
            f"{what} is for a {account.currency} account, but the period of account "
            f"{period.account_id} is in {period.currency}"
        )


def _require_currency(period: ReconciliationPeriod, amount: Money, what: str) -> None:
    if amount.currency != period.currency:
        raise CurrencyMismatchError(
            f"{what} is in {amount.currency}, but the period of account {period.account_id} "
            f"is in {period.currency}"
        )


def require_entry(period: ReconciliationPeriod, amount: Money, what: str) -> None:
    """An amount entered by hand: in the period's currency, within its minor unit."""
    _require_currency(period, amount, f"the {what} entered")
    exponent = currency_exponent(amount.currency)
    if decimal_places(amount.amount) > exponent:
        raise AmountPrecisionError(
            f"the {what} {format(amount.amount, 'f')} has more than {exponent} decimals, "
            f"the minor unit of {amount.currency}"
        )
