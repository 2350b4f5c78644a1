"""The fault suite's marker; its size comes from the environment (``make fault`` sets it)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault: kills services and restarts the broker and PostgreSQL on purpose"
    )
