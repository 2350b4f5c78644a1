"""Posting rules (seed 004): which rules the ledger keeps, and what a rule's line posts.

Pure functions over the contract's ``PostingRule`` and ``StatementLine``:

- ``validated_rule``: a rule as the ledger accepts it (conditions, a safe regex, GL accounts
  in the chart);
- ``rule_catches`` / ``first_rule_catching`` / ``rule_text``: the condition semantics, kept in
  ``bankrec.contracts.posting_rule_conditions`` so the matcher that evaluates the rules and
  the ledger agree (re-exported here); ``compiled_regex`` / ``regex_cost`` are those limits
  with the ledger's ``InvalidPostingRule`` (see that module for the regex limits);
- ``rule_posting_parts``: the line amount divided over the action's GL accounts; the parts
  always add up to the line amount (the remainder account absorbs rounding);
- ``next_version`` / ``deleted_version``: versions are immutable; a change is a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bankrec.contracts import (
    AccountRole,
    Money,
    PostingRule,
    PostingRuleAction,
    PostingRuleActionKind,
    PostingRuleConditions,
    PostingRuleStatus,
    currency_exponent,
    normalize_account_number,
)
from bankrec.contracts import posting_rule_conditions as conditions_semantics
from bankrec.contracts.posting_rule_conditions import (
    REGEX_COST_MAX,
    REGEX_LENGTH_MAX,
    RULE_TEXT_LENGTH_MAX,
    PostingRuleRegexError,
    first_rule_catching,
    rule_catches,
    rule_text,
)
from bankrec.ledger.domain.amounts import AMOUNT_ABS_LIMIT
from bankrec.ledger.domain.chart import Chart
from bankrec.ledger.errors import InvalidPostingRule, UnknownAccount

RULE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
NAME_LENGTH_MAX = 200
PRIORITY_MAX = 1_000_000
COUNTERPARTY_ACCOUNTS_MAX = 20
ACCOUNT_NUMBER_LENGTH_MAX = 34
SPLITS_MAX = 10

__all__ = [
    "ACCOUNT_NUMBER_LENGTH_MAX",
    "COUNTERPARTY_ACCOUNTS_MAX",
    "NAME_LENGTH_MAX",
    "PRIORITY_MAX",
    "REGEX_COST_MAX",
    "REGEX_LENGTH_MAX",
    "RULE_ID_PATTERN",
    "RULE_TEXT_LENGTH_MAX",
    "SPLITS_MAX",
    "RulePostingPart",
    "compiled_regex",
    "deleted_version",
    "first_rule_catching",
    "next_version",
    "regex_cost",
    "rule_catches",
    "rule_posting_parts",
    "rule_text",
    "validated_rule",
]


def compiled_regex(pattern: str) -> re.Pattern[str]:
    """A rule's regex, checked against the limits (``bankrec.contracts``' shared condition
    semantics) and compiled; raises ``InvalidPostingRule`` naming ``conditions.text_regex``."""
    try:
        return conditions_semantics.compiled_regex(pattern)
    except PostingRuleRegexError as exc:
        raise InvalidPostingRule("conditions.text_regex", exc.message) from exc


def regex_cost(pattern: str) -> int:
    """The backtracking cost estimate of a pattern; raises ``InvalidPostingRule`` for what is
    refused outright."""
    try:
        return conditions_semantics.regex_cost(pattern)
    except PostingRuleRegexError as exc:
        raise InvalidPostingRule("conditions.text_regex", exc.message) from exc


def _check_amount(value: Decimal, currency: str, field: str) -> None:
    exponent = currency_exponent(currency)
    if value < 0 or value >= AMOUNT_ABS_LIMIT:
        raise InvalidPostingRule(field, f"{value} must be a non-negative amount in range")
    if value != value.quantize(Decimal(1).scaleb(-exponent)):
        raise InvalidPostingRule(
            field, f"{value} has more decimals than {currency}'s minor unit ({exponent})"
        )


def _check_conditions(conditions: PostingRuleConditions) -> PostingRuleConditions:
    accounts = []
    for number in conditions.counterparty_accounts:
        normalized = normalize_account_number(number)
        if not normalized or len(normalized) > ACCOUNT_NUMBER_LENGTH_MAX:
            raise InvalidPostingRule(
                "conditions.counterparty_accounts",
                f"{number!r} is not an account number (1 to {ACCOUNT_NUMBER_LENGTH_MAX} "
                "letters or digits)",
            )
        if normalized not in accounts:
            accounts.append(normalized)
    if len(accounts) > COUNTERPARTY_ACCOUNTS_MAX:
        raise InvalidPostingRule(
            "conditions.counterparty_accounts", f"at most {COUNTERPARTY_ACCOUNTS_MAX} accounts"
        )
    for name in ("counterparty_name_contains", "text_contains"):
        value = getattr(conditions, name)
        if value is not None and not value.strip():
            raise InvalidPostingRule(f"conditions.{name}", "is blank; leave it out instead")
    if conditions.text_regex is not None:
        compiled_regex(conditions.text_regex)
    code = conditions.bank_transaction_code
    if code is not None and not any((code.domain, code.family, code.sub_family, code.proprietary)):
        raise InvalidPostingRule(
            "conditions.bank_transaction_code", "names no domain, family, sub_family or proprietary"
        )
    for name in ("amount_min", "amount_max"):
        value = getattr(conditions, name)
        if value is not None:
            if conditions.currency is None:
                raise InvalidPostingRule(
                    "conditions.currency", f"is required with {name} (amounts are per currency)"
                )
            _check_amount(value, conditions.currency, f"conditions.{name}")
    if (
        conditions.amount_min is not None
        and conditions.amount_max is not None
        and conditions.amount_min > conditions.amount_max
    ):
        raise InvalidPostingRule("conditions.amount_min", "is larger than amount_max")
    checked = conditions.model_copy(update={"counterparty_accounts": accounts})
    if checked == PostingRuleConditions():
        raise InvalidPostingRule(
            "conditions", "are empty; a rule needs at least one condition, or it catches every line"
        )
    return checked


def _check_account(chart: Chart, code: str | None, field: str) -> None:
    if code is None or not code.strip():
        raise InvalidPostingRule(field, "is required: the GL account to post to")
    try:
        account = chart.account(code)
    except UnknownAccount as exc:
        raise InvalidPostingRule(field, exc.message) from exc
    if account.role in (AccountRole.BANK, AccountRole.INTERIM):
        raise InvalidPostingRule(
            field,
            f"GL {code} is the {account.role.value} account; a rule posts against another "
            "account (use the suspense action for the interim account)",
        )


def _check_action(
    action: PostingRuleAction, chart: Chart, currency: str | None
) -> PostingRuleAction:
    if action.kind is PostingRuleActionKind.SUSPENSE:
        if action.gl_account is not None or action.splits:
            raise InvalidPostingRule(
                "action", "a suspense action names no gl_account and no splits"
            )
        return action
    _check_account(chart, action.gl_account, "action.gl_account")
    if len(action.splits) > SPLITS_MAX:
        raise InvalidPostingRule("action.splits", f"at most {SPLITS_MAX} splits")
    percent_total = Decimal(0)
    for number, split in enumerate(action.splits):
        field = f"action.splits.{number}"
        _check_account(chart, split.gl_account, f"{field}.gl_account")
        if (split.percent is None) == (split.amount is None):
            raise InvalidPostingRule(field, "give exactly one of percent and amount")
        if split.percent is not None:
            if not 0 < split.percent < 100 or split.percent != split.percent.quantize(
                Decimal("0.0001")
            ):
                raise InvalidPostingRule(
                    f"{field}.percent", "must be above 0 and below 100, at most 4 decimals"
                )
            percent_total += split.percent
        if split.amount is not None:
            if currency is None:
                raise InvalidPostingRule(
                    "conditions.currency", "is required for a split with a fixed amount"
                )
            _check_amount(split.amount, currency, f"{field}.amount")
            if split.amount == 0:
                raise InvalidPostingRule(f"{field}.amount", "is zero")
    if percent_total >= 100:
        raise InvalidPostingRule(
            "action.splits", "the percentages add up to 100 or more; the gl_account takes the rest"
        )
    return action


def validated_rule(rule: PostingRule, chart: Chart) -> PostingRule:
    """The rule as the ledger keeps it (account numbers normalized); raises
    ``InvalidPostingRule`` naming the first field that is wrong."""
    if not RULE_ID_PATTERN.match(rule.rule_id):
        raise InvalidPostingRule(
            "rule_id",
            "must be 1-100 letters, digits, '.', '_' or '-' (starting with one of the first two)",
        )
    name = rule.name.strip()
    if not name or len(name) > NAME_LENGTH_MAX:
        raise InvalidPostingRule("name", f"must be 1 to {NAME_LENGTH_MAX} characters")
    if not 0 <= rule.priority <= PRIORITY_MAX:
        raise InvalidPostingRule("priority", f"must be 0 to {PRIORITY_MAX} (lower first)")
    conditions = _check_conditions(rule.conditions)
    action = _check_action(rule.action, chart, conditions.currency)
    return rule.model_copy(update={"name": name, "conditions": conditions, "action": action})


# --- posting ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RulePostingPart:
    """One GL account's share of a line posted by a rule, signed as the line."""

    gl_account: str
    amount: Money


