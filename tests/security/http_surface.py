"""Calling every route of a running service as a client would: the routes from the OpenAPI
document it serves, the smallest valid request for each, tenant B's resources seeded through
its own API, and a snapshot of what B can read (to prove nothing of B's changed)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hostile_inputs import smallest_valid
from service_surface import Route, routes_of

from bankrec.dashboard.bootstrap import create_app as create_dashboard
from bankrec.dashboard.settings import DashboardSettings
from bankrec.devstack import StackConfig
from bankrec.devstack.client import BankrecClient

# Identifiers a seeding response may carry, by the path parameter they fill.
_ID_NAMES = re.compile(r"^(\w+_id|code|name|role|period)$")
_UNREADABLE = ("application/pdf",)
DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo"


@dataclass
class Tenant:
    tenant_id: str
    api_key: str
    resources: dict[str, str] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}


def tenant_of(config: StackConfig, tenant_id: str, *, with_books: bool = False) -> Tenant:
    """A tenant with a key issued by ingest and known to every service (read from Kafka);
    ``with_books``: the demo's open items imported and its statement run through all four
    services (open items, decisions, journal, suspense, reconciliation periods)."""
    client = BankrecClient(config, tenant_id, key_wait_seconds=60.0)
    try:
        for service in ("ledger", "matcher", "reconciler"):
            client.auth_headers(service)  # waits until the service has read the key
        resources: dict[str, str] = {}
        if with_books:
            imported = client.import_open_items(DEMO / "open-items.csv")
            client.wait_for_matcher_index(imported["imported"])
            response = client.upload_statement(DEMO / "statement-2026-11.camt053.xml")
            assert response.status_code == 202, response.text
            _remember_ids(response.json(), resources)  # the ingest id, the account id
            for statement in response.json()["statements"]:
                client.wait_for_reconciliation(statement["account_id"], statement["line_count"])
        return Tenant(tenant_id, client.api_key, resources)
    finally:
        client.close()


@dataclass
class Surface:
    """One service's routes and a client that reaches it."""

    service: str
    http: httpx.AsyncClient
    document: dict[str, Any]

    @property
    def routes(self) -> list[Route]:
        return routes_of(self.document)

    @property
    def schemas(self) -> dict[str, Any]:
        found: dict[str, Any] = self.document.get("components", {}).get("schemas", {})
        return found

    def url(self, route: Route, tenant_id: str, ids: dict[str, str]) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "tenant_id":
                return tenant_id
            [parameter] = [p for p in route.parameters("path") if p["name"] == name]
            if name in ids:
                return quote(ids[name], safe="")  # as a client sends any value in a path
            schema = parameter.get("schema", {})
            if {"enum", "$ref", "pattern"} & set(schema) or schema.get("type") == "integer":
                return str(smallest_valid(schema, self.schemas))
            return f"b-{name.replace('_', '-')}"

        return re.sub(r"\{([^}]+)\}", fill, route.path)

    def query(self, route: Route) -> dict[str, str]:
        return {
            p["name"]: str(smallest_valid(p.get("schema", {}), self.schemas))
            for p in route.parameters("query")
            if p.get("required")
        }

    def body(self, route: Route) -> dict[str, Any]:
        """``json=`` or ``content=`` for the request: the smallest valid JSON body, or a
        few bytes for a file upload."""
        schema = route.json_body_schema()
        if schema is not None:
            return {"json": smallest_valid(schema, self.schemas)}
        return {"content": b"x"} if route.has_body() else {}

    async def call(
        self,
        route: Route,
        tenant_id: str,
        headers: dict[str, str],
        ids: dict[str, str],
        **request: Any,
    ) -> httpx.Response:
        options: dict[str, Any] = {"params": self.query(route), **self.body(route), **request}
        return await self.http.request(
            route.method, self.url(route, tenant_id, ids), headers=headers, **options
        )


