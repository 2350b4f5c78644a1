"""Why a period does not balance, in the seeds' terms (000 and 002), naming the lines and items.

Findings, in the order a user works through them:

1. the statement balance is missing (no difference can be computed);
2. the opening balance: an earlier period is not released; the opening balance is missing; it
   differs from the opening balance of the period's first statement (allowing for lines added
   by hand before that statement: a mid-month start); the statements' sequence numbers have a
   gap, or one statement does not open where the one before closed; a statement's lines do not
   add up to how far it moves the balance (lines missing: add them by hand);
3. fees and interest on the statement that are not posted (create an adjustment);
4. near pairs: a statement line and a ledger entry with the same counterparty and a different
   date or amount (a payment registered with the wrong date or amount);
5. statement lines with no ledger counterpart (a purchase or sale not registered: register the
   payment; or a line in suspense: allocate it);
6. ledger entries not on the statement (outstanding: carried forward if the bank books them
   next period);
7. adjustments not posted yet, or posted with another amount than requested;
8. the transfer of the remaining difference as an explicit, audited adjustment (seed 002:
   "Overfør til finanskladde").

The diagnosis is a pure function of the period (and the account's other periods); it never
changes anything.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from bankrec.contracts import AdjustmentKind, Money, PeriodStatus
from bankrec.reconciler.domain.adjustments import AdjustmentState, adjustment_views
from bankrec.reconciler.domain.carry_forward import outstanding_entries
from bankrec.reconciler.domain.period import (
    SUSPENSE_KINDS,
    BalanceSource,
    BankPosting,
    LineOrigin,
    PeriodFigures,
    PeriodLine,
    ReconciliationPeriod,
    StatementBalances,
    earliest_statement,
    figures,
    reconciled_line_ids,
    zero,
)

WRONG_AMOUNT_DAYS_MAX = 7  # same counterparty, other amount: only this close in time
WRONG_DATE_DAYS_MAX = 45  # same counterparty and amount, other date: up to about six weeks
NAME_LENGTH_MIN = 5  # seed 002: text is compared only when longer than four characters


class FindingCode(StrEnum):
    STATEMENT_BALANCE_MISSING = "statement_balance_missing"
    EARLIER_PERIOD_NOT_RELEASED = "earlier_period_not_released"
    OPENING_MISSING = "opening_missing"
    OPENING_DIFFERS = "opening_differs"
    STATEMENT_SEQUENCE_GAP = "statement_sequence_gap"
    STATEMENTS_DO_NOT_CHAIN = "statements_do_not_chain"
    STATEMENT_LINES_MISSING = "statement_lines_missing"
    FEE_OR_INTEREST_NOT_POSTED = "fee_or_interest_not_posted"
    NEAR_PAIR = "near_pair"
    LINE_NOT_IN_BOOKS = "line_not_in_books"
    ENTRY_NOT_ON_STATEMENT = "entry_not_on_statement"
    ADJUSTMENT_NOT_POSTED = "adjustment_not_posted"
    ADJUSTMENT_AMOUNT_DIFFERS = "adjustment_amount_differs"
    TRANSFER_DIFFERENCE = "transfer_difference"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that is off, what it names, and what to do about it."""

    code: FindingCode
    message: str
    suggestion: str
    amount: Money | None = None
    line_ids: tuple[str, ...] = ()
    entry_ids: tuple[str, ...] = ()
    adjustment_ids: tuple[str, ...] = ()
    statement_ids: tuple[str, ...] = ()
    period_nos: tuple[int, ...] = ()
    adjustment_kind: AdjustmentKind | None = None  # what an adjustment for it would be


@dataclass(frozen=True, slots=True)
class Diagnosis:
    period_id: str
    period_no: int
    status: PeriodStatus
    difference: Money | None
    findings: tuple[Finding, ...]

    @property
    def balanced(self) -> bool:
        return self.difference is not None and self.difference.is_zero()

    def codes(self) -> list[FindingCode]:
        return [finding.code for finding in self.findings]


