"""Fixtures of the reconciler's tests; message factories live in ``reconciler_factories``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so tests can import their (uniquely named) factory module.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from reconciler_factories import Messages


@pytest.fixture
def messages(tenant_id: str) -> Messages:
    """Message factories for one tenant and one fresh bank account."""
    return Messages.for_tenant(tenant_id)
