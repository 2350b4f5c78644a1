"""Storage adapters: the ledger's tables and the SQL implementations of its ports."""

from bankrec.ledger.adapters.sql import SqlLedgerTransaction, SqlLedgerViews, sql_transactions
from bankrec.ledger.adapters.tables import ExactAmount, UtcDateTime, metadata

__all__ = [
    "ExactAmount",
    "SqlLedgerTransaction",
    "SqlLedgerViews",
    "UtcDateTime",
    "metadata",
    "sql_transactions",
]