def diagnose(
    period: ReconciliationPeriod, account_periods: Sequence[ReconciliationPeriod] = ()
) -> Diagnosis:
    """Every finding about the period; ``account_periods`` are the account's other periods."""
    result = figures(period)
    findings: list[Finding] = []
    if result.statement_balance is None:
        findings.append(
            Finding(
                FindingCode.STATEMENT_BALANCE_MISSING,
                f"period {period.period_no} has no statement balance: no statement with a "
                "closing balance arrived and none was entered",
                "enter the statement balance (the closing balance on the bank statement), or "
                "wait for the statement file",
            )
        )
    findings += _opening_findings(period, result, account_periods)
    findings += _statement_findings(period, account_periods)
    findings += _item_findings(period)
    findings += _adjustment_findings(period)
    if result.difference is not None and not result.difference.is_zero():
        findings.append(
            Finding(
                FindingCode.TRANSFER_DIFFERENCE,
                f"a difference of {result.difference} remains (statement balance "
                f"{result.statement_balance} - reconciled balance {result.reconciled_balance})",
                "when the findings above do not explain it, transfer it as an adjustment of "
                f"kind other with amount {result.difference} against a GL account you name; it "
                "is posted through the ledger and kept in the audit trail with who and why",
                amount=result.difference,
                adjustment_kind=AdjustmentKind.OTHER,
            )
        )
    return Diagnosis(
        period_id=period.period_id,
        period_no=period.period_no,
        status=period.status,
        difference=result.difference,
        findings=tuple(findings),
    )


# ------------------------------------------------------------------------------ opening


def _opening_findings(
    period: ReconciliationPeriod,
    result: PeriodFigures,
    account_periods: Sequence[ReconciliationPeriod],
) -> list[Finding]:
    findings: list[Finding] = []
    earlier = sorted(
        (
            p
            for p in account_periods
            if p.account_id == period.account_id
            and p.period_no < period.period_no
            and p.status is not PeriodStatus.RELEASED
        ),
        key=lambda p: p.period_no,
    )
    if earlier:
        named = ", ".join(f"{p.period_no} ({p.status.value})" for p in earlier)
        findings.append(
            Finding(
                FindingCode.EARLIER_PERIOD_NOT_RELEASED,
                f"earlier period(s) {named} of the account are not released, so this period's "
                "opening balance is not settled",
                "reconcile and release the earlier periods first, in order",
                period_nos=tuple(p.period_no for p in earlier),
            )
        )
    opening, source = result.opening_balance, result.opening_source
    first = earliest_statement(period)
    if source is BalanceSource.MISSING:
        findings.append(
            Finding(
                FindingCode.OPENING_MISSING,
                f"period {period.period_no} has no opening balance: no statement gave one and "
                f"none was entered, so it counts as {opening}",
                "enter the opening balance: the balance on the bank account at the start of "
                "the period",
                amount=opening,
            )
        )
        return findings
    if first is None or first.opening is None or source is BalanceSource.STATEMENT:
        return findings
    assert first.opening is not None
    starts = first.opening.date
    # lines added by hand before the first statement cover a mid-month start
    before = [
        line
        for line in period.lines.values()
        if line.origin is LineOrigin.MANUAL
        and line.booking_date is not None
        and line.booking_date < starts
    ]
    expected = opening + _sum(period.currency, (line.amount for line in before))
    if expected == first.opening.amount:
        return findings
    if source is BalanceSource.PREVIOUS_PERIOD:
        suggestion = (
            f"the previous period closed at {opening}: check that no statement is missing "
            "between them (see the sequence numbers) and that the previous period's statement "
            "balance was right; if it was wrong, void the previous period, correct it and "
            "release it again"
        )
    else:
        suggestion = (
            "the opening balance entered by hand may be wrong: enter the balance at the start "
            f"of the period; for a mid-month start, add the statement lines before {starts} by "
            "hand"
        )
    by_hand = f" and {len(before)} line(s) added by hand before it" if before else ""
    findings.append(
        Finding(
            FindingCode.OPENING_DIFFERS,
            f"the opening balance {opening} ({source.value.replace('_', ' ')}){by_hand} does "
            f"not reach the opening balance {first.opening.amount} of statement "
            f"{first.statement_id} on {starts}: {first.opening.amount - expected} apart",
            suggestion,
            amount=first.opening.amount - expected,
            statement_ids=(first.statement_id,),
            line_ids=tuple(sorted(line.line_id for line in before)),
        )
    )
    return findings


