"""KID (mod10 and mod11), OCR and RF references with real valid and invalid numbers."""

from __future__ import annotations

import pytest

from bankrec.contracts import ReferenceKind
from bankrec.matcher.domain import (
    check_reference,
    compact_reference,
    is_valid_kid_mod10,
    is_valid_kid_mod11,
    is_valid_rf,
    kid_mod11_check_digit,
)

# KIDs of the demo invoices (deploy/demo/open-items.csv) and the classic Luhn example
MOD10_KIDS = ["1002345005", "1002351003", "1002367009", "2000412003", "79927398713"]
# Norwegian account numbers carry a mod11 check digit with the same weights (2..7 from the
# right): 8601 11 17947 is DNB's published example account; it is not Luhn-valid
MOD11_ONLY_KIDS = ["86011117947", "10006", "23450"]
RF_VALID = ["RF18539007547034", "RF18 5390 0754 7034", "rf18539007547034"]  # ISO 11649 example


@pytest.mark.parametrize("kid", MOD10_KIDS)
def test_real_mod10_kids_are_valid(kid: str) -> None:
    assert is_valid_kid_mod10(kid)
    checked = check_reference(kid, ReferenceKind.KID)
    assert (checked.valid, checked.check) == (True, "mod10")


@pytest.mark.parametrize("kid", ["1002345006", "1002345050", "79927398710"])
def test_mod10_kids_with_a_wrong_check_digit_are_invalid(kid: str) -> None:
    assert not is_valid_kid_mod10(kid)
    assert not check_reference(kid, ReferenceKind.KID).valid


@pytest.mark.parametrize("kid", MOD11_ONLY_KIDS)
def test_real_mod11_kids_are_valid_and_not_mod10(kid: str) -> None:
    assert is_valid_kid_mod11(kid)
    assert not is_valid_kid_mod10(kid)
    assert check_reference(kid, ReferenceKind.KID).check == "mod11"


@pytest.mark.parametrize("kid", ["86011117948", "86011117940", "10007"])
def test_mod11_kids_with_a_wrong_check_digit_are_invalid(kid: str) -> None:
    assert not is_valid_kid_mod11(kid)
    assert not check_reference(kid, ReferenceKind.KID).valid


def test_mod11_check_digits_computed_by_hand() -> None:
    # 8601111794 from the right x 2,3,4,5,6,7,2,3,4,5: 4*2+9*3+7*4+1*5+1*6+1*7+1*2+0*3+6*4+8*5
    # = 147; 147 % 11 = 4; 11 - 4 = 7
    assert kid_mod11_check_digit("8601111794") == "7"
    # 2345 -> 5*2 + 4*3 + 3*4 + 2*5 = 44; 44 % 11 = 0 -> check digit 0
    assert kid_mod11_check_digit("2345") == "0"
    # 40 -> 0*2 + 4*3 = 12; 12 % 11 = 1 -> no valid check digit
    assert kid_mod11_check_digit("40") is None


def test_remainder_one_makes_every_last_digit_invalid_mod11() -> None:
    assert not any(is_valid_kid_mod11(f"40{digit}") for digit in "0123456789")
    assert not is_valid_kid_mod11("40-")


@pytest.mark.parametrize(
    "value",
    ["1", "1" * 26, "12a4", "", "\uff11\uff12\uff13\uff14"],  # last: full-width digits
)
def test_a_kid_is_two_to_twenty_five_ascii_digits(value: str) -> None:
    assert not is_valid_kid_mod10(value)
    assert not is_valid_kid_mod11(value)


@pytest.mark.parametrize("value", RF_VALID)
def test_real_rf_references_are_valid(value: str) -> None:
    checked = check_reference(value, ReferenceKind.RF)
    assert is_valid_rf(compact_reference(value))
    assert (checked.value, checked.check) == ("RF18539007547034", "iso11649")


@pytest.mark.parametrize("value", ["RF19539007547034", "RF18539007547035", "RF18"])
def test_rf_references_with_wrong_check_digits_are_invalid(value: str) -> None:
    checked = check_reference(value, ReferenceKind.RF)
    assert not checked.valid
    assert "ISO 11649" in checked.failure()


def test_ocr_references_are_luhn_only() -> None:
    assert check_reference("79927398713", ReferenceKind.OCR).check == "mod10"
    assert not check_reference("86011117947", ReferenceKind.OCR).valid  # mod11 is not OCR


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("1002345005", ReferenceKind.KID),
        ("RF18539007547034", ReferenceKind.RF),
        ("Faktura 10234", ReferenceKind.OTHER),
    ],
)
def test_an_undeclared_or_other_reference_gets_the_kind_of_its_shape(
    value: str, kind: ReferenceKind
) -> None:
    assert check_reference(value).kind is kind
    assert check_reference(value, ReferenceKind.OTHER).kind is kind


def test_free_text_is_not_checkable() -> None:
    checked = check_reference("Faktura 10234")
    assert not checked.checkable
    assert not checked.valid


def test_the_failure_names_the_expected_check_digits() -> None:
    assert check_reference("1002345006").failure() == (
        "has an invalid check digit (mod10 expects 5, mod11 expects 1)"
    )


def test_compact_form_has_no_whitespace_and_is_upper_case() -> None:
    assert compact_reference(" rf18 5390\t0754 7034 ") == "RF18539007547034"
    assert compact_reference("1002 3450 05") == "1002345005"
