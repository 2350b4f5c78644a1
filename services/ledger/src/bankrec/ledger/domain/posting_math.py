"""Posting math: a match decision, the open items it allocates to and the chart, in; a
balanced journal entry and the open items' new states, out. No I/O.

Amounts are signed as on the statement (+ money in, - money out). With "bank vs X":
money in is Dr bank / Cr X, money out is Dr X / Cr bank.

- match, partial: per allocation, an invoice is bank vs receivable, a bill bank vs payable
  (Dr bank / Cr receivable for a customer payment, Dr payable / Cr bank for a supplier
  payment); a registered payment or journal line is already on the bank GL account, so it
  gets no posting and is only marked paid. What the allocations leave of the line amount
  goes bank vs interim, so the bank account always moves by the statement line amount.
  A decision's ``differences`` (a deducted fee, a rounding difference within the tenant's
  tolerance) are posted to their role's account: allocations + differences = line amount
  (Dr bank 990, Dr fees 10, Cr receivable 1000).
- suspense, proposal: bank vs interim (2900).
- on_account: bank vs receivable (money in) or payable (money out), with the counterparty
  and no open item.
- rule_posting: bank vs the decision's GL account; a decision naming a posting rule version
  is posted as that version's action says: one bank line, and the line amount split over
  the rule's accounts (``domain/posting_rules.py``).
- reversal_pair: bank vs interim, like suspense. The paired line was decided before and has
  moved the bank account already (to the interim account when it was suspense, which the pair
  then nets to zero); the reversing line must move it back, or the bank GL account and the
  reconciler's reconciled balance would differ from the statement by the line amount. A
  returned payment whose earlier line was matched leaves the reversal on the interim account
  for a person (the invoice stays paid until they unmatch it).

Every bank-side line carries the bank account id and the statement line id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bankrec.contracts import (
    AccountRole,
    DecisionKind,
    EntrySource,
    MatchDecision,
    OpenItem,
    OpenItemKind,
    PostingLine,
    PostingRule,
    PostingRuleActionKind,
    PostingRuleStatus,
)
from bankrec.ledger.domain.amounts import money_of
from bankrec.ledger.domain.chart import Account, Chart
from bankrec.ledger.domain.journal import (
    DESCRIPTION_LENGTH_MAX,
    JournalEntry,
    credit,
    debit,
    entry_id_for,
)
from bankrec.ledger.domain.open_items import apply_allocation
from bankrec.ledger.domain.posting_rules import rule_posting_parts
from bankrec.ledger.errors import (
    CurrencyMismatch,
    DecisionNoLongerFits,
    InvalidDecision,
    UnknownOpenItem,
    UnknownPostingRule,
)

DECISION_FIELD_LENGTH_MAX: dict[str, int] = {
    "decision_id": 200,
    "line_id": 200,
    "account_id": 100,
    "gl_account": 20,
    "counterparty_id": 100,
    "posting_rule_id": 100,
}
"""Longest identifiers the books store; a longer one is refused, never cut short."""

DIFFERENCE_ROLES = (AccountRole.BANK_FEES, AccountRole.ROUNDING)
"""The chart roles a match's difference may be posted to."""


@dataclass(frozen=True, slots=True)
class DecisionPosting:
    """What a decision does to the books: at most one entry, and the changed open items."""

    entry: JournalEntry | None
    items: tuple[OpenItem, ...]


class _Lines:
    """Collects the lines of one entry, each bank-side line with its references."""

    def __init__(self, bank: Account, currency: str, decision: MatchDecision) -> None:
        self._bank = bank
        self._currency = currency
        self._bank_refs: dict[str, str | None] = {
            "bank_account_id": decision.account.account_id,
            "statement_line_id": decision.line_id,
        }
        self.lines: list[PostingLine] = []

    def bank(self, amount: Decimal) -> None:
        """The bank side of a line posted against several accounts: Dr bank for money in."""
        if amount > 0:
            self.lines.append(debit(self._bank, amount, self._currency, **self._bank_refs))
        elif amount < 0:
            self.lines.append(credit(self._bank, -amount, self._currency, **self._bank_refs))

    def counter(self, account: Account, amount: Decimal) -> None:
        """One counter account's share (signed as the line): Cr for money in."""
        if amount > 0:
            self.lines.append(credit(account, amount, self._currency))
        elif amount < 0:
            self.lines.append(debit(account, -amount, self._currency))

    def bank_vs(self, counter: Account, amount: Decimal, **counter_refs: str | None) -> None:
        """Money in (amount > 0): Dr bank / Cr counter; money out: Dr counter / Cr bank."""
        if amount > 0:
            self.lines.append(debit(self._bank, amount, self._currency, **self._bank_refs))
            self.lines.append(credit(counter, amount, self._currency, **counter_refs))
        elif amount < 0:
            self.lines.append(debit(counter, -amount, self._currency, **counter_refs))
            self.lines.append(credit(self._bank, -amount, self._currency, **self._bank_refs))


