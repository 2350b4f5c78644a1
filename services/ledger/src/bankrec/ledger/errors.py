# ruff: noqa: N818 - the names are the domain's words (UnbalancedEntry, OverAllocation)
"""The ledger's errors: one base class, each error with a stable ``code``.

The HTTP API maps them to status codes in one place (``api.py``); the decision consumer turns
them into a recorded refusal plus a dead letter. Messages say what was wrong and what to do.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger refuses something with."""

    code: str = "ledger_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldError(LedgerError):
    """One field of one open item (or CSV row) is invalid."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class InvalidOpenItem(LedgerError):
    """An open item with one or more invalid fields; ``errors`` names each field."""

    code = "invalid_open_item"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class InvalidReference(FieldError):
    """A payment reference that looks like a KID or RF but fails its check digits."""

    code = "invalid_reference"

    def __init__(self, message: str) -> None:
        super().__init__("reference", message)


class InvalidAmount(LedgerError):
    """An amount the books cannot hold exactly (too many decimals, zero, out of range)."""

    code = "invalid_amount"


class InvalidCsv(LedgerError):
    """A CSV file that cannot be read at all (not UTF-8, no header, missing columns)."""

    code = "invalid_csv"


class UnbalancedEntry(LedgerError):
    """A journal entry whose debits and credits differ in some currency, or a bad line."""

    code = "unbalanced_entry"


class OverAllocation(LedgerError):
    """An allocation larger than what is still open on the item."""

    code = "over_allocation"


class InvalidDecision(LedgerError):
    """A match decision the ledger cannot post as it stands."""

    code = "invalid_decision"


class DecisionNoLongerFits(InvalidDecision):
    """A decision made on open items that have changed since (paid, revised, cancelled)."""

    code = "decision_no_longer_fits"


class CurrencyMismatch(InvalidDecision):
    """Amounts in different currencies where one currency is required."""

    code = "currency_mismatch"


class UnknownOpenItem(LedgerError):
    """No open item with this id for this tenant."""

    code = "open_item_not_found"


class UnknownAccount(LedgerError):
    """A GL account code that is not in the tenant's chart of accounts."""

    code = "unknown_account"


class InactiveAccount(UnknownAccount):
    """A GL account that was deactivated: it takes no new postings until reactivated."""

    code = "account_inactive"


class InvalidChartChange(FieldError):
    """A chart change with an invalid field (code, name, role, IBAN/BBAN, currency)."""

    code = "invalid_chart_change"


class AccountExists(LedgerError):
    """A GL account code that is in the chart already."""

    code = "account_exists"


class RoleTaken(LedgerError):
    """A role only one account may hold is held by another account; moving it is explicit."""

    code = "role_taken"


class AccountInUse(LedgerError):
    """A GL account that cannot be deactivated (or changed so) as it stands: it holds a role,
    is a bank account's, or has a non-zero balance."""

    code = "account_in_use"


class BankAccountLinked(LedgerError):
    """A bank account (or GL account) that is linked to another GL account (or bank account)."""

    code = "bank_account_linked"


class ChartExhausted(LedgerError):
    """No free bank GL account code is left for another bank account."""

    code = "chart_exhausted"


class OpenItemConflict(LedgerError):
    """A change to an open item that contradicts what was already paid on it."""

    code = "open_item_conflict"

    def __init__(self, message: str, *, field: str = "amount") -> None:
        super().__init__(message)
        self.field = field


class IdempotencyConflict(LedgerError):
    """The same idempotency key (decision id) was used before with different content."""

    code = "idempotency_conflict"


class ConcurrentUpdate(LedgerError):
    """Another transaction changed the same rows first; retrying is safe."""

    code = "concurrent_update"


class ImportTooLarge(LedgerError):
    """An import body above the configured byte limit."""

    code = "import_too_large"


class InvalidManualAction(FieldError):
    """A manual action with a missing or invalid field (reason, actor, target, amount)."""

    code = "invalid_action"


class UnknownSuspensePosting(LedgerError):
    """No suspense posting with this id for this tenant."""

    code = "suspense_posting_not_found"


class UnknownDecision(LedgerError):
    """No decision with this id was applied for this tenant."""

    code = "decision_not_found"


class UnknownPayment(LedgerError):
    """No payment with this id was registered on this open item."""

    code = "payment_not_found"


class UnknownPostingRule(LedgerError):
    """No posting rule (or rule version) with this id for this tenant."""

    code = "posting_rule_not_found"


class UnknownAllocation(LedgerError):
    """No allocation with this id on this suspense posting."""

    code = "allocation_not_found"


class UnknownAdjustment(LedgerError):
    """No adjustment with this id for this tenant."""

    code = "adjustment_not_found"


class NothingToUnmatch(LedgerError):
    """The decision posted nothing that an unmatch could undo (suspense, reversal pair)."""

    code = "nothing_to_unmatch"


class AlreadyReversed(LedgerError):
    """The decision was unmatched, or the payment removed, before."""

    code = "already_reversed"


class SuspenseAllocated(LedgerError):
    """A suspense posting that has allocations cannot be undone as it stands."""

    code = "suspense_allocated"


class PaymentReconciled(LedgerError):
    """A registered payment already matched to a bank line cannot be removed as it stands."""

    code = "payment_reconciled"


class InvalidPostingRule(FieldError):
    """A posting rule the ledger cannot keep (a condition, the regex, an account)."""

    code = "invalid_posting_rule"
