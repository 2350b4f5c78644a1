"""Posting rule conditions (seed 004): which statement lines a tenant's rule catches.

The semantics both services share: the ledger validates a rule's regex with them and the
matcher evaluates the rules with them, so the two can never disagree on what a rule means.

- ``rule_text``: the text a rule's text conditions look at;
- ``rule_catches`` / ``first_rule_catching``: the conditions (AND) against one line, and the
  first active rule by priority (ties by rule id);
- ``compiled_regex`` / ``regex_cost``: the regex condition, refused (``PostingRuleRegexError``) when it
  could make evaluation slow.

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
from functools import lru_cache

from bankrec.contracts.accounts import normalize_account_number
from bankrec.contracts.posting_rules import AmountSign, PostingRule, PostingRuleStatus
from bankrec.contracts.statements import StatementLine

REGEX_LENGTH_MAX = 200
RULE_TEXT_LENGTH_MAX = 300
REGEX_COST_MAX = 10**7


class PostingRuleRegexError(ValueError):
    """A rule's ``text_regex`` that is broken or could backtrack for long; the message says
    what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def _regex_error(message: str) -> PostingRuleRegexError:
    return PostingRuleRegexError(message)


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
    ``PostingRuleRegexError`` for what is refused outright."""
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


@lru_cache(maxsize=1024)
def compiled_regex(pattern: str) -> re.Pattern[str]:
    """A rule's regex, checked against the limits and compiled case-insensitively (cached:
    the matcher evaluates the same few patterns for every line); raises ``PostingRuleRegexError``."""
    if not pattern.strip():
        raise _regex_error("is empty; leave it out instead")
    if len(pattern) > REGEX_LENGTH_MAX:
        raise _regex_error(f"is {len(pattern)} characters long; at most {REGEX_LENGTH_MAX}")
    regex_cost(pattern)
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise _regex_error(f"is not a valid regular expression: {exc}") from exc


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
