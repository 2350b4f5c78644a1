"""The API documents of every service, as the services serve them, exported into docs/api/.

``python -m bankrec.devstack.api_documents export`` (``make docs``) writes, per service,
``<service>.openapi.json`` (FastAPI's, what ``GET /openapi.json`` answers) and
``<service>.asyncapi.json`` (FastStream's AsyncAPI 3.0, what ``GET /asyncapi.json`` answers);
``check`` exits 1 naming the files that differ from what the code generates (a test runs it).
Each app is built, never started: nothing connects to Kafka or a database. The services are
imported by name, so devstack keeps not depending on them (they are installed in the
workspace environment the demo runs in).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

SERVICES = ("ingest", "matcher", "reconciler", "ledger")
DEFAULT_OUT = Path(__file__).resolve().parents[5] / "docs" / "api"


def _service_app(service: str, state_dir: Path) -> Any:
    bootstrap = importlib.import_module(f"bankrec.{service}.bootstrap")
    settings_module = importlib.import_module(f"bankrec.{service}.settings")
    [settings_type] = [
        value
        for name, value in vars(settings_module).items()
        if name.lower() == f"{service}settings"
    ]
    fields = settings_type.model_fields
    # a database of its own under state_dir: building the app must not touch ./var
    options = (
        {"database_url": f"sqlite:///{state_dir / service}.sqlite"}
        if "database_url" in fields
        else {}
    )
    return bootstrap.create_app(settings_type(**options))


def api_documents() -> dict[str, str]:
    """File name -> content, for every service's OpenAPI and AsyncAPI document."""
    from bankrec.runtime import asyncapi_document

    documents: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bankrec-docs-") as state:
        for service in SERVICES:
            app = _service_app(service, Path(state))
            broker = app.state.broker  # set by the runtime's install_operations
            documents[f"{service}.openapi.json"] = _json(app.openapi())
            documents[f"{service}.asyncapi.json"] = _json(
                asyncapi_document(broker, service=service, version=app.version)
            )
    return documents


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_documents(out: Path) -> list[str]:
    """Names of the files in ``out`` that are missing or differ from the generated ones."""
    return [
        name
        for name, content in api_documents().items()
        if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != content
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bankrec.devstack.api_documents",
        description="Export (or check) every service's OpenAPI and AsyncAPI documents.",
    )
    parser.add_argument(
        "command",
        choices=("export", "check"),
        help="export: write the documents; check: exit 1 if the written ones are stale",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"directory of the documents (default: {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        stale = stale_documents(args.out)
        for name in stale:
            print(f"stale: {args.out / name} (run make docs)", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in api_documents().items():
        (args.out / name).write_text(content, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