# ------------------------------------------------------------------------------ statements


def _statement_findings(
    period: ReconciliationPeriod, account_periods: Sequence[ReconciliationPeriod]
) -> list[Finding]:
    findings: list[Finding] = []
    previous = next(
        (
            p
            for p in account_periods
            if p.account_id == period.account_id and p.period_no == period.period_no - 1
        ),
        None,
    )
    numbered: list[tuple[int, str]] = sorted(
        (s.sequence_no, s.statement_id)
        for s in period.statements.values()
        if s.sequence_no is not None
    )
    if previous is not None:
        before = [s.sequence_no for s in previous.statements.values() if s.sequence_no is not None]
        if before and numbered and max(before) < numbered[0][0]:
            numbered.insert(0, (max(before), f"the last statement of period {previous.period_no}"))
    for (low, low_id), (high, high_id) in itertools.pairwise(numbered):
        if high - low > 1:
            missing = list(range(low + 1, high))
            shown = ", ".join(str(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
            findings.append(
                Finding(
                    FindingCode.STATEMENT_SEQUENCE_GAP,
                    f"statement sequence number(s) {shown} are missing between {low_id} "
                    f"(number {low}) and {high_id} (number {high})",
                    "fetch the missing statements from the bank (or upload their files); their "
                    "lines are not in the period",
                    statement_ids=tuple(i for i in (low_id, high_id) if i in period.statements),
                )
            )
    chain = sorted(
        (s for s in period.statements.values() if s.opening is not None and s.closing is not None),
        key=_statement_order,
    )
    for earlier, later in itertools.pairwise(chain):
        assert earlier.closing is not None
        assert later.opening is not None
        if earlier.closing.amount != later.opening.amount:
            findings.append(
                Finding(
                    FindingCode.STATEMENTS_DO_NOT_CHAIN,
                    f"statement {later.statement_id} opens at {later.opening.amount} on "
                    f"{later.opening.date}, but statement {earlier.statement_id} closed at "
                    f"{earlier.closing.amount} on {earlier.closing.date}",
                    "a statement between them is missing, or one of them is not this "
                    "account's: check the files received",
                    amount=later.opening.amount - earlier.closing.amount,
                    statement_ids=(earlier.statement_id, later.statement_id),
                )
            )
    for statement in sorted(period.statements.values(), key=_statement_order):
        if statement.opening is None or statement.closing is None:
            continue
        own = [
            line for line in period.lines.values() if line.statement_id == statement.statement_id
        ]
        moved = statement.closing.amount - statement.opening.amount
        lines_total = _sum(period.currency, (line.amount for line in own))
        if lines_total != moved:
            findings.append(
                Finding(
                    FindingCode.STATEMENT_LINES_MISSING,
                    f"statement {statement.statement_id} moves the balance by {moved} (from "
                    f"{statement.opening.amount} to {statement.closing.amount}), but its "
                    f"{len(own)} line(s) in the period add up to {lines_total}: "
                    f"{moved - lines_total} is missing",
                    "lines may still be on their way, or were removed; add missing lines by "
                    "hand (with a reason) or check the statement file",
                    amount=moved - lines_total,
                    statement_ids=(statement.statement_id,),
                )
            )
    return findings


def _statement_order(statement: StatementBalances) -> tuple[date, int, str]:
    on = statement.opening.date if statement.opening else None
    if on is None and statement.closing is not None:
        on = statement.closing.date
    sequence = -1 if statement.sequence_no is None else statement.sequence_no
    return (on or date.min, sequence, statement.statement_id)


# ------------------------------------------------------------------------------ items


def _item_findings(period: ReconciliationPeriod) -> list[Finding]:
    reconciled = reconciled_line_ids(period)
    waiting_for_adjustment = {
        view.adjustment.statement_line_id
        for view in adjustment_views(period)
        if view.adjustment.statement_line_id is not None
    }
    open_lines = sorted(
        (
            line
            for line in period.lines.values()
            if line.line_id not in reconciled and line.line_id not in waiting_for_adjustment
        ),
        key=lambda line: (line.booking_date or date.min, line.line_id),
    )
    open_entries = outstanding_entries(period)
    findings: list[Finding] = []
    charges = [line for line in open_lines if line.charge_kind is not None]
    for line in charges:
        assert line.charge_kind is not None
        what = "bank fee" if line.charge_kind is AdjustmentKind.BANK_FEE else "interest"
        findings.append(
            Finding(
                FindingCode.FEE_OR_INTEREST_NOT_POSTED,
                f"statement line {_describe_line(line)} looks like {what} from the bank and is "
                "not posted in the books",
                f"create an adjustment of kind {line.charge_kind.value} for {line.amount} naming "
                f"line {line.line_id}; it must be posted before the period is released",
                amount=line.amount,
                line_ids=(line.line_id,),
                adjustment_kind=line.charge_kind,
            )
        )
    candidates = [line for line in open_lines if line.charge_kind is None]
    pairs = _near_pairs(candidates, open_entries)
    paired_lines = {line.line_id for line, _, _ in pairs}
    paired_entries = {entry.entry_id for _, entry, _ in pairs}
    for line, entry, kind in pairs:
        findings.append(_pair_finding(line, entry, kind))
    for line in candidates:
        if line.line_id not in paired_lines:
            findings.append(_line_finding(line))
    for entry in open_entries:
        if entry.entry_id not in paired_entries:
            findings.append(_entry_finding(entry))
    return findings


def _describe_line(line: PeriodLine) -> str:
    text = f", {line.text[:60]!r}" if line.text else ""
    by = f", {line.counterparty}" if line.counterparty else ""
    return f"{line.line_id} ({line.booking_date}, {line.amount}{by}{text})"


def _describe_entry(entry: BankPosting) -> str:
    text = f", {entry.description[:60]!r}" if entry.description else ""
    return f"{entry.entry_id} ({entry.posting_date}, {entry.amount}{text})"


def _line_finding(line: PeriodLine) -> Finding:
    by_hand = " (added by hand)" if line.origin is LineOrigin.MANUAL else ""
    if line.decision is not None and line.decision.kind in SUSPENSE_KINDS:
        suggestion = (
            "it is in suspense (no match found): allocate it to a customer, invoice, supplier "
            "or GL account in the ledger"
        )
    elif line.amount.amount < 0:
        suggestion = (
            "a purchase (bill) or its payment is not registered in the books: register the bill "
            f"and its payment from this bank account on {line.booking_date} for "
            f"{-line.amount.amount}"
        )
    else:
        suggestion = (
            "a sale's payment is not registered in the books: register the incoming payment of "
            f"{line.amount.amount} on {line.booking_date} on the invoice"
        )
    return Finding(
        FindingCode.LINE_NOT_IN_BOOKS,
        f"statement line {_describe_line(line)}{by_hand} has no ledger counterpart",
        suggestion + "; or mark the line reconciled if it is accounted for otherwise",
        amount=line.amount,
        line_ids=(line.line_id,),
    )


def _entry_finding(entry: BankPosting) -> Finding:
    carried = (
        f" (outstanding since period {entry.carried_from})"
        if entry.carried_from is not None
        else ""
    )
    return Finding(
        FindingCode.ENTRY_NOT_ON_STATEMENT,
        f"ledger entry {_describe_entry(entry)}{carried} is not on the statement",
        "if the bank books it in the next period, leave it un-reconciled: it is carried "
        "forward as outstanding; if it is on the statement, mark it reconciled; otherwise "
        "check its date and amount",
        amount=entry.amount,
        entry_ids=(entry.entry_id,),
    )


class _PairKind(StrEnum):
    SAME = "same"
    WRONG_DATE = "wrong date"
    WRONG_AMOUNT = "wrong amount"


def _pair_finding(line: PeriodLine, entry: BankPosting, kind: _PairKind) -> Finding:
    if kind is _PairKind.SAME:
        what = "the same amount and date"
        suggestion = "they look like the same payment: match the line with the entry"
    elif kind is _PairKind.WRONG_DATE:
        what = "the same amount but a different date"
        suggestion = (
            f"the payment may be registered with the wrong date: remove it and register it "
            f"again on {line.booking_date}, or mark both reconciled if the dates are right"
        )
    else:
        what = "a different amount"
        suggestion = (
            f"the payment may be registered with the wrong amount: remove it and register it "
            f"again with {line.amount}"
        )
    return Finding(
        FindingCode.NEAR_PAIR,
        f"statement line {_describe_line(line)} and ledger entry {_describe_entry(entry)} have "
        f"the same counterparty and {what}",
        suggestion,
        amount=line.amount - entry.amount,
        line_ids=(line.line_id,),
        entry_ids=(entry.entry_id,),
    )


def _near_pairs(
    lines: Sequence[PeriodLine], entries: Sequence[BankPosting]
) -> list[tuple[PeriodLine, BankPosting, _PairKind]]:
    """Each entry with at most one line of the same counterparty, closest first; a line is
    used once. Lines are indexed by counterparty id, so a period of many lines stays cheap."""
    by_id: dict[str, list[PeriodLine]] = {}
    by_name: dict[str, list[PeriodLine]] = {}
    for line in lines:
        if line.decision is not None and line.decision.counterparty_id:
            by_id.setdefault(line.decision.counterparty_id, []).append(line)
        name = _normalized(line.counterparty)
        if len(name) >= NAME_LENGTH_MIN:
            by_name.setdefault(name, []).append(line)
    used: set[str] = set()
    pairs: list[tuple[PeriodLine, BankPosting, _PairKind]] = []
    for entry in entries:
        found = list(by_id.get(entry.counterparty_id or "", ()))
        described = f" {_normalized(entry.description)} "
        for name, named in by_name.items():
            if f" {name} " in described:
                found += named
        best: tuple[tuple[int, Decimal, int], PeriodLine, _PairKind] | None = None
        for line in found:
            if line.line_id in used or line.booking_date is None:
                continue
            days = abs((line.booking_date - entry.posting_date).days)
            apart = abs(line.amount.amount - entry.amount.amount)
            if apart == 0:
                kind = _PairKind.SAME if days == 0 else _PairKind.WRONG_DATE
                if days > WRONG_DATE_DAYS_MAX:
                    continue
            elif days <= WRONG_AMOUNT_DAYS_MAX:
                kind = _PairKind.WRONG_AMOUNT
            else:
                continue
            rank = (0 if apart == 0 else 1, apart, days)
            if best is None or rank < best[0]:
                best = (rank, line, kind)
        if best is not None:
            used.add(best[1].line_id)
            pairs.append((best[1], entry, best[2]))
    return pairs


def _normalized(text: str | None) -> str:
    return " ".join(re.sub(r"[^0-9a-zæøåäöü]+", " ", (text or "").lower()).split())


# ------------------------------------------------------------------------------ adjustments


def _adjustment_findings(period: ReconciliationPeriod) -> list[Finding]:
    findings: list[Finding] = []
    for view in adjustment_views(period):
        adjustment = view.adjustment
        if view.state is AdjustmentState.REQUESTED:
            findings.append(
                Finding(
                    FindingCode.ADJUSTMENT_NOT_POSTED,
                    f"adjustment {adjustment.adjustment_id} ({adjustment.kind.value} "
                    f"{adjustment.amount}) is requested but not posted by the ledger yet",
                    "post it in the ledger with this adjustment id; the period counts it once "
                    "its posting arrives, and cannot be released before",
                    amount=adjustment.amount,
                    adjustment_ids=(adjustment.adjustment_id,),
                    line_ids=(adjustment.statement_line_id,)
                    if adjustment.statement_line_id
                    else (),
                    adjustment_kind=adjustment.kind,
                )
            )
        elif view.amount_differs:
            assert view.posted_amount is not None
            findings.append(
                Finding(
                    FindingCode.ADJUSTMENT_AMOUNT_DIFFERS,
                    f"adjustment {adjustment.adjustment_id} was requested for "
                    f"{adjustment.amount} but posted with {view.posted_amount} (entries "
                    f"{', '.join(view.entry_ids)})",
                    "reverse the posting in the ledger and post the amount requested",
                    amount=adjustment.amount - view.posted_amount,
                    adjustment_ids=(adjustment.adjustment_id,),
                    entry_ids=view.entry_ids,
                )
            )
    return findings


def _sum(currency: str, amounts: Iterable[Money]) -> Money:
    total = zero(currency)
    for amount in amounts:
        total = total + amount
    return total
