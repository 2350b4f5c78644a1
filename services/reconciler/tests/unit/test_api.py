"""The HTTP contract, on the in-memory adapter: routes, JSON shapes, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from reconciler_factories import TENANT_KEYS, Messages, auth_headers

from bankrec.contracts import DecisionKind
from bankrec.reconciler.adapters import MemoryStore
from bankrec.reconciler.api import install_api
from bankrec.reconciler.use_cases import Reconciler

REPORT_KEYS = {
    "account_id",
    "account_number_masked",
    "currency",
    "status",
    "statement_ids",
    "opening_balance",
    "statement_balance",
    "reconciled_balance",
    "difference",
    "lines",
    "reconciled",
    "matched",
    "in_suspense",
    "other",
    "outstanding",
}


@dataclass
class Api:
    http: httpx.AsyncClient
    reconciler: Reconciler
    store: MemoryStore
    ready: list[bool]


@pytest.fixture
async def api(tenant_id: str) -> AsyncIterator[Api]:
    store = MemoryStore()
    reconciler = Reconciler(store.units_of_work())
    ready = [True]
    app = FastAPI()
    install_api(app, reconciler, ready=lambda: ready[0], tenant_keys=TENANT_KEYS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://reconciler", headers=auth_headers(tenant_id)
    ) as http:
        yield Api(http, reconciler, store, ready)


async def load_month(api: Api, make: Messages) -> None:
    await api.reconciler.record_statement(make.envelope(make.header(closing="1150.00")))
    await api.reconciler.record_line(make.envelope(make.line("l1", "200.00")))
    await api.reconciler.record_line(make.envelope(make.line("l2", "-50.00")))
    await api.reconciler.record_decision(make.envelope(make.decision("l1", "200.00")))
    await api.reconciler.record_decision(
        make.envelope(make.decision("l2", "-50.00", DecisionKind.SUSPENSE))
    )
    await api.reconciler.record_posting(make.envelope(make.posting("l1", "200.00")))


def path(make: Messages, suffix: str = "") -> str:
    return f"/v1/tenants/{make.tenant_id}/accounts/{make.account_id}{suffix}"


async def test_health_says_ok_once_ready(api: Api) -> None:
    api.ready[0] = False
    response = await api.http.get("/health")
    assert (response.status_code, response.json()) == (503, {"status": "starting"})
    api.ready[0] = True
    response = await api.http.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_report_json(api: Api, messages: Messages) -> None:
    await load_month(api, messages)

    response = await api.http.get(path(messages, "/report"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == REPORT_KEYS
    assert body == {
        "account_id": messages.account_id,
        "account_number_masked": "***********7947",
        "currency": "NOK",
        "status": "on_hold",
        "statement_ids": ["stmt-1"],
        "opening_balance": "1000.00",
        "statement_balance": "1150.00",
        "reconciled_balance": "1200.00",
        "difference": "-50.00",
        "lines": 2,
        "reconciled": 1,
        "matched": 1,
        "in_suspense": 1,
        "other": 0,
        "outstanding": 1,
    }


async def test_report_text(api: Api, messages: Messages) -> None:
    await load_month(api, messages)

    response = await api.http.get(path(messages, "/report.txt"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "| difference        |" in response.text
    assert "-50.00 NOK |" in response.text
    assert messages.iban not in response.text


async def test_accounts_lists_every_account_with_its_summary(api: Api, messages: Messages) -> None:
    second = Messages(tenant_id=messages.tenant_id, iban="NO8330001234567")
    await load_month(api, messages)
    await api.reconciler.record_statement(second.envelope(second.header(opening="5.00")))

    response = await api.http.get(f"/v1/tenants/{messages.tenant_id}/accounts")

    assert response.status_code == 200
    body = response.json()
    assert body["tenant_id"] == messages.tenant_id
    accounts = {a["account_id"]: a for a in body["accounts"]}
    assert set(accounts) == {messages.account_id, second.account_id}
    assert all(set(a) == REPORT_KEYS for a in body["accounts"])
    assert accounts[second.account_id]["opening_balance"] == "5.00"
    empty = await api.http.get("/v1/tenants/nobody/accounts", headers=auth_headers("nobody"))
    assert empty.json() == {"tenant_id": "nobody", "accounts": []}


@pytest.mark.parametrize("suffix", ["/report", "/report.txt"])
async def test_unknown_account_is_404_with_an_error_body(
    api: Api, messages: Messages, suffix: str
) -> None:
    response = await api.http.get(path(messages, suffix))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "account_not_found"
    assert messages.account_id in error["message"]


async def test_put_balances_by_hand(api: Api, messages: Messages) -> None:
    await load_month(api, messages)

    opening = await api.http.put(path(messages, "/opening-balance"), json={"amount": "950.00"})
    statement = await api.http.put(
        path(messages, "/statement-balance"),
        json={"amount": "1150", "currency": "NOK"},
        headers={"x-correlation-id": "req-42"},
    )

    assert opening.status_code == 200
    assert opening.json()["opening_balance"] == "950.00"
    assert statement.status_code == 200
    assert statement.json()["statement_balance"] == "1150.00"
    assert statement.json()["difference"] == "0.00"
    report = (await api.http.get(path(messages, "/report"))).json()
    assert (report["opening_balance"], report["difference"]) == ("950.00", "0.00")
    assert api.store.outbox[-1].envelope.correlation_id == "req-42"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": 123.45}, "invalid_request"),
        ({"amount": 123}, "invalid_request"),
        ({"amount": "12,50"}, "invalid_request"),
        ({"amount": "1e3"}, "invalid_request"),
        ({"amount": "1.00", "note": "x"}, "invalid_request"),
        ({}, "invalid_request"),
        ({"amount": "1.005"}, "amount_precision"),
        ({"amount": "1.00", "currency": "SEK"}, "currency_mismatch"),
    ],
)
async def test_put_refuses_anything_but_an_exact_amount_string(
    api: Api, messages: Messages, body: dict[str, object], code: str
) -> None:
    await load_month(api, messages)
    for suffix in ("/opening-balance", "/statement-balance"):
        response = await api.http.put(path(messages, suffix), json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]


async def test_put_on_an_unknown_account_is_404(api: Api, messages: Messages) -> None:
    response = await api.http.put(path(messages, "/opening-balance"), json={"amount": "1.00"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "account_not_found"


async def test_invalid_tenant_and_unknown_routes_use_the_error_shape(api: Api) -> None:
    bad_tenant = await api.http.get("/v1/tenants/bad%20tenant/accounts")
    assert bad_tenant.status_code == 422
    assert bad_tenant.json()["error"]["code"] == "invalid_request"
    missing = await api.http.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
