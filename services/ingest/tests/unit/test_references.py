"""Structured references: RF by ISO 11649 check, KID by shape, the rest OTHER."""

from __future__ import annotations

import pytest

from bankrec.contracts import ReferenceKind
from bankrec.ingest.domain import classify_reference
from bankrec.ingest.domain.references import is_valid_rf


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("1002345005", ReferenceKind.KID, "1002345005"),
        (" 1002 3450 05 ", ReferenceKind.KID, "1002345005"),
        ("12", ReferenceKind.KID, "12"),
        ("1" * 25, ReferenceKind.KID, "1" * 25),
        ("1" * 26, ReferenceKind.OTHER, "1" * 26),  # longer than any KID (Swiss QR: 27)
        ("1", ReferenceKind.OTHER, "1"),
        ("RF18539007547034", ReferenceKind.RF, "RF18539007547034"),
        ("rf18 5390 0754 7034", ReferenceKind.RF, "RF18539007547034"),
        ("RF18000000000539007547034", ReferenceKind.RF, "RF18000000000539007547034"),
        ("RF17539007547034", ReferenceKind.OTHER, "RF17539007547034"),  # bad check digits
        ("RFX", ReferenceKind.OTHER, "RFX"),
        ("INV 10234", ReferenceKind.OTHER, "INV 10234"),
        ("١٢٣٤", ReferenceKind.OTHER, "١٢٣٤"),  # digits, but not ASCII ones
    ],
)
def test_classify_reference(text: str, kind: ReferenceKind, value: str) -> None:
    reference = classify_reference(text)
    assert reference is not None
    assert (reference.kind, reference.value) == (kind, value)


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_reference_is_none(text: str) -> None:
    assert classify_reference(text) is None


def test_rf_check_is_iso_11649_mod_97() -> None:
    assert is_valid_rf("RF18539007547034")
    assert not is_valid_rf("RF18539007547035")
