"""Manual work over HTTP, on both databases, with the in-memory broker: routes, statuses,
the error shape, idempotency keys, the audit trail and what reaches the topics."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ledger_factories import auth_headers

from bankrec.contracts import OPEN_ITEMS, POSTINGS
from bankrec.runtime import encode_envelope

ACCOUNT = "acc-0000000000000000demo"
BY = {"actor": "kari@example.no", "reason": "the customer paid without KID"}


async def deliver(service: Any, make: Any, *args: Any, **fields: Any) -> Any:
    decision = make.decision(*args, **fields)
    await service.deliver(encode_envelope(make.envelope(decision, service.tenant_id)))
    return decision


async def create_invoice(service: Any, item_id: str = "INV-1", amount: str = "4200.00") -> None:
    response = await service.http.post(
        service.url("/open-items"),
        json={"item_id": item_id, "kind": "invoice", "amount": amount, "currency": "NOK"},
    )
    assert response.status_code == 201, response.text


async def trial(service: Any) -> dict[str, str]:
    body = (await service.http.get(service.url("/trial-balance"))).json()
    assert body["balanced"] is True
    return {row["account_code"]: row["balance"] for row in body["accounts"]}


async def test_a_suspense_line_allocated_to_an_invoice_over_http(service: Any, make: Any) -> None:
    await create_invoice(service)
    decision = await deliver(service, make, "suspense", "4200.00")
    listed = (await service.http.get(service.url("/suspense-postings?status=open"))).json()
    [posting] = listed["suspense_postings"]
    assert (posting["amount"], posting["statement_line_id"], posting["decision_id"]) == (
        {"amount": "4200.00", "currency": "NOK"},
        decision.line_id,
        decision.decision_id,
    )
    url = service.url(f"/suspense-postings/{posting['suspense_id']}/allocations")
    body = {"target": "open_item", "target_id": "INV-1", **BY}
    created = await service.http.post(url, json=body, headers={"Idempotency-Key": "alloc-1"})
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["action"] == "allocate_suspense"
    assert answer["suspense_posting"]["status"] == "allocated"
    assert [item["status"] for item in answer["open_items"]] == ["paid"]

    replay = await service.http.post(url, json=body, headers={"Idempotency-Key": "alloc-1"})
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == answer
    conflict = await service.http.post(
        url, json={**body, "reason": "other"}, headers={"Idempotency-Key": "alloc-1"}
    )
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "idempotency_conflict")

    assert (await trial(service))["2900"] == "0.00"
    detail = (
        await service.http.get(service.url(f"/suspense-postings/{posting['suspense_id']}"))
    ).json()
    assert [a["target_id"] for a in detail["allocations"]] == ["INV-1"]
    [record] = (await service.http.get(service.url("/audit-trail"))).json()["audit_trail"]
    assert (record["actor"], record["reason"], record["subject_id"]) == (
        BY["actor"],
        BY["reason"],
        posting["suspense_id"],
    )
    assert record["audit_id"] == answer["audit_id"]
    manual = (await service.wait_mine(POSTINGS.name, 2))[1]
    assert (manual["payload"]["source"], manual["causation_id"]) == ("manual", answer["audit_id"])


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"target": "customer", "target_id": "C-1", "actor": "a"},
            422,
            "invalid_request",
            "reason",
        ),
        (
            {"target": "customer", "target_id": "C-1", "actor": "a", "reason": " "},
            422,
            "invalid_action",
            "reason",
        ),
        ({"target": "planet", "target_id": "C-1", **BY}, 422, "invalid_request", "target"),
        (
            {"target": "customer", "target_id": "C-1", "amount": 10.5, "currency": "NOK", **BY},
            422,
            "invalid_request",
            "amount",
        ),
        (
            {"target": "customer", "target_id": "C-1", "amount": "10", **BY},
            422,
            "invalid_action",
            "currency",
        ),
        (
            {"target": "customer", "target_id": "C-1", "amount": "99999", "currency": "NOK", **BY},
            409,
            "over_allocation",
            None,
        ),
        ({"target": "gl_account", "target_id": "1920", **BY}, 422, "invalid_action", "target_id"),
    ],
    ids=["no-reason", "blank-reason", "bad-target", "float", "no-currency", "too-much", "bank-gl"],
)
async def test_bad_allocations_get_the_error_shape(
    service: Any, make: Any, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    await deliver(service, make, "suspense", "100.00")
    [posting] = (await service.http.get(service.url("/suspense-postings"))).json()[
        "suspense_postings"
    ]
    response = await service.http.post(
        service.url(f"/suspense-postings/{posting['suspense_id']}/allocations"), json=body
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert field in {detail["field"] for detail in error["details"]}


async def test_unmatch_over_http(service: Any, make: Any) -> None:
    await create_invoice(service, amount="12500.00")
    decision = await deliver(service, make, "match", "12500.00", [("INV-1", "12500.00")])
    url = service.url(f"/decisions/{decision.decision_id}/unmatch")
    response = await service.http.post(url, json=BY)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [entry["source"] for entry in answer["entries"]] == ["reversal", "manual"]
    assert answer["open_items"][0]["status"] == "open"
    assert answer["suspense_posting"]["amount"]["amount"] == "12500.00"
    again = await service.http.post(url, json=BY)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_reversed")
    record = (await service.http.get(service.url(f"/decisions/{decision.decision_id}"))).json()
    assert (record["outcome"], record["unmatch_audit_id"]) == ("posted", answer["audit_id"])
    assert record["allocations"] == [
        {"item_id": "INV-1", "amount": {"amount": "12500.00", "currency": "NOK"}}
    ]
    status = (await service.http.get(service.url("/status"))).json()
    assert (status["decisions_unmatched"], status["journal_entries"]) == (1, 3)
    missing = await service.http.post(service.url("/decisions/nope/unmatch"), json=BY)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "decision_not_found")
    states = [m["payload"]["status"] for m in await service.wait_mine(OPEN_ITEMS.name, 3)]
    assert states == ["open", "paid", "open"]


async def test_payments_over_http(service: Any) -> None:
    await create_invoice(service, amount="500.00")
    base = service.url("/open-items/INV-1/payments")
    created = await service.http.post(
        base,
        json={
            "payment_id": "PAY-1",
            "bank_account_id": ACCOUNT,
            "amount": "200.00",
            "currency": "NOK",
            **BY,
        },
    )
    assert created.status_code == 201, created.text
    assert [item["item_id"] for item in created.json()["open_items"]] == ["INV-1", "PAY-1"]
    [payment] = (await service.http.get(base)).json()["payments"]
    assert (payment["status"], payment["amount"]["amount"]) == ("registered", "200.00")
    removed = await service.http.post(f"{base}/PAY-1/remove", json=BY)
    assert removed.status_code == 200, removed.text
    assert [item["status"] for item in removed.json()["open_items"]] == ["open", "cancelled"]
    unknown = await service.http.post(f"{base}/PAY-404/remove", json=BY)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "payment_not_found")
    balances = await trial(service)
    assert (balances["1920"], balances["1500"]) == ("0.00", "0.00")


async def test_an_adjustment_over_http(service: Any) -> None:
    response = await service.http.post(
        service.url("/adjustments"),
        json={
            "kind": "bank_fee",
            "amount": "-125.00",
            "currency": "NOK",
            "bank_account_id": ACCOUNT,
            "statement_line_id": "line-9",
            **BY,
        },
    )
    assert response.status_code == 201, response.text
    [entry] = response.json()["entries"]
    assert (entry["adjustment_kind"], entry["source"]) == ("bank_fee", "adjustment")
    [posted] = await service.wait_mine(POSTINGS.name, 1)
    assert posted["payload"]["adjustment_kind"] == "bank_fee"
    assert (await trial(service))["7770"] == "125.00"
    numeric = await service.http.post(
        service.url("/adjustments"),
        json={"kind": "interest", "amount": 1, "currency": "NOK", "bank_account_id": ACCOUNT, **BY},
    )
    assert numeric.status_code == 422


async def interim_matches_suspense(service: Any) -> None:
    """The interim account's balance is minus the sum of the open suspense postings'
    remaining amounts (and the trial balance sums to zero: ``trial`` asserts it)."""
    postings = (await service.http.get(service.url("/suspense-postings"))).json()
    remaining = sum(
        (
            Decimal(p["remaining"]["amount"])
            for p in postings["suspense_postings"]
            if p["status"] != "reversed"
        ),
        Decimal(0),
    )
    assert Decimal((await trial(service)).get("2900", "0")) == -remaining


async def test_reversing_a_suspense_allocation_over_http(service: Any, make: Any) -> None:
    await create_invoice(service, amount="5000.00")
    await deliver(service, make, "suspense", "4200.00")
    [posting] = (await service.http.get(service.url("/suspense-postings"))).json()[
        "suspense_postings"
    ]
    base = service.url(f"/suspense-postings/{posting['suspense_id']}/allocations")
    allocated = await service.http.post(
        base, json={"target": "open_item", "target_id": "INV-1", **BY}
    )
    assert allocated.status_code == 201, allocated.text
    allocation = allocated.json()["allocation"]
    assert allocation["status"] == "allocated"
    await interim_matches_suspense(service)

    url = f"{base}/{allocation['allocation_id']}/reverse"
    why = {"actor": BY["actor"], "reason": "it paid INV-2, not INV-1"}
    response = await service.http.post(url, json=why, headers={"Idempotency-Key": "rev-1"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["action"] == "reverse_suspense_allocation"
    [entry] = answer["entries"]
    assert (entry["source"], entry["reverses_entry_id"]) == ("reversal", allocation["entry_id"])
    assert [(line["account_code"], line["debit"], line["credit"]) for line in entry["lines"]] == [
        ("2900", "0.00", "4200.00"),
        ("1500", "4200.00", "0.00"),
    ]
    assert (answer["allocation"]["status"], answer["allocation"]["reversal_entry_id"]) == (
        "reversed",
        entry["entry_id"],
    )
    suspense = answer["suspense_posting"]
    assert (suspense["status"], suspense["remaining"]["amount"]) == ("open", "4200.00")
    [invoice] = answer["open_items"]
    assert (invoice["status"], invoice["remaining"]["amount"], invoice["version"]) == (
        "open",
        "5000.00",
        3,
    )
    await interim_matches_suspense(service)
    assert (await trial(service))["1500"] == "0.00"

    replay = await service.http.post(url, json=why, headers={"Idempotency-Key": "rev-1"})
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == answer
    for headers in ({}, {"Idempotency-Key": "rev-2"}):
        twice = await service.http.post(url, json=why, headers=headers)
        assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_reversed")
    conflict = await service.http.post(url, json=BY, headers={"Idempotency-Key": "rev-1"})
    assert (conflict.status_code, conflict.json()["error"]["code"]) == (409, "idempotency_conflict")
    unknown = await service.http.post(f"{base}/act-404/reverse", json=why)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "allocation_not_found")
    no_reason = await service.http.post(url, json={"actor": "a", "reason": ""})
    assert no_reason.json()["error"]["code"] == "invalid_action"

    detail = (
        await service.http.get(service.url(f"/suspense-postings/{posting['suspense_id']}"))
    ).json()
    assert [a["status"] for a in detail["allocations"]] == ["reversed"]
    states = [m["payload"]["status"] for m in await service.wait_mine(OPEN_ITEMS.name, 3)]
    assert states == ["open", "partly_paid", "open"]
    posted = await service.wait_mine(POSTINGS.name, 3)
    assert (posted[2]["payload"]["reverses_entry_id"], posted[2]["causation_id"]) == (
        allocation["entry_id"],
        answer["audit_id"],
    )
    trail = (await service.http.get(service.url("/audit-trail"))).json()["audit_trail"]
    assert [(r["action"], r["reason"]) for r in trail] == [
        ("allocate_suspense", BY["reason"]),
        ("reverse_suspense_allocation", why["reason"]),
    ]

    # allocated again, to the right invoice this time
    await create_invoice(service, "INV-2", "4200.00")
    again = await service.http.post(base, json={"target": "open_item", "target_id": "INV-2", **BY})
    assert again.json()["suspense_posting"]["status"] == "allocated"
    await interim_matches_suspense(service)


async def test_reversing_one_allocation_of_several(service: Any, make: Any) -> None:
    await deliver(service, make, "suspense", "-1000.00")
    [posting] = (await service.http.get(service.url("/suspense-postings"))).json()[
        "suspense_postings"
    ]
    base = service.url(f"/suspense-postings/{posting['suspense_id']}/allocations")
    parts = []
    for amount in ("-300.00", "-700.00"):
        body = {"target": "supplier", "target_id": "S-1", "amount": amount, "currency": "NOK"}
        created = await service.http.post(base, json={**body, **BY})
        assert created.status_code == 201, created.text
        parts.append(created.json()["allocation"]["allocation_id"])
    response = await service.http.post(f"{base}/{parts[0]}/reverse", json=BY)
    assert response.status_code == 200, response.text
    suspense = response.json()["suspense_posting"]
    assert (suspense["status"], suspense["remaining"]["amount"]) == ("partly_allocated", "-300.00")
    assert response.json()["open_items"] == []
    await interim_matches_suspense(service)
    balances = await trial(service)
    assert (balances["2900"], balances["2400"]) == ("300.00", "700.00")  # Dr 2400: paid out


async def test_reversing_an_adjustment_over_http(service: Any) -> None:
    created = await service.http.post(
        service.url("/adjustments"),
        json={
            "kind": "bank_fee",
            "amount": "-125.00",
            "currency": "NOK",
            "bank_account_id": ACCOUNT,
            "adjustment_id": "ADJ-1",
            "statement_line_id": "line-9",
            **BY,
        },
    )
    assert created.status_code == 201, created.text
    [original] = created.json()["entries"]
    shown = (await service.http.get(service.url("/adjustments/ADJ-1"))).json()
    assert shown == {
        "adjustment_id": "ADJ-1",
        "kind": "bank_fee",
        "amount": {"amount": "-125.00", "currency": "NOK"},
        "bank_account_id": ACCOUNT,
        "gl_account": "7770",
        "statement_line_id": "line-9",
        "posting_date": original["posting_date"],
        "entry_id": original["entry_id"],
        "status": "posted",
        "reversal_entry_id": None,
    }
    url = service.url("/adjustments/ADJ-1/reverse")
    why = {"actor": BY["actor"], "reason": "the bank refunded the fee: it was never charged"}
    response = await service.http.post(url, json=why, headers={"Idempotency-Key": "adj-rev"})
    assert response.status_code == 200, response.text
    answer = response.json()
    [entry] = answer["entries"]
    assert answer["adjustment"]["status"] == "reversed"
    assert answer["adjustment"]["reversal_entry_id"] == entry["entry_id"]
    # what the reconciler ties to the adjustment: source + source_ref, kind, and the entry
    # it reverses (so it counts neither the fee nor its reversal)
    assert (
        entry["source"],
        entry["source_ref"],
        entry["adjustment_kind"],
        entry["reverses_entry_id"],
        entry["statement_line_id"],
    ) == ("adjustment", "ADJ-1", "bank_fee", original["entry_id"], "line-9")
    shown = (await service.http.get(service.url("/adjustments/ADJ-1"))).json()
    assert (shown["status"], shown["reversal_entry_id"]) == ("reversed", entry["entry_id"])
    balances = await trial(service)
    assert (balances["7770"], balances["1920"]) == ("0.00", "0.00")
    posted = await service.wait_mine(POSTINGS.name, 2)
    assert [m["payload"]["source"] for m in posted] == ["adjustment", "adjustment"]
    assert posted[1]["payload"]["reverses_entry_id"] == original["entry_id"]

    replay = await service.http.post(url, json=why, headers={"Idempotency-Key": "adj-rev"})
    assert (replay.status_code, replay.json()) == (200, answer)
    twice = await service.http.post(url, json=why)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "already_reversed")
    for missing in ("ADJ-404", "ADJ-1:reversal"):
        unknown = await service.http.post(service.url(f"/adjustments/{missing}/reverse"), json=why)
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (
            404,
            "adjustment_not_found",
        )
        shown_missing = await service.http.get(service.url(f"/adjustments/{missing}"))
        assert shown_missing.status_code == 404
    [record] = (await service.http.get(service.url("/audit-trail?subject_id=ADJ-1"))).json()[
        "audit_trail"
    ][1:]
    assert (record["action"], record["reason"], record["entry_ids"]) == (
        "reverse_adjustment",
        why["reason"],
        [entry["entry_id"]],
    )


async def test_tenant_b_cannot_touch_tenant_a_manual_work(service: Any, make: Any) -> None:
    """Every manual resource of tenant A is a 404 for tenant B (keys come with issue 4's
    credentials; the scoping by tenant is what this proves)."""
    await create_invoice(service, amount="100.00")
    decision = await deliver(service, make, "suspense", "100.00")
    adjustment = await service.http.post(
        service.url("/adjustments"),
        json={
            "kind": "interest",
            "amount": "3.00",
            "currency": "NOK",
            "bank_account_id": ACCOUNT,
            "adjustment_id": "ADJ-A",
            **BY,
        },
    )
    assert adjustment.status_code == 201, adjustment.text
    [posting] = (await service.http.get(service.url("/suspense-postings"))).json()[
        "suspense_postings"
    ]
    other = f"/v1/tenants/{service.tenant_id}-b"
    tenant_b = auth_headers(f"{service.tenant_id}-b")  # B's own key: scoping, not auth, is tried
    attempts = [
        ("get", f"{other}/suspense-postings/{posting['suspense_id']}", None),
        (
            "post",
            f"{other}/suspense-postings/{posting['suspense_id']}/allocations",
            {"target": "customer", "target_id": "C-1", **BY},
        ),
        ("get", f"{other}/decisions/{decision.decision_id}", None),
        ("post", f"{other}/decisions/{decision.decision_id}/unmatch", BY),
        ("get", f"{other}/open-items/INV-1/payments", None),
        (
            "post",
            f"{other}/suspense-postings/{posting['suspense_id']}/allocations/act-1/reverse",
            BY,
        ),
        ("get", f"{other}/adjustments/ADJ-A", None),
        ("post", f"{other}/adjustments/ADJ-A/reverse", BY),
        (
            "post",
            f"{other}/open-items/INV-1/payments",
            {"payment_id": "P-1", "bank_account_id": ACCOUNT, **BY},
        ),
    ]
    for method, url, body in attempts:
        response = await service.http.request(method, url, json=body, headers=tenant_b)
        assert response.status_code == 404, (url, response.text)
    assert (await service.http.get(f"{other}/suspense-postings", headers=tenant_b)).json() == {
        "suspense_postings": []
    }
    assert (await service.http.get(f"{other}/audit-trail", headers=tenant_b)).json() == {
        "audit_trail": []
    }
