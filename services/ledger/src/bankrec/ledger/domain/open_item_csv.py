"""Reading open items from CSV: every good row is kept, every bad field is reported.

Columns (header row required, any order, extra columns ignored): ``FIELD_NAMES`` from
``open_items``, plus the optional ``reference_kind`` and ``bank_account_id``. Amounts are
the open amount as it will appear on the statement (+ in, - out), dates are ISO,
``counterparty_accounts`` is space-separated. A row number is the file's line number of
the row (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bankrec.ledger.domain.open_items import (
    FIELD_NAMES,
    OPTIONAL_FIELD_NAMES,
    OpenItemDraft,
    parse_draft,
)
from bankrec.ledger.errors import InvalidCsv, InvalidOpenItem


@dataclass(frozen=True, slots=True)
class RowError:
    """One invalid field of one row."""

    row: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedCsv:
    """The good rows (with their row numbers) and the errors of the bad ones."""

    rows: tuple[tuple[int, OpenItemDraft], ...]
    errors: tuple[RowError, ...]


def parse_open_items_csv(text: str) -> ParsedCsv:
    """Parse a CSV file of open items; raises ``InvalidCsv`` only if no row can be read."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InvalidCsv(f"line 1: {exc}") from exc
    if header is None or not any(cell.strip() for cell in header):
        raise InvalidCsv("the file is empty; expected a header row: " + ",".join(FIELD_NAMES))
    columns = [cell.strip().lower() for cell in header]
    duplicated = sorted({name for name in columns if name and columns.count(name) > 1})
    if duplicated:
        raise InvalidCsv(f"header repeats the column(s) {', '.join(duplicated)}")
    missing = [name for name in FIELD_NAMES if name not in columns]
    if missing:
        raise InvalidCsv(
            f"header is missing the column(s) {', '.join(missing)}; expected comma-separated "
            f"columns {','.join(FIELD_NAMES)} (optional: {', '.join(OPTIONAL_FIELD_NAMES)})"
        )
    wanted = set(FIELD_NAMES) | set(OPTIONAL_FIELD_NAMES)
    rows: list[tuple[int, OpenItemDraft]] = []
    errors: list[RowError] = []
    first_seen: dict[str, tuple[int, OpenItemDraft]] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, "row", f"unreadable CSV: {exc}"))
            break  # the reader cannot resynchronise after a broken quote
        row = reader.line_num
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(columns):
            errors.append(
                RowError(
                    row,
                    "row",
                    f"has {len(values)} values but the header has {len(columns)} columns "
                    "(quote values that contain commas)",
                )
            )
            continue
        fields = {
            name: value for name, value in zip(columns, values, strict=True) if name in wanted
        }
        try:
            draft = parse_draft(fields)
        except InvalidOpenItem as exc:
            errors.extend(RowError(row, error.field, error.reason) for error in exc.errors)
            continue
        earlier = first_seen.get(draft.item_id)
        if earlier is not None and earlier[1] != draft:
            errors.append(
                RowError(
                    row,
                    "item_id",
                    f"{draft.item_id} is also on row {earlier[0]} with different content",
                )
            )
            continue
        first_seen.setdefault(draft.item_id, (row, draft))
        rows.append((row, draft))
    return ParsedCsv(rows=tuple(rows), errors=tuple(errors))
