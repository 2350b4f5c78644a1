"""Posting rules (seed 004): which statement lines a tenant's rule catches, and what it posts.

Pure functions over the contract's ``PostingRule`` and ``StatementLine``, so whoever
evaluates the rules (the matcher) and the ledger that posts them agree:

- ``validated_rule``: a rule as the ledger accepts it (conditions, a safe regex, GL accounts
  in the chart);
- ``rule_catches`` / ``first_rule_catching``: the conditions (AND) against one line, and the
  first active rule by priority (ties by rule id);
- ``rule_posting_parts``: the line amount divided over the action's GL accounts; the parts
  always add up to the line amount (the remainder account absorbs rounding);
- ``next_version`` / ``deleted_version``: versions are immutable; a change is a new one.

The regex condition is limited so that no rule can make evaluation slow (Python's ``re``
backtracks and has no timeout): at most ``REGEX_LENGTH_MAX`` characters, no backreferences,
lookarounds or conditionals, no repetition of a group that repeats or alternates inside
(``(a+)+``, ``(a|b)*``), and an estimated backtracking cost (text length times the product
of the repetition bounds, an unbounded one counting as the text length) of at most
``REGEX_COST_MAX``; the regex sees at most ``RULE_TEXT_LENGTH_MAX`` characters of a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bankrec.contracts import (
    AccountRole,
    AmountSign,
    Money,
    PostingRule,
    PostingRuleAction,
    PostingRuleActionKind,
    PostingRuleConditions,
    PostingRuleStatus,
    StatementLine,
    currency_exponent,
    normalize_account_number,
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
REGEX_LENGTH_MAX = 200
RULE_TEXT_LENGTH_MAX = 300
REGEX_COST_MAX = 10**7

_GROUP_PREFIXES_REFUSED = {
    "(?=": "lookahead",
    "(?!": "negative lookahead",
    "(?<=": "lookbehind",
    "(?<!": "negative lookbehind",
    "(?P=": "backreference",
    "(?(": "conditional",
}
_BOUNDED = re.compile(r"\{(\d{0,4})(,(\d{0,4}))?\}")


@dataclass
class _Group:
    repeats: bool = False  # something inside repeats more than once
    alternates: bool = False  # '|' inside


def _regex_error(message: str) -> InvalidPostingRule:
    return InvalidPostingRule("conditions.text_regex", message)


def _quantifier_at(pattern: str, index: int) -> tuple[int | None, int] | None:
    """(most repetitions, None = unbounded; characters used) of a quantifier at ``index``."""
    char = pattern[index]
    if char in "*+":
        bound, used = None, 1
    elif char == "?":
        bound, used = 1, 1
    elif char == "{":
        found = _BOUNDED.match(pattern, index)
        if found is None or (found.group(1) == "" and found.group(2) is None):
            return None  # a literal '{'
        low = int(found.group(1) or 0)
        upper = found.group(3)
        unbounded = found.group(2) is not None and not upper
        bound = None if unbounded else int(upper) if upper else low
        used = found.end() - index
    else:
        return None
    if index + used < len(pattern) and pattern[index + used] in "?+":
        used += 1  # lazy or possessive
    return bound, used


def _class_end(pattern: str, index: int) -> int:
    """The index after the character class that starts at ``index`` ('[')."""
    position = index + 1
    if position < len(pattern) and pattern[position] == "^":
        position += 1
    if position < len(pattern) and pattern[position] == "]":
        position += 1
    while position < len(pattern):
        if pattern[position] == "\\":
            position += 2
            continue
        if pattern[position] == "]":
            return position + 1
        position += 1
    raise _regex_error("has a character class '[' that is never closed")


def regex_cost(pattern: str) -> int:
    """The backtracking cost estimate of a pattern (see the module docstring); raises
    ``InvalidPostingRule`` for what is refused outright."""
    stack: list[_Group] = [_Group()]
    cost = RULE_TEXT_LENGTH_MAX
    previous_group: _Group | None = None  # the group just closed, if it is the last atom
    has_atom = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        quantifier = _quantifier_at(pattern, index) if has_atom else None
        if quantifier is not None:
            bound, used = quantifier
            repeats = bound is None or bound > 1
            if (
                repeats
                and previous_group is not None
                and (previous_group.repeats or previous_group.alternates)
            ):
                raise _regex_error(
                    "repeats a group that repeats or alternates inside (like (a+)+ or (a|b)*), "
                    "which can take exponential time; rewrite it without the nesting"
                )
            if repeats:
                stack[-1].repeats = True
                cost *= RULE_TEXT_LENGTH_MAX if bound is None else bound
                if cost > REGEX_COST_MAX:
                    raise _regex_error(
                        "repeats too much: one unbounded repetition (*, +, {n,}) with small "
                        "bounded ones is the most a rule may use; bound the others, e.g. "
                        r"\s{1,5} for \s+ and \d{1,12} for \d+"
                    )
            previous_group, has_atom = None, False
            index += used
            continue
        previous_group = None
        if char == "\\":
            following = pattern[index + 1 : index + 2]
            if not following:
                raise _regex_error("ends with a lone backslash")
            if (following.isdigit() and following != "0") or following == "g":
                raise _regex_error("uses a backreference, which is not allowed in a rule")
            has_atom = True
            index += 2
        elif char == "[":
            index = _class_end(pattern, index)
            has_atom = True
        elif char == "(":
            for prefix, what in _GROUP_PREFIXES_REFUSED.items():
                if pattern.startswith(prefix, index):
                    raise _regex_error(f"uses a {what}, which is not allowed in a rule")
            stack.append(_Group())
            has_atom = False
            index += 1
        elif char == ")":
            if len(stack) == 1:
                raise _regex_error("closes a group ')' that was never opened")
            closed = stack.pop()
            if closed.repeats:
                stack[-1].repeats = True
            previous_group, has_atom = closed, True
            index += 1
        elif char == "|":
            stack[-1].alternates = True
            has_atom = False
            index += 1
        else:
            has_atom = True
            index += 1
    return cost


def compiled_regex(pattern: str) -> re.Pattern[str]:
    """A rule's regex, checked against the limits and compiled case-insensitively."""
    if not pattern.strip():
        raise _regex_error("is empty; leave it out instead")
    if len(pattern) > REGEX_LENGTH_MAX:
        raise _regex_error(f"is {len(pattern)} characters long; at most {REGEX_LENGTH_MAX}")
    regex_cost(pattern)
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise _regex_error(f"is not a valid regular expression: {exc}") from exc


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


