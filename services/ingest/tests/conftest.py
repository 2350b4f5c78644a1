"""Fixtures of the ingest tests; camt file factories live in ``ingest_factories``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ingest_factories import LoopErrors

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so tests can import their (uniquely named) factory module.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
async def loop_errors() -> AsyncIterator[LoopErrors]:
    """What reaches the event loop's exception handler while the test runs."""
    from ingest_factories import LoopErrors  # importable once the line above ran

    loop = asyncio.get_running_loop()
    errors = LoopErrors()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(errors)
    try:
        yield errors
    finally:
        loop.set_exception_handler(previous)
