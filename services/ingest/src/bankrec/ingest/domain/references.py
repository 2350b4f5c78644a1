"""Structured payment references as the bank reports them (camt ``CdtrRefInf/Ref``).

The kind follows the shape: ``RF`` + two check digits that pass ISO 11649 (mod 97) is an RF
reference; digits only (2 to 25) is a Norwegian KID; anything else (a Swiss 27-digit QR/ESR
reference, an RF with wrong check digits, free text) is OTHER. A KID's own check digit is not
verified here: the bank reports what the payer typed, and matching compares it exactly with
the KIDs the ledger already validated.
"""

from __future__ import annotations

from stdnum import iso11649

from bankrec.contracts import ReferenceKind, StructuredReference

KID_LENGTH_MIN = 2
KID_LENGTH_MAX = 25


def compact_reference(value: str) -> str:
    """Without spaces, upper case: how KID and RF references are compared."""
    return "".join(value.split()).upper()


def is_valid_rf(value: str) -> bool:
    """An ISO 11649 creditor reference: ``RF`` + two mod-97 check digits + up to 21 chars."""
    return bool(iso11649.is_valid(compact_reference(value)))


def is_kid_shaped(value: str) -> bool:
    """Digits only, 2 to 25 of them."""
    compact = compact_reference(value)
    return (
        compact.isascii() and compact.isdigit() and KID_LENGTH_MIN <= len(compact) <= KID_LENGTH_MAX
    )


def classify_reference(value: str) -> StructuredReference | None:
    """The reference with its kind; None for an empty value."""
    text = value.strip()
    if not text:
        return None
    compact = compact_reference(text)
    if compact.startswith("RF") and is_valid_rf(compact):
        return StructuredReference(value=compact, kind=ReferenceKind.RF)
    if is_kid_shaped(compact):
        return StructuredReference(value=compact, kind=ReferenceKind.KID)
    return StructuredReference(value=text, kind=ReferenceKind.OTHER)
