"""Tenant isolation: every route of the reconciler's app under ``/v1/tenants/{tenant_id}``
refuses a request without a key (401), with another tenant's key (403) and with a revoked key
of the tenant (401), and lets the tenant's own key through. The routes are read from the real
app (``create_app``), so a route added later is tried too; a route outside the tenant's path
must be on the short list of open ones (health, AsyncAPI and OpenAPI documents)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from faststream.kafka import TestKafkaBroker
from reconciler_factories import TENANT_KEYS, api_key_record, auth_headers

from bankrec.reconciler import ReconcilerSettings, create_app
from bankrec.runtime import create_broker

TENANT_PREFIX = "/v1/tenants/{tenant_id}/"
OPEN_PATHS = {
    "/health",
    "/health/live",  # runtime's install_operations: liveness, readiness, metrics, AsyncAPI page
    "/health/ready",
    "/metrics",
    "/asyncapi",
    "/asyncapi.json",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
}


def tenant_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route of a tenant; fails on an unknown open route.

    ``iter_route_contexts``: since FastAPI 0.137 ``app.routes`` holds an included router as
    one opaque entry, so a plain loop over it would see none of the tenant's routes."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, f"a route without a path: {route.original_route!r}"
        if route.path in OPEN_PATHS:
            continue
        assert route.path.startswith(TENANT_PREFIX), (
            f"{route.path} is neither under {TENANT_PREFIX} nor a known open route"
        )
        found.extend((method, route.path) for method in sorted((route.methods or set()) - {"HEAD"}))
    return found


def url_of(path: str, tenant_id: str) -> str:
    """The route's path with the tenant filled in and every other parameter a placeholder."""
    filled = path.replace("{tenant_id}", tenant_id)
    return re.sub(r"\{[^}]+\}", "x", filled)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = ReconcilerSettings(database_url=f"sqlite:///{tmp_path / 'reconciler.sqlite'}")
    broker = create_broker("127.0.0.1:1", client_id="bankrec-reconciler-test")
    app = create_app(settings, broker=broker, create_topics=False, tenant_keys=TENANT_KEYS)
    async with TestKafkaBroker(broker), app.router.lifespan_context(app):
        yield app


async def test_every_tenant_route_takes_only_a_valid_key_of_that_tenant(
    app: FastAPI, tenant_id: str
) -> None:
    routes = tenant_routes(app)
    assert len(routes) >= 5, routes  # never vacuous: the five routes of today at least
    assert ("PUT", "/v1/tenants/{tenant_id}/accounts/{account_id}/opening-balance") in routes
    revoked, record = api_key_record(tenant_id, revoked=True)
    TENANT_KEYS.record(record)
    cases = {
        "no key": ({}, {401}),
        "another tenant's key": (auth_headers(f"{tenant_id}-other"), {403}),
        "a revoked key": ({"authorization": f"Bearer {revoked}"}, {401}),
    }
    wrong: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reconciler") as http:
        for method, path in routes:
            url = url_of(path, tenant_id)
            for case, (headers, expected) in cases.items():
                response = await http.request(method, url, headers=headers)
                if response.status_code not in expected:
                    wrong.append(f"{method} {path} with {case}: {response.status_code}")
            own = await http.request(method, url, headers=auth_headers(tenant_id))
            if own.status_code in (401, 403):
                wrong.append(f"{method} {path} with the tenant's key: {own.status_code}")
    assert wrong == [], "\n".join(wrong)
