from decimal import Decimal

import pytest
from pydantic import ValidationError

from bankrec.contracts import Money, MoneyError, currency_exponent


def test_amount_travels_as_a_decimal_string() -> None:
    money = Money.of("1234.50", "nok")
    assert money.model_dump(mode="json") == {"amount": "1234.50", "currency": "NOK"}
    assert Money.model_validate_json('{"amount": "1234.50", "currency": "NOK"}') == money


@pytest.mark.parametrize("bad", [1.1, 3.3000000000000003, True])
def test_floats_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError, match="decimal string"):
        Money.model_validate({"amount": bad, "currency": "NOK"})


def test_float_in_json_is_refused() -> None:
    with pytest.raises(ValidationError):
        Money.model_validate_json('{"amount": 1.1, "currency": "NOK"}')


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "12,50", "abc"])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": bad, "currency": "NOK"})


def test_currency_must_be_iso_4217_shaped() -> None:
    with pytest.raises(ValidationError, match="ISO 4217"):
        Money.model_validate({"amount": "1", "currency": "NOKK"})


def test_arithmetic_is_exact_and_same_currency_only() -> None:
    total = Money.of("1.10", "EUR") + Money.of("2.20", "EUR")
    assert total.amount == Decimal("3.30")
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = Money.of("1", "EUR") + Money.of("1", "NOK")


def test_currency_exponents() -> None:
    assert currency_exponent("NOK") == 2
    assert currency_exponent("JPY") == 0
    assert currency_exponent("KWD") == 3
    assert Money.of("10.005", "JPY").quantized().amount == Decimal("10")
