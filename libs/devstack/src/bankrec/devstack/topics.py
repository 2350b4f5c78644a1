"""Reading topics in tests: other tests put malformed messages on the same topics on purpose
(to prove they are dead-lettered), so a reader skips what is not a JSON object."""

from __future__ import annotations

import json
from typing import Any


def json_object(value: bytes | None) -> dict[str, Any] | None:
    """The message as a JSON object, or None when it is not one."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None