def post_decision(
    tenant_id: str,
    decision: MatchDecision,
    items: Mapping[str, OpenItem],
    chart: Chart,
    *,
    posted_on: date,
    rule: PostingRule | None = None,
) -> DecisionPosting:
    """The posting of one decision; ``posted_on`` is the date when the line has none.

    ``chart`` must hold the GL account of the decision's bank account; ``rule`` is the
    posting rule version the decision names (``posting_rule_id``/``_version``), if any: a
    rule posting is then posted as the rule's action says (split over its accounts). Raises
    a ``LedgerError`` (and changes nothing) when the decision cannot be posted as it stands.
    """
    _check_identifiers(decision)
    _check_rule(decision, rule)
    line_amount = money_of(decision.amount, what="line amount")
    currency = line_amount.currency
    if decision.account.currency != currency:
        raise CurrencyMismatch(
            f"line {decision.line_id} is in {currency} but its bank account is kept in "
            f"{decision.account.currency}"
        )
    bank = chart.bank_account(decision.account.account_id)
    if bank.currency != currency:
        raise CurrencyMismatch(
            f"line {decision.line_id} is in {currency}; GL {bank.code} is kept in {bank.currency}"
        )
    lines = _Lines(bank, currency, decision)
    changed: dict[str, OpenItem] = {}
    kind = decision.kind

    if kind in (DecisionKind.MATCH, DecisionKind.PARTIAL):
        if not decision.allocations:
            raise InvalidDecision(
                f"{kind.value} decision {decision.decision_id} has no allocations"
            )
        allocated = Decimal(0)
        for allocation in decision.allocations:
            item = changed.get(allocation.item_id) or items.get(allocation.item_id)
            if item is None:
                raise UnknownOpenItem(
                    f"decision {decision.decision_id} allocates to unknown open item "
                    f"{allocation.item_id}"
                )
            decided_on = allocation.item_version
            if decided_on is not None and decided_on != items[item.item_id].version:
                raise DecisionNoLongerFits(
                    f"decision {decision.decision_id} was made on version {decided_on} of "
                    f"{item.item_id}, which is at version {items[item.item_id].version} now "
                    f"({item.status.value}, remaining {item.remaining}); decide the line again"
                )
            amount = money_of(allocation.amount, what=f"allocation to {allocation.item_id}")
            if amount.currency != currency:
                raise CurrencyMismatch(
                    f"allocation to {allocation.item_id} is in {amount.currency}, the line in "
                    f"{currency}"
                )
            changed[item.item_id] = apply_allocation(item, amount)
            allocated += amount.amount
            refs: dict[str, str | None] = {
                "open_item_id": item.item_id,
                "counterparty_id": item.counterparty_id,
            }
            if item.kind is OpenItemKind.INVOICE:
                lines.bank_vs(chart.for_role(AccountRole.RECEIVABLE), amount.amount, **refs)
            elif item.kind is OpenItemKind.BILL:
                lines.bank_vs(chart.for_role(AccountRole.PAYABLE), amount.amount, **refs)
            # a registered payment or journal line is on the bank GL already: no posting
        for difference in decision.differences:
            amount = money_of(difference.amount, what=f"{difference.role.value} difference")
            if amount.currency != currency:
                raise CurrencyMismatch(
                    f"{difference.role.value} difference is in {amount.currency}, the line in "
                    f"{currency}"
                )
            if difference.role not in DIFFERENCE_ROLES:
                raise InvalidDecision(
                    f"decision {decision.decision_id} posts a difference to the "
                    f"{difference.role.value} account; only "
                    f"{', '.join(r.value for r in DIFFERENCE_ROLES)} take differences"
                )
            # signed as the line: a fee short of money in is Dr fees / Cr bank
            lines.bank_vs(chart.for_role(difference.role), amount.amount)
            allocated += amount.amount
        if allocated * line_amount.amount < 0 or abs(allocated) > abs(line_amount.amount):
            raise InvalidDecision(
                f"decision {decision.decision_id} allocates {allocated} {currency}, more than "
                f"the line amount {line_amount}"
            )
        if kind is DecisionKind.MATCH:
            unsettled = [item for item in changed.values() if item.remaining.amount != 0]
            if unsettled:
                first = unsettled[0]
                raise DecisionNoLongerFits(
                    f"match decision {decision.decision_id} no longer settles {first.item_id}: "
                    f"{first.remaining} would stay open (the item changed since the decision); "
                    "decide the line again, or send it as partial"
                )
        lines.bank_vs(chart.for_role(AccountRole.INTERIM), line_amount.amount - allocated)
    elif kind in (DecisionKind.SUSPENSE, DecisionKind.PROPOSAL):
        lines.bank_vs(chart.for_role(AccountRole.INTERIM), line_amount.amount)
    elif kind is DecisionKind.ON_ACCOUNT:
        if not decision.counterparty_id:
            raise InvalidDecision(
                f"on_account decision {decision.decision_id} names no counterparty_id"
            )
        if decision.allocations:
            raise InvalidDecision(
                f"on_account decision {decision.decision_id} must not allocate to open items"
            )
        role = AccountRole.RECEIVABLE if line_amount.amount > 0 else AccountRole.PAYABLE
        lines.bank_vs(
            chart.for_role(role), line_amount.amount, counterparty_id=decision.counterparty_id
        )
    elif kind is DecisionKind.RULE_POSTING and rule is not None:
        for part in rule_posting_parts(rule.action, line_amount):
            account = chart.account(part.gl_account)
            if account.role is AccountRole.BANK:
                raise InvalidDecision(
                    f"posting rule {rule.rule_id} v{rule.version} posts to bank GL {account.code}"
                )
            lines.counter(account, part.amount.amount)
        lines.bank(line_amount.amount)
    elif kind is DecisionKind.RULE_POSTING:
        if not decision.gl_account:
            raise InvalidDecision(f"rule_posting decision {decision.decision_id} has no gl_account")
        account = chart.account(decision.gl_account)
        if account.role is AccountRole.BANK:
            raise InvalidDecision(
                f"rule_posting decision {decision.decision_id} posts to bank GL {account.code}; "
                "a rule posts against a non-bank account"
            )
        lines.bank_vs(account, line_amount.amount)
    elif kind is DecisionKind.REVERSAL_PAIR:
        lines.bank_vs(chart.for_role(AccountRole.INTERIM), line_amount.amount)
    else:  # pragma: no cover - a new DecisionKind must be given its posting here
        raise InvalidDecision(f"decision kind {kind.value} has no posting rule")

    entry = None
    if lines.lines:
        entry = JournalEntry(
            entry_id=entry_id_for(tenant_id, decision.decision_id),
            idempotency_key=decision.decision_id,
            posting_date=decision.booking_date or posted_on,
            source=EntrySource.DECISION,
            source_ref=decision.decision_id,
            description=f"{kind.value}: {decision.explanation}"[:DESCRIPTION_LENGTH_MAX],
            lines=tuple(lines.lines),
            decision_kind=kind.value,
            bank_account_id=decision.account.account_id,
            statement_line_id=decision.line_id,
            posting_rule_id=rule.rule_id if rule else None,
            posting_rule_version=rule.version if rule else None,
        )
    # one decision is one change of each item it touches, however many allocations it has
    updated = tuple(
        item.model_copy(update={"version": items[item_id].version + 1})
        for item_id, item in changed.items()
    )
    return DecisionPosting(entry=entry, items=updated)


