"""The ledger's pure domain: chart of accounts, journal entries, open items, references and
the posting math. No I/O: nothing here imports a database, broker or HTTP library."""

from bankrec.ledger.domain.amounts import AMOUNT_ABS_LIMIT, exact_money, money_of
from bankrec.ledger.domain.chart import (
    BANK_CODE_FIRST,
    BANK_CODE_LAST,
    DEFAULT_ACCOUNTS,
    UNIQUE_ROLES,
    Account,
    BankAccountLink,
    Chart,
    ChartChange,
)
from bankrec.ledger.domain.journal import (
    JournalEntry,
    assert_balanced,
    credit,
    debit,
    entry_id_for,
    totals_by_currency,
)
from bankrec.ledger.domain.open_item_csv import ParsedCsv, RowError, parse_open_items_csv
from bankrec.ledger.domain.open_items import (
    FIELD_NAMES,
    OPTIONAL_FIELD_NAMES,
    OpenItemDraft,
    apply_allocation,
    draft_of,
    new_open_item,
    parse_draft,
    revise_open_item,
    status_for,
)
from bankrec.ledger.domain.posting_math import (
    DECISION_FIELD_LENGTH_MAX,
    DecisionPosting,
    post_decision,
)
from bankrec.ledger.domain.references import (
    classify_reference,
    is_valid_kid,
    is_valid_kid_mod10,
    is_valid_kid_mod11,
    is_valid_rf,
    kid_mod10_check_digit,
    kid_mod11_check_digit,
)

__all__ = [
    "AMOUNT_ABS_LIMIT",
    "BANK_CODE_FIRST",
    "BANK_CODE_LAST",
    "DECISION_FIELD_LENGTH_MAX",
    "DEFAULT_ACCOUNTS",
    "FIELD_NAMES",
    "OPTIONAL_FIELD_NAMES",
    "UNIQUE_ROLES",
    "Account",
    "BankAccountLink",
    "Chart",
    "ChartChange",
    "DecisionPosting",
    "JournalEntry",
    "OpenItemDraft",
    "ParsedCsv",
    "RowError",
    "apply_allocation",
    "assert_balanced",
    "classify_reference",
    "credit",
    "debit",
    "draft_of",
    "entry_id_for",
    "exact_money",
    "is_valid_kid",
    "is_valid_kid_mod10",
    "is_valid_kid_mod11",
    "is_valid_rf",
    "kid_mod10_check_digit",
    "kid_mod11_check_digit",
    "money_of",
    "new_open_item",
    "parse_draft",
    "parse_open_items_csv",
    "post_decision",
    "revise_open_item",
    "status_for",
    "totals_by_currency",
]
