"""bankrec ledger: the books. Accounts, open items and balanced, immutable journal entries;
applies each match decision exactly once (or refuses it whole) and publishes postings,
open-item states, refused decisions and posting rules.

The public names: ``create_app`` (the service), its use cases ``Ledger`` (open items and
decisions), ``ManualWork`` (suspense allocation, unmatch, payments, adjustments, audit
trail) and ``PostingRuleBook``, ``LedgerSettings``, the errors, and the pure domain in
``bankrec.ledger.domain``.
"""

from bankrec.ledger.bootstrap import create_app
from bankrec.ledger.errors import (
    AlreadyReversed,
    ChartExhausted,
    ConcurrentUpdate,
    CurrencyMismatch,
    DecisionNoLongerFits,
    FieldError,
    IdempotencyConflict,
    ImportTooLarge,
    InvalidAmount,
    InvalidCsv,
    InvalidDecision,
    InvalidManualAction,
    InvalidOpenItem,
    InvalidPostingRule,
    InvalidReference,
    LedgerError,
    NothingToUnmatch,
    OpenItemConflict,
    OverAllocation,
    PaymentReconciled,
    SuspenseAllocated,
    UnbalancedEntry,
    UnknownAccount,
    UnknownDecision,
    UnknownOpenItem,
    UnknownPayment,
    UnknownPostingRule,
    UnknownSuspensePosting,
)
from bankrec.ledger.manual_work import ManualWork
from bankrec.ledger.posting_rule_book import PostingRuleBook
from bankrec.ledger.settings import LedgerSettings
from bankrec.ledger.use_cases import Ledger

__all__ = [
    "AlreadyReversed",
    "ChartExhausted",
    "ConcurrentUpdate",
    "CurrencyMismatch",
    "DecisionNoLongerFits",
    "FieldError",
    "IdempotencyConflict",
    "ImportTooLarge",
    "InvalidAmount",
    "InvalidCsv",
    "InvalidDecision",
    "InvalidManualAction",
    "InvalidOpenItem",
    "InvalidPostingRule",
    "InvalidReference",
    "Ledger",
    "LedgerError",
    "LedgerSettings",
    "ManualWork",
    "NothingToUnmatch",
    "OpenItemConflict",
    "OverAllocation",
    "PaymentReconciled",
    "PostingRuleBook",
    "SuspenseAllocated",
    "UnbalancedEntry",
    "UnknownAccount",
    "UnknownDecision",
    "UnknownOpenItem",
    "UnknownPayment",
    "UnknownPostingRule",
    "UnknownSuspensePosting",
    "create_app",
]
