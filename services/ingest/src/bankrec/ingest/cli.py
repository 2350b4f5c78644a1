"""``bankrec-ingest``: serve the HTTP API (default), parse a file and print it, or upload a file
to a running ingest.

``bankrec-ingest parse FILE`` prints one JSON object per line: for each statement
``{"type": "statement.received", "payload": <StatementHeader>}`` followed by its lines
``{"type": "statement.line.received", "payload": <StatementLine>}``; diagnostics go to
stderr (with ``--schema-dir``, or ``BANKREC_INGEST_SCHEMA_DIR``, a camt file's schema problems
too). Nothing is published: it needs no broker.

``bankrec-ingest upload FILE --tenant T`` streams the file to a running ingest's upload endpoint
(``--url``) with the tenant's API key, showing a progress bar on a terminal, and prints the
answer (JSON) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import BaseModel
from tqdm import tqdm

from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import SUPPORTED_FORMATS, ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemaError, CamtSchemas
from bankrec.ingest.errors import IngestError
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import serve

UPLOAD_CHUNK_BYTES = 256 * 1024  # the bar moves smoothly; few enough writes to cost nothing
UPLOAD_TIMEOUT_SECONDS = 600.0


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
    parse.add_argument(
        "--format",
        dest="statement_format",
        choices=SUPPORTED_FORMATS,
        default=None,
        help="the file's format (default: recognised from its content)",
    )
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
    _add_upload_command(commands)
    args = parser.parse_args(argv)
    settings = IngestSettings()
    if args.command == "upload":
        return upload_file(
            args.file,
            url=args.url or f"http://127.0.0.1:{settings.http_port}",
            tenant_id=args.tenant,
            api_key=args.api_key or os.environ.get("BANKREC_API_KEY", ""),
            account_number=args.account,
            progress=not args.quiet and sys.stderr.isatty() and sys.stdout.isatty(),
            timeout_seconds=args.timeout,
        )

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


def _add_upload_command(commands: Any) -> None:
    upload = commands.add_parser(
        "upload", help="stream a statement file to a running ingest over HTTP, with progress"
    )
    upload.add_argument("file", type=Path, help="the statement file to upload")
    upload.add_argument("--tenant", required=True, help="the tenant the file belongs to")
    upload.add_argument(
        "--api-key",
        default=None,
        help="the tenant's API key (brk_...; default: the BANKREC_API_KEY environment variable)",
    )
    upload.add_argument(
        "--url",
        default=None,
        help="ingest's base URL (default: http://127.0.0.1:<BANKREC_INGEST_HTTP_PORT or 8001>)",
    )
    upload.add_argument(
        "--account", default=None, help="the account, for CSV layouts that do not name it"
    )
    upload.add_argument(
        "--timeout",
        type=float,
        default=UPLOAD_TIMEOUT_SECONDS,
        help=f"seconds to wait for ingest between chunks and for its answer "
        f"(default {UPLOAD_TIMEOUT_SECONDS:.0f}; a large file is read to its end before "
        "ingest answers)",
    )
    upload.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (there is none anyway when stdout or stderr is not a terminal)",
    )


def file_chunks(path: Path, progress: tqdm[Any] | None) -> Iterator[bytes]:
    """The file in ``UPLOAD_CHUNK_BYTES`` pieces, advancing ``progress`` as each is sent."""
    with path.open("rb") as file:
        while chunk := file.read(UPLOAD_CHUNK_BYTES):
            yield chunk
            if progress is not None:
                progress.update(len(chunk))


def upload_file(
    path: Path,
    *,
    url: str,
    tenant_id: str,
    api_key: str,
    account_number: str | None = None,
    progress: bool = False,
    timeout_seconds: float = 600.0,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """POST the file's bytes as they are read (never whole in memory); 0 when ingest took it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        print(f"bankrec-ingest: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    if not api_key:
        print("bankrec-ingest: no API key: pass --api-key or set BANKREC_API_KEY", file=sys.stderr)
        return 2
    params = {"filename": path.name} | ({"account": account_number} if account_number else {})
    bar = (
        tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name)
        if progress
        else None
    )
    try:
        with httpx.Client(
            base_url=url.rstrip("/"),
            # connect fast or fail; reads wait while ingest parses the whole file
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            transport=transport,
        ) as http:
            response = http.post(
                f"/v1/tenants/{tenant_id}/statements",
                params=params,
                content=file_chunks(path, bar),
                headers={
                    "authorization": f"Bearer {api_key}",
                    "content-type": "application/octet-stream",
                    "content-length": str(size),  # ingest refuses a too-large file up front
                },
            )
    except httpx.HTTPError as exc:
        print(f"bankrec-ingest: upload to {url} failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    print(response.text)
    if response.status_code >= 400:
        print(
            f"bankrec-ingest: ingest refused {path.name}: HTTP {response.status_code}",
            file=sys.stderr,
        )
        return 1
    return 0


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
