"""Posting rules: a tenant's standing instructions for statement lines no open item explains
(seed 004, "bokføringsregler"): lines that meet the conditions post to a GL account
(optionally split, e.g. payout and fee) or go to suspense.

The ledger keeps the rules and publishes every version on a compacted topic keyed by tenant
and rule; the matcher evaluates them (first active rule by ``priority``, then ``rule_id``)
and names the rule id and version in its decision. Versions are immutable: any change makes
a new version, a deleted rule is a last version with status ``deleted``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bankrec.contracts.money import Amount, Currency


class AmountSign(StrEnum):
    POSITIVE = "positive"  # money in (a credit on the statement)
    NEGATIVE = "negative"  # money out


class TransactionCodeCondition(BaseModel):
    """Every field given must equal the line's bank transaction code (case-insensitive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    domain: str | None = Field(default=None, max_length=35, examples=["PMNT"])
    family: str | None = Field(default=None, max_length=35, examples=["RCDT"])
    sub_family: str | None = Field(default=None, max_length=35, examples=["ESCT"])
    proprietary: str | None = Field(default=None, max_length=35)


class PostingRuleConditions(BaseModel):
    """All the conditions given must hold (AND); at least one must be given."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    counterparty_name_contains: str | None = Field(
        default=None, max_length=200, description="Case-insensitive part of the payer/payee name"
    )
    counterparty_accounts: list[str] = Field(
        default_factory=list, description="The line's counterparty account is one of these"
    )
    text_contains: str | None = Field(
        default=None,
        max_length=200,
        description="Case-insensitive part of the line's text (remittance text, additional "
        "info, referred documents)",
    )
    text_regex: str | None = Field(
        default=None,
        description="A regular expression searched in the same text (case-insensitive; "
        "length and complexity limited, no backreferences or lookarounds)",
    )
    bank_transaction_code: TransactionCodeCondition | None = None
    amount_min: Amount | None = Field(
        default=None, description="Smallest absolute amount (inclusive); needs currency"
    )
    amount_max: Amount | None = Field(
        default=None, description="Largest absolute amount (inclusive); needs currency"
    )
    sign: AmountSign | None = None
    currency: Currency | None = None


class PostingRuleActionKind(StrEnum):
    POST_TO_ACCOUNT = "post_to_account"
    SUSPENSE = "suspense"


class PostingRuleSplit(BaseModel):
    """A share of the line amount posted to its own GL account: ``percent`` of it, or a fixed
    ``amount`` (a magnitude, taken with the line's sign, in the rule's currency)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gl_account: str = Field(max_length=20)
    percent: Amount | None = Field(default=None, description="0 < percent < 100")
    amount: Amount | None = None


class PostingRuleAction(BaseModel):
    """What a line the rule catches does: post to ``gl_account`` (which takes what the
    splits leave, so the entry always balances), or go to suspense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PostingRuleActionKind
    gl_account: str | None = Field(default=None, max_length=20)
    splits: list[PostingRuleSplit] = Field(default_factory=list)


class PostingRuleStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class PostingRule(BaseModel):
    """One version of a tenant's posting rule; the compacted topic keeps the latest."""

    MESSAGE_TYPE: ClassVar[str] = "posting_rule.changed"

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    version: int = Field(ge=1, description="Increases with every change; a decision names it")
    name: str
    priority: int = Field(ge=0, description="Lower is evaluated first; ties by rule_id")
    conditions: PostingRuleConditions
    action: PostingRuleAction
    status: PostingRuleStatus = PostingRuleStatus.ACTIVE
    changed_at: AwareDatetime
    changed_by: str | None = None
