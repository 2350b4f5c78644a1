"""What the reconciler refuses, each with a stable code.

The HTTP API maps these to 4xx responses and the consumers to dead letters, each in one place
(``api.py`` and ``consumers.py``).
"""

from __future__ import annotations

from typing import ClassVar


class ReconcilerError(Exception):
    """Base of every refusal; ``code`` is stable, ``message`` says what to do."""

    code: ClassVar[str] = "reconciler_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AccountNotFoundError(ReconcilerError):
    """No reconciliation period exists for the account (yet)."""

    code = "account_not_found"


class CurrencyMismatchError(ReconcilerError):
    """An amount is not in the currency of the account's period."""

    code = "currency_mismatch"


class AmountPrecisionError(ReconcilerError):
    """An amount has more decimals than its currency's minor unit."""

    code = "amount_precision"


# ------------------------------------------------------------------------------ period workflow


class PeriodWorkflowError(ReconcilerError):
    """Base of the refusals of the period workflow (status, flags, adjustments, lines)."""

    code = "period_workflow_error"


class PeriodNotFoundError(PeriodWorkflowError):
    """The account has no period with that number."""

    code = "period_not_found"


class InvalidCommandError(PeriodWorkflowError):
    """A command is missing something or names something impossible (actor, reason, amount)."""

    code = "invalid_command"


class ItemNotFoundError(PeriodWorkflowError):
    """A statement line, ledger entry or adjustment the command names is not in the period."""

    code = "item_not_found"


class PeriodReleasedError(PeriodWorkflowError):
    """A released period is immutable: void it (if it is the latest released one) first."""

    code = "period_released"


class OpeningFromPreviousPeriodError(PeriodWorkflowError):
    """The opening balance is the closing balance of the released previous period."""

    code = "opening_from_previous_period"


class DifferenceNotZeroError(PeriodWorkflowError):
    """Saving a period balanced, or releasing it, needs a difference of exactly 0."""

    code = "difference_not_zero"


class StatementBalanceMissingError(PeriodWorkflowError):
    """No statement balance is known, so there is no difference to be 0."""

    code = "statement_balance_missing"


class AdjustmentNotPostedError(PeriodWorkflowError):
    """An adjustment of the period has not been posted by the ledger yet."""

    code = "adjustment_not_posted"


class EarlierPeriodNotReleasedError(PeriodWorkflowError):
    """An earlier period of the account is not released (on hold, balanced or void)."""

    code = "earlier_period_not_released"


class AlreadyReleasedError(PeriodWorkflowError):
    """The period is released already."""

    code = "already_released"


class PeriodNotReleasedError(PeriodWorkflowError):
    """Only a released period can be voided."""

    code = "period_not_released"


class NotLatestReleasedError(PeriodWorkflowError):
    """Only the latest released period of an account can be voided."""

    code = "not_latest_released"


class AdjustmentConflictError(PeriodWorkflowError):
    """An adjustment id is reused for a different adjustment."""

    code = "adjustment_conflict"


class LineReconciledError(PeriodWorkflowError):
    """A statement line with a ledger posting cannot be removed: unmatch it first."""

    code = "line_reconciled"


class LineNotDecidedError(PeriodWorkflowError):
    """A line the matcher has not decided yet: the ledger has nothing of it to match."""

    code = "line_not_decided"


class LineMatchedError(PeriodWorkflowError):
    """A line that is matched already (by the matcher or by hand): remove the match first."""

    code = "line_matched"


class LineNotMatchedError(PeriodWorkflowError):
    """A line with no match to remove (in suspense, or a kind the ledger cannot unmatch)."""

    code = "line_not_matched"


class MatchRequestPendingError(PeriodWorkflowError):
    """A line's earlier match request still waits for the ledger's answer."""

    code = "match_request_pending"


class MatchRequestConflictError(PeriodWorkflowError):
    """A match request id is reused for a different request."""

    code = "match_request_conflict"
