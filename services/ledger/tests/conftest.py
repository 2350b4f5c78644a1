"""Factories every ledger test builds its values with (one tenant per test: ``tenant_id``)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so tests can import their (uniquely named) factory module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bankrec.contracts import (
    Allocation,
    BankAccountRef,
    DecisionKind,
    Envelope,
    MatchDecision,
    Money,
    OpenItem,
    envelope_for,
)
from bankrec.ledger.domain import Chart, OpenItemDraft, new_open_item, parse_draft

ACCOUNT_ID = "acc-0000000000000000demo"
BOOKING_DATE = date(2026, 11, 20)


class Make:
    """Small named factories: ``make.invoice("INV-1", "100.00")``, ``make.decision(...)``."""

    def draft(
        self, item_id: str = "INV-1", kind: str = "invoice", amount: str = "100.00", **fields: Any
    ) -> OpenItemDraft:
        return parse_draft(
            {"item_id": item_id, "kind": kind, "amount": amount, "currency": "NOK", **fields}
        )

    def invoice(self, item_id: str = "INV-1", amount: str = "100.00", **fields: Any) -> OpenItem:
        fields.setdefault("counterparty_id", "C-1")
        return new_open_item(self.draft(item_id, "invoice", amount, **fields))

    def bill(self, item_id: str = "BILL-1", amount: str = "-100.00", **fields: Any) -> OpenItem:
        fields.setdefault("counterparty_id", "S-1")
        return new_open_item(self.draft(item_id, "bill", amount, **fields))

    def payment(self, item_id: str = "PAY-1", amount: str = "-100.00", **fields: Any) -> OpenItem:
        return new_open_item(self.draft(item_id, "payment", amount, **fields))

    def chart(self, account_id: str = ACCOUNT_ID, currency: str = "NOK") -> Chart:
        chart, _link = Chart.default().with_bank_account(account_id, currency)
        return chart

    def decision(
        self,
        kind: DecisionKind | str = DecisionKind.MATCH,
        amount: str = "100.00",
        allocations: Sequence[tuple[str, str] | tuple[str, str, int]] = (),
        *,
        currency: str = "NOK",
        account_id: str = ACCOUNT_ID,
        decision_id: str | None = None,
        line_id: str | None = None,
        booking_date: date | None = BOOKING_DATE,
        **fields: Any,
    ) -> MatchDecision:
        line_id = line_id or f"line-{uuid.uuid4().hex[:12]}"
        fields.setdefault("rule", "test")
        return MatchDecision(
            decision_id=decision_id or f"dec-{line_id}",
            kind=DecisionKind(kind),
            line_id=line_id,
            statement_id="stmt-1",
            account=BankAccountRef(account_id=account_id, currency=currency),
            amount=Money.of(amount, currency),
            booking_date=booking_date,
            confidence="1",
            allocations=[
                Allocation(
                    item_id=allocation[0],
                    amount=Money.of(allocation[1], currency),
                    item_version=allocation[2] if len(allocation) > 2 else None,
                )
                for allocation in allocations
            ],
            explanation=f"test {kind}",
            **fields,
        )

    def envelope(
        self, decision: MatchDecision, tenant_id: str, message_id: str | None = None
    ) -> Envelope[MatchDecision]:
        envelope: Envelope[MatchDecision] = envelope_for(
            decision,
            tenant_id=tenant_id,
            correlation_id="file-sha256",
            message_id=message_id or str(uuid.uuid4()),
        )
        return envelope


@pytest.fixture
def make() -> Make:
    return Make()
