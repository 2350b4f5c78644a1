"""Posting rules in the matcher: the tenant's rule book (newest version wins, deleted rules
leave, priority order) and the rule after the item rules, which never beats an item match."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from matcher_factories import Book

from bankrec.contracts import (
    BankTransactionCode,
    DecisionKind,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleStatus,
)
from bankrec.matcher.domain import MatchEngine, MatchingPolicy, TenantIndexes
from bankrec.matcher.domain.posting_rule_book import PostingRuleBook

ENGINE = MatchEngine()
KID = "1002345005"
AT = datetime(2026, 11, 1, tzinfo=UTC)


def rule(rule_id: str = "vipps", *, version: int = 1, priority: int = 10, **kw: Any) -> PostingRule:
    conditions = kw.pop("conditions", {"counterparty_name_contains": "vipps"})
    action = kw.pop("action", {"kind": "post_to_account", "gl_account": "7790"})
    return PostingRule(
        rule_id=rule_id,
        version=version,
        name=kw.pop("name", f"rule {rule_id}"),
        priority=priority,
        conditions=PostingRuleConditions.model_validate(conditions),
        action=PostingRuleAction.model_validate(action),
        changed_at=AT,
        **kw,
    )


def test_the_newest_version_wins_and_a_deleted_rule_leaves() -> None:
    book = PostingRuleBook()
    assert book.apply(rule(version=2, priority=5))
    assert not book.apply(rule(version=1))  # late, older
    assert not book.apply(rule(version=2))  # a replay
    assert book.get("vipps") is not None
    assert book.get("vipps").priority == 5  # type: ignore[union-attr]
    assert book.apply(rule(version=3, status=PostingRuleStatus.DELETED))
    assert book.rules == ()
    assert not book.apply(rule(version=3))


def test_rules_are_ordered_by_priority_then_rule_id() -> None:
    indexes = TenantIndexes()
    for rule_id, priority in (("b", 1), ("c", 0), ("a", 1)):
        assert indexes.apply_posting_rule("t1", rule(rule_id, priority=priority))
    assert [r.rule_id for r in indexes.for_tenant("t1").posting_rules.rules] == ["c", "a", "b"]
    assert indexes.for_tenant("t2").posting_rules.rules == ()


def test_a_rule_with_a_regex_the_semantics_refuse_is_kept_out() -> None:
    book = PostingRuleBook()
    assert book.apply(rule(conditions={"text_regex": "(a+)+$"}))
    assert book.rules == ()


def test_a_caught_line_is_a_rule_posting_naming_the_rule_and_each_condition(book: Book) -> None:
    index = book.index()
    index.posting_rules.apply(
        rule(
            version=4,
            conditions={
                "counterparty_name_contains": "vipps",
                "bank_transaction_code": {"domain": "PMNT"},
                "sign": "positive",
            },
        )
    )
    line = book.line(
        "l1",
        "1250.00",
        payer="Vipps MobilePay AS",
        bank_transaction_code=BankTransactionCode(domain="PMNT", family="RCDT"),
    )
    decision = ENGINE.decide(book.tenant_id, line, index)

    assert decision.kind is DecisionKind.RULE_POSTING
    assert (decision.rule, decision.gl_account) == ("posting_rule", "7790")
    assert (decision.posting_rule_id, decision.posting_rule_version) == ("vipps", 4)
    assert decision.confidence == Decimal("0.95")
    assert [e.item_field for e in decision.evidence] == [
        "vipps.conditions.counterparty_name_contains",
        "vipps.conditions.bank_transaction_code",
        "vipps.conditions.sign",
    ]
    assert (
        decision.explanation
        == "posting rule 'rule vipps' (vipps v4) catches the line: 1250.00 NOK to GL 7790"
    )


def test_a_suspense_action_is_a_suspense_decision_naming_the_rule(book: Book) -> None:
    index = book.index()
    index.posting_rules.apply(rule(action={"kind": "suspense"}))
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "80.00", payer="Vipps AS"), index)
    assert decision.kind is DecisionKind.SUSPENSE
    assert (decision.rule, decision.posting_rule_id, decision.posting_rule_version) == (
        "posting_rule",
        "vipps",
        1,
    )
    assert decision.explanation.startswith("posting rule 'rule vipps' (vipps v1) catches")


def test_a_posting_rule_never_beats_a_kid_match(book: Book) -> None:
    index = book.index(book.item("INV-1", "500.00", reference=KID))
    index.posting_rules.apply(rule(priority=0))
    line = book.line("l1", "500.00", reference=KID, payer="Vipps AS")
    decision = ENGINE.evaluate(book.tenant_id, line, index)
    assert (decision.kind, decision.rule) == (DecisionKind.MATCH, "structured_reference")
    assert decision.posting_rule_id is None


def test_a_posting_rule_is_only_proposed_when_the_line_could_pay_an_item(book: Book) -> None:
    # the only open item with the amount: amount-only evidence proposes it, no more
    index = book.index(book.item("INV-1", "500.00"))
    index.posting_rules.apply(rule())
    decision = ENGINE.evaluate(book.tenant_id, book.line("l1", "500.00", payer="Vipps AS"), index)
    assert decision.kind is DecisionKind.PROPOSAL
    assert decision.rule == "posting_rule"
    assert "the line could pay open item INV-1" in decision.explanation
    assert [p.item_id for p in decision.proposals] == ["INV-1"]


def test_with_automatic_matching_off_the_rule_posting_is_a_proposal(book: Book) -> None:
    index = book.index()
    index.posting_rules.apply(rule())
    decision = ENGINE.evaluate(
        book.tenant_id,
        book.line("l1", "80.00", payer="Vipps AS"),
        index,
        MatchingPolicy(auto_confirm=False),
    )
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSAL, "posting_rule")
