"""``bankrec-ledger``: run the ledger service (``serve``, the default), only migrate, or read
an open-items CSV file (``open-items FILE``).

``bankrec-ledger open-items FILE`` prints every good row as an ``OpenItem`` JSON object, one
per line, exactly as the ledger would register it (version 1, nothing paid); each bad field
goes to stderr with its row number, and the exit code is 1 when there was any. It needs no
database.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from bankrec.ledger.domain.open_item_csv import parse_open_items_csv
from bankrec.ledger.domain.open_items import new_open_item
from bankrec.ledger.errors import InvalidCsv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-ledger",
        description="The bankrec ledger: open items, journal entries, decisions applied once.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API and the consumers (default)")
    commands.add_parser("migrate", help="upgrade the database")
    open_items = commands.add_parser(
        "open-items",
        help="read an open-items CSV file (the import format) and print each item as JSON",
    )
    open_items.add_argument("file", type=Path, help="the CSV file, or - for stdin")
    args = parser.parse_args(argv)
    if args.command == "open-items":
        return print_open_items(args.file, sys.stdout, sys.stderr)

    from bankrec.ledger.settings import LedgerSettings

    settings = LedgerSettings()
    if args.command == "migrate":
        from bankrec.ledger.bootstrap import MIGRATIONS_DIR
        from bankrec.runtime import configure_logging, upgrade_database

        configure_logging(settings.log_level)
        upgrade_database(settings.database_url, MIGRATIONS_DIR)
        return 0
    from bankrec.ledger.bootstrap import create_app
    from bankrec.runtime import serve

    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )
    return 0


def print_open_items(path: Path, out: TextIO, err: TextIO) -> int:
    """Print the file's open items as JSON lines; 0 when every row is good, 1 when some row
    (or the whole file) is invalid, 2 when the file cannot be read."""
    name = "stdin" if str(path) == "-" else str(path)
    try:
        data = sys.stdin.buffer.read() if name == "stdin" else path.read_bytes()
    except OSError as exc:
        print(f"bankrec-ledger: cannot read {name}: {exc.strerror}", file=err)
        return 2
    try:
        text = data.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not a column name
    except UnicodeDecodeError as exc:
        print(
            f"bankrec-ledger: {name}: byte {exc.start} is not UTF-8; save the file as UTF-8",
            file=err,
        )
        return 1
    try:
        parsed = parse_open_items_csv(text)
    except InvalidCsv as exc:
        print(f"bankrec-ledger: {name}: {exc.code}: {exc.message}", file=err)
        return 1
    try:
        for _row, draft in parsed.rows:
            out.write(new_open_item(draft).model_dump_json())
            out.write("\n")
        out.flush()
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    for error in parsed.errors:
        print(f"bankrec-ledger: {name}: row {error.row}: {error.field}: {error.message}", file=err)
    return 1 if parsed.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