def rule_posting_parts(action: PostingRuleAction, amount: Money) -> tuple[RulePostingPart, ...]:
    """The line amount divided over the action's accounts: each split's share (a percent
    rounded half up to the minor unit, or a fixed amount with the line's sign), and what is
    left on ``gl_account``. The parts add up to ``amount`` exactly."""
    if action.kind is not PostingRuleActionKind.POST_TO_ACCOUNT or action.gl_account is None:
        raise InvalidPostingRule("action", "only a post_to_account action has posting parts")
    unit = Decimal(1).scaleb(-currency_exponent(amount.currency))
    sign = Decimal(1) if amount.amount >= 0 else Decimal(-1)
    parts: list[RulePostingPart] = []
    for split in action.splits:
        if split.percent is not None:
            share = (abs(amount.amount) * split.percent / 100).quantize(unit, ROUND_HALF_UP)
        else:
            assert split.amount is not None
            share = split.amount
        if share:
            parts.append(
                RulePostingPart(
                    split.gl_account, Money(amount=sign * share, currency=amount.currency)
                )
            )
    rest = amount.amount - sum((part.amount.amount for part in parts), Decimal(0))
    if rest:
        parts.append(
            RulePostingPart(action.gl_account, Money(amount=rest, currency=amount.currency))
        )
    return tuple(parts)


# --- versions ---------------------------------------------------------------------------


def _content(rule: PostingRule) -> tuple[object, ...]:
    return (rule.name, rule.priority, rule.conditions, rule.action, rule.status)


def next_version(
    current: PostingRule | None, proposed: PostingRule, *, at: datetime, by: str | None
) -> PostingRule | None:
    """The new version a save makes, or None when it changes nothing (a retry)."""
    if current is not None and _content(current) == _content(proposed):
        return None
    version = 1 if current is None else current.version + 1
    return proposed.model_copy(
        update={
            "version": version,
            "status": PostingRuleStatus.ACTIVE,
            "changed_at": at,
            "changed_by": by,
        }
    )


def deleted_version(current: PostingRule, *, at: datetime, by: str | None) -> PostingRule:
    """The last version of a deleted rule (the matcher stops using it)."""
    return current.model_copy(
        update={
            "version": current.version + 1,
            "status": PostingRuleStatus.DELETED,
            "changed_at": at,
            "changed_by": by,
        }
    )
