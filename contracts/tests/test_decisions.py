"""Decisions: the ``differences`` field added after v1 stays out of messages without it, and
the shared posting rule conditions behave the same wherever they are evaluated."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from bankrec.contracts import (
    AccountRole,
    BankAccountRef,
    Counterparty,
    DecisionKind,
    Difference,
    MatchDecision,
    Money,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleRegexError,
    PostingRuleStatus,
    StatementLine,
    compiled_regex,
    envelope_for,
    first_rule_catching,
    rule_catches,
)
from bankrec.contracts.schemas import message_schemas

ACCOUNT = BankAccountRef(account_id="acc-1", iban="NO9386011117947", currency="NOK")


def decision(**fields: object) -> MatchDecision:
    return MatchDecision.model_validate(
        {
            "decision_id": "d-1",
            "kind": DecisionKind.MATCH,
            "line_id": "l-1",
            "statement_id": "s-1",
            "account": ACCOUNT,
            "amount": Money.of("990.00", "NOK"),
            "rule": "structured_reference",
            "confidence": "1",
            "explanation": "x",
            **fields,
        }
    )


def test_a_decision_without_differences_serializes_as_before() -> None:
    assert "differences" not in json.loads(decision().model_dump_json())


def test_a_difference_travels_and_validates_against_the_schema() -> None:
    fee = Difference(
        role=AccountRole.BANK_FEES, amount=Money.of("-10.00", "NOK"), reason="deducted fee"
    )
    message = json.loads(
        envelope_for(
            decision(differences=[fee]), tenant_id="t1", correlation_id="c1"
        ).model_dump_json()
    )
    jsonschema.validate(message, message_schemas()["bankrec.matcher.decisions.v1.schema.json"])
    assert message["payload"]["differences"] == [
        {
            "role": "bank_fees",
            "amount": {"amount": "-10.00", "currency": "NOK"},
            "reason": "deducted fee",
        }
    ]
    assert MatchDecision.model_validate(message["payload"]).differences == [fee]


def rule(rule_id: str, priority: int, **conditions: object) -> PostingRule:
    return PostingRule(
        rule_id=rule_id,
        version=1,
        name=rule_id,
        priority=priority,
        conditions=PostingRuleConditions.model_validate(conditions),
        action=PostingRuleAction.model_validate({"kind": "post_to_account", "gl_account": "7790"}),
        changed_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_the_first_active_rule_by_priority_catches_the_line() -> None:
    line = StatementLine(
        line_id="l-1",
        statement_id="s-1",
        account=ACCOUNT,
        sequence=0,
        amount=Money.of("-45.00", "NOK"),
        counterparty=Counterparty(name="Vipps AS"),
        remittance_text="Gebyr oktober",
    )
    late = rule("b", 20, counterparty_name_contains="vipps")
    early = rule("a", 10, text_regex=r"gebyr\s{1,3}\w{1,10}", sign="negative")
    deleted = rule("0", 0, text_contains="gebyr").model_copy(
        update={"status": PostingRuleStatus.DELETED}
    )
    assert rule_catches(late, line)
    assert rule_catches(early, line)
    assert not rule_catches(deleted, line)
    assert first_rule_catching([late, deleted, early], line) == early
    assert first_rule_catching([rule("c", 1, sign="positive")], line) is None


def test_a_backtracking_regex_is_refused_with_what_to_change() -> None:
    with pytest.raises(PostingRuleRegexError, match="repeats a group"):
        compiled_regex(r"(a+)+$")
