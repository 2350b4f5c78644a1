"""Payment references and bank account numbers with valid check digits, for generated tenants.

python-stdnum (a dependency of the matcher, installed in the workspace) computes the Luhn
and ISO 7064 mod 97-10 (IBAN and RF) check digits; the KID mod11 and Norwegian account
number (kontonr) check digits are computed here, since stdnum only validates those, and
every account number made is validated with stdnum before it is returned (the tests
validate KIDs and RF references with stdnum and with the matcher's own checks). The matcher's own reference checks are deliberately not
used: the benchmark's truth must not depend on the code it measures.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

from stdnum import iban, luhn
from stdnum.iso7064 import mod_97_10
from stdnum.no import kontonr

KID_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)  # repeating from the rightmost digit of the body
KONTONR_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)  # the ten digits before the check digit

# Length of the BBAN (digits) of the countries the generated customers bank in; the BBAN's
# own check digits exist only for Norway here (the others are checked by the IBAN's).
BBAN_DIGITS: dict[str, int] = {"NO": 11, "SE": 20, "DK": 14, "FI": 14, "DE": 18}
# Real bank codes at the start of a BBAN, so numbers look like the banks that issue them.
BANK_CODES: dict[str, tuple[str, ...]] = {
    "NO": ("1503", "1506", "1607", "3000", "3201", "3624", "4202", "6011", "8601", "9710"),
    "SE": ("500", "600", "800", "300", "919"),
    "DK": ("0040", "1551", "3000", "5301", "9570"),
    "FI": ("1", "4", "5", "8"),
    "DE": ("37040044", "50010517", "10070000", "20041133", "70020270"),
}


def kid_mod10(body: str) -> str:
    """A KID: the body and its Luhn (mod10) check digit."""
    return body + str(luhn.calc_check_digit(body))


def kid_mod11_check_digit(body: str) -> str | None:
    """The mod11 check digit of a KID body; None when the remainder is 1 (no valid digit)."""
    total = sum(
        int(digit) * KID_MOD11_WEIGHTS[position % len(KID_MOD11_WEIGHTS)]
        for position, digit in enumerate(reversed(body))
    )
    remainder = total % 11
    if remainder == 1:
        return None
    return "0" if remainder == 0 else str(11 - remainder)


def kid_mod11(body: str) -> str | None:
    """A KID: the body and its mod11 check digit, or None when the body has none."""
    check = kid_mod11_check_digit(body)
    return None if check is None else body + check


def is_valid_kid(kid: str) -> bool:
    """Digits, 2 to 25 of them, whose last digit is a valid mod10 or mod11 check digit."""
    if not (kid.isascii() and kid.isdigit() and 2 <= len(kid) <= 25):
        return False
    return bool(luhn.is_valid(kid)) or kid_mod11_check_digit(kid[:-1]) == kid[-1]


def mistyped_kid(kid: str, rng: random.Random) -> str:
    """The KID as a payer mistypes it: one digit changed or two neighbours swapped, such
    that neither the mod10 nor the mod11 check digit fits any more."""
    for _attempt in range(100):
        digits = list(kid)
        position = rng.randrange(len(digits) - 1)
        if rng.random() < 0.5 and digits[position] != digits[position + 1]:
            digits[position], digits[position + 1] = digits[position + 1], digits[position]
        else:
            digits[position] = rng.choice([d for d in "0123456789" if d != digits[position]])
        typo = "".join(digits)
        if not is_valid_kid(typo):
            return typo
    raise AssertionError(f"no invalid typo found for KID {kid}")  # pragma: no cover


def rf_reference(body: str) -> str:
    """An ISO 11649 creditor reference: ``RF``, two mod 97-10 check digits, the body."""
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def kontonr_check_digit(first_ten: str) -> str | None:
    """The mod11 check digit of a Norwegian account number; None when it would be 10."""
    total = sum(
        weight * int(digit) for weight, digit in zip(KONTONR_WEIGHTS, first_ten, strict=True)
    )
    check = (11 - total % 11) % 11
    return None if check == 10 else str(check)


def norwegian_account(rng: random.Random) -> str:
    """A Norwegian BBAN (kontonummer): 4-digit bank code, 6 digits, check digit."""
    while True:
        first_ten = rng.choice(BANK_CODES["NO"]) + f"{rng.randrange(10**6):06d}"
        check = kontonr_check_digit(first_ten)
        if check is not None:
            number = first_ten + check
            assert kontonr.is_valid(number), number
            return number


def iban_of(country: str, bban: str) -> str:
    """The IBAN of a BBAN: country code, mod 97-10 check digits, BBAN."""
    number = f"{country}{iban.calc_check_digits(country + '00' + bban)}{bban}"
    assert iban.is_valid(number), number
    return number


def account_number(country: str, rng: random.Random) -> str:
    """A bank account in ``country`` as its owner registers it: a Norwegian BBAN for Norway
    (what Norwegian invoices and banks show), an IBAN elsewhere."""
    if country == "NO":
        return norwegian_account(rng)
    code = rng.choice(BANK_CODES[country])
    length = BBAN_DIGITS[country] - len(code)
    return iban_of(country, code + f"{rng.randrange(10**length):0{length}d}")


@functools.lru_cache(maxsize=65536)
def as_iban(number: str) -> str:
    """The IBAN of an account given as a Norwegian BBAN or an IBAN already."""
    return iban_of("NO", number) if number.isdigit() else number


def unique(make: Callable[[], str], taken: set[str]) -> str:
    """``make()`` until it gives a value not in ``taken``; the value is added to it."""
    while True:
        value = make()
        if value not in taken:
            taken.add(value)
            return value
