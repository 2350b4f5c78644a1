"""The Alembic migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select

from bankrec.ledger.adapters import tables
from bankrec.ledger.adapters.tables import metadata
from bankrec.ledger.bootstrap import MIGRATIONS_DIR
from bankrec.ledger.domain import Chart
from bankrec.ledger.domain.suspense import suspense_id_for
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
        "suspense_postings",
        "suspense_allocations",
        "registered_payments",
        "audit_trail",
        "alembic_version",
    } <= tables


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    database_url: Callable[[str], str] = request.getfixturevalue("database_url")
    return database_url("ledger_upgrade")


def _upgrade_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(config, revision)


def test_0002_lists_the_suspense_postings_made_before_it(empty_database_url: str) -> None:
    """A suspense decision and a match with a leftover posted at 0001 become open suspense
    postings; an entry that leaves nothing on the interim account does not."""
    _upgrade_to(empty_database_url, "0001")
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    chart, _link = Chart.default().with_bank_account("acc-1", "NOK")
    entries = [
        ("je-aaa", "dec-1", [("1920", "4200.00", "0"), ("2900", "0", "4200.00")]),
        ("je-bbb", "dec-2", [("2900", "125.00", "0"), ("1920", "0", "125.00")]),
        ("je-ccc", "dec-3", [("1920", "300.00", "0"), ("1500", "0", "300.00")]),
    ]
    engine = create_engine(sync_url(empty_database_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(tables.accounts),
                [
                    {
                        "tenant_id": "t-1",
                        "code": account.code,
                        "name": account.name,
                        "role": account.role.value,
                        "currency": "NOK",
                        "created_at": now,
                    }
                    for account in chart.accounts
                ],
            )
            for entry_id, decision_id, lines in entries:
                connection.execute(
                    insert(tables.journal_entries).values(
                        tenant_id="t-1",
                        entry_id=entry_id,
                        idempotency_key=decision_id,
                        fingerprint="f" * 64,
                        posting_date=date(2026, 11, 20),
                        source="decision",
                        source_ref=decision_id,
                        description="before 0002",
                        bank_account_id="acc-1",
                        statement_line_id=f"line-{decision_id}",
                        posted_at=now,
                    )
                )
                for number, (code, debit, credit) in enumerate(lines, start=1):
                    connection.execute(
                        insert(tables.journal_lines).values(
                            tenant_id="t-1",
                            entry_id=entry_id,
                            line_no=number,
                            account_code=code,
                            account_role=chart.account(code).role.value,
                            debit=Decimal(debit),
                            credit=Decimal(credit),
                            currency="NOK",
                        )
                    )
        _upgrade_to(empty_database_url, "head")
        with engine.connect() as connection:
            rows = connection.execute(
                select(tables.suspense_postings).order_by(tables.suspense_postings.c.suspense_id)
            ).all()
    finally:
        engine.dispose()
    assert [
        (row.suspense_id, row.decision_id, row.amount, row.remaining, row.status, row.version)
        for row in rows
    ] == [
        ("sp-aaa", "dec-1", Decimal("4200.00"), Decimal("4200.00"), "open", 1),
        ("sp-bbb", "dec-2", Decimal("-125.00"), Decimal("-125.00"), "open", 1),
    ]
    assert rows[0].statement_line_id == "line-dec-1"
    assert suspense_id_for("je-aaa") == "sp-aaa"
