"""Structured payment references: Norwegian KID (mod10 or mod11), ISO 11649 RF, Luhn OCR.

A reference is compared in its compact form (no whitespace, upper case). Its kind is the
declared one; a reference declared ``other`` (or not declared) gets the kind its shape says:
``RF`` + two digits is RF, digits only is a KID. Only a reference whose check digits are
valid can prove a match: a typo in a KID must never pay the wrong invoice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import mul

from stdnum import iso11649, luhn

from bankrec.contracts import ReferenceKind

KID_LENGTH_MIN = 2
KID_LENGTH_MAX = 25
MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)
_RF_SHAPE = re.compile(r"^RF\d\d")

# kinds whose check digits this module verifies, so a valid one may prove a match
CHECKED_KINDS = frozenset({ReferenceKind.KID, ReferenceKind.RF, ReferenceKind.OCR})
# Luhn: a digit in an even place from the right counts doubled, less 9 above 9; as a byte
# table, so the doubled digits are summed by ``sum`` over bytes (in C, no call per digit)
_LUHN_DOUBLED = bytes.maketrans(
    b"0123456789", bytes((2 * digit) % 10 + (2 * digit) // 10 for digit in range(10))
)
_ZERO = ord("0")
# the mod11 weights from the rightmost digit on, for the longest KID body
_MOD11_WEIGHTS_FROM_RIGHT = tuple(
    MOD11_WEIGHTS[position % len(MOD11_WEIGHTS)] for position in range(KID_LENGTH_MAX)
)


def compact_reference(value: str) -> str:
    """A reference without whitespace, upper case: the form references are compared in."""
    return "".join(value.split()).upper()


def _is_kid_digits(value: str) -> bool:
    # isascii + isdigit: ASCII digits only, without a regular expression (runs for every line)
    return value.isascii() and value.isdigit() and KID_LENGTH_MIN <= len(value) <= KID_LENGTH_MAX


def kid_mod11_check_digit(body: str) -> str | None:
    """The mod11 check digit of a KID body (all digits but the last).

    Weights 2, 3, 4, 5, 6, 7 repeat from the rightmost digit; remainder 0 gives check digit
    0, remainder 1 has no valid digit (None), otherwise the digit is 11 - remainder.
    """
    if len(body) <= KID_LENGTH_MAX and body.isascii() and body.isdigit():
        # the digits as bytes: the products are summed in C
        backwards = body.encode("ascii")[::-1]
        weights = _MOD11_WEIGHTS_FROM_RIGHT[: len(backwards)]
        total = sum(map(mul, backwards, weights)) - _ZERO * sum(weights)
    else:
        total = sum(
            int(digit) * MOD11_WEIGHTS[position % len(MOD11_WEIGHTS)]
            for position, digit in enumerate(reversed(body))
        )
    remainder = total % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return None
    return str(11 - remainder)


def luhn_valid(digits: str) -> bool:
    """Whether ASCII digits end in their Luhn (mod10) check digit: ``stdnum.luhn.is_valid``
    without its alphabet lookups (the digits as bytes: every loop runs in C)."""
    backwards = digits.encode("ascii")[::-1]
    plain = backwards[::2]
    doubled = sum(backwards[1::2].translate(_LUHN_DOUBLED))
    return (sum(plain) - _ZERO * len(plain) + doubled) % 10 == 0


def is_valid_kid_mod10(value: str) -> bool:
    """2..25 digits whose last digit is the Luhn (mod10) check digit."""
    return _is_kid_digits(value) and luhn_valid(value)


def is_valid_kid_mod11(value: str) -> bool:
    """2..25 digits whose last digit is the mod11 check digit."""
    return _is_kid_digits(value) and kid_mod11_check_digit(value[:-1]) == value[-1]


def is_valid_rf(value: str) -> bool:
    """An ISO 11649 creditor reference: ``RF`` + two mod-97 check digits + up to 21 chars."""
    return bool(iso11649.is_valid(value))


def kind_of(compact: str, declared: ReferenceKind | None) -> ReferenceKind:
    """The declared kind, or for ``other``/undeclared the kind the reference's shape has."""
    if declared not in (None, ReferenceKind.OTHER):
        assert declared is not None
        return declared
    if _RF_SHAPE.match(compact):
        return ReferenceKind.RF
    if _is_kid_digits(compact):
        return ReferenceKind.KID
    return ReferenceKind.OTHER


@dataclass(frozen=True, slots=True)
class CheckedReference:
    """A reference in compact form, its kind and the check it passed (None: it failed)."""

    value: str
    kind: ReferenceKind
    check: str | None

    @property
    def valid(self) -> bool:
        return self.check is not None

    @property
    def checkable(self) -> bool:
        """Whether its kind has check digits this matcher verifies."""
        return self.kind in CHECKED_KINDS

    @property
    def label(self) -> str:
        """How a person names it: ``KID 1002345005``, ``RF RF18539007547034``."""
        return f"{self.kind.value.upper()} {self.value}"

    def failure(self) -> str:
        """Why the check digits are wrong, in words (for an invalid reference)."""
        if self.kind is ReferenceKind.RF:
            return "fails the ISO 11649 mod-97 check"
        if not _is_kid_digits(self.value):
            return f"is not {KID_LENGTH_MIN} to {KID_LENGTH_MAX} digits"
        body = self.value[:-1]
        mod10 = luhn.calc_check_digit(body)
        if self.kind is ReferenceKind.OCR:
            return f"has an invalid check digit (Luhn expects {mod10})"
        mod11 = kid_mod11_check_digit(body) or "none"
        return f"has an invalid check digit (mod10 expects {mod10}, mod11 expects {mod11})"


@lru_cache(maxsize=4096)  # several rules check the same line's reference; the result is frozen
def check_reference(value: str, declared: ReferenceKind | None = None) -> CheckedReference:
    """Classify a reference and verify its check digits.

    KID: mod10 (Luhn) first, then mod11; OCR: Luhn; RF: ISO 11649. A reference of kind
    ``other`` has no check (``check`` is None and ``checkable`` False).
    """
    compact = compact_reference(value)
    kind = kind_of(compact, declared)
    check: str | None = None
    if kind is ReferenceKind.KID:
        if is_valid_kid_mod10(compact):
            check = "mod10"
        elif is_valid_kid_mod11(compact):
            check = "mod11"
    elif kind is ReferenceKind.OCR:
        check = "mod10" if is_valid_kid_mod10(compact) else None
    elif kind is ReferenceKind.RF and is_valid_rf(compact):
        compact = str(iso11649.compact(compact))
        check = "iso11649"
    return CheckedReference(value=compact, kind=kind, check=check)
