"""Fixtures of the matcher's tests; message factories live in ``matcher_factories``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so tests can import their (uniquely named) factory module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from matcher_factories import Book


@pytest.fixture
def book(tenant_id: str) -> Book:
    """Factories of open items and statement lines for one tenant and one bank account."""
    return Book.for_tenant(tenant_id)
