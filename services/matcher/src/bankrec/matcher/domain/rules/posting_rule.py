"""Rule: the tenant's posting rules (seed 004, "bokføringsregler"), after the item rules.

The first active rule of the tenant's book (priority, then rule id) whose conditions all hold
(``bankrec.contracts.posting_rule_conditions``, the semantics the ledger shares) proves:

- ``rule_posting`` to the action's ``gl_account`` (split as the rule says, by the ledger),
  naming the rule id and version; evidence names each condition that held;
- ``suspense`` for a ``suspense`` action, naming the rule (the engine makes the decision).

It runs after the item rules, so it never overrides a confirmed item match; and the engine
does not confirm it when an item rule proved or proposed an open item the line could pay
(a Vipps payout rule must not swallow a customer's payment that came through Vipps): a
person chooses between the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from bankrec.contracts import (
    DecisionKind,
    Evidence,
    PostingRule,
    PostingRuleActionKind,
    StatementLine,
    rule_catches,
    rule_text,
)
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import NOTHING, Proof, RuleOutcome, shown

NAME = "posting_rule"
TEXT_SHOWN_MAX = 80


@dataclass(frozen=True, slots=True)
class PostingRuleRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        caught = next((r for r in index.posting_rules.rules if rule_catches(r, line)), None)
        if caught is None:
            return NOTHING
        evidence = tuple(self.conditions_held(caught, line))
        named = f"posting rule {caught.name!r} ({caught.rule_id} v{caught.version})"
        if caught.action.kind is PostingRuleActionKind.SUSPENSE:
            return RuleOutcome(
                proof=Proof(
                    kind=DecisionKind.SUSPENSE,
                    confidence=scoring.POSTING_RULE,
                    evidence=evidence,
                    allocations=(),
                    explanation=f"{named} catches the line and sends it to suspense",
                    posting_rule=caught,
                )
            )
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.RULE_POSTING,
                confidence=scoring.POSTING_RULE,
                evidence=evidence,
                allocations=(),
                explanation=f"{named} catches the line: {shown(line.amount)} to GL "
                f"{caught.action.gl_account}",
                gl_account=caught.action.gl_account,
                posting_rule=caught,
            )
        )

    def conditions_held(self, rule: PostingRule, line: StatementLine) -> list[Evidence]:
        """One evidence per condition the rule has (all held, or it would not catch)."""
        conditions = rule.conditions
        party = line.counterparty
        found: list[Evidence] = []

        def held(field: str, line_value: str | None, condition: str, value: str) -> None:
            found.append(
                Evidence(
                    rule=self.name,
                    field=field,
                    line_value=line_value,
                    item_field=f"{rule.rule_id}.conditions.{condition}",
                    item_value=value,
                    note="holds",
                )
            )

        if conditions.counterparty_name_contains is not None:
            held(
                "counterparty.name",
                party.name if party else None,
                "counterparty_name_contains",
                conditions.counterparty_name_contains,
            )
        if conditions.counterparty_accounts:
            held(
                "counterparty.account",
                party.account_number if party else None,
                "counterparty_accounts",
                ", ".join(conditions.counterparty_accounts),
            )
        text = rule_text(line)[:TEXT_SHOWN_MAX]
        if conditions.text_contains is not None:
            held("text", text, "text_contains", conditions.text_contains)
        if conditions.text_regex is not None:
            held("text", text, "text_regex", conditions.text_regex)
        code = conditions.bank_transaction_code
        if code is not None:
            given = line.bank_transaction_code
            held(
                "bank_transaction_code",
                "/".join(
                    part or "-"
                    for part in (
                        (given.domain, given.family, given.sub_family, given.proprietary)
                        if given
                        else ()
                    )
                ),
                "bank_transaction_code",
                "/".join(
                    part or "*"
                    for part in (code.domain, code.family, code.sub_family, code.proprietary)
                ),
            )
        amount = shown(line.amount)
        if conditions.sign is not None:
            held("amount", amount, "sign", conditions.sign.value)
        if conditions.currency is not None:
            held("amount.currency", line.amount.currency, "currency", conditions.currency)
        if conditions.amount_min is not None:
            held("amount", amount, "amount_min", f"{conditions.amount_min:f}")
        if conditions.amount_max is not None:
            held("amount", amount, "amount_max", f"{conditions.amount_max:f}")
        return found