# --- evaluation -------------------------------------------------------------------------


def rule_text(line: StatementLine) -> str:
    """The text a rule's text conditions look at, at most ``RULE_TEXT_LENGTH_MAX`` long."""
    parts = [line.remittance_text, line.additional_info, *line.referred_documents]
    return "\n".join(part for part in parts if part)[:RULE_TEXT_LENGTH_MAX]


def rule_catches(rule: PostingRule, line: StatementLine) -> bool:
    """Whether every condition of an active rule holds for the line."""
    if rule.status is not PostingRuleStatus.ACTIVE:
        return False
    conditions = rule.conditions
    amount = line.amount
    if conditions.currency is not None and amount.currency != conditions.currency:
        return False
    if conditions.sign is AmountSign.POSITIVE and amount.amount <= 0:
        return False
    if conditions.sign is AmountSign.NEGATIVE and amount.amount >= 0:
        return False
    if conditions.amount_min is not None and abs(amount.amount) < conditions.amount_min:
        return False
    if conditions.amount_max is not None and abs(amount.amount) > conditions.amount_max:
        return False
    counterparty = line.counterparty
    if conditions.counterparty_name_contains is not None:
        name = (counterparty.name if counterparty else None) or ""
        if conditions.counterparty_name_contains.casefold() not in name.casefold():
            return False
    if conditions.counterparty_accounts:
        number = counterparty.account_number if counterparty else None
        if not number or normalize_account_number(number) not in conditions.counterparty_accounts:
            return False
    code = conditions.bank_transaction_code
    if code is not None:
        given = line.bank_transaction_code
        for field in ("domain", "family", "sub_family", "proprietary"):
            wanted = getattr(code, field)
            actual = getattr(given, field) if given else None
            if wanted is not None and (actual or "").casefold() != wanted.casefold():
                return False
    text = rule_text(line)
    if (
        conditions.text_contains is not None
        and conditions.text_contains.casefold() not in text.casefold()
    ):
        return False
    return not (
        conditions.text_regex is not None
        and compiled_regex(conditions.text_regex).search(text) is None
    )


def first_rule_catching(rules: Iterable[PostingRule], line: StatementLine) -> PostingRule | None:
    """The first active rule (by priority, then rule id) whose conditions hold."""
    for rule in sorted(rules, key=lambda r: (r.priority, r.rule_id)):
        if rule_catches(rule, line):
            return rule
    return None


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
