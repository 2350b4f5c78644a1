"""What the security tests throw at the services: hostile strings, and the smallest valid
value of any schema (a valid message of any topic, a valid request body), so a topic or a
field added later is covered without anyone writing an example for it."""

from __future__ import annotations

import re
from typing import Any

# Tried in order for a string with a pattern; the first that fits is taken.
_STRING_CANDIDATES = (
    "x1",
    "1.00",
    "NOK",
    "t1",
    "a" * 64,
    "NO9386011117947",
    "2026-11-20",
    "2026-11",
    "1",
)

SQL_INJECTIONS = (
    "' OR '1'='1",
    "x'; DROP TABLE inbox; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5); --",
    "') UNION SELECT key_hash, tenant_id FROM api_keys --",
)
HEADER_INJECTIONS = (
    "x\r\nSet-Cookie: stolen=1",
    "x\nX-Injected: 1",
    "x\x00nul",
    "%0d%0aX-Injected:%201",
    "y" * 10_000,
)
HOSTILE_STRINGS = SQL_INJECTIONS + HEADER_INJECTIONS


def smallest_valid(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The smallest value a JSON Schema (pydantic's, with ``$defs``) accepts: required
    properties only, first enum member, minimum numbers, one array item."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return smallest_valid(_resolve(schema["$ref"], defs), defs)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema["oneOf"]
        return smallest_valid(next(o for o in options if o.get("type") != "null"), defs)
    if "allOf" in schema:
        return smallest_valid(schema["allOf"][0], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema.get("type") != "object":
        return schema["default"]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: smallest_valid(properties[name], defs) for name in schema.get("required", ())}
    if kind == "array":
        return [smallest_valid(schema.get("items", {}), defs)] * max(1, schema.get("minItems", 1))
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-11-20"
    if schema.get("format") == "date-time":
        return "2026-11-20T10:00:00Z"
    return _fitting_string(schema)


def _resolve(ref: str, defs: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = defs[ref.rsplit("/", 1)[1]]
    return found


def _fitting_string(schema: dict[str, Any]) -> str:
    pattern = schema.get("pattern")
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 10**6))
    for candidate in _STRING_CANDIDATES:
        if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
            return candidate
    raise ValueError(f"no candidate string fits {schema}; add one to _STRING_CANDIDATES")


def with_float_money(value: Any) -> tuple[Any, bool]:
    """``value`` with its first decimal amount (``smallest_valid`` writes them ``"1.00"``) as
    a float; the flag says whether there was one."""
    if value == "1.00":
        return 1.1, True
    if isinstance(value, dict):
        for name, item in value.items():
            changed, found = with_float_money(item)
            if found:
                return {**value, name: changed}, True
    if isinstance(value, list):
        for index, item in enumerate(value):
            changed, found = with_float_money(item)
            if found:
                return [*value[:index], changed, *value[index + 1 :]], True
    return value, False


def text_fields(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of every string property of an object schema (nested objects included),
    optional ones too: each is a field a client can fill with anything."""
    if "$ref" in schema:
        return text_fields(_resolve(schema["$ref"], defs), defs, prefix)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return [name for option in schema[key] for name in text_fields(option, defs, prefix)]
    if schema.get("type") == "string" and "enum" not in schema and prefix:
        return [prefix]
    found: list[str] = []
    for name, item in schema.get("properties", {}).items():
        found.extend(
            text_fields(item, defs, f"{prefix}{name}" if not prefix else f"{prefix}.{name}")
        )
    return sorted(set(found))


def with_field(value: Any, dotted: str, text: str) -> Any:
    """``value`` (a JSON object) with the dotted field set to ``text`` (objects on the way
    are created)."""
    head, _, rest = dotted.partition(".")
    base = dict(value) if isinstance(value, dict) else {}
    base[head] = with_field(base.get(head), rest, text) if rest else text
    return base
