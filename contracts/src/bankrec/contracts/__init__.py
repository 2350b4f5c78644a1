"""bankrec contracts: every message and topic the services share (pydantic v2)."""

from bankrec.contracts.accounts import (
    BankAccountRef,
    account_id_for,
    mask_account_number,
    normalize_account_number,
)
from bankrec.contracts.dead_letters import DeadLetter
from bankrec.contracts.decisions import (
    Allocation,
    DecisionKind,
    Evidence,
    MatchDecision,
    Proposal,
)
from bankrec.contracts.envelope import Envelope, envelope_for
from bankrec.contracts.money import Amount, Currency, Money, MoneyError, currency_exponent
from bankrec.contracts.open_items import OpenItem, OpenItemKind, OpenItemStatus
from bankrec.contracts.periods import PeriodEvent, PeriodEventKind, PeriodStatus
from bankrec.contracts.postings import AccountRole, EntrySource, JournalEntryPosted, PostingLine
from bankrec.contracts.statements import (
    Balance,
    BankTransactionCode,
    Charge,
    Counterparty,
    CurrencyExchange,
    EntryStatus,
    ReferenceKind,
    StatementHeader,
    StatementKind,
    StatementLine,
    StructuredReference,
)
from bankrec.contracts.topics import (
    ALL_TOPICS,
    DEAD_LETTERS,
    DECISIONS,
    OPEN_ITEMS,
    PERIOD_EVENTS,
    POSTINGS,
    STATEMENT_LINES,
    STATEMENTS,
    Topic,
    topic_named,
)

__all__ = [
    "ALL_TOPICS",
    "DEAD_LETTERS",
    "DECISIONS",
    "OPEN_ITEMS",
    "PERIOD_EVENTS",
    "POSTINGS",
    "STATEMENTS",
    "STATEMENT_LINES",
    "AccountRole",
    "Allocation",
    "Amount",
    "Balance",
    "BankAccountRef",
    "BankTransactionCode",
    "Charge",
    "Counterparty",
    "Currency",
    "CurrencyExchange",
    "DeadLetter",
    "DecisionKind",
    "EntrySource",
    "EntryStatus",
    "Envelope",
    "Evidence",
    "JournalEntryPosted",
    "MatchDecision",
    "Money",
    "MoneyError",
    "OpenItem",
    "OpenItemKind",
    "OpenItemStatus",
    "PeriodEvent",
    "PeriodEventKind",
    "PeriodStatus",
    "PostingLine",
    "Proposal",
    "ReferenceKind",
    "StatementHeader",
    "StatementKind",
    "StatementLine",
    "StructuredReference",
    "Topic",
    "account_id_for",
    "currency_exponent",
    "envelope_for",
    "mask_account_number",
    "normalize_account_number",
    "topic_named",
]
