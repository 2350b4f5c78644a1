"""The Alembic migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bankrec.ledger.adapters.tables import metadata
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.runtime import sync_url, upgrade_database


def _differences(url: str) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_tables(ledger_database_url: str) -> None:
    assert _differences(ledger_database_url) == []


def test_upgrading_again_is_a_no_op(ledger_database_url: str) -> None:
    upgrade_database(ledger_database_url, MIGRATIONS_DIR)
    engine = create_engine(sync_url(ledger_database_url))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "accounts",
        "bank_accounts",
        "open_items",
        "journal_entries",
        "journal_lines",
        "decisions",
        "inbox",
        "outbox",
        "alembic_version",
    } <= tables
