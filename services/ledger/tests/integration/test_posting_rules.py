"""Posting rules on SQLite and PostgreSQL: versions, validation against the chart, the
compacted topic the matcher reads, rule postings that name a version, and the HTTP routes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from ledger_factories import auth_headers

from bankrec.contracts import (
    POSTING_RULES,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleStatus,
)
from bankrec.ledger.errors import InvalidPostingRule, UnknownPostingRule
from bankrec.ledger.ports import DecisionOutcome
from bankrec.ledger.posting_rule_book import posting_rule_message_id
from bankrec.ledger.use_cases import ItemChange
from bankrec.runtime import encode_envelope

VIPPS = PostingRuleConditions(counterparty_name_contains="vipps", sign="positive")
SPLIT = PostingRuleAction.model_validate(
    {
        "kind": "post_to_account",
        "gl_account": "7790",
        "splits": [{"gl_account": "7770", "percent": "3"}],
    }
)


def save(books: Any, rule_id: str = "vipps", **fields: Any) -> Any:
    return books.rules.save_rule(
        books.tenant_id,
        rule_id,
        name=fields.pop("name", "Vipps payouts"),
        priority=fields.pop("priority", 10),
        conditions=fields.pop("conditions", VIPPS),
        action=fields.pop("action", SPLIT),
        actor="kari",
        reason=fields.pop("reason", None),
        correlation_id="test",
    )


async def test_a_rule_is_versioned_and_published_on_the_compacted_topic(books: Any) -> None:
    created = await save(books)
    assert (created.change, created.rule.version, created.rule.changed_by) == (
        ItemChange.CREATED,
        1,
        "kari",
    )
    again = await save(books)
    assert (again.change, again.rule.version) == (ItemChange.UNCHANGED, 1)
    changed = await save(books, priority=5)
    assert (changed.change, changed.rule.version) == (ItemChange.UPDATED, 2)
    deleted = await books.rules.delete_rule(
        books.tenant_id, "vipps", actor="kari", reason="Vipps ended", correlation_id="t"
    )
    assert (deleted.version, deleted.status) == (3, PostingRuleStatus.DELETED)

    staged = await books.staged(POSTING_RULES)
    assert [key for key, _m in staged] == [f"{books.tenant_id}:vipps"] * 3
    assert [(m["payload"]["version"], m["payload"]["status"]) for _k, m in staged] == [
        (1, "active"),
        (2, "active"),
        (3, "deleted"),
    ]
    assert staged[0][1]["message_id"] == posting_rule_message_id(books.tenant_id, created.rule)
    assert staged[0][1]["type"] == "posting_rule.changed"

    assert await books.rules.rules(books.tenant_id) == []
    [current] = await books.rules.rules(books.tenant_id, include_deleted=True)
    assert current.version == 3
    assert [r.version for r in await books.rules.versions(books.tenant_id, "vipps")] == [1, 2, 3]
    assert (await books.rules.rule(books.tenant_id, "vipps", 1)).priority == 10
    actions = [(r.action.value, r.reason) for r in await books.manual.audit_trail(books.tenant_id)]
    assert actions == [
        ("save_posting_rule", "posting rule changed"),
        ("save_posting_rule", "posting rule changed"),
        ("delete_posting_rule", "Vipps ended"),
    ]


async def test_rules_are_listed_in_evaluation_order(books: Any) -> None:
    await save(books, "b-rule", priority=20)
    await save(books, "a-rule", priority=20)
    await save(books, "first", priority=1)
    assert [r.rule_id for r in await books.rules.rules(books.tenant_id)] == [
        "first",
        "a-rule",
        "b-rule",
    ]


async def test_a_rule_must_post_to_an_account_of_the_chart(books: Any) -> None:
    action = PostingRuleAction(kind="post_to_account", gl_account="3000")
    with pytest.raises(InvalidPostingRule, match="3000") as refused:
        await save(books, action=action)
    assert refused.value.field == "action.gl_account"
    assert await books.staged(POSTING_RULES) == []
    with pytest.raises(UnknownPostingRule):
        await books.rules.delete_rule(
            books.tenant_id, "nope", actor="k", reason=None, correlation_id="t"
        )


async def test_a_rule_posting_names_its_version_and_is_split(books: Any, make: Any) -> None:
    await save(books)
    decision = make.decision(
        "rule_posting", "1000.00", posting_rule_id="vipps", posting_rule_version=1
    )
    result = await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))
    assert result.outcome is DecisionOutcome.POSTED
    [posted] = await books.ledger.journal(books.tenant_id)
    assert (posted.entry.posting_rule_id, posted.entry.posting_rule_version) == ("vipps", 1)
    assert [(x.account_code, x.debit, x.credit) for x in posted.entry.lines] == [
        ("7770", Decimal("0.00"), Decimal("30.00")),
        ("7790", Decimal("0.00"), Decimal("970.00")),
        ("1920", Decimal("1000.00"), Decimal("0.00")),
    ]
    # a change makes version 2; a decision on version 1 still posts as version 1 said
    await save(books, action=PostingRuleAction(kind="post_to_account", gl_account="8040"))
    older = make.decision("rule_posting", "100.00", posting_rule_id="vipps", posting_rule_version=1)
    await books.ledger.apply_decision(make.envelope(older, books.tenant_id))
    codes = [x.account_code for x in (await books.ledger.journal(books.tenant_id))[1].entry.lines]
    assert codes == ["7770", "7790", "1920"]


async def test_a_decision_naming_an_unknown_rule_version_is_refused(books: Any, make: Any) -> None:
    await save(books)
    decision = make.decision(
        "rule_posting", "10.00", posting_rule_id="vipps", posting_rule_version=7
    )
    result = await books.ledger.apply_decision(make.envelope(decision, books.tenant_id))
    assert (result.outcome, result.reason_code) == (
        DecisionOutcome.REFUSED,
        "posting_rule_not_found",
    )
    assert await books.ledger.journal(books.tenant_id) == []


# --- over HTTP --------------------------------------------------------------------------

RULE_BODY = {
    "name": "Vipps payouts",
    "priority": 10,
    "conditions": {"counterparty_name_contains": "vipps", "text_regex": r"oppgjør \d{1,8}"},
    "action": {
        "kind": "post_to_account",
        "gl_account": "7790",
        "splits": [{"gl_account": "7770", "percent": "2.5"}],
    },
    "actor": "kari",
}


async def test_posting_rules_over_http(service: Any, make: Any) -> None:
    url = service.url("/posting-rules/vipps")
    created = await service.http.put(url, json=RULE_BODY)
    assert created.status_code == 201, created.text
    assert (created.json()["version"], created.json()["status"]) == (1, "active")
    same = await service.http.put(url, json=RULE_BODY)
    assert (same.status_code, same.json()["version"]) == (200, 1)
    changed = await service.http.put(url, json={**RULE_BODY, "priority": 3})
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    listed = (await service.http.get(service.url("/posting-rules"))).json()["posting_rules"]
    assert [(r["rule_id"], r["version"]) for r in listed] == [("vipps", 2)]
    versions = (await service.http.get(f"{url}/versions")).json()["versions"]
    assert [v["priority"] for v in versions] == [10, 3]
    assert (await service.http.get(f"{url}/versions/1")).json()["priority"] == 10

    line = {
        "line_id": "l-1",
        "statement_id": "s-1",
        "account": {"account_id": "acc-1", "currency": "NOK"},
        "sequence": 0,
        "amount": {"amount": "2000.00", "currency": "NOK"},
        "counterparty": {"name": "Vipps MobilePay AS"},
        "remittance_text": "Vipps oppgjør 2211",
    }
    evaluated = (await service.http.post(service.url("/posting-rules/evaluate"), json=line)).json()
    assert (evaluated["rule"]["rule_id"], evaluated["rule"]["version"]) == ("vipps", 2)
    assert evaluated["parts"] == [
        {"gl_account": "7770", "amount": {"amount": "50.00", "currency": "NOK"}},
        {"gl_account": "7790", "amount": {"amount": "1950.00", "currency": "NOK"}},
    ]
    other = {**line, "counterparty": {"name": "Klarna"}}
    assert (await service.http.post(service.url("/posting-rules/evaluate"), json=other)).json() == {
        "rule": None,
        "parts": [],
    }

    deleted = await service.http.request("DELETE", url, json={"actor": "kari", "reason": "ended"})
    assert (deleted.status_code, deleted.json()["status"]) == (200, "deleted")
    messages = await service.wait_mine(POSTING_RULES.name, 3)
    assert [m["payload"]["version"] for m in messages] == [1, 2, 3]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        (
            {"action": {"kind": "post_to_account", "gl_account": "9999"}},
            422,
            "invalid_posting_rule",
            "action.gl_account",
        ),
        (
            {"conditions": {"text_regex": "(a+)+"}},
            422,
            "invalid_posting_rule",
            "conditions.text_regex",
        ),
        ({"conditions": {}}, 422, "invalid_posting_rule", "conditions"),
        (
            {"conditions": {"amount_min": 10.5, "currency": "NOK"}},
            422,
            "invalid_request",
            "conditions.amount_min",
        ),
        ({"priority": -1}, 422, "invalid_request", "priority"),
        ({"colour": "red"}, 422, "invalid_request", "colour"),
    ],
    ids=["unknown-gl", "nested-regex", "no-conditions", "float", "priority", "unknown-field"],
)
async def test_invalid_rules_get_the_error_shape(
    service: Any, change: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = await service.http.put(
        service.url("/posting-rules/r-1"), json={**RULE_BODY, **change}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert field in {detail["field"] for detail in error["details"]}


async def test_tenant_b_cannot_see_or_change_tenant_a_rules(service: Any, make: Any) -> None:
    assert (
        await service.http.put(service.url("/posting-rules/vipps"), json=RULE_BODY)
    ).status_code == 201
    other = f"/v1/tenants/{service.tenant_id}-b/posting-rules"
    tenant_b = auth_headers(f"{service.tenant_id}-b")  # B's own key: scoping, not auth, is tried
    assert (await service.http.get(other, headers=tenant_b)).json() == {"posting_rules": []}
    for method, url, body in [
        ("get", f"{other}/vipps", None),
        ("get", f"{other}/vipps/versions", None),
        ("get", f"{other}/vipps/versions/1", None),
        ("delete", f"{other}/vipps", {"actor": "mallory"}),
    ]:
        response = await service.http.request(method, url, json=body, headers=tenant_b)
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "posting_rule_not_found",
        )
    # a decision of tenant B naming tenant A's rule is refused
    decision = make.decision(
        "rule_posting", "10.00", posting_rule_id="vipps", posting_rule_version=1
    )
    await service.deliver(
        encode_envelope(make.envelope(decision, f"{service.tenant_id}-b")),
        key=f"{service.tenant_id}-b:acc",
    )
    status = (
        await service.http.get(f"/v1/tenants/{service.tenant_id}-b/status", headers=tenant_b)
    ).json()
    assert status["decisions_refused"] == 1
