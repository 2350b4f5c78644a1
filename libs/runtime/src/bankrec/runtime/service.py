"""Running a service: logging set-up and the HTTP server."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, so logs can be shipped without parsing."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("tenant_id", "correlation_id", "message_id"):
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(app: FastAPI, *, host: str, port: int, log_level: str) -> None:
    """Run an ASGI app until SIGTERM/SIGINT (blocking)."""
    configure_logging(log_level)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower(), log_config=None)