def _check_rule(decision: MatchDecision, rule: PostingRule | None) -> None:
    """A decision naming a posting rule must be one the rule's action can make."""
    named = decision.posting_rule_id is not None or decision.posting_rule_version is not None
    if not named:
        if rule is not None:
            raise InvalidDecision(f"decision {decision.decision_id} names no posting rule")
        return
    if rule is None or (rule.rule_id, rule.version) != (
        decision.posting_rule_id,
        decision.posting_rule_version,
    ):
        raise UnknownPostingRule(
            f"decision {decision.decision_id} names posting rule {decision.posting_rule_id} "
            f"version {decision.posting_rule_version}, which the ledger does not have"
        )
    if rule.status is not PostingRuleStatus.ACTIVE:
        raise DecisionNoLongerFits(
            f"posting rule {rule.rule_id} version {rule.version} is {rule.status.value}"
        )
    expected = {
        PostingRuleActionKind.POST_TO_ACCOUNT: DecisionKind.RULE_POSTING,
        PostingRuleActionKind.SUSPENSE: DecisionKind.SUSPENSE,
    }[rule.action.kind]
    if decision.kind is not expected:
        raise InvalidDecision(
            f"decision {decision.decision_id} is {decision.kind.value}, but posting rule "
            f"{rule.rule_id} v{rule.version} makes {expected.value} decisions"
        )
    if decision.gl_account is not None and decision.gl_account != rule.action.gl_account:
        raise InvalidDecision(
            f"decision {decision.decision_id} posts to {decision.gl_account}, but posting rule "
            f"{rule.rule_id} v{rule.version} posts to {rule.action.gl_account}"
        )


def _check_identifiers(decision: MatchDecision) -> None:
    values = {
        "decision_id": decision.decision_id,
        "line_id": decision.line_id,
        "account_id": decision.account.account_id,
        "gl_account": decision.gl_account,
        "counterparty_id": decision.counterparty_id,
        "posting_rule_id": decision.posting_rule_id,
    }
    for name, value in values.items():
        limit = DECISION_FIELD_LENGTH_MAX[name]
        if value is not None and len(value) > limit:
            raise InvalidDecision(
                f"decision {decision.decision_id[:80]!r}: {name} is {len(value)} characters "
                f"long; the ledger keeps at most {limit}"
            )
        if value is not None and not value.strip():
            raise InvalidDecision(f"decision {decision.decision_id[:80]!r}: {name} is empty")
