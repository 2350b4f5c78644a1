"""Tenant isolation of one service's app, tried over every route it serves (test support).

A service's isolation test builds its real app in-process (``app_on_test_broker``, from its own
``create_app``) with a key ring of its own, checks its own routes are there, and asserts
``isolation_faults`` is empty: every route under ``/v1/tenants/{tenant_id}`` refuses a request
without a key (401), with another tenant's key (403) and with a revoked key of the tenant (401),
and lets the tenant's own key through. The routes are read from the app, so a route added later
is tried too; a route outside the tenant's path must be one of ``OPEN_PATHS``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from faststream.kafka import KafkaBroker, TestKafkaBroker

from bankrec.contracts import ApiKeyRecord
from bankrec.runtime import TenantKeyRing, create_broker
from bankrec.runtime.tenant_keys import issue_api_key

TENANT_PREFIX = "/v1/tenants/{tenant_id}/"
OPEN_PATHS = frozenset(
    {
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
)
UNREACHABLE_BROKER = "127.0.0.1:1"  # never dialled: TestKafkaBroker stands in for the broker


@asynccontextmanager
async def app_on_test_broker(
    build: Callable[[KafkaBroker], FastAPI], *, client_id: str
) -> AsyncIterator[FastAPI]:
    """The app ``build`` makes on a broker of its own, started (lifespan) on FastStream's
    in-memory ``TestKafkaBroker``: authorization is what is tried, not delivery."""
    broker = create_broker(UNREACHABLE_BROKER, client_id=client_id)
    app = build(broker)
    async with TestKafkaBroker(broker), app.router.lifespan_context(app):
        yield app


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


def issued_key(keys: TenantKeyRing, tenant_id: str, *, revoked: bool = False) -> str:
    """A new key of the tenant (plain), recorded in ``keys`` as ingest would publish it."""
    issued = issue_api_key()
    now = datetime.now(UTC)
    keys.record(
        ApiKeyRecord(
            key_id=issued.key_id,
            tenant_id=tenant_id,
            key_hash=issued.key_hash,
            created_at=now,
            revoked_at=now if revoked else None,
        )
    )
    return issued.plain


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def isolation_faults(
    app: FastAPI, keys: TenantKeyRing, tenant_id: str, routes: Sequence[tuple[str, str]]
) -> list[str]:
    """Each request to ``routes`` (from ``tenant_routes``) of ``app`` answered wrongly, as
    ``"<method> <path> with <case>: <status>"``; empty when every route is isolated.

    ``keys`` is the ring the app was given: the tenant's own, another tenant's and a revoked
    key of the tenant are recorded in it here."""
    cases = {
        "no key": ({}, {401}),
        "another tenant's key": (_bearer(issued_key(keys, f"{tenant_id}-other")), {403}),
        "a revoked key": (_bearer(issued_key(keys, tenant_id, revoked=True)), {401}),
    }
    own_key = _bearer(issued_key(keys, tenant_id))
    wrong: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        for method, path in routes:
            url = url_of(path, tenant_id)
            for case, (headers, expected) in cases.items():
                response = await http.request(method, url, headers=headers)
                if response.status_code not in expected:
                    wrong.append(f"{method} {path} with {case}: {response.status_code}")
            own = await http.request(method, url, headers=own_key)
            if own.status_code in (401, 403):
                wrong.append(f"{method} {path} with the tenant's key: {own.status_code}")
    return wrong


__all__ = [
    "OPEN_PATHS",
    "TENANT_PREFIX",
    "app_on_test_broker",
    "isolation_faults",
    "issued_key",
    "tenant_routes",
    "url_of",
]
