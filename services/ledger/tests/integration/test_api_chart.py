"""The chart of accounts over HTTP, on both databases: creating and renaming accounts,
moving a role explicitly (entries posted before stay where they are), linking a bank account
to a GL code with its IBAN/BBAN, deactivating with the precise reason it is refused; every
change in the audit trail with actor and reason, retried safely with an idempotency key."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import AccountRole, account_id_for
from bankrec.runtime import encode_envelope

BY = {"actor": "kari@example.no", "reason": "new chart from the accountant"}
IBAN = "NO9386011117947"
BBAN = "86011117947"


async def deliver(service: Any, make: Any, *args: Any, **fields: Any) -> Any:
    decision = make.decision(*args, **fields)
    await service.deliver(encode_envelope(make.envelope(decision, service.tenant_id)))
    return decision


async def accounts(service: Any) -> dict[str, dict[str, Any]]:
    response = await service.http.get(service.url("/accounts"))
    assert response.status_code == 200, response.text
    return {account["code"]: account for account in response.json()["accounts"]}


async def trial(service: Any) -> dict[str, Decimal]:
    body = (await service.http.get(service.url("/trial-balance"))).json()
    assert body["balanced"] is True
    return {row["account_code"]: Decimal(row["balance"]) for row in body["accounts"]}


async def suspense_postings(service: Any) -> list[dict[str, Any]]:
    body = (await service.http.get(service.url("/suspense-postings"))).json()
    postings: list[dict[str, Any]] = body["suspense_postings"]
    return postings


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def test_accounts_are_created_renamed_and_audited(service: Any) -> None:
    body = {"code": "3000", "name": "Salgsinntekt", **BY}
    created = await service.http.post(
        service.url("/accounts"), json=body, headers={"Idempotency-Key": "acc-3000"}
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["action"] == "create_account"
    assert answer["account"] == {
        "code": "3000",
        "name": "Salgsinntekt",
        "role": "other",
        "currency": None,
        "bank_account_id": None,
        "iban": None,
        "bban": None,
        "active": True,
    }
    assert (answer["previous_role_holder"], answer["note"]) == (None, None)
    replay = await service.http.post(
        service.url("/accounts"), json=body, headers={"Idempotency-Key": "acc-3000"}
    )
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert replay.json() == answer
    again = await service.http.post(service.url("/accounts"), json=body)
    assert "3000 is in the chart already" in error_of(again, 409)["message"]
    assert error_of(again, 409)["code"] == "account_exists"

    renamed = await service.http.patch(
        service.url("/accounts/3000"), json={"name": "Salgsinntekt, avgiftspliktig", **BY}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["account"]["name"] == "Salgsinntekt, avgiftspliktig"
    listed = await accounts(service)
    assert listed["3000"]["name"] == "Salgsinntekt, avgiftspliktig"
    assert listed["2900"]["role"] == "interim"

    trail = (await service.http.get(service.url("/audit-trail?subject_id=3000"))).json()
    assert [(r["action"], r["actor"], r["reason"]) for r in trail["audit_trail"]] == [
        ("create_account", BY["actor"], BY["reason"]),
        ("rename_account", BY["actor"], BY["reason"]),
    ]
    missing = await service.http.patch(service.url("/accounts/3999"), json={"name": "x", **BY})
    assert error_of(missing, 404)["code"] == "unknown_account"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"code": "30", "name": "x", **BY}, 422, "invalid_chart_change", "code"),
        ({"code": "3000", "name": " ", **BY}, 422, "invalid_chart_change", "name"),
        ({"code": "1930", "name": "x", "role": "bank", **BY}, 422, "invalid_chart_change", "role"),
        ({"code": "3000", "name": "x", "role": "planet", **BY}, 422, "invalid_request", "role"),
        ({"code": "3000", "name": "x", "actor": "a"}, 422, "invalid_request", "reason"),
        (
            {"code": "3000", "name": "x", "actor": "a", "reason": " "},
            422,
            "invalid_action",
            "reason",
        ),
        ({"code": "2910", "name": "x", "role": "interim", **BY}, 409, "role_taken", None),
    ],
    ids=["code", "name", "bank", "bad-role", "no-reason", "blank-reason", "role-taken"],
)
async def test_bad_accounts_get_the_error_shape(
    service: Any, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    error = error_of(await service.http.post(service.url("/accounts"), json=body), status)
    assert error["code"] == code
    if field is not None:
        assert field in {detail["field"] for detail in error["details"]}
    assert "3000" not in await accounts(service)


async def test_the_interim_role_moves_explicitly_and_old_entries_stay(
    service: Any, make: Any
) -> None:
    await deliver(service, make, "suspense", "100.00")
    refused = await service.http.post(
        service.url("/accounts"),
        json={"code": "2910", "name": "Interim 2", "role": "interim", **BY},
    )
    assert "send take_role: true" in error_of(refused, 409)["message"]
    created = await service.http.post(
        service.url("/accounts"), json={"code": "2910", "name": "Interim 2", **BY}
    )
    assert created.status_code == 201, created.text
    moved = await service.http.put(
        service.url("/account-roles/interim"), json={"code": "2910", **BY}
    )
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert (answer["role"], answer["account"]["code"], answer["previous_account"]["code"]) == (
        "interim",
        "2910",
        "2900",
    )
    assert "Entries posted before stay on GL 2900" in answer["note"]
    listed = await accounts(service)
    assert (listed["2900"]["role"], listed["2910"]["role"]) == ("other", "interim")

    await deliver(service, make, "suspense", "50.00")
    assert (await trial(service))["2900"] == Decimal("-100.00")
    assert (await trial(service))["2910"] == Decimal("-50.00")
    old, new = sorted(
        await suspense_postings(service),
        key=lambda posting: Decimal(posting["amount"]["amount"]),
        reverse=True,
    )
    assert (old["amount"]["amount"], new["amount"]["amount"]) == ("100.00", "50.00")
    allocated = await service.http.post(
        service.url(f"/suspense-postings/{old['suspense_id']}/allocations"),
        json={"target": "gl_account", "target_id": "8040", **BY},
    )
    assert allocated.status_code == 201, allocated.text
    [entry] = allocated.json()["entries"]
    assert [(line["account_code"], line["account_role"]) for line in entry["lines"]] == [
        ("2900", "interim"),
        ("8040", "interest_income"),
    ]
    balances = await trial(service)
    assert (balances["2900"], balances["2910"]) == (Decimal("0.00"), Decimal("-50.00"))
    # the role is where it is: moving it there again changes nothing
    same = await service.http.put(
        service.url("/account-roles/interim"), json={"code": "2910", **BY}
    )
    assert (same.status_code, same.json()["changed"], same.json()["note"]) == (200, False, None)
    wrong = await service.http.put(
        service.url("/account-roles/interim"), json={"code": "7770", **BY}
    )
    assert "GL 7770 is the bank_fees account" in error_of(wrong, 409)["message"]
    other = await service.http.put(service.url("/account-roles/other"), json={"code": "3000", **BY})
    assert error_of(other, 422)["code"] == "invalid_chart_change"


async def test_a_role_is_taken_when_creating_with_take_role(service: Any) -> None:
    created = await service.http.post(
        service.url("/accounts"),
        json={"code": "7771", "name": "Gebyrer", "role": "bank_fees", "take_role": True, **BY},
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["previous_role_holder"]["code"] == "7770"
    assert answer["previous_role_holder"]["role"] == "other"
    assert "stay on GL 7770" in answer["note"]
    listed = await accounts(service)
    assert (listed["7770"]["role"], listed["7771"]["role"]) == ("other", "bank_fees")


async def test_a_bank_account_is_linked_to_a_code_of_choice(service: Any, make: Any) -> None:
    body = {"gl_account": "1930", "currency": "NOK", "bban": "8601.11.17947", **BY}
    linked = await service.http.post(
        service.url("/bank-accounts"), json=body, headers={"Idempotency-Key": "link-1"}
    )
    assert linked.status_code == 201, linked.text
    account = linked.json()["account"]
    bank_account_id = account_id_for(service.tenant_id, IBAN)
    assert account == {
        "code": "1930",
        "name": "Bankinnskudd ***********7947 (NOK)",
        "role": "bank",
        "currency": "NOK",
        "bank_account_id": bank_account_id,
        "iban": IBAN,
        "bban": BBAN,
        "active": True,
    }
    replay = await service.http.post(
        service.url("/bank-accounts"), json=body, headers={"Idempotency-Key": "link-1"}
    )
    assert (replay.status_code, replay.json()) == (200, linked.json())
    unchanged = await service.http.post(service.url("/bank-accounts"), json=body)
    assert (unchanged.status_code, unchanged.json()["changed"]) == (200, False)

    # a statement line of that bank account posts on 1930, not on the next free 192x
    await deliver(service, make, "suspense", "75.00", account_id=bank_account_id)
    balances = await trial(service)
    assert balances["1930"] == Decimal("75.00")
    assert "1920" not in balances
    moved = await service.http.post(
        service.url("/bank-accounts"), json={**body, "gl_account": "1931"}
    )
    assert "linked to GL 1930 already" in error_of(moved, 409)["message"]
    taken = await service.http.post(
        service.url("/bank-accounts"),
        json={**body, "bank_account_id": "acc-other", "gl_account": "1931"},
    )
    assert error_of(taken, 409)["code"] == "bank_account_linked"
    bad = await service.http.post(
        service.url("/bank-accounts"),
        json={"gl_account": "1931", "currency": "NOK", "iban": "NO9386011117948", **BY},
    )
    error = error_of(bad, 422)
    assert (error["code"], error["details"][0]["field"]) == ("invalid_chart_change", "iban")
    not_bank = await service.http.post(
        service.url("/bank-accounts"),
        json={"gl_account": "2900", "currency": "NOK", "iban": "DE89370400440532013000", **BY},
    )
    assert "GL 2900 is the interim account" in error_of(not_bank, 422)["message"]
    trail = (await service.http.get(service.url("/audit-trail?subject_id=1930"))).json()
    assert [r["action"] for r in trail["audit_trail"]] == ["link_bank_account"] * 2


async def test_deactivating_says_why_it_is_refused(service: Any, make: Any) -> None:
    await deliver(service, make, "suspense", "100.00")  # links 1920 to the demo account
    created = await service.http.post(
        service.url("/accounts"), json={"code": "3000", "name": "Salg", **BY}
    )
    assert created.status_code == 201
    refusals = {
        "2900": "GL 2900 holds the interim role; give the role to another account first",
        "1920": "is the GL account of bank account",
    }
    for code, message in refusals.items():
        response = await service.http.post(service.url(f"/accounts/{code}/deactivate"), json=BY)
        error = error_of(response, 409)
        assert (error["code"], message in error["message"]) == ("account_in_use", True), error
    [posting] = await suspense_postings(service)
    allocation = await service.http.post(
        service.url(f"/suspense-postings/{posting['suspense_id']}/allocations"),
        json={"target": "gl_account", "target_id": "3000", **BY},
    )
    assert allocation.status_code == 201
    with_balance = await service.http.post(service.url("/accounts/3000/deactivate"), json=BY)
    assert (
        "has a balance of 100.00 NOK credit; post it to zero"
        in error_of(with_balance, 409)["message"]
    )
    detail = (await service.http.get(service.url("/accounts/3000"))).json()
    assert detail["balances"] == [
        {"currency": "NOK", "debit": "0.00", "credit": "100.00", "balance": "-100.00"}
    ]

    # the allocation was a mistake: reversed, the account is at zero and can go
    allocation_id = allocation.json()["allocation"]["allocation_id"]
    reversed_ = await service.http.post(
        service.url(
            f"/suspense-postings/{posting['suspense_id']}/allocations/{allocation_id}/reverse"
        ),
        json=BY,
    )
    assert reversed_.status_code == 200, reversed_.text
    deactivated = await service.http.post(service.url("/accounts/3000/deactivate"), json=BY)
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["account"]["active"] is False
    assert (await accounts(service))["3000"]["active"] is False
    to_inactive = await service.http.post(
        service.url(f"/suspense-postings/{posting['suspense_id']}/allocations"),
        json={"target": "gl_account", "target_id": "3000", **BY},
    )
    assert "is deactivated; reactivate it" in error_of(to_inactive, 409)["message"]
    assert error_of(to_inactive, 409)["code"] == "account_inactive"
    reactivated = await service.http.post(service.url("/accounts/3000/reactivate"), json=BY)
    assert reactivated.json()["account"]["active"] is True
    unknown = await service.http.post(service.url("/accounts/3999/deactivate"), json=BY)
    assert error_of(unknown, 404)["code"] == "unknown_account"
    actions = [
        r["action"]
        for r in (await service.http.get(service.url("/audit-trail?subject_id=3000"))).json()[
            "audit_trail"
        ]
    ]
    assert actions == ["create_account", "deactivate_account", "reactivate_account"]


async def test_two_role_moves_at_once_leave_one_holder(books: Any) -> None:
    for code in ("2910", "2920"):
        await books.chart.create_account(
            books.tenant_id,
            code=code,
            name=f"Interim {code}",
            role=AccountRole.OTHER,
            take_role=False,
            **BY,
        )
    results = await books.gather(
        *(
            books.chart.assign_role(books.tenant_id, AccountRole.INTERIM, code=code, **BY)
            for code in ("2910", "2920")
        )
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    chart = await books.chart.chart(books.tenant_id)
    holders = [a.code for a in chart.accounts if a.role is AccountRole.INTERIM]
    assert len(holders) == 1, holders
    assert chart.account("2900").role is AccountRole.OTHER
    trail = await books.manual.audit_trail(books.tenant_id)
    assert [r.action.value for r in trail].count("assign_account_role") == 2
