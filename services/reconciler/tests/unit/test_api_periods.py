"""The period workflow over HTTP, on the in-memory adapter: seed 003 end to end, the
refusals' status codes, flags, lines by hand, CSV downloads, and the period events staged."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from reconciler_factories import Messages
from workflow_factories import ACTOR, adjustment_entry, entry

from bankrec.contracts import PERIOD_EVENTS, EntrySource, PeriodEvent
from bankrec.reconciler.adapters import MemoryStore
from bankrec.reconciler.api_periods import install_period_api
from bankrec.reconciler.errors import AccountNotFoundError, ReconcilerError
from bankrec.reconciler.use_cases import Reconciler


@dataclass
class Api:
    http: httpx.AsyncClient
    reconciler: Reconciler
    store: MemoryStore

    def events(self) -> list[PeriodEvent]:
        return [
            m.envelope.payload
            for m in self.store.outbox
            if m.topic is PERIOD_EVENTS and isinstance(m.envelope.payload, PeriodEvent)
        ]


async def _reconciler_error(_request: Request, exc: Exception) -> JSONResponse:
    """The service's own mapping lives in api.py; the few this file meets, here."""
    assert isinstance(exc, ReconcilerError)
    status = 404 if isinstance(exc, AccountNotFoundError) else 422
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=status)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    store = MemoryStore()
    reconciler = Reconciler(store.units_of_work())
    app = FastAPI()
    install_period_api(app, reconciler)
    app.add_exception_handler(ReconcilerError, _reconciler_error)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reconciler") as http:
        yield Api(http, reconciler, store)


@pytest.fixture
def make(tenant_id: str) -> Messages:
    return Messages(tenant_id=tenant_id, iban="SE4550000000058398257466", currency="SEK")


def periods(make: Messages, suffix: str = "") -> str:
    return f"/v1/tenants/{make.tenant_id}/accounts/{make.account_id}/periods{suffix}"


async def january(api: Api, make: Messages) -> None:
    """Seed 003: three entries in the books, the balances entered by hand."""
    for posted in (
        entry(make, "je-supplier", "-250000", source=EntrySource.MANUAL),
        entry(make, "je-customer", "62500", source=EntrySource.MANUAL),
        entry(make, "je-journal", "-10000", source=EntrySource.MANUAL),
    ):
        await api.reconciler.record_posting(make.envelope(posted))
    await api.reconciler.enter_opening_balance(make.tenant_id, make.account_id, Decimal("25000"))
    await api.reconciler.enter_statement_balance(
        make.tenant_id, make.account_id, Decimal("-172550")
    )