@asynccontextmanager
async def surface_of(
    service: str, base_url: str, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Surface]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, transport=transport) as http:
        document = (await http.get("/openapi.json")).raise_for_status().json()
        yield Surface(service, http, document)


async def seed(surface: Surface, tenant: Tenant) -> None:
    """Create the tenant's resources through every creating route (POST/PUT, fewest path
    parameters first) with the smallest valid body; identifiers the answers carry fill the
    path parameters of the routes tried later."""
    creating = [r for r in surface.routes if r.tenant_scoped and r.method in {"POST", "PUT"}]
    for route in sorted(creating, key=lambda r: (r.path.count("{"), r.path)):
        if route.path.endswith("/statements"):
            continue  # a statement upload starts a pipeline; nothing to read back by id
        response = await surface.call(route, tenant.tenant_id, tenant.headers(), tenant.resources)
        if response.is_success and "json" in response.headers.get("content-type", ""):
            _remember_ids(response.json(), tenant.resources)


def _remember_ids(answer: Any, into: dict[str, str]) -> None:
    """Every identifier-like field of an answer, nested ones too (the first of each name)."""
    if isinstance(answer, dict):
        for name, value in answer.items():
            if isinstance(value, str | int) and _ID_NAMES.match(name) and str(value):
                into.setdefault(name, str(value))
            else:
                _remember_ids(value, into)
    elif isinstance(answer, list):
        for item in answer:
            _remember_ids(item, into)


async def harvest(surface: Surface, tenant: Tenant, rounds: int = 2) -> None:
    """Fill the tenant's resource ids from what its GET routes answer (a list gives the ids
    a route of one item needs; a second round reaches routes two levels down)."""
    for _ in range(rounds):
        for route in surface.routes:
            if route.method != "GET" or not route.tenant_scoped or route.path.endswith("/stream"):
                continue
            response = await surface.call(
                route, tenant.tenant_id, tenant.headers(), tenant.resources
            )
            if response.is_success and "json" in response.headers.get("content-type", ""):
                _remember_ids(response.json(), tenant.resources)


async def snapshot(surface: Surface, tenant: Tenant) -> dict[str, str]:
    """What the tenant reads from every GET route (2xx answers only), by URL."""
    found: dict[str, str] = {}
    for route in surface.routes:
        if route.method != "GET" or not route.tenant_scoped or route.path.endswith("/stream"):
            continue
        response = await surface.call(route, tenant.tenant_id, tenant.headers(), tenant.resources)
        if response.is_success and not response.headers.get("content-type", "").startswith(
            _UNREADABLE
        ):
            found[str(response.url)] = response.text
    return found


def stable(first: dict[str, str], second: dict[str, str]) -> dict[str, str]:
    """The reads that gave the same answer twice (no clock or live figure in them)."""
    return {url: text for url, text in first.items() if second.get(url) == text}


def mentions(text: str, markers: Iterable[str]) -> list[str]:
    """Which markers (another tenant's id and resource ids) a response body names."""
    return [m for m in markers if m and m in text]


def short(response: httpx.Response) -> str:
    try:
        body = json.dumps(response.json())[:160]
    except ValueError:
        body = response.text[:160]
    return f"{response.status_code} {body}"


@asynccontextmanager
async def serving(service: str, config: StackConfig) -> AsyncIterator[Surface]:
    """The service's surface: the running process, or the dashboard in-process calling them."""
    if service != "dashboard":
        async with surface_of(service, config.base_url(service)) as surface:
            yield surface
        return
    settings = DashboardSettings(
        ingest_url=config.base_url("ingest"),
        ledger_url=config.base_url("ledger"),
        matcher_url=config.base_url("matcher"),
        reconciler_url=config.base_url("reconciler"),
        watch_topics=False,  # the flow's figures are not what is tried here
    )
    app = create_dashboard(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with surface_of(service, "http://dashboard", transport) as surface:
            yield surface
