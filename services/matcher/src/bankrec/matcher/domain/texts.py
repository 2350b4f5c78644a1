"""Free texts compared the way seed 002 asks: "identical or almost the same", and only texts
longer than four characters.

A text is compared folded (ASCII, lower case, letters and digits), without the words every
payment text has ("betaling", "faktura", "payment", ...), which would make any two texts
alike. The shorter text is compared with every run of as many words in the longer one
(rapidfuzz ratio), so an item's description "Hull repairs" is found in "Betaling hull
repairs nov". Words with digits must be equal, not merely alike: 10234 and 10235 are two
different invoices however similar they look, and 10234,50 (an amount) is not 10234.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

TEXT_LENGTH_MIN = 5  # seed 002: only texts longer than four characters
IDENTICAL = 100

# words that say "this is a payment", not which one
PAYMENT_WORDS = frozenset(
    {
        "betaling", "betalning", "innbetaling", "inbetalning", "indbetaling", "utbetaling",
        "udbetaling", "payment", "paym", "pmt", "zahlung", "overforing", "overforsel",
        "transfer", "giro", "nettbank", "netbank", "faktura", "fakt", "invoice", "inv",
        "rechnung", "ref", "reference", "referanse", "nr", "no", "til", "fra", "from", "to",
        "for", "og", "and", "und", "the", "avtalegiro", "efaktura", "straksbetaling", "sepa",
        "credit", "debit", "as", "asa", "ab", "aps", "gmbh", "ltd",
    }
)  # fmt: skip
_TRANSLITERATION = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l"})
# digits joined by . , : / - stay one word: 10234,50 is an amount, not the invoice 10234
_WORD = re.compile(r"[a-z0-9]+(?:[.,:/-][a-z0-9]+)*")


@lru_cache(maxsize=65536)  # item texts repeat (descriptions, names): fold each once
def folded_words(text: str) -> tuple[str, ...]:
    """The informative words of a text: folded to ASCII lower case, payment words dropped."""
    if text.isascii():  # most texts: nothing to transliterate, decompose or strip
        plain = text.lower()  # casefold is lower for ASCII
    else:
        folded = unicodedata.normalize("NFKD", text.casefold().translate(_TRANSLITERATION))
        plain = "".join(char for char in folded if not unicodedata.combining(char))
    return tuple(word for word in _WORD.findall(plain) if word not in PAYMENT_WORDS)


@dataclass(frozen=True, slots=True)
class TextAgreement:
    """How alike (0..100) and which part of the longer text was alike."""

    score: float
    passage: str


def _informative(words: tuple[str, ...]) -> bool:
    return len(" ".join(words)) >= TEXT_LENGTH_MIN


@lru_cache(maxsize=65536)  # a line's texts are compared with every candidate's: judge each once
def _compared_words(text: str) -> tuple[str, ...] | None:
    """The informative words of a text, or None when they are too short to compare."""
    words = folded_words(text)
    return words if _informative(words) else None


def _numbers(words: Sequence[str]) -> list[str]:
    """The words with a digit (or another non-letter), which must be equal, not alike."""
    return [word for word in words if not word.isalpha()]


def text_agreement(first: str | None, second: str | None, threshold: int) -> TextAgreement | None:
    """Whether two texts are identical or almost the same (score >= ``threshold``), or None.

    Both texts must have more than four characters of informative words.
    """
    if not first or not second:
        return None
    return _text_agreement(first, second, threshold)


# a line's text meets the same item texts again and again (descriptions repeat across the
# candidates of one amount); the agreement is frozen, so each pair is compared once
@lru_cache(maxsize=65536)
def _text_agreement(first: str, second: str, threshold: int) -> TextAgreement | None:
    words_first, words_second = _compared_words(first), _compared_words(second)
    if words_first is None or words_second is None:
        return None
    short, long = sorted((words_first, words_second), key=len)
    short_text = " ".join(short)
    short_numbers = _numbers(short)
    if short_numbers and not set(short_numbers).issubset(long):
        return None  # a number of the shorter text is nowhere in the longer: no window has it
    size = len(short)
    best: TextAgreement | None = None
    for start in range(len(long) - size + 1):
        window = long[start : start + size]
        if _numbers(window) != short_numbers:
            continue
        passage = " ".join(window)
        score = fuzz.ratio(short_text, passage, score_cutoff=threshold)
        if score and (best is None or score > best.score):
            best = TextAgreement(score=score, passage=passage)
            if score == IDENTICAL:
                break
    return best


@dataclass(frozen=True, slots=True)
class FieldAgreement:
    """Which line field agreed with which item field, their values and how alike."""

    line_field: str
    line_value: str
    item_field: str
    item_value: str
    score: float


def comparable_texts(texts: Sequence[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """The texts with enough informative words to compare, in order: the only ones
    ``field_agreement`` compares (a line's are picked once, not once per candidate)."""
    return [
        (field, value) for field, value in texts if value and _compared_words(value) is not None
    ]


def field_agreement(
    line_texts: Sequence[tuple[str, str | None]],
    item_texts: Sequence[tuple[str, str | None]],
    threshold: int,
) -> tuple[FieldAgreement | None, bool]:
    """The first pair of texts that agree, line field by line field and, within one, item
    field by item field in the order given (seed 002: description, external document no.,
    document no.); and whether any pair had enough text on both sides to compare at all."""
    comparable = False
    for line_field, line_value in line_texts:
        if not line_value or _compared_words(line_value) is None:
            continue
        for item_field, item_value in item_texts:
            if not item_value or _compared_words(item_value) is None:
                continue
            comparable = True
            agreement = text_agreement(line_value, item_value, threshold)
            if agreement is not None:
                found = FieldAgreement(
                    line_field, line_value, item_field, item_value, agreement.score
                )
                return found, True
    return None, comparable
