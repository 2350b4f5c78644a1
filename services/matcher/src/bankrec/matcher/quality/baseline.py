"""The exact-amount baseline: what an amount-only matcher does, to compare the engine with.

A line is confirmed automatically when exactly one open item has a remaining amount equal
to the line's (same currency, same sign); that item is then paid. Anything else (no such
item, or several) is suspense. It reads nothing but amounts: no references, texts, names,
dates or reversal flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bankrec.contracts import (
    Allocation,
    DecisionKind,
    MatchDecision,
    Money,
    OpenItem,
    OpenItemStatus,
    StatementLine,
)
from bankrec.matcher.domain import decision_id_for

BASELINE_RULE = "baseline_exact_amount"
OPEN_STATUSES = frozenset({OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID})


class ExactAmountBaseline:
    """One tenant's open items by remaining amount; ``decide`` pays the only one that fits."""

    def __init__(self, tenant_id: str, items: Iterable[OpenItem]) -> None:
        self.tenant_id = tenant_id
        self._items: dict[str, OpenItem] = {}
        self._by_amount: dict[tuple[str, Decimal], set[str]] = {}
        for item in items:
            if item.status in OPEN_STATUSES and not item.remaining.is_zero():
                self._items[item.item_id] = item
                key = (item.remaining.currency, item.remaining.amount)
                self._by_amount.setdefault(key, set()).add(item.item_id)

    def decide(self, line: StatementLine) -> MatchDecision:
        key = (line.amount.currency, line.amount.amount)
        candidates = sorted(self._by_amount.get(key, ()))
        if len(candidates) != 1:
            reason = "no open item" if not candidates else f"{len(candidates)} open items"
            return self._decision(
                line, DecisionKind.SUSPENSE, (), f"{reason} with amount {line.amount}"
            )
        item = self._items.pop(candidates[0])
        self._by_amount[key].discard(item.item_id)  # paid in full: no longer open
        allocation = Allocation(
            item_id=item.item_id,
            amount=Money(amount=line.amount.amount, currency=line.amount.currency),
            item_kind=item.kind.value,
            counterparty_id=item.counterparty_id,
        )
        return self._decision(
            line,
            DecisionKind.MATCH,
            (allocation,),
            f"{line.amount} equals the remaining amount of {item.document_no or item.item_id}, "
            "the only open item with that amount",
        )

    def _decision(
        self,
        line: StatementLine,
        kind: DecisionKind,
        allocations: tuple[Allocation, ...],
        explanation: str,
    ) -> MatchDecision:
        return MatchDecision(
            decision_id=decision_id_for(self.tenant_id, line.line_id),
            kind=kind,
            line_id=line.line_id,
            statement_id=line.statement_id,
            account=line.account,
            amount=line.amount,
            booking_date=line.booking_date,
            rule=BASELINE_RULE if allocations else "suspense",
            confidence=Decimal(1) if allocations else Decimal(0),
            allocations=list(allocations),
            explanation=explanation,
        )
