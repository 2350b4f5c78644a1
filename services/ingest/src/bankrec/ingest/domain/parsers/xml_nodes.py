"""Reading camt XML: elements addressed by local-name paths, and the plain values in them.

Every camt version has its own namespace; a ``Node`` carries it, so the reading code is
written once with local names (``"Refs/EndToEndId"``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from bankrec.ingest.domain.statement_assembly import amount_too_large
from bankrec.ingest.errors import InvalidValue, MissingElement


@functools.lru_cache(maxsize=2048)
def _steps(namespace: str, path: str) -> tuple[str, ...]:
    return tuple(f"{{{namespace}}}{part}" for part in path.split("/"))


class Node:
    """An element of one camt namespace, addressed by paths of local names.

    Paths are walked child by child with ``iterchildren(tag)`` (C speed); ``find`` with
    ElementPath costs several times more, and a big file asks tens of paths per entry.
    """

    __slots__ = ("element", "namespace")

    def __init__(self, element: Any, namespace: str) -> None:
        self.element = element
        self.namespace = namespace

    @property
    def line(self) -> int | None:
        line = self.element.sourceline
        return int(line) if line else None

    def _first(self, path: str) -> Any:
        element = self.element
        for tag in _steps(self.namespace, path):
            element = next(element.iterchildren(tag), None)
            if element is None:
                return None
        return element

    def _all(self, path: str) -> list[Any]:
        elements = [self.element]
        for tag in _steps(self.namespace, path):
            elements = [child for element in elements for child in element.iterchildren(tag)]
        return elements

    def at(self, path: str) -> Any:
        """The element at ``path`` (first child at each step), or None."""
        return self._first(path)

    def child(self, path: str) -> Node | None:
        found = self._first(path)
        return None if found is None else Node(found, self.namespace)

    def children(self, path: str) -> list[Node]:
        return [Node(found, self.namespace) for found in self._all(path)]

    def own_text(self) -> str | None:
        text = self.element.text
        if text is None:
            return None
        return str(text).strip() or None

    def text(self, path: str) -> str | None:
        found = self._first(path)
        if found is None or found.text is None:
            return None
        return str(found.text).strip() or None

    def first_text(self, *paths: str) -> str | None:
        for path in paths:
            found = self.text(path)
            if found is not None:
                return found
        return None

    def texts(self, path: str) -> list[str]:
        return [
            " ".join(element.text.split())
            for element in self._all(path)
            if element.text is not None and element.text.strip()
        ]


# ------------------------------------------------------------------------- plain values


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?$")
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$"
)


@functools.lru_cache(maxsize=4096)
def parse_date(text: str) -> date | None:
    """A date written as such (an offset is allowed and ignored); statements repeat a few
    dates thousands of times, hence the cache."""
    found = _DATE.match(text)
    if found is None:
        return None
    try:
        return date.fromisoformat(found.group(1))
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """An ISO datetime; naive when the text has no offset. Fractions beyond µs are cut."""
    found = _DATETIME.match(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone | None = None
    try:
        if offset == "Z":
            tz = UTC
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            # inside the try: timezone() refuses an offset of 24 hours or more (+25:00)
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError:
        return None


def sign_of(indicator: str | None) -> int | None:
    if indicator is None:
        return None
    return {"CRDT": 1, "DBIT": -1}.get(indicator.upper())


def is_true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in ("true", "1")


def joined(parts: Iterable[str | None], separator: str = " ") -> str | None:
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return separator.join(seen) or None


def _line_of(element: Any) -> int | None:
    line = element.sourceline
    return int(line) if line else None


def read_amount(
    node: Node, path: str, *, within: str, required: bool, statement: str | None
) -> tuple[Decimal | None, str | None]:
    """An amount element (``within``/``path``): its value and its ``Ccy`` attribute."""
    found = node.at(path)
    text = None if found is None or found.text is None else str(found.text).strip()
    if not text:
        if required:
            raise MissingElement(f"{within}/{path}", statement=statement, line=node.line)
        return None, None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    # more than 18 digits before the point is no amount (ISO's totalDigits is 18), and
    # Decimal arithmetic would round it silently past 28
    if amount_too_large(value) or value < 0:
        raise InvalidValue(
            f"{within}/{path}",
            text,
            "a decimal amount such as 1234.50 with at most 18 digits before the point "
            "(never negative: CdtDbtInd gives the sign)",
            statement=statement,
            line=_line_of(found),
        )
    currency = (found.get("Ccy") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise InvalidValue(
            f"{within}/{path}/@Ccy",
            currency,
            "a three-letter ISO 4217 currency",
            statement=statement,
            line=_line_of(found),
        )
    return value, currency


def read_date_choice(node: Node, path: str, *, statement: str | None) -> date | None:
    """A ``DateAndDateTimeChoice`` (``Dt`` or ``DtTm``): the date as written."""
    choice = node.at(path)
    if choice is None:
        return None
    text = node.text(f"{path}/Dt")
    if text is not None:
        parsed = parse_date(text)
        if parsed is None:
            raise InvalidValue(
                f"{path}/Dt",
                text,
                "a date such as 2026-11-20",
                statement=statement,
                line=_line_of(choice),
            )
        return parsed
    text = node.text(f"{path}/DtTm")
    if text is not None:
        moment = parse_datetime(text)
        if moment is None:
            raise InvalidValue(
                f"{path}/DtTm",
                text,
                "a date-time such as 2026-11-20T10:15:00+01:00",
                statement=statement,
                line=_line_of(choice),
            )
        return moment.date()
    return None
