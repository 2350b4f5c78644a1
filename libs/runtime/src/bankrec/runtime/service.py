"""Running a service: logging set-up and the HTTP server."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from bankrec.runtime.log_masking import SensitiveDataFilter, extra_fields, mask_text, mask_value
from bankrec.runtime.long_lived_heap import LONG_LIVED_HEAP
from bankrec.runtime.tracing import current_trace_ids


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, so logs can be shipped without parsing.

    Carries the tenant, correlation and message ids, the trace and span ids of the span being
    recorded (when tracing is on) and every other ``extra=`` field, each masked
    (``log_masking``): the filter masks records on the handler, this masks again what only
    the formatter sees (tracebacks) and records formatted without the filter.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        ids = current_trace_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        for field, value in extra_fields(record).items():
            if value is not None:
                entry[field] = mask_value(field, value)
        if record.exc_info:
            entry["error"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(SensitiveDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(app: FastAPI, *, host: str, port: int, log_level: str) -> None:
    """Run an ASGI app until SIGTERM/SIGINT (blocking)."""
    configure_logging(log_level)
    LONG_LIVED_HEAP.install()  # no full-heap collector pauses as the index or the periods grow
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), log_config=None)
