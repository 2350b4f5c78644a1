"""bankrec ledger: the books. Accounts, open items and balanced, immutable journal entries;
applies each match decision exactly once and publishes postings and open-item states.

The public names: ``create_app`` (the service), ``Ledger`` (its use cases),
``LedgerSettings``, the errors, and the pure domain in ``bankrec.ledger.domain``.
"""

from bankrec.ledger.bootstrap import create_app
from bankrec.ledger.errors import (
    ChartExhausted,
    ConcurrentUpdate,
    CurrencyMismatch,
    FieldError,
    IdempotencyConflict,
    ImportTooLarge,
    InvalidAmount,
    InvalidCsv,
    InvalidDecision,
    InvalidOpenItem,
    InvalidReference,
    LedgerError,
    OpenItemConflict,
    OverAllocation,
    UnbalancedEntry,
    UnknownAccount,
    UnknownOpenItem,
)
from bankrec.ledger.settings import LedgerSettings
from bankrec.ledger.use_cases import Ledger

__all__ = [
    "ChartExhausted",
    "ConcurrentUpdate",
    "CurrencyMismatch",
    "FieldError",
    "IdempotencyConflict",
    "ImportTooLarge",
    "InvalidAmount",
    "InvalidCsv",
    "InvalidDecision",
    "InvalidOpenItem",
    "InvalidReference",
    "Ledger",
    "LedgerError",
    "LedgerSettings",
    "OpenItemConflict",
    "OverAllocation",
    "UnbalancedEntry",
    "UnknownAccount",
    "UnknownOpenItem",
    "create_app",
]
