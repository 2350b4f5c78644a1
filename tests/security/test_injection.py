"""SQL and header injection in every text field of every request body and every query and
path parameter, generated from each service's OpenAPI document as served (so a new field is
tried too): never a 5xx, never a response header with CR or LF (or one the input smuggled in),
and nothing another tenant can read changed.

Tenant A sends everything with its own key on its own path (the routes that take no key, with
none); tenant B's books (the demo statement through all four services) are read before and
after. The hostile strings are in ``hostile_inputs``: five SQL injections, CR/LF and NUL
header injections and a 10,000-character value.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hostile_inputs import HEADER_INJECTIONS, SQL_INJECTIONS, text_fields, with_field
from http_surface import Surface, Tenant, serving, snapshot, stable, tenant_of
from service_surface import Route

from bankrec.devstack import StackConfig

pytestmark = pytest.mark.integration

SERVICES = ("ingest", "ledger", "matcher", "reconciler", "dashboard")
NOT_TRIED = {
    "/api/tenants/{tenant_id}/flow/stream": "server-sent events: a valid request never ends",
}
CONCURRENT_REQUESTS = 8


@pytest.fixture(scope="module")
def tenants(security_stack: StackConfig) -> tuple[Tenant, Tenant]:
    run = uuid.uuid4().hex[:8]
    b = tenant_of(security_stack, f"inj-b-{run}", with_books=True)
    return tenant_of(security_stack, f"inj-a-{run}"), b


@pytest.fixture(params=SERVICES)
async def surface(
    request: pytest.FixtureRequest, security_stack: StackConfig
) -> AsyncIterator[Surface]:
    async with serving(str(request.param), security_stack) as found:
        yield found


def strings_for(index: int) -> tuple[str, ...]:
    """Two SQL and two header injections for the index-th field, turning through both lists,
    so a route with three fields or more meets every string (every string in every field took
    over a minute on the ledger alone; this is 40 % of those requests)."""
    return tuple(
        strings[(index * 2 + k) % len(strings)]
        for strings in (SQL_INJECTIONS, HEADER_INJECTIONS)
        for k in range(2)
    )


def attempts(surface: Surface, route: Route) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(what, request options, path ids) of every hostile value in every text field."""
    found: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    base_body = surface.body(route)
    base_query = surface.query(route)
    schema = route.json_body_schema()
    body_fields = text_fields(schema, surface.schemas) if schema is not None else []
    query_fields = [
        p["name"]
        for p in route.parameters("query")
        if p.get("schema", {}).get("type") in (None, "string") or "anyOf" in p.get("schema", {})
    ]
    path_fields = [p["name"] for p in route.parameters("path") if p["name"] != "tenant_id"]
    fields = [("body", n) for n in body_fields] + [("query", n) for n in query_fields]
    fields += [("path", n) for n in path_fields]
    for index, (where, name) in enumerate(fields):
        for text in strings_for(index):
            label = f"{where} {name}={text[:24]!r}"
            if where == "body":
                body = {"json": with_field(base_body.get("json", {}), name, text)}
                found.append((label, {**body, "params": base_query}, {}))
            elif where == "query":
                found.append((label, {**base_body, "params": {**base_query, name: text}}, {}))
            else:
                found.append((label, {**base_body, "params": base_query}, {name: text}))
    return found


def header_faults(response: httpx.Response) -> list[str]:
    faults = [
        f"header {name!r} holds CR/LF"
        for name, value in response.headers.multi_items()
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name
    ]
    smuggled = {"x-injected"} & {name.lower() for name in response.headers}
    if smuggled or "stolen" in response.headers.get("set-cookie", ""):
        faults.append(f"a header the input smuggled in: {sorted(smuggled) or 'set-cookie'}")
    return faults


async def test_injection_in_every_text_field_never_errs_leaks_or_changes_another_tenant(
    surface: Surface, tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = tenants
    before = stable(await snapshot(surface, b), await snapshot(surface, b))
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)
    wrong: list[str] = []
    counts = {"requests": 0, "4xx": 0}

    async def attempt(
        route: Route, what: str, options: dict[str, Any], ids: dict[str, str]
    ) -> None:
        headers = a.headers() if route.tenant_scoped else {}
        async with gate:
            url = surface.url(route, a.tenant_id, ids)
            try:
                response = await surface.http.request(route.method, url, headers=headers, **options)
            except httpx.HTTPError as exc:  # the service hung up: as bad as a 500
                wrong.append(f"{route.method} {route.path} {what}: {type(exc).__name__}")
                return
        counts["requests"] += 1
        counts["4xx"] += 400 <= response.status_code < 500
        if response.status_code >= 500:
            wrong.append(
                f"{route.method} {route.path} {what}: {response.status_code} {response.text[:200]}"
            )
        wrong.extend(f"{route.method} {route.path} {what}: {f}" for f in header_faults(response))

    jobs = [
        attempt(route, what, options, ids)
        for route in surface.routes
        if route.path not in NOT_TRIED
        for what, options, ids in attempts(surface, route)
    ]
    assert jobs, f"{surface.service}: no text field to try"
    await asyncio.gather(*jobs)
    after = await snapshot(surface, b)
    changed = [url for url, text in before.items() if after.get(url) != text]
    print(
        f"{surface.service}: {counts['requests']} hostile requests, {counts['4xx']} refused (4xx), "
        f"{len(wrong)} faults, {len(before)} of B's reads compared"
    )
    assert changed == [], f"B's data changed: {changed}"
    assert wrong == [], "\n".join(wrong[:40])
