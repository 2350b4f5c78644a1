"""``bankrec-ingest``: serve the HTTP API (default), or parse a file and print it.

``bankrec-ingest parse FILE`` prints one JSON object per line: for each statement
``{"type": "statement.received", "payload": <StatementHeader>}`` followed by its lines
``{"type": "statement.line.received", "payload": <StatementLine>}``; diagnostics go to
stderr (with ``--schema-dir``, or ``BANKREC_INGEST_SCHEMA_DIR``, a camt file's schema problems
too). Nothing is published: it needs no broker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel

from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import SUPPORTED_FORMATS, ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemaError, CamtSchemas
from bankrec.ingest.errors import IngestError
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-ingest",
        description="Bank statement ingest (settings: BANKREC_INGEST_*, KAFKA_BOOTSTRAP_SERVERS).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API (default)")
    parse = commands.add_parser(
        "parse", help="parse a statement file and print its statements and lines as JSON lines"
    )
    parse.add_argument("file", type=Path, help="the statement file, or - for stdin")
    parse.add_argument("--tenant", default="local", help="tenant the ids are derived for")
    parse.add_argument("--format", dest="statement_format", choices=SUPPORTED_FORMATS, default=None)
    parse.add_argument(
        "--account", default=None, help="the account, for CSV layouts that do not name it"
    )
    parse.add_argument(
        "--schema-dir",
        type=Path,
        default=None,
        help="directory of the ISO camt XSDs (camt.053.001.02.xsd, ...): report a camt file's "
        "schema problems as notes (default: BANKREC_INGEST_SCHEMA_DIR; unset: no check)",
    )
    args = parser.parse_args(argv)
    settings = IngestSettings()

    if args.command in (None, "serve"):
        serve(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_level=settings.log_level,
        )
        return 0
    schema_dir = args.schema_dir or settings.schema_dir
    try:
        schemas = (
            None
            if schema_dir is None
            else CamtSchemas(schema_dir, max_bytes=settings.schema_max_bytes)
        )
    except CamtSchemaError as exc:
        print(f"bankrec-ingest: {exc.message}", file=sys.stderr)
        return 2
    return _parse(
        args.file,
        args.tenant,
        args.statement_format,
        settings.upload_bytes_max,
        sys.stdout,
        account_number=args.account,
        schemas=schemas,
    )


def _parse(
    path: Path,
    tenant_id: str,
    statement_format: str | None,
    bytes_max: int,
    out: TextIO,
    *,
    account_number: str | None = None,
    schemas: CamtSchemas | None = None,
) -> int:
    name = "stdin" if str(path) == "-" else str(path)
    try:
        # a file is read from disk as it is parsed; stdin cannot be read twice
        data = sys.stdin.buffer.read() if name == "stdin" else path
        if isinstance(data, Path):
            data.open("rb").close()  # says now, clearly, when the file cannot be read
    except OSError as exc:
        print(f"bankrec-ingest: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        result = parse_statement_file(
            data,
            tenant_id=tenant_id,
            statement_format=statement_format,
            upload_bytes_max=bytes_max,
            account_number=account_number,
            schemas=schemas,
        )
    except IngestError as exc:
        print(f"bankrec-ingest: {name}: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except CamtSchemaError as exc:  # an XSD of --schema-dir that does not compile
        print(f"bankrec-ingest: {exc.message}", file=sys.stderr)
        return 2
    try:
        print_result(result, out)
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    for diagnostic in result.diagnostics:
        where = f" [statement {diagnostic.statement}]" if diagnostic.statement else ""
        print(
            f"bankrec-ingest: {name}: note {diagnostic.code}{where}: {diagnostic.message}",
            file=sys.stderr,
        )
    return 0


def print_result(result: ParseResult, out: TextIO) -> None:
    """Each header, then its lines, one JSON object per line."""
    for header, lines in result.statements:
        _print_message(header, out)
        for line in lines:
            _print_message(line, out)


def _print_message(model: BaseModel, out: TextIO) -> None:
    payload = json.loads(model.model_dump_json())
    out.write(json.dumps({"type": getattr(type(model), "MESSAGE_TYPE", ""), "payload": payload}))
    out.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
