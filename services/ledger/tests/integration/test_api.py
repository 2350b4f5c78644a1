"""The HTTP contract and the consumer wiring, on both databases, with FastStream's
in-memory ``TestKafkaBroker`` standing in for Kafka (the real broker: test_kafka.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bankrec.contracts import DEAD_LETTERS, DECISIONS, OPEN_ITEMS, POSTINGS, REFUSED_DECISIONS
from bankrec.runtime import encode_envelope

DEMO_CSV = Path(__file__).resolve().parents[4] / "deploy" / "demo" / "open-items.csv"
ACCOUNT = "acc-0000000000000000demo"


def invoice_body(**fields: Any) -> dict[str, Any]:
    return {"item_id": "INV-1", "kind": "invoice", "amount": "12500.00", "currency": "NOK"} | fields


async def test_health(service: Any) -> None:
    response = await service.http.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_create_then_repeat_an_open_item(service: Any) -> None:
    body = invoice_body(reference="1002345005", counterparty_accounts="12345678903")
    created = await service.http.post(service.url("/open-items"), json=body)
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["amount"] == {"amount": "12500.00", "currency": "NOK"}
    assert item["remaining"] == {"amount": "12500.00", "currency": "NOK"}
    assert (item["status"], item["version"], item["reference_kind"]) == ("open", 1, "kid")
    assert item["counterparty_accounts"] == ["12345678903"]
    again = await service.http.post(service.url("/open-items"), json=body)
    assert (again.status_code, again.json()) == (200, item)
    fetched = await service.http.get(service.url("/open-items/INV-1"))
    assert fetched.json() == item


@pytest.mark.parametrize("amount", [12500.0, 12500, 1.1])
async def test_a_numeric_amount_is_refused(service: Any, amount: Any) -> None:
    response = await service.http.post(service.url("/open-items"), json=invoice_body(amount=amount))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "amount"
    assert "decimal string" in error["message"]


async def test_invalid_fields_are_named(service: Any) -> None:
    response = await service.http.post(
        service.url("/open-items"),
        json=invoice_body(reference="1002345006", due_date="2026-02-30", amount="1.234"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_open_item"
    assert {d["field"] for d in error["details"]} == {"reference", "due_date", "amount"}


async def test_unknown_fields_and_bad_tenants_are_refused(service: Any) -> None:
    extra = await service.http.post(service.url("/open-items"), json=invoice_body(colour="red"))
    assert (extra.status_code, extra.json()["error"]["code"]) == (422, "invalid_request")
    tenant = await service.http.get("/v1/tenants/bad:tenant/open-items")
    assert tenant.status_code == 422


async def test_an_unknown_item_is_a_404_in_the_error_shape(service: Any) -> None:
    response = await service.http.get(service.url("/open-items/NOPE"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "open_item_not_found"


async def test_import_csv(service: Any) -> None:
    text = DEMO_CSV.read_bytes()
    headers = {"content-type": "text/csv"}
    first = await service.http.post(
        service.url("/open-items/import"), content=text, headers=headers
    )
    assert first.json() == {"imported": 7, "unchanged": 0, "errors": []}
    again = await service.http.post(
        service.url("/open-items/import"), content=text, headers=headers
    )
    assert again.json() == {"imported": 0, "unchanged": 7, "errors": []}
    listed = (await service.http.get(service.url("/open-items"))).json()["open_items"]
    assert len(listed) == 7
    await service.wait_published(OPEN_ITEMS.name, 7)
    assert len(service.published[OPEN_ITEMS.name]) == 7


async def test_import_reports_bad_rows(service: Any) -> None:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("1250.00", '"1250,00"')  # a decimal comma, quoted
    body = ("\ufeff" + "\n".join(lines)).encode()  # with the BOM Excel writes
    response = await service.http.post(service.url("/open-items/import"), content=body)
    assert response.status_code == 200
    result = response.json()
    assert result["imported"] == 6
    assert [(e["row"], e["field"]) for e in result["errors"]] == [(4, "amount")]
    assert "1250,00" in result["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"item_id,kind\nI-1,invoice\n", 400, "invalid_csv"),
        (b"", 400, "invalid_csv"),
        ("item_id;beløp\n".encode("latin-1"), 400, "invalid_csv"),
        (b"x" * (64 * 1024 + 1), 413, "import_too_large"),
    ],
    ids=["missing-columns", "empty", "not-utf8", "too-large"],
)
async def test_import_refuses_unreadable_files(
    service: Any, body: bytes, status: int, code: str
) -> None:
    response = await service.http.post(service.url("/open-items/import"), content=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_accounts_default_chart(service: Any) -> None:
    accounts = (await service.http.get(service.url("/accounts"))).json()["accounts"]
    assert [(a["code"], a["role"]) for a in accounts] == [
        ("1500", "receivable"),
        ("1920", "bank"),
        ("2400", "payable"),
        ("2900", "interim"),
        ("7770", "bank_fees"),
        ("7790", "rounding"),
        ("8040", "interest_income"),
        ("8140", "interest_expense"),
    ]


async def test_a_delivered_decision_is_posted_once(service: Any, make: Any) -> None:
    await service.http.post(service.url("/open-items"), json=invoice_body())
    decision = make.decision("match", "12500.00", [("INV-1", "12500.00")])
    body = encode_envelope(make.envelope(decision, service.tenant_id))
    await service.deliver(body)
    await service.deliver(body)  # redelivery

    status = (await service.http.get(service.url("/status"))).json()
    assert status == {
        "decisions_applied": 1,
        "decisions_refused": 0,
        "journal_entries": 1,
        "decisions_unmatched": 0,
    }
    [entry] = (await service.http.get(service.url("/journal"))).json()["entries"]
    assert entry["idempotency_key"] == decision.decision_id
    assert entry["posted_at"].endswith("+00:00")
    assert [(line["account_code"], line["debit"], line["credit"]) for line in entry["lines"]] == [
        ("1920", "12500.00", "0.00"),
        ("1500", "0.00", "12500.00"),
    ]
    assert entry["lines"][0]["bank_account_id"] == ACCOUNT
    assert entry["lines"][0]["statement_line_id"] == decision.line_id
    item = (await service.http.get(service.url("/open-items/INV-1"))).json()
    assert (item["status"], item["remaining"]["amount"], item["version"]) == ("paid", "0.00", 2)
    trial = (await service.http.get(service.url("/trial-balance"))).json()
    assert trial == {
        "accounts": [
            {
                "account_code": "1500",
                "role": "receivable",
                "currency": "NOK",
                "debit": "0.00",
                "credit": "12500.00",
                "balance": "-12500.00",
            },
            {
                "account_code": "1920",
                "role": "bank",
                "currency": "NOK",
                "debit": "12500.00",
                "credit": "0.00",
                "balance": "12500.00",
            },
        ],
        "balanced": True,
    }
    accounts = (await service.http.get(service.url("/accounts"))).json()["accounts"]
    bank = next(a for a in accounts if a["code"] == "1920")
    assert (bank["bank_account_id"], bank["currency"]) == (ACCOUNT, "NOK")


async def test_an_undecodable_decision_is_dead_lettered(service: Any) -> None:
    await service.deliver(b'{"not": "an envelope"}')
    [dead] = service.published[DEAD_LETTERS.name]
    assert b"undecodable_message" in dead
    assert service.tenant_id.encode() in dead  # the tenant is taken from the key
    status = (await service.http.get(service.url("/status"))).json()
    assert status["decisions_applied"] == 0


async def test_a_refused_decision_is_dead_lettered(service: Any, make: Any) -> None:
    decision = make.decision("match", "10.00", [("INV-404", "10.00")])
    await service.deliver(encode_envelope(make.envelope(decision, service.tenant_id)))
    status = (await service.http.get(service.url("/status"))).json()
    assert (status["decisions_applied"], status["decisions_refused"]) == (0, 1)
    await service.wait_published(DEAD_LETTERS.name, 1)  # it leaves through the outbox
    [dead] = service.published[DEAD_LETTERS.name]
    assert b"open_item_not_found" in dead
    await service.wait_published(REFUSED_DECISIONS.name, 1)
    [refused] = service.published[REFUSED_DECISIONS.name]
    message = json.loads(refused)
    assert (message["type"], message["payload"]["decision_id"]) == (
        "decision.refused",
        decision.decision_id,
    )
    assert message["payload"]["reason_code"] == "open_item_not_found"


async def test_the_asyncapi_document_lists_the_topics(service: Any) -> None:
    document = (await service.http.get("/asyncapi.json")).json()
    names = " ".join(document["channels"])
    for topic in (DECISIONS, OPEN_ITEMS, POSTINGS, REFUSED_DECISIONS):
        assert topic.name in names


async def test_money_in_the_trial_balance_stays_exact(service: Any, make: Any) -> None:
    for amount in ("0.10", "0.20"):
        decision = make.decision("suspense", amount)
        await service.deliver(encode_envelope(make.envelope(decision, service.tenant_id)))
    trial = (await service.http.get(service.url("/trial-balance"))).json()
    interim = next(a for a in trial["accounts"] if a["role"] == "interim")
    assert Decimal(interim["credit"]) == Decimal("0.30")
    assert interim["credit"] == "0.30"
