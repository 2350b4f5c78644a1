"""The HTTP contract: health, index figures, last decision, explain, matching settings, and
the error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from matcher_factories import TENANT_KEYS, Book, auth_headers

from bankrec.matcher.adapters import MemoryStore
from bankrec.matcher.api import install_api
from bankrec.matcher.catch_up import IndexCatchUp
from bankrec.matcher.use_cases import Matcher

KID = "1002345005"


class Service:
    def __init__(self) -> None:
        self.ready = True
        self.catch_up = IndexCatchUp()
        self.store = MemoryStore()
        self.matcher = Matcher(self.store.units_of_work(), catch_up=self.catch_up)
        self.app = FastAPI()
        install_api(self.app, self.matcher, ready=lambda: self.ready, tenant_keys=TENANT_KEYS)


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
async def client(service: Service, tenant_id: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://matcher", headers=auth_headers(tenant_id)
    ) as http:
        yield http


async def test_health_is_503_until_the_broker_runs_and_says_whether_the_index_is_ready(
    service: Service, client: httpx.AsyncClient
) -> None:
    service.ready = False
    starting = await client.get("/health")
    assert (starting.status_code, starting.json()) == (503, {"status": "starting"})
    service.ready = True
    service.catch_up.expect({0: 5})
    assert (await client.get("/health")).json() == {"status": "ok", "index": "catching_up"}
    service.catch_up.read(0, 4)
    assert (await client.get("/health")).json() == {"status": "ok", "index": "ready"}


async def test_index_counts_items_held_and_items_open(
    service: Service, client: httpx.AsyncClient, book: Book
) -> None:
    assert (await client.get(f"/v1/tenants/{book.tenant_id}/index")).json() == {
        "open_items": 0,
        "open": 0,
        "pending_lines": 0,
    }
    paid = book.item("INV-1", "5.00")
    for item in (paid, book.paid(paid), book.item("INV-2", "7.00")):
        await service.matcher.record_open_item(book.envelope(item))
    await service.matcher.decide_line(book.envelope(book.line("l1", "1.00")))
    assert (await client.get(f"/v1/tenants/{book.tenant_id}/index")).json() == {
        "open_items": 2,
        "open": 1,
        "pending_lines": 1,
    }


async def test_the_last_decision_of_a_line_or_404(
    service: Service, client: httpx.AsyncClient, book: Book
) -> None:
    missing = await client.get(f"/v1/tenants/{book.tenant_id}/decisions/l1")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "decision_not_found"
    assert "l1" in missing.json()["error"]["message"]

    await service.matcher.record_open_item(
        book.envelope(book.item("INV-1", "500.00", reference=KID))
    )
    await service.matcher.decide_line(book.envelope(book.line("l1", "200.00", reference=KID)))
    found = await client.get(f"/v1/tenants/{book.tenant_id}/decisions/l1")
    assert found.status_code == 200
    body = found.json()
    assert (body["kind"], body["rule"], body["confidence"]) == (
        "partial",
        "structured_reference",
        "0.95",
    )
    assert body["allocations"] == [
        {
            "item_id": "INV-1",
            "amount": {"amount": "200.00", "currency": "NOK"},
            "item_kind": "invoice",
            "counterparty_id": "C-INV-1",
        }
    ]


async def test_explain_returns_the_decision_without_publishing(
    service: Service, client: httpx.AsyncClient, book: Book
) -> None:
    await service.matcher.record_open_item(
        book.envelope(book.item("INV-1", "500.00", reference=KID))
    )
    line = book.line("l1", "500.00", reference=KID)
    response = await client.post(
        f"/v1/tenants/{book.tenant_id}/explain", json=line.model_dump(mode="json")
    )
    assert response.status_code == 200
    assert response.json()["kind"] == "match"
    assert response.json()["evidence"][0]["item_value"] == KID
    assert (await client.get(f"/v1/tenants/{book.tenant_id}/decisions/l1")).status_code == 404


async def test_explain_refuses_a_float_amount_with_a_clear_error(
    client: httpx.AsyncClient, book: Book
) -> None:
    body = book.line("l1", "500.00").model_dump(mode="json")
    body["amount"]["amount"] = 500.1
    response = await client.post(f"/v1/tenants/{book.tenant_id}/explain", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "amount" in error["message"]
    assert "decimal strings" in error["message"]


async def test_explain_is_503_while_the_index_catches_up(
    service: Service, client: httpx.AsyncClient, book: Book
) -> None:
    service.catch_up.expect({0: 5})
    response = await client.post(
        f"/v1/tenants/{book.tenant_id}/explain",
        json=book.line("l1", "1.00").model_dump(mode="json"),
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "index_not_ready"


async def test_a_bad_tenant_id_and_an_unknown_path_get_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.get("/v1/tenants/not a tenant!/index")
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    unknown = await client.get("/v1/nothing")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


async def test_matching_settings_are_read_replaced_and_checked(
    service: Service, client: httpx.AsyncClient, book: Book
) -> None:
    path = f"/v1/tenants/{book.tenant_id}/matching-settings"
    defaults = (await client.get(path)).json()
    assert (defaults["auto_confirm"], defaults["auto_confirm_threshold"], defaults["version"]) == (
        True,
        "0.9",
        1,
    )

    saved = await client.put(
        path,
        json={"auto_confirm_threshold": "0.95", "date_tolerance_days": 3, "updated_by": "ops"},
    )
    assert saved.status_code == 200
    body = saved.json()
    assert (body["auto_confirm_threshold"], body["date_tolerance_days"], body["version"]) == (
        "0.95",
        3,
        1,
    )
    assert (await client.get(path)).json() == body
    assert service.matcher.policy(book.tenant_id).date_tolerance_days == 3

    for wrong, message in (
        ({"auto_confirm_threshold": "1.2"}, "auto_confirm_threshold 1.2 must be between 0 and 1"),
        ({"date_tolerance_days": -1}, "date_tolerance_days"),
        ({"auto_confirm_threshold": 0.9}, "decimal strings"),
        ({"threshold": "0.9"}, "threshold"),
    ):
        refused = await client.put(path, json=wrong)
        assert refused.status_code == 422, wrong
        assert message in refused.json()["error"]["message"], refused.json()
    assert (await client.get(path)).json()["version"] == 1
