"""JSON Schema export for every message, as it travels (in its envelope)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bankrec.contracts.envelope import Envelope
from bankrec.contracts.topics import ALL_TOPICS


def message_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of the enveloped message, one per topic."""
    schemas: dict[str, dict[str, Any]] = {}
    for topic in ALL_TOPICS:
        model = Envelope[topic.payload]  # type: ignore[name-defined]
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = f"{topic.payload.__name__} on {topic.name}"
        schema["description"] = topic.description
        schemas[f"{topic.name}.schema.json"] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the JSON Schemas of bankrec messages.")
    parser.add_argument("command", choices=["export-schemas"])
    parser.add_argument("--out", type=Path, default=Path("contracts/schemas"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in message_schemas().items():
        (args.out / name).write_text(render(schema), encoding="utf-8")
    print(f"wrote {len(message_schemas())} schemas to {args.out}")
    return 0