async def test_seed_003_over_http(api: Api, make: Messages) -> None:
    await january(api, make)
    got = (await api.http.get(periods(make, "/current"))).json()
    assert (got["status"], got["difference"], got["can_release"]) == (
        "on_hold",
        "-197550.00",
        False,
    )
    assert [b["code"] for b in got["release_blockers"]] == ["difference_not_zero"]
    assert got["diagnosis"][-1]["code"] == "transfer_difference"

    marked = await api.http.post(
        periods(make, "/1/items/flags"),
        json={"actor": ACTOR, "all": True, "kind": "ledger_entry", "reconciled": True},
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["period"]["difference"] == "-50.00"

    refused = await api.http.post(periods(make, "/1/release"), json={"actor": ACTOR})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "difference_not_zero"
    assert "-50.00 SEK" in refused.json()["error"]["message"]

    created = await api.http.post(
        periods(make, "/1/adjustments"),
        json={"actor": ACTOR, "reason": "bank fee", "kind": "bank_fee", "amount": "-50"},
        headers={"X-Correlation-Id": "req-fee"},
    )
    assert created.status_code == 201, created.text
    (adjustment,) = created.json()["period"]["adjustments"]
    assert adjustment["state"] == "requested"
    assert adjustment["ledger_request"] == {
        "actor": ACTOR,
        "reason": "bank fee",
        "kind": "bank_fee",
        "amount": "-50.00",
        "currency": "SEK",
        "bank_account_id": make.account_id,
        "adjustment_id": adjustment["adjustment_id"],
    }
    ledger_posting = adjustment_entry(make, adjustment["adjustment_id"], "-50")
    await api.reconciler.record_posting(make.envelope(ledger_posting))
    got = (await api.http.get(periods(make, "/1"))).json()
    assert (got["difference"], got["adjustments"][0]["state"], got["can_release"]) == (
        "0.00",
        "posted",
        True,
    )

    saved = await api.http.post(periods(make, "/1/balanced"), json={"actor": ACTOR})
    assert saved.json()["period"]["status"] == "balanced"
    released = (await api.http.post(periods(make, "/1/release"), json={"actor": ACTOR})).json()
    assert (released["period"]["status"], released["period"]["sequence_no"]) == ("released", 1)
    assert released["next_period"]["period_no"] == 2
    assert released["next_period"]["opening_balance"] == "-172550.00"
    assert released["next_period"]["opening_source"] == "previous_period"

    voided = await api.http.post(
        periods(make, "/1/void"), json={"actor": "controller", "reason": "fee date wrong"}
    )
    assert voided.json()["period"]["status"] == "void"
    assert voided.json()["next_period"]["opening_source"] != "previous_period"
    again = (await api.http.post(periods(make, "/1/release"), json={"actor": ACTOR})).json()
    assert again["period"]["sequence_no"] == 2

    history = (await api.http.get(periods(make))).json()["periods"]
    assert [(h["sequence_no"], h["status"], h["voided_by"]) for h in history] == [
        (1, "void", "controller"),
        (2, "released", None),
        (None, "on_hold", None),
    ]
    kinds = [(e.event.value, e.status.value, e.sequence_no) for e in api.events()]
    assert kinds[-7:] == [
        ("balanced", "balanced", None),
        ("released", "released", 1),
        ("opened", "on_hold", None),
        ("voided", "void", None),
        ("updated", "on_hold", None),
        ("released", "released", 2),
        ("updated", "on_hold", None),  # the next period's opening balance, from release 2
    ]
    opening = await api.http.put(
        periods(make, "/current/opening-balance"), json={"actor": ACTOR, "amount": "1.00"}
    )
    assert (opening.status_code, opening.json()["error"]["code"]) == (
        409,
        "opening_from_previous_period",
    )
    statement = await api.http.put(
        periods(make, "/2/statement-balance"), json={"actor": ACTOR, "amount": "-172550"}
    )
    assert statement.json()["period"]["difference"] == "0.00"
    fee_event = next(m for m in api.store.outbox if m.envelope.correlation_id == "req-fee")
    assert fee_event.key == f"{make.tenant_id}:{make.account_id}"


async def test_refusals_map_to_status_codes(api: Api, make: Messages) -> None:
    await january(api, make)
    cases = [
        ("get", periods(make, "/7"), None, 404, "period_not_found"),
        (
            "post",
            periods(make, "/1/void"),
            {"actor": ACTOR, "reason": "r"},
            409,
            "period_not_released",
        ),
        ("post", periods(make, "/1/balanced"), {"actor": ACTOR}, 409, "difference_not_zero"),
        (
            "put",
            periods(make, "/1/items/ledger_entry/je-nope"),
            {"actor": ACTOR, "reconciled": True},
            404,
            "item_not_found",
        ),
        (
            "post",
            periods(make, "/1/adjustments"),
            {"actor": ACTOR, "reason": "r", "kind": "other", "amount": "-1"},
            422,
            "invalid_command",
        ),
        (
            "post",
            periods(make, "/1/items/flags"),
            {"actor": ACTOR, "reconciled": True},
            422,
            "invalid_command",
        ),
    ]
    for method, url, body, status, code in cases:
        response = await api.http.request(method.upper(), url, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), url
    unknown = await api.http.get(f"/v1/tenants/{make.tenant_id}/accounts/acc-nope/periods/current")
    assert unknown.status_code == 404
    as_number = await api.http.post(
        periods(make, "/1/adjustments"),
        json={"actor": ACTOR, "reason": "r", "kind": "bank_fee", "amount": -50},
    )
    assert as_number.status_code == 422  # a JSON number is refused: floats are inexact


async def test_one_items_flags_and_lines_by_hand(api: Api, make: Messages) -> None:
    await january(api, make)
    flagged = await api.http.put(
        periods(make, "/current/items/ledger_entry/je-customer"),
        json={"actor": ACTOR, "reconciled": True},
    )
    assert flagged.json()["period"]["entries_reconciled"] == 1
    items = (await api.http.get(periods(make, "/1/items"), params={"reconciled": "true"})).json()
    assert [(i["item_id"], i["cleared"], i["marked_by"]) for i in items["items"]] == [
        ("je-customer", True, ACTOR)
    ]

    added = await api.http.post(
        periods(make, "/1/statement-lines"),
        json={
            "actor": ACTOR,
            "reason": "mid-month start",
            "amount": "-10000",
            "booking_date": "2017-01-05",
            "text": "journal 7",
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["period"]["lines"] == 1
    line_id = f"{make.account_id}-p1-manual-1"
    removed = await api.http.request(
        "DELETE",
        periods(make, f"/1/statement-lines/{line_id}"),
        json={"actor": ACTOR, "reason": "typed by mistake"},
    )
    assert removed.status_code == 200, removed.text
    report = (await api.http.get(periods(make, "/1/report"))).json()
    assert [r["line_id"] for r in report["removed_lines"]] == [line_id]
    assert [a["action"] for a in report["audit"]] == ["line_added", "line_removed"]
    assert report["audit"][1]["reason"] == "typed by mistake"


async def test_csv_downloads(api: Api, make: Messages) -> None:
    await january(api, make)
    detail = await api.http.get(periods(make, "/1/report.csv"))
    assert detail.headers["content-type"].startswith("text/csv")
    assert (
        detail.headers["content-disposition"] == f'attachment; filename="{make.account_id}-p1.csv"'
    )
    table = list(csv.DictReader(io.StringIO(detail.text)))
    assert sum(1 for r in table if r["section"] == "outstanding") == 3
    history = await api.http.get(periods(make, ".csv"))
    assert history.text.splitlines()[0].startswith("sequence_no,period_no,period_id,status")
    diagnosis = (await api.http.get(periods(make, "/1/diagnosis"))).json()
    assert diagnosis["balanced"] is False
    assert {f["code"] for f in diagnosis["findings"]} >= {
        "entry_not_on_statement",
        "transfer_difference",
    }


async def test_the_service_api_mounts_the_routes_behind_the_tenant_key(make: Messages) -> None:
    """``api.install_api`` mounts these routes with the tenant key guard (one line there)."""
    from reconciler_factories import TENANT_KEYS, auth_headers

    from bankrec.reconciler.api import install_api

    store = MemoryStore()
    reconciler = Reconciler(store.units_of_work())
    app = FastAPI()
    install_api(app, reconciler, ready=lambda: True, tenant_keys=TENANT_KEYS)
    await reconciler.record_posting(make.envelope(entry(make, "je-1", "5.00")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reconciler") as http:
        assert (await http.get(periods(make))).status_code == 401
        other = await http.get(periods(make), headers=auth_headers(f"{make.tenant_id}-x"))
        assert other.status_code == 403
        mine = await http.get(periods(make), headers=auth_headers(make.tenant_id))
        assert mine.status_code == 200
        refused = await http.post(
            periods(make, "/1/release"), json={"actor": ACTOR}, headers=auth_headers(make.tenant_id)
        )
        assert refused.json()["error"]["code"] == "statement_balance_missing"
