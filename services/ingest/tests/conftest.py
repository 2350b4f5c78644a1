"""Fixtures of the ingest tests; camt file factories live in ``ingest_factories``."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so tests can import their (uniquely named) factory module.
sys.path.insert(0, str(Path(__file__).resolve().parent))
