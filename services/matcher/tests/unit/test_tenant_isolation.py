"""Tenant isolation of the matcher's app: every route under ``/v1/tenants/{tenant_id}`` takes
only a valid key of that tenant (the cases: ``bankrec.devstack.tenant_isolation``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from matcher_factories import TENANT_KEYS

from bankrec.devstack.tenant_isolation import app_on_test_broker, isolation_faults, tenant_routes
from bankrec.matcher import MatcherSettings, create_app


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = MatcherSettings(database_url=f"sqlite:///{tmp_path}/matcher.sqlite")
    async with app_on_test_broker(
        lambda broker: create_app(
            settings, broker=broker, kafka_admin=False, tenant_keys=TENANT_KEYS
        ),
        client_id="bankrec-matcher-test",
    ) as app:
        yield app


async def test_every_tenant_route_takes_only_a_valid_key_of_that_tenant(
    app: FastAPI, tenant_id: str
) -> None:
    routes = tenant_routes(app)
    assert len(routes) >= 3, routes  # never vacuous: the three routes of today at least
    assert ("POST", "/v1/tenants/{tenant_id}/explain") in routes
    wrong = await isolation_faults(app, TENANT_KEYS, tenant_id, routes)
    assert wrong == [], "\n".join(wrong)
