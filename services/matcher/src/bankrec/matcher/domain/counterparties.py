"""Counterparties: the keys a payer's bank account and name are compared by.

An account number is compared in compact form (letters and digits, upper case); an IBAN is
also found by its BBAN (all after the country code and check digits), so a customer card
with the Norwegian ``15030123455`` knows the payer ``NO02 1503 0123 455``.

A name is compared by its key: folded to ASCII letters and digits (Sjøbris = SJOBRIS), legal
forms dropped (AS, A/S, AB, GmbH, Ltd, ...), the words sorted (HANSEN KARI = Kari Hansen).
Two keys are alike by rapidfuzz: the sorted-words ratio, or when they share at least two
words the token-set ratio (the payer "Kari Nordmann Hansen" is the customer "Kari Hansen").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz

ACCOUNT_LENGTH_MIN = 6  # shorter "account numbers" are something else
IBAN_LENGTH_MIN = 15  # Norway's, the shortest
NAME_WORD_LENGTH_MIN = 3  # words a name is looked up by; shorter ones say little
SHARED_WORDS_FOR_SUBSET = 2

LEGAL_FORMS = frozenset(
    {
        "AS", "ASA", "A/S", "APS", "AB", "PUBL", "OY", "OYJ", "AG", "GMBH", "KG", "UG",
        "LTD", "LIMITED", "PLC", "INC", "LLC", "CORP", "CO", "SA", "SARL", "SAS", "BV", "NV",
        "KS", "DA", "ANS", "ENK", "HB", "KB", "IS", "SE", "SPA", "SRL", "SL",
    }
)  # fmt: skip
_TRANSLITERATION = str.maketrans({"Ø": "O", "Æ": "AE", "Œ": "OE", "ß": "SS", "Đ": "D", "Ł": "L"})
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]+")
_NOT_ACCOUNT_CHAR = re.compile(r"[^A-Z0-9]")
_WORD = re.compile(r"[A-Z0-9]+(?:/[A-Z0-9]+)?")


def account_keys(value: str | None) -> tuple[str, ...]:
    """The keys a bank account number is found by: compact form, and an IBAN's BBAN."""
    if not value:
        return ()
    compact = _NOT_ACCOUNT_CHAR.sub("", value.upper())
    if len(compact) < ACCOUNT_LENGTH_MIN:
        return ()
    if len(compact) >= IBAN_LENGTH_MIN and _IBAN_SHAPE.fullmatch(compact):
        return (compact, compact[4:])
    return (compact,)


def _ascii_upper(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value.upper().translate(_TRANSLITERATION))
    return "".join(char for char in folded if not unicodedata.combining(char))


@lru_cache(maxsize=65536)  # a tenant has far fewer counterparties than open items
def name_key(name: str | None) -> str | None:
    """``Sjøbris Marine AS`` -> ``MARINE SJOBRIS``; None when nothing but a legal form."""
    if not name:
        return None
    # "A.S." is "AS": dots inside a name abbreviate, they do not separate words
    words = [w for w in _WORD.findall(_ascii_upper(name).replace(".", "")) if w not in LEGAL_FORMS]
    words = [word.replace("/", "") for word in words]
    return " ".join(sorted(words)) or None


def name_words(key: str) -> tuple[str, ...]:
    """The words of a name key a name is looked up by."""
    return tuple(word for word in key.split() if len(word) >= NAME_WORD_LENGTH_MIN)


def name_similarity(first: str, second: str) -> float:
    """How alike two name keys are, 0..100 (see the module docstring)."""
    if first == second:
        return 100.0
    shared = set(first.split()) & set(second.split())
    if len(shared) >= SHARED_WORDS_FOR_SUBSET:
        return float(fuzz.token_set_ratio(first, second))
    return float(fuzz.ratio(first, second))  # keys are sorted: this is the token-sort ratio
