"""Alembic environment of the ingest's own tables (run by ``bankrec.runtime.upgrade_database``)."""

from __future__ import annotations

from bankrec.ingest.adapters.tables import metadata
from bankrec.runtime.database import run_alembic_environment

run_alembic_environment(metadata)
