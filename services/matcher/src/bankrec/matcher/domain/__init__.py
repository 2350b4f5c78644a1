"""The matcher's pure domain: the open-item index, reference checks, the tenant's matching
policy and the rule cascade."""

from bankrec.matcher.domain.engine import (
    DEFAULT_RULES,
    SUSPENSE_RULE,
    MatchEngine,
    best_proposals,
    decision_id_for,
)
from bankrec.matcher.domain.index import (
    AllocationError,
    IndexedItem,
    IndexSummary,
    OpenItemIndex,
    TenantIndexes,
)
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy, PolicyError
from bankrec.matcher.domain.references import (
    CheckedReference,
    check_reference,
    compact_reference,
    is_valid_kid_mod10,
    is_valid_kid_mod11,
    is_valid_rf,
    kid_mod11_check_digit,
)
from bankrec.matcher.domain.rules import Proof, Rule, RuleOutcome
from bankrec.matcher.domain.rules.amount_text_date import AmountTextDateRule
from bankrec.matcher.domain.rules.counterparty import CounterpartyRule
from bankrec.matcher.domain.rules.document_number import DocumentNumberRule
from bankrec.matcher.domain.rules.registered_payment import RegisteredPaymentRule
from bankrec.matcher.domain.rules.structured_reference import StructuredReferenceRule

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_RULES",
    "SUSPENSE_RULE",
    "AllocationError",
    "AmountTextDateRule",
    "CheckedReference",
    "CounterpartyRule",
    "DocumentNumberRule",
    "IndexSummary",
    "IndexedItem",
    "MatchEngine",
    "MatchingPolicy",
    "OpenItemIndex",
    "PolicyError",
    "Proof",
    "RegisteredPaymentRule",
    "Rule",
    "RuleOutcome",
    "StructuredReferenceRule",
    "TenantIndexes",
    "best_proposals",
    "check_reference",
    "compact_reference",
    "decision_id_for",
    "is_valid_kid_mod10",
    "is_valid_kid_mod11",
    "is_valid_rf",
    "kid_mod11_check_digit",
]
