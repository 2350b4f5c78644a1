"""Account numbers and counterparty names never reach a log line in clear.

``SensitiveDataFilter`` rewrites every record before any handler formats it: in the message
(with its arguments filled in) and in every extra field, an IBAN, a Norwegian dotted account
number (``1503.12.34567``) or any run of nine or more digits keeps only its last four
characters (``****7947``), and a counterparty name (a value labelled ``name``,
``counterparty``, ``debtor``, ``creditor``, ``payer`` or ``payee``, as ``key='value'``,
``key="value"`` or ``"key": "value"``, or an extra field so named) keeps only its initials
(``O*** N***``). Identifiers the logs are searched by (tenant, correlation, message, trace
and span ids) are left alone; UUIDs are not digit runs (their digits touch letters or dashes).
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "****"
KEPT_DIGITS = 4
UNMASKED_FIELDS = frozenset(
    {"tenant_id", "correlation_id", "message_id", "causation_id", "trace_id", "span_id"}
)
NAME_LABELS = ("counterparty_name", "counterparty", "debtor", "creditor", "payer", "payee", "name")

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}\b")
_DOTTED_ACCOUNT = re.compile(r"(?<![\w.-])\d{4}\.\d{2}\.\d{5}(?![\w-])")
_DIGIT_RUN = re.compile(r"(?<![\w.-])\d{9,}(?![\w-])")
_LABEL = "|".join(NAME_LABELS)
_LABELLED_NAME = re.compile(
    rf"""(?P<key>["']?\b(?:{_LABEL})["']?\s*[:=]\s*)"""
    rf"""(?:(?P<quote>["'])(?P<quoted>[^"'\n]*)(?P=quote)|(?P<bare>[^\s,;)'"}}\]]+))""",
    re.IGNORECASE,
)
# uvicorn repeats its message with colour codes as ``color_message``
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def mask_account(value: str) -> str:
    """``NO93 8601 1117 947`` -> ``****7947``: what an operator needs to tell accounts apart."""
    digits = re.sub(r"[\s.]", "", value)
    return MASK + digits[-KEPT_DIGITS:]


def mask_name(value: str) -> str:
    """``Ola Nordmann`` -> ``O*** N***``."""
    return " ".join(f"{word[0]}***" for word in value.split() if word) or value


def _mask_labelled(match: re.Match[str]) -> str:
    if match.group("quote"):
        quote = match.group("quote")
        return f"{match.group('key')}{quote}{mask_name(match.group('quoted'))}{quote}"
    return f"{match.group('key')}{mask_name(match.group('bare'))}"


def mask_text(text: str) -> str:
    """``text`` with every account number and labelled counterparty name masked."""
    text = _LABELLED_NAME.sub(_mask_labelled, text)
    text = _IBAN.sub(lambda m: mask_account(m.group(0)), text)
    text = _DOTTED_ACCOUNT.sub(lambda m: mask_account(m.group(0)), text)
    return _DIGIT_RUN.sub(lambda m: mask_account(m.group(0)), text)


def mask_value(key: str, value: Any) -> Any:
    """An extra field's value masked by what its name says it holds."""
    if key in UNMASKED_FIELDS:
        return value
    if isinstance(value, str):
        lowered = key.lower()
        if any(label in lowered for label in NAME_LABELS):
            return mask_name(value)
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 9:
        return mask_account(str(value))
    return value


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call added with ``extra=``."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class SensitiveDataFilter(logging.Filter):
    """Masks the record in place (message, arguments and extra fields); drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: mask what was given
            message = f"{record.msg} {record.args}"
        record.msg, record.args = mask_text(message), None
        for key, value in extra_fields(record).items():
            setattr(record, key, mask_value(key, value))
        return True
