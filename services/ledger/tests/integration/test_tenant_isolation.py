"""Tenant isolation of the ledger's app: every route under ``/v1/tenants/{tenant_id}`` takes
only a valid key of that tenant (the cases: ``bankrec.devstack.tenant_isolation``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from ledger_factories import TENANT_KEYS

from bankrec.devstack.tenant_isolation import app_on_test_broker, isolation_faults, tenant_routes
from bankrec.ledger import LedgerSettings, create_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The real app on a SQLite database of its own (authorization is what is tried here)."""
    settings = LedgerSettings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    async with app_on_test_broker(
        lambda broker: create_app(
            settings, broker=broker, create_topics=False, tenant_keys=TENANT_KEYS
        ),
        client_id="bankrec-ledger-test",
    ) as app:
        yield app


async def test_every_tenant_route_takes_only_a_valid_key_of_that_tenant(
    app: FastAPI, tenant_id: str
) -> None:
    routes = tenant_routes(app)
    assert len(routes) >= 25, routes  # never vacuous: the 25 routes of today at least
    assert ("DELETE", "/v1/tenants/{tenant_id}/posting-rules/{rule_id}") in routes
    wrong = await isolation_faults(app, TENANT_KEYS, tenant_id, routes)
    assert wrong == [], "\n".join(wrong)
