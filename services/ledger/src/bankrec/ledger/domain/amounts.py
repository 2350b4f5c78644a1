"""Amounts the books can hold exactly: no more decimals than the currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

from bankrec.contracts import Money, currency_exponent
from bankrec.ledger.errors import InvalidAmount

AMOUNT_ABS_LIMIT = Decimal(10) ** 14
"""Amounts must stay below this in absolute value, so any sum of them fits the storage."""


def exact_money(amount: Decimal, currency: str, *, what: str = "amount") -> Money:
    """``amount`` in ``currency``, written with the currency's minor-unit digits.

    Refuses an amount with more decimals than the currency has (12.345 NOK) or one too large
    to store, instead of rounding it: rounding would make money appear or vanish.
    """
    if not amount.is_finite():
        raise InvalidAmount(f"{what} {amount} is not a finite number")
    exponent = currency_exponent(currency)
    unit = Decimal(1).scaleb(-exponent)
    quantized = amount.quantize(unit)
    if quantized != amount:
        raise InvalidAmount(
            f"{what} {format(amount, 'f')} {currency} has more decimals than {currency}'s "
            f"minor unit ({exponent}); send the exact amount"
        )
    if abs(quantized) >= AMOUNT_ABS_LIMIT:
        raise InvalidAmount(f"{what} {format(amount, 'f')} {currency} is out of range")
    return Money(amount=quantized, currency=currency)


def money_of(money: Money, *, what: str = "amount") -> Money:
    """``money`` checked and written with its currency's minor-unit digits."""
    return exact_money(money.amount, money.currency, what=what)
