"""The matcher's pure domain: the open-item index, reference checks and the rule cascade."""

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
from bankrec.matcher.domain.rules.exact_amount import ExactAmountRule
from bankrec.matcher.domain.rules.structured_reference import StructuredReferenceRule

__all__ = [
    "DEFAULT_RULES",
    "SUSPENSE_RULE",
    "AllocationError",
    "CheckedReference",
    "ExactAmountRule",
    "IndexSummary",
    "IndexedItem",
    "MatchEngine",
    "OpenItemIndex",
    "Proof",
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
