"""Posting rules, pure: validation (a safe regex, accounts in the chart), which lines a
rule catches, which rule comes first, how a line is split, and versions."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bankrec.contracts import (
    BankAccountRef,
    BankTransactionCode,
    Counterparty,
    DecisionKind,
    Money,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleStatus,
    StatementLine,
)
from bankrec.ledger.domain import Chart, post_decision
from bankrec.ledger.domain.posting_rules import (
    RULE_TEXT_LENGTH_MAX,
    compiled_regex,
    deleted_version,
    first_rule_catching,
    next_version,
    regex_cost,
    rule_catches,
    rule_posting_parts,
    validated_rule,
)
from bankrec.ledger.errors import (
    DecisionNoLongerFits,
    InvalidDecision,
    InvalidPostingRule,
    UnknownPostingRule,
)

AT = datetime(2026, 11, 23, 9, tzinfo=UTC)
VIPPS = {"counterparty_name_contains": "vipps"}
TO_SALES = {"kind": "post_to_account", "gl_account": "7790"}


def rule(
    rule_id: str = "vipps",
    conditions: dict[str, Any] | None = None,
    action: dict[str, Any] | None = None,
    **fields: Any,
) -> PostingRule:
    return PostingRule(
        rule_id=rule_id,
        version=fields.pop("version", 1),
        name=fields.pop("name", "Vipps payouts"),
        priority=fields.pop("priority", 10),
        conditions=PostingRuleConditions.model_validate(
            VIPPS if conditions is None else conditions
        ),
        action=PostingRuleAction.model_validate(action or TO_SALES),
        changed_at=AT,
        **fields,
    )


def line(amount: str = "9700.00", **fields: Any) -> StatementLine:
    return StatementLine(
        line_id="line-1",
        statement_id="s-1",
        account=BankAccountRef(account_id="acc-1", currency="NOK"),
        sequence=0,
        amount=Money.of(amount, fields.pop("currency", "NOK")),
        counterparty=fields.pop("counterparty", Counterparty(name="Vipps MobilePay AS")),
        **fields,
    )


# --- the regex limits -------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        r"^VIPPS",
        r"vipps\s{1,5}oppgjør\s{1,5}\d{1,12}",
        r".*oppgjør",
        r"[A-Z]{2}\d{2}[A-Z0-9]{1,30}",
        r"(?i)rente",
        r"(?:vipps|mobilepay) payout",
        r"invoice (no\.?|nr) ?\d{4,10}",
        r"a{2,}",
        r"\N{EM DASH}",
    ],
)
def test_ordinary_regexes_are_accepted(pattern: str) -> None:
    compiled_regex(pattern)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a+)+$", "repeats a group"),
        (r"(a|aa)*b", "repeats a group"),
        (r"(\d+\s?)+x", "repeats a group"),
        (r"(?:x*){2,}", "repeats a group"),
        (r".*.*=.*", "repeats too much"),
        (r"\d+\w+", "repeats too much"),
        (r"vipps\s+oppgjør\s+\d{1,12}", r"\\s\{1,5\} for \\s\+"),
        (r"a{1,1000}b{1,1000}", "repeats too much"),
        (r"(a)\1", "backreference"),
        (r"(?P<x>a)(?P=x)", "backreference"),
        (r"foo(?=bar)", "lookahead"),
        (r"(?<!x)y", "lookbehind"),
        (r"(?(1)a|b)", "conditional"),
        (r"[abc", "never closed"),
        (r"abc)", "never opened"),
        (r"a(b", "not a valid regular expression"),
        ("x" * 201, "at most 200"),
        ("  ", "empty"),
    ],
)
def test_dangerous_or_broken_regexes_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(InvalidPostingRule, match=message) as refused:
        compiled_regex(pattern)
    assert refused.value.field == "conditions.text_regex"


def test_the_cost_estimate_counts_repetitions() -> None:
    assert regex_cost("vipps") == RULE_TEXT_LENGTH_MAX
    assert regex_cost(r"\d{4}-\d{2}") == RULE_TEXT_LENGTH_MAX * 4 * 2
    assert regex_cost(r"x.*y") == RULE_TEXT_LENGTH_MAX**2
    assert regex_cost(r"a?b?") == RULE_TEXT_LENGTH_MAX  # at most once each: no factor


def test_an_accepted_regex_stays_fast_on_a_hostile_line() -> None:
    """Not a benchmark: a guard that the worst accepted shapes do not backtrack for long."""
    hostile = "a" * 5000
    for pattern in (r"a.*a{1,12}b", r"(?:a|b)c", r"a*b"):
        started = time.perf_counter()
        rule_catches(rule(conditions={"text_regex": pattern}), line(remittance_text=hostile))
        assert time.perf_counter() - started < 2.0, pattern


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "action", "field"),
    [
        ({}, TO_SALES, "conditions"),
        (VIPPS, {"kind": "post_to_account", "gl_account": "3999"}, "action.gl_account"),
        (VIPPS, {"kind": "post_to_account", "gl_account": "1920"}, "action.gl_account"),
        (VIPPS, {"kind": "post_to_account", "gl_account": "2900"}, "action.gl_account"),
        (VIPPS, {"kind": "post_to_account"}, "action.gl_account"),
        (VIPPS, {"kind": "suspense", "gl_account": "7790"}, "action"),
        ({"amount_min": "10"}, TO_SALES, "conditions.currency"),
        (
            {"amount_min": "10", "amount_max": "5", "currency": "NOK"},
            TO_SALES,
            "conditions.amount_min",
        ),
        ({"amount_min": "1.001", "currency": "NOK"}, TO_SALES, "conditions.amount_min"),
        ({"text_contains": " "}, TO_SALES, "conditions.text_contains"),
        ({"counterparty_accounts": ["--"]}, TO_SALES, "conditions.counterparty_accounts"),
        ({"bank_transaction_code": {}}, TO_SALES, "conditions.bank_transaction_code"),
        (
            VIPPS,
            {"kind": "post_to_account", "gl_account": "7790", "splits": [{"gl_account": "7770"}]},
            "action.splits.0",
        ),
        (
            VIPPS,
            {
                "kind": "post_to_account",
                "gl_account": "7790",
                "splits": [{"gl_account": "7770", "percent": "100"}],
            },
            "action.splits.0.percent",
        ),
        (
            VIPPS,
            {
                "kind": "post_to_account",
                "gl_account": "7790",
                "splits": [{"gl_account": "7770", "amount": "5"}],
            },
            "conditions.currency",
        ),
    ],
    ids=[
        "no-conditions",
        "unknown-gl",
        "bank-gl",
        "interim-gl",
        "no-gl",
        "suspense-with-gl",
        "amount-no-currency",
        "min-above-max",
        "too-many-decimals",
        "blank-text",
        "bad-account",
        "empty-code",
        "split-without-share",
        "split-100-percent",
        "fixed-split-no-currency",
    ],
)
def test_rules_the_ledger_refuses(
    conditions: dict[str, Any], action: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidPostingRule) as refused:
        validated_rule(rule(conditions=conditions, action=action), Chart.default())
    assert refused.value.field == field


def test_a_valid_rule_is_kept_with_normalized_accounts() -> None:
    checked = validated_rule(
        rule(
            conditions={"counterparty_accounts": ["1234.56.78903", "12345678903"]}, name=" Vipps "
        ),
        Chart.default(),
    )
    assert checked.conditions.counterparty_accounts == ["12345678903"]
    assert checked.name == "Vipps"
    with pytest.raises(InvalidPostingRule, match="rule_id"):
        validated_rule(rule("bad id"), Chart.default())


# --- evaluation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "fields", "caught"),
    [
        (VIPPS, {}, True),
        ({"counterparty_name_contains": "VIPPS MOBILEPAY"}, {}, True),
        ({"counterparty_name_contains": "klarna"}, {}, False),
        (
            {"counterparty_accounts": ["12345678903"]},
            {"counterparty": Counterparty(other_account="1234.56.78903")},
            True,
        ),
        ({"counterparty_accounts": ["12345678903"]}, {}, False),
        ({"text_contains": "oppgjør"}, {"remittance_text": "Vipps OPPGJØR 2211"}, True),
        ({"text_contains": "oppgjør"}, {"additional_info": "oppgjør"}, True),
        ({"text_regex": r"oppgjør \d{4}$"}, {"remittance_text": "Vipps oppgjør 2211"}, True),
        ({"text_regex": r"^oppgjør"}, {"remittance_text": "Vipps oppgjør"}, False),
        (
            {"bank_transaction_code": {"domain": "pmnt", "family": "RCDT"}},
            {
                "bank_transaction_code": BankTransactionCode(
                    domain="PMNT", family="RCDT", sub_family="ESCT"
                )
            },
            True,
        ),
        (
            {"bank_transaction_code": {"sub_family": "CHRG"}},
            {"bank_transaction_code": BankTransactionCode(domain="PMNT", sub_family="ESCT")},
            False,
        ),
        ({"bank_transaction_code": {"family": "RCDT"}}, {}, False),
        ({"sign": "positive"}, {}, True),
        ({"sign": "negative"}, {}, False),
        ({"amount_min": "9700", "amount_max": "9700", "currency": "NOK"}, {}, True),
        ({"amount_min": "9700.01", "currency": "NOK"}, {}, False),
        ({"amount_max": "100", "currency": "NOK", "sign": "negative"}, {"amount": "-100.00"}, True),
        ({"currency": "EUR"}, {}, False),
    ],
)
def test_which_lines_a_rule_catches(
    conditions: dict[str, Any], fields: dict[str, Any], caught: bool
) -> None:
    assert rule_catches(rule(conditions=conditions), line(**fields)) is caught


def test_the_first_active_rule_by_priority_wins() -> None:
    broad = rule("broad", {"sign": "positive"}, priority=20)
    narrow = rule("narrow", VIPPS, priority=10)
    tie = rule("a-tie", VIPPS, priority=10)
    deleted = rule("deleted", VIPPS, priority=0, status=PostingRuleStatus.DELETED)
    assert first_rule_catching([broad, narrow, tie, deleted], line()) == tie
    assert first_rule_catching([broad, narrow], line()) == narrow
    assert first_rule_catching([narrow], line(counterparty=Counterparty(name="Klarna"))) is None


# --- split ------------------------------------------------------------------------------


def split_action(*splits: dict[str, str]) -> PostingRuleAction:
    return PostingRuleAction.model_validate(
        {"kind": "post_to_account", "gl_account": "7790", "splits": list(splits)}
    )


def test_a_percentage_split_adds_up_to_the_line() -> None:
    parts = rule_posting_parts(
        split_action({"gl_account": "7770", "percent": "2.75"}), Money.of("9999.99", "NOK")
    )
    assert [(p.gl_account, str(p.amount)) for p in parts] == [
        ("7770", "275.00 NOK"),
        ("7790", "9724.99 NOK"),
    ]
    assert sum(p.amount.amount for p in parts) == Decimal("9999.99")


def test_a_fixed_split_takes_the_lines_sign() -> None:
    parts = rule_posting_parts(
        split_action(
            {"gl_account": "7770", "amount": "25.00"}, {"gl_account": "8140", "percent": "10"}
        ),
        Money.of("-200.00", "NOK"),
    )
    assert [(p.gl_account, p.amount.amount) for p in parts] == [
        ("7770", Decimal("-25.00")),
        ("8140", Decimal("-20.00")),
        ("7790", Decimal("-155.00")),
    ]


def test_a_rule_posting_splits_the_entry(make: Any) -> None:
    vipps = rule(
        action={
            "kind": "post_to_account",
            "gl_account": "7790",
            "splits": [{"gl_account": "7770", "percent": "3"}],
        }
    )
    decision = make.decision(
        "rule_posting", "1000.00", posting_rule_id="vipps", posting_rule_version=1
    )
    posting = post_decision(
        "t-1", decision, {}, make.chart(), posted_on=date(2026, 12, 1), rule=vipps
    )
    assert posting.entry is not None
    assert [(x.account_code, x.debit, x.credit) for x in posting.entry.lines] == [
        ("7770", Decimal("0.00"), Decimal("30.00")),
        ("7790", Decimal("0.00"), Decimal("970.00")),
        ("1920", Decimal("1000.00"), Decimal("0.00")),
    ]
    assert (posting.entry.posting_rule_id, posting.entry.posting_rule_version) == ("vipps", 1)


def test_a_decision_and_its_rule_must_agree(make: Any) -> None:
    chart, on = make.chart(), date(2026, 12, 1)
    vipps = rule()
    named = {"posting_rule_id": "vipps", "posting_rule_version": 1}
    with pytest.raises(UnknownPostingRule):
        post_decision("t", make.decision("rule_posting", "1.00", **named), {}, chart, posted_on=on)
    other = {"posting_rule_id": "vipps", "posting_rule_version": 2}
    with pytest.raises(UnknownPostingRule):
        post_decision(
            "t", make.decision("rule_posting", "1.00", **other), {}, chart, posted_on=on, rule=vipps
        )
    with pytest.raises(InvalidDecision, match="makes rule_posting decisions"):
        post_decision(
            "t",
            make.decision(DecisionKind.SUSPENSE, "1.00", **named),
            {},
            chart,
            posted_on=on,
            rule=vipps,
        )
    with pytest.raises(InvalidDecision, match="posts to 7770"):
        post_decision(
            "t",
            make.decision("rule_posting", "1.00", gl_account="7770", **named),
            {},
            chart,
            posted_on=on,
            rule=vipps,
        )
    gone = vipps.model_copy(update={"status": PostingRuleStatus.DELETED})
    with pytest.raises(DecisionNoLongerFits, match="deleted"):
        post_decision(
            "t", make.decision("rule_posting", "1.00", **named), {}, chart, posted_on=on, rule=gone
        )
    suspense = rule(action={"kind": "suspense"})
    posting = post_decision(
        "t", make.decision("suspense", "1.00", **named), {}, chart, posted_on=on, rule=suspense
    )
    assert posting.entry is not None
    assert [line.account_code for line in posting.entry.lines] == ["1920", "2900"]


# --- versions ---------------------------------------------------------------------------


def test_every_change_is_a_new_version() -> None:
    first = next_version(None, rule(), at=AT, by="kari")
    assert first is not None
    assert (first.version, first.changed_by) == (1, "kari")
    assert next_version(first, rule(), at=AT, by="ola") is None
    second = next_version(first, rule(priority=5), at=AT, by="ola")
    assert second is not None
    assert (second.version, second.priority) == (2, 5)
    gone = deleted_version(second, at=AT, by="ola")
    assert (gone.version, gone.status) == (3, PostingRuleStatus.DELETED)
    revived = next_version(gone, rule(priority=5), at=AT, by="kari")
    assert revived is not None
    assert (revived.version, revived.status) == (4, PostingRuleStatus.ACTIVE)
