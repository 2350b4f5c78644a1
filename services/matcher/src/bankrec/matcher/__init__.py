"""bankrec matcher: matches statement lines to open items with explainable rules.

Consumes open items (into an in-memory index per tenant) and statement lines; publishes one
match decision per line, with the rule, confidence, evidence and allocations that produced it.
``create_app`` builds the service; the domain (``bankrec.matcher.domain``) is pure.
"""

from bankrec.matcher.bootstrap import create_app
from bankrec.matcher.domain import (
    DEFAULT_RULES,
    MatchEngine,
    OpenItemIndex,
    TenantIndexes,
    check_reference,
    decision_id_for,
)
from bankrec.matcher.errors import DecisionNotFoundError, IndexNotReadyError, MatcherError
from bankrec.matcher.settings import MatcherSettings
from bankrec.matcher.use_cases import Matcher

__all__ = [
    "DEFAULT_RULES",
    "DecisionNotFoundError",
    "IndexNotReadyError",
    "MatchEngine",
    "Matcher",
    "MatcherError",
    "MatcherSettings",
    "OpenItemIndex",
    "TenantIndexes",
    "check_reference",
    "create_app",
    "decision_id_for",
]
