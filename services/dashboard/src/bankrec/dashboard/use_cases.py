"""What each view of the page shows and what each action does, over the services' APIs.

The only I/O is the services' HTTP APIs (``ServiceApis``); the arithmetic is in ``domain``.
The manual match of a suspense line is the ledger's suspense allocation (the reconciler has
no manual-match route yet); removing a match is the ledger's unmatch of the line's decision,
found through the matcher.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bankrec.contracts import Money, OpenItem, OpenItemStatus
from bankrec.dashboard.domain import (
    QueuedLine,
    SuspenseAge,
    SuspenseAgeHistory,
    age_days,
    candidates_for,
    suspense_age,
)
from bankrec.dashboard.service_apis import ServiceApis, segment

WAITING_STATUSES = ("open", "partly_allocated")


def _money(value: dict[str, Any]) -> Money:
    return Money.of(Decimal(str(value["amount"])), str(value["currency"]))


def _money_json(money: Money) -> dict[str, str]:
    return {"amount": str(money.amount), "currency": money.currency}


def age_json(sample: SuspenseAge) -> dict[str, Any]:
    return {
        "at": sample.at.isoformat(),
        "lines": sample.lines,
        "oldest_days": sample.oldest_days,
        "mean_days": None if sample.mean_days is None else str(sample.mean_days),
    }


class Dashboard:
    """One tenant's views and actions; every call takes the key the browser sent."""

    def __init__(self, apis: ServiceApis) -> None:
        self.apis = apis
        self._ages: dict[str, SuspenseAgeHistory] = {}

    # -- log-in

    async def session(self, tenant_id: str, api_key: str) -> dict[str, Any]:
        """Checks the key against the reconciler (401/403 come back as they are)."""
        answer = await self.apis.call("reconciler", "GET", tenant_id, "/accounts", api_key)
        return {"tenant_id": tenant_id, "accounts": len(answer["accounts"])}

    # -- accounts with their current period

    async def accounts(self, tenant_id: str, api_key: str) -> dict[str, Any]:
        listed = await self.apis.call("reconciler", "GET", tenant_id, "/accounts", api_key)
        periods = await asyncio.gather(
            *(
                self.apis.call(
                    "reconciler",
                    "GET",
                    tenant_id,
                    f"/accounts/{segment(a['account_id'])}/periods/current",
                    api_key,
                    allow_404=True,
                )
                for a in listed["accounts"]
            )
        )
        rows = []
        for report, period in zip(listed["accounts"], periods, strict=True):
            rows.append(
                {
                    "account_id": report["account_id"],
                    "account_number_masked": report.get("account_number_masked"),
                    "currency": report["currency"],
                    "period_no": period["period_no"] if period else None,
                    "status": period["status"] if period else report["status"],
                    "statement_balance": report["statement_balance"],
                    "reconciled_balance": report["reconciled_balance"],
                    "difference": report["difference"],
                    "lines": report["lines"],
                    "in_suspense": report["in_suspense"],
                    # the diagnosis explains a difference; with none there is nothing to explain
                    "diagnosis": (
                        period["diagnosis"] if period and _not_zero(report["difference"]) else []
                    ),
                }
            )
        return {"tenant_id": tenant_id, "accounts": rows}

    # -- the suspense queue

    async def suspense_queue(
        self, tenant_id: str, api_key: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """Waiting suspense postings, oldest first, each with the matcher's decision
        (explanation, proposals, evidence) and open items that could take it."""
        now = now or datetime.now(UTC)
        postings, items = await asyncio.gather(
            self._waiting_postings(tenant_id, api_key), self._open_items(tenant_id, api_key)
        )
        decisions = await asyncio.gather(
            *(
                self.apis.call(
                    "matcher",
                    "GET",
                    tenant_id,
                    f"/decisions/{segment(p['statement_line_id'])}",
                    api_key,
                    allow_404=True,
                )
                if p.get("statement_line_id")
                else _nothing()
                for p in postings
            )
        )
        lines = []
        for posting, decision in zip(postings, decisions, strict=True):
            remaining = _money(posting["remaining"])
            lines.append(
                {
                    **posting,
                    "age_days": age_days(date.fromisoformat(posting["posting_date"]), now.date()),
                    "decision": _decision_view(decision),
                    "candidates": [
                        {
                            "item_id": c.item_id,
                            "counterparty_name": c.counterparty_name,
                            "remaining": _money_json(c.remaining),
                            "exact_amount": c.exact_amount,
                        }
                        for c in candidates_for(remaining, items)
                    ],
                }
            )
        sample = self.record_suspense_age(tenant_id, postings, now)
        return {"tenant_id": tenant_id, "lines": lines, "age": age_json(sample)}

    async def _waiting_postings(self, tenant_id: str, api_key: str) -> list[dict[str, Any]]:
        found = await asyncio.gather(
            *(
                self.apis.call(
                    "ledger", "GET", tenant_id, "/suspense-postings", api_key, params={"status": s}
                )
                for s in WAITING_STATUSES
            )
        )
        postings = [p for answer in found for p in answer["suspense_postings"]]
        return sorted(postings, key=lambda p: (p["posting_date"], p["suspense_id"]))

    async def _open_items(self, tenant_id: str, api_key: str) -> list[OpenItem]:
        found = await asyncio.gather(
            *(
                self.apis.call(
                    "ledger", "GET", tenant_id, "/open-items", api_key, params={"status": s.value}
                )
                for s in (OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID)
            )
        )
        return [OpenItem.model_validate(i) for answer in found for i in answer["open_items"]]

    def record_suspense_age(
        self, tenant_id: str, postings: list[dict[str, Any]], now: datetime
    ) -> SuspenseAge:
        sample = suspense_age(
            (
                QueuedLine(
                    suspense_id=p["suspense_id"],
                    remaining=_money(p["remaining"]),
                    posting_date=date.fromisoformat(p["posting_date"]),
                )
                for p in postings
            ),
            now,
        )
        self._ages.setdefault(tenant_id, SuspenseAgeHistory()).add(sample)
        return sample

    async def sample_suspense_age(self, tenant_id: str, api_key: str) -> SuspenseAge:
        postings = await self._waiting_postings(tenant_id, api_key)
        return self.record_suspense_age(tenant_id, postings, datetime.now(UTC))

    def suspense_age_history(self, tenant_id: str) -> tuple[SuspenseAge, ...]:
        history = self._ages.get(tenant_id)
        return history.samples if history else ()

    async def allocate(
        self, tenant_id: str, api_key: str, suspense_id: str, body: dict[str, Any]
    ) -> Any:
        return await self.apis.call(
            "ledger",
            "POST",
            tenant_id,
            f"/suspense-postings/{segment(suspense_id)}/allocations",
            api_key,
            json=body,
        )

    async def unmatch_line(
        self, tenant_id: str, api_key: str, line_id: str, actor: str, reason: str
    ) -> Any:
        """Remove the match of a statement line: the ledger reverses its decision's posting
        and parks the amount in suspense again."""
        decision = await self.apis.call(
            "matcher", "GET", tenant_id, f"/decisions/{segment(line_id)}", api_key
        )
        return await self.apis.call(
            "ledger",
            "POST",
            tenant_id,
            f"/decisions/{segment(decision['decision_id'])}/unmatch",
            api_key,
            json={"actor": actor, "reason": reason},
        )

    # -- a period

    def _period_path(self, account_id: str, period: str) -> str:
        return f"/accounts/{segment(account_id)}/periods/{segment(period)}"

    async def period(
        self, tenant_id: str, api_key: str, account_id: str, period: str
    ) -> dict[str, Any]:
        path = self._period_path(account_id, period)
        report, history = await asyncio.gather(
            self.apis.call("reconciler", "GET", tenant_id, f"{path}/report", api_key),
            self.apis.call(
                "reconciler",
                "GET",
                tenant_id,
                f"/accounts/{segment(account_id)}/periods",
                api_key,
            ),
        )
        return {**report, "history": history["periods"]}

    async def create_adjustment(
        self, tenant_id: str, api_key: str, account_id: str, period: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Request the adjustment in the period; the reconciler sends it to the ledger on its
        adjustment-requests topic, and the period counts it once the ledger's posting has come
        back on the postings topic (the page shows it ``requested`` until then)."""
        path = self._period_path(account_id, period)
        # named here, so the one just requested is found among the period's others
        adjustment_id = body.get("adjustment_id") or f"adj-{uuid.uuid4().hex[:12]}"
        created = await self.apis.call(
            "reconciler",
            "POST",
            tenant_id,
            f"{path}/adjustments",
            api_key,
            json={**body, "adjustment_id": adjustment_id},
        )
        requested = next(
            a for a in created["period"]["adjustments"] if a["adjustment_id"] == adjustment_id
        )
        return {"adjustment": requested, "period": created["period"]}

    async def release(
        self, tenant_id: str, api_key: str, account_id: str, period: str, actor: str
    ) -> Any:
        return await self.apis.call(
            "reconciler",
            "POST",
            tenant_id,
            f"{self._period_path(account_id, period)}/release",
            api_key,
            json={"actor": actor},
        )

    async def void(
        self, tenant_id: str, api_key: str, account_id: str, period: str, actor: str, reason: str
    ) -> Any:
        return await self.apis.call(
            "reconciler",
            "POST",
            tenant_id,
            f"{self._period_path(account_id, period)}/void",
            api_key,
            json={"actor": actor, "reason": reason},
        )


def _not_zero(difference: str | None) -> bool:
    """A difference to explain: unknown (no statement balance yet) or not exactly zero."""
    return difference is None or Decimal(difference) != 0


async def _nothing() -> None:
    return None


def _decision_view(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        key: decision.get(key)
        for key in (
            "decision_id",
            "kind",
            "rule",
            "confidence",
            "explanation",
            "evidence",
            "proposals",
            "allocations",
        )
    }
