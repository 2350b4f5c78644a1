"""KID (mod10 and mod11) and RF references, with real valid and invalid examples."""

from __future__ import annotations

import pytest

from bankrec.contracts import ReferenceKind
from bankrec.ledger.domain import (
    classify_reference,
    is_valid_kid,
    is_valid_kid_mod10,
    is_valid_kid_mod11,
    is_valid_rf,
    kid_mod11_check_digit,
)
from bankrec.ledger.errors import InvalidReference

# KIDs of the demo invoices (deploy/demo/open-items.csv): Luhn / mod10
MOD10_KIDS = ["1002345005", "1002351003", "1002367009", "2000412003"]


@pytest.mark.parametrize("kid", MOD10_KIDS)
def test_the_demo_kids_are_valid_mod10(kid: str) -> None:
    assert is_valid_kid_mod10(kid)
    assert is_valid_kid(kid)


def test_a_mod10_kid_with_a_wrong_check_digit_is_invalid() -> None:
    assert not is_valid_kid_mod10("1002345006")
    assert not is_valid_kid("1002345006")


def test_mod11_check_digits_computed_by_hand() -> None:
    # 1000 -> digits from the right 0,0,0,1 x weights 2,3,4,5 = 5; 5 % 11 = 5; 11 - 5 = 6
    assert kid_mod11_check_digit("1000") == "6"
    # 2345 -> 5*2 + 4*3 + 3*4 + 2*5 = 44; 44 % 11 = 0 -> check digit 0
    assert kid_mod11_check_digit("2345") == "0"
    # 40 -> 0*2 + 4*3 = 12; 12 % 11 = 1 -> would be 10 ('-'): no valid digit
    assert kid_mod11_check_digit("40") is None
    # the weights repeat after 7: 1234567 -> 7*2+6*3+5*4+4*5+3*6+2*7+1*2 = 106; 106 % 11 = 7 -> 4
    assert kid_mod11_check_digit("1234567") == "4"


@pytest.mark.parametrize("kid", ["10006", "23450", "12345674"])
def test_mod11_kids_are_valid(kid: str) -> None:
    assert is_valid_kid_mod11(kid)
    assert is_valid_kid(kid)


def test_a_mod11_only_kid_is_not_a_mod10_kid() -> None:
    assert is_valid_kid_mod11("10006")
    assert not is_valid_kid_mod10("10006")


@pytest.mark.parametrize("kid", ["10007", "23451", "400", "1", "12345678901234567890123456"])
def test_invalid_kids(kid: str) -> None:
    assert not is_valid_kid(kid)


def test_rf_references_iso_11649_example() -> None:
    assert is_valid_rf("RF18539007547034")  # the standard's own example
    assert is_valid_rf("RF18 5390 0754 7034")
    assert not is_valid_rf("RF19539007547034")


def test_classify_kid_rf_and_other() -> None:
    assert classify_reference("1002 3450 05") == ("1002345005", ReferenceKind.KID)
    assert classify_reference("rf18 5390 0754 7034") == ("RF18539007547034", ReferenceKind.RF)
    assert classify_reference("  Invoice 10230 ") == ("Invoice 10230", ReferenceKind.OTHER)


def test_an_invalid_kid_is_refused_with_both_expected_check_digits() -> None:
    with pytest.raises(InvalidReference) as refused:
        classify_reference("1002345006")
    assert refused.value.field == "reference"
    assert "mod10 expects last digit 5" in refused.value.message


def test_the_mod11_dash_case_is_refused() -> None:
    with pytest.raises(InvalidReference, match="ends in '-'"):
        classify_reference("40-")


def test_an_invalid_rf_is_refused() -> None:
    with pytest.raises(InvalidReference, match="ISO 11649"):
        classify_reference("RF19539007547034")


def test_a_declared_kind_overrides_the_shape() -> None:
    assert classify_reference("1002345006", ReferenceKind.OTHER) == (
        "1002345006",
        ReferenceKind.OTHER,
    )
    with pytest.raises(InvalidReference):
        classify_reference("INV-1", ReferenceKind.KID)
