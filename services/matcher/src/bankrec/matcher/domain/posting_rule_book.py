"""A tenant's posting rules as the matcher keeps them from the ledger's compacted topic.

One entry per rule id: the newest version wins (an older or equal version, a replay or a
late message, changes nothing); a ``deleted`` version removes the rule. ``rules`` lists the
active rules in evaluation order (priority, then rule id), kept sorted when a rule changes,
not for every line. A rule whose regex the shared condition semantics refuse (the ledger
never publishes one) is kept out, so one bad message cannot stop every line.
"""

from __future__ import annotations

from bankrec.contracts import (
    PostingRule,
    PostingRuleRegexError,
    PostingRuleStatus,
    compiled_regex,
)


class PostingRuleBook:
    """One tenant's active posting rules, newest version of each."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}  # rule id -> newest version seen (deleted too)
        self._active: dict[str, PostingRule] = {}
        self._ordered: tuple[PostingRule, ...] = ()

    def __len__(self) -> int:
        return len(self._active)

    @property
    def rules(self) -> tuple[PostingRule, ...]:
        """The active rules in evaluation order: priority, then rule id."""
        return self._ordered

    def get(self, rule_id: str) -> PostingRule | None:
        return self._active.get(rule_id)

    def apply(self, rule: PostingRule) -> bool:
        """Take a version from the ledger; False when a newer or equal one is known."""
        known = self._versions.get(rule.rule_id)
        if known is not None and known >= rule.version:
            return False
        self._versions[rule.rule_id] = rule.version
        if rule.status is PostingRuleStatus.ACTIVE and _usable(rule):
            self._active[rule.rule_id] = rule
        else:
            self._active.pop(rule.rule_id, None)
        self._ordered = tuple(sorted(self._active.values(), key=lambda r: (r.priority, r.rule_id)))
        return True


def _usable(rule: PostingRule) -> bool:
    pattern = rule.conditions.text_regex
    if pattern is None:
        return True
    try:
        compiled_regex(pattern)
    except PostingRuleRegexError:
        return False
    return True
