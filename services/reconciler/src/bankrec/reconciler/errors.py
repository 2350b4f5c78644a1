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
