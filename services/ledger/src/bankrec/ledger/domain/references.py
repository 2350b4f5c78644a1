"""Payment references on open items: Norwegian KID (mod10 or mod11) and ISO 11649 RF.

An open item's reference is classified by its shape: ``RF`` + two check digits is an RF
reference, digits only is a KID, anything else is free text (OTHER). A reference that has
the shape of a KID or RF but fails its check digits is refused, so a typo is caught when the
invoice is registered instead of silently never matching a payment.
"""

from __future__ import annotations

import re

from stdnum import iso11649, luhn

from bankrec.contracts import ReferenceKind
from bankrec.ledger.errors import InvalidReference

KID_LENGTH_MIN = 2
KID_LENGTH_MAX = 25
_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)
_KID_SHAPE = re.compile(r"^\d+-?$")  # a trailing '-' is the mod11 "check digit 10" case
_RF_SHAPE = re.compile(r"^RF\d\d")


def kid_mod10_check_digit(body: str) -> str:
    """The Luhn (mod10) check digit of a KID body."""
    return str(luhn.calc_check_digit(body))


def kid_mod11_check_digit(body: str) -> str | None:
    """The mod11 check digit of a KID body, weights 2..7 repeating from the right.

    Remainder 0 gives check digit 0; remainder 1 would need the digit 10 (written '-'),
    which bankrec refuses, so it returns None; otherwise the digit is 11 - remainder.
    """
    total = sum(
        int(digit) * _MOD11_WEIGHTS[position % len(_MOD11_WEIGHTS)]
        for position, digit in enumerate(reversed(body))
    )
    remainder = total % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return None
    return str(11 - remainder)


def is_valid_kid_mod10(kid: str) -> bool:
    return _is_kid_digits(kid) and bool(luhn.is_valid(kid))


def is_valid_kid_mod11(kid: str) -> bool:
    if not _is_kid_digits(kid):
        return False
    return kid_mod11_check_digit(kid[:-1]) == kid[-1]


def is_valid_kid(kid: str) -> bool:
    """A KID: 2..25 digits whose last digit is a valid mod10 or mod11 check digit."""
    return is_valid_kid_mod10(kid) or is_valid_kid_mod11(kid)


def is_valid_rf(reference: str) -> bool:
    """An ISO 11649 creditor reference (``RF`` + two mod-97 check digits + up to 21 chars)."""
    return bool(iso11649.is_valid(reference))


def _is_kid_digits(kid: str) -> bool:
    return kid.isascii() and kid.isdigit() and KID_LENGTH_MIN <= len(kid) <= KID_LENGTH_MAX


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _checked_kid(value: str) -> str:
    kid = _compact(value)
    if kid.endswith("-"):
        raise InvalidReference(
            f"KID {kid!r} ends in '-' (mod11 check digit 10), which bankrec does not accept; "
            "issue the invoice with another KID"
        )
    if not kid.isascii() or not kid.isdigit():
        raise InvalidReference(f"KID {value!r} must contain digits only")
    if not KID_LENGTH_MIN <= len(kid) <= KID_LENGTH_MAX:
        raise InvalidReference(
            f"KID {kid!r} has {len(kid)} digits; a KID has {KID_LENGTH_MIN} to {KID_LENGTH_MAX}"
        )
    if not is_valid_kid(kid):
        body = kid[:-1]
        mod11 = kid_mod11_check_digit(body) or "none (remainder 1)"
        raise InvalidReference(
            f"KID {kid!r} fails both check-digit methods (mod10 expects last digit "
            f"{kid_mod10_check_digit(body)}, mod11 expects {mod11}); check the number, or send "
            "reference_kind 'other' if it is not a KID"
        )
    return kid


def _checked_rf(value: str) -> str:
    reference = _compact(value)
    if not is_valid_rf(reference):
        raise InvalidReference(
            f"RF reference {reference!r} fails its ISO 11649 check (RF + 2 check digits + up to "
            "21 letters or digits, mod 97); check the reference"
        )
    return str(iso11649.compact(reference))


def classify_reference(
    value: str, declared: ReferenceKind | None = None
) -> tuple[str, ReferenceKind]:
    """The reference in its stored form and its kind; refuses an invalid KID or RF.

    ``declared`` forces the kind (``other`` keeps a digits-only text that is not a KID);
    without it the kind follows the shape described in the module docstring.
    """
    text = value.strip()
    if not text:
        raise InvalidReference("reference is empty; leave the field out instead")
    compact = _compact(text)
    kind = declared
    if kind is None:
        if _RF_SHAPE.match(compact):
            kind = ReferenceKind.RF
        elif _KID_SHAPE.match(compact):
            kind = ReferenceKind.KID
        else:
            kind = ReferenceKind.OTHER
    if kind is ReferenceKind.KID:
        return _checked_kid(text), kind
    if kind is ReferenceKind.RF:
        return _checked_rf(text), kind
    if kind is ReferenceKind.OCR:
        if not is_valid_kid_mod10(compact):
            raise InvalidReference(f"OCR reference {text!r} must be digits with a Luhn check digit")
        return compact, kind
    return text, kind
