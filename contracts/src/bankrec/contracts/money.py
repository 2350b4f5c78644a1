"""Exact money: a Decimal amount with an ISO 4217 currency, never a float.

On the wire an amount is a decimal string ("1234.50"); floats are refused at every
boundary because pydantic would otherwise carry their binary error into the books.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

# Minor-unit exponents of the currencies whose exponent is not 2 (ISO 4217).
_EXPONENT_NOT_TWO: dict[str, int] = {
    "BHD": 3,
    "BIF": 0,
    "CLF": 4,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "UYW": 4,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


class MoneyError(ValueError):
    """An amount or currency that cannot be carried exactly."""


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (2 unless listed)."""
    return _EXPONENT_NOT_TWO.get(currency.upper(), 2)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, bool | float):
        raise MoneyError(
            f"amount {value!r} is a {type(value).__name__}; send amounts as decimal strings"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise MoneyError(f"amount {value!r} is not a decimal number") from exc
    else:
        raise MoneyError(f"amount {value!r} must be a decimal string")
    if not result.is_finite():
        raise MoneyError(f"amount {value!r} is not finite")
    return result


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]
"""A Decimal that refuses floats and travels as a decimal string."""


def _to_currency(value: Any) -> str:
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise MoneyError(f"currency {value!r} is not a three-letter ISO 4217 code")
    return value.strip().upper()


Currency = Annotated[
    str, BeforeValidator(_to_currency), WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})
]


class Money(BaseModel):
    """A signed amount in one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Amount
    currency: Currency

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        return cls(amount=_to_decimal(amount), currency=currency)

    def quantized(self) -> Money:
        """This amount rounded to the currency's minor unit (banker's rounding is not used)."""
        exponent = currency_exponent(self.currency)
        return Money(
            amount=self.amount.quantize(Decimal(1).scaleb(-exponent)), currency=self.currency
        )

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __str__(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"
