"""Journal entries: immutable, balanced per currency; corrections are new entries.

Invariants, asserted when an entry is built (``UnbalancedEntry`` otherwise):
- an entry has at least two lines;
- every line has a non-negative debit and credit, exactly one of them non-zero;
- per currency, the debits equal the credits.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    EntrySource,
    JournalEntryPosted,
    PostingLine,
)
from bankrec.ledger.domain.amounts import exact_money
from bankrec.ledger.domain.chart import Account
from bankrec.ledger.errors import UnbalancedEntry

DESCRIPTION_LENGTH_MAX = 500


def entry_id_for(tenant_id: str, idempotency_key: str) -> str:
    """The entry id that an idempotency key always gets, so a retry names the same entry."""
    digest = hashlib.sha256(f"{tenant_id}|{idempotency_key}".encode()).hexdigest()
    return f"je-{digest[:24]}"


def debit(account: Account, amount: Decimal, currency: str, **refs: str | None) -> PostingLine:
    """A debit line of ``amount`` (> 0) on ``account``; ``refs`` are the line's references."""
    return _line(account, debit=amount, credit=Decimal(0), currency=currency, refs=refs)


def credit(account: Account, amount: Decimal, currency: str, **refs: str | None) -> PostingLine:
    """A credit line of ``amount`` (> 0) on ``account``."""
    return _line(account, debit=Decimal(0), credit=amount, currency=currency, refs=refs)


def _line(
    account: Account,
    *,
    debit: Decimal,
    credit: Decimal,
    currency: str,
    refs: dict[str, str | None],
) -> PostingLine:
    return PostingLine(
        account_code=account.code,
        account_role=account.role,
        debit=exact_money(debit, currency, what="debit").amount,
        credit=exact_money(credit, currency, what="credit").amount,
        currency=currency,
        **refs,
    )


def debit_credit(
    debited: Account,
    credited: Account,
    amount: Decimal,
    currency: str,
    *,
    debited_refs: dict[str, str | None] | None = None,
    credited_refs: dict[str, str | None] | None = None,
) -> list[PostingLine]:
    """Dr ``debited`` / Cr ``credited`` for a positive amount, the other way round for a
    negative one, nothing for zero: the two lines of one signed movement."""
    if amount > 0:
        return [
            debit(debited, amount, currency, **(debited_refs or {})),
            credit(credited, amount, currency, **(credited_refs or {})),
        ]
    if amount < 0:
        return [
            debit(credited, -amount, currency, **(credited_refs or {})),
            credit(debited, -amount, currency, **(debited_refs or {})),
        ]
    return []


def totals_by_currency(lines: Iterable[PostingLine]) -> dict[str, tuple[Decimal, Decimal]]:
    """Currency -> (sum of debits, sum of credits)."""
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        debits[line.currency] += line.debit
        credits[line.currency] += line.credit
    return {currency: (debits[currency], credits[currency]) for currency in debits}


def assert_balanced(lines: Iterable[PostingLine]) -> None:
    """Raise ``UnbalancedEntry`` unless the lines form a valid, balanced entry."""
    lines = list(lines)
    if len(lines) < 2:
        raise UnbalancedEntry(f"an entry needs at least two lines, got {len(lines)}")
    for number, line in enumerate(lines, start=1):
        if line.debit < 0 or line.credit < 0:
            raise UnbalancedEntry(
                f"line {number} ({line.account_code}) has a negative amount: "
                f"debit {line.debit}, credit {line.credit}"
            )
        if (line.debit == 0) == (line.credit == 0):
            raise UnbalancedEntry(
                f"line {number} ({line.account_code}) must have exactly one of debit and credit "
                f"non-zero: debit {line.debit}, credit {line.credit}"
            )
    for currency, (debits, credits) in totals_by_currency(lines).items():
        if debits != credits:
            raise UnbalancedEntry(
                f"debits {debits} {currency} differ from credits {credits} {currency}"
            )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One balanced journal entry; building an unbalanced one raises ``UnbalancedEntry``."""

    entry_id: str
    idempotency_key: str
    posting_date: date
    source: EntrySource
    source_ref: str
    description: str
    lines: tuple[PostingLine, ...]
    decision_kind: str | None = None
    bank_account_id: str | None = None
    statement_line_id: str | None = None
    reverses_entry_id: str | None = None
    adjustment_kind: AdjustmentKind | None = None
    actor: str | None = None
    reason: str | None = None
    posting_rule_id: str | None = None
    posting_rule_version: int | None = None

    def __post_init__(self) -> None:
        assert_balanced(self.lines)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the entry's content: the same key with another fingerprint is a conflict.

        Fields added to the contract count only when set (the contract leaves them out of
        the dump while unset), so an entry's fingerprint does not change with the version."""
        content = self.to_event().model_dump(mode="json", exclude={"entry_id"})
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_event(self) -> JournalEntryPosted:
        return JournalEntryPosted(
            entry_id=self.entry_id,
            idempotency_key=self.idempotency_key,
            posting_date=self.posting_date,
            source=self.source,
            source_ref=self.source_ref,
            decision_kind=self.decision_kind,
            description=self.description,
            lines=list(self.lines),
            bank_account_id=self.bank_account_id,
            statement_line_id=self.statement_line_id,
            reverses_entry_id=self.reverses_entry_id,
            adjustment_kind=self.adjustment_kind,
            actor=self.actor,
            reason=self.reason,
            posting_rule_id=self.posting_rule_id,
            posting_rule_version=self.posting_rule_version,
        )

    @classmethod
    def from_event(cls, event: JournalEntryPosted) -> JournalEntry:
        return cls(
            entry_id=event.entry_id,
            idempotency_key=event.idempotency_key,
            posting_date=event.posting_date,
            source=event.source,
            source_ref=event.source_ref,
            description=event.description,
            lines=tuple(event.lines),
            decision_kind=event.decision_kind,
            bank_account_id=event.bank_account_id,
            statement_line_id=event.statement_line_id,
            reverses_entry_id=event.reverses_entry_id,
            adjustment_kind=event.adjustment_kind,
            actor=event.actor,
            reason=event.reason,
            posting_rule_id=event.posting_rule_id,
            posting_rule_version=event.posting_rule_version,
        )

    def bank_net(self) -> Decimal:
        """What the entry moves on bank GL accounts: debits - credits (+ is money in)."""
        return sum(
            (
                line.debit - line.credit
                for line in self.lines
                if line.account_role is AccountRole.BANK
            ),
            Decimal(0),
        )

    def net_of(self, role: AccountRole) -> Decimal:
        """Credits - debits of the entry on the accounts of one role."""
        return sum(
            (line.credit - line.debit for line in self.lines if line.account_role is role),
            Decimal(0),
        )


def reversing_entry(
    original: JournalEntry,
    *,
    tenant_id: str,
    idempotency_key: str,
    posting_date: date,
    description: str,
    actor: str | None = None,
    reason: str | None = None,
) -> JournalEntry:
    """The entry that undoes ``original``: every line on the other side, same references.

    The journal stays immutable; a correction is this new entry, naming what it reverses."""
    lines = tuple(
        line.model_copy(update={"debit": line.credit, "credit": line.debit})
        for line in original.lines
    )
    return JournalEntry(
        entry_id=entry_id_for(tenant_id, idempotency_key),
        idempotency_key=idempotency_key,
        posting_date=posting_date,
        source=EntrySource.REVERSAL,
        source_ref=original.entry_id,
        description=description[:DESCRIPTION_LENGTH_MAX],
        lines=lines,
        decision_kind=original.decision_kind,
        bank_account_id=original.bank_account_id,
        statement_line_id=original.statement_line_id,
        reverses_entry_id=original.entry_id,
        adjustment_kind=original.adjustment_kind,
        actor=actor,
        reason=reason,
    )
