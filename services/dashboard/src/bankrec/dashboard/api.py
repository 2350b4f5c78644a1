"""The page and its backend-for-frontend: JSON views, actions and the live flow (SSE).

Every ``/api/tenants/{tenant_id}/...`` call takes the tenant's API key the way the services
do (``Authorization: Bearer brk_...``); the page keeps it in the tab's ``sessionStorage`` and
the backend only passes it on. A service's refusal (401, 403, 404, 409, 422) reaches the page
with the service's own error code and message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Header, Path, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from bankrec.dashboard.domain import FlowSnapshot, ServiceLag, SuspenseAge
from bankrec.dashboard.service_apis import ServiceCallError, error_body
from bankrec.dashboard.topic_watch import TopicWatch
from bankrec.dashboard.use_cases import Dashboard, age_json
from bankrec.runtime.tenant_keys import TENANT_ID_PATTERN

STATIC_DIR = FilePath(__file__).parent / "static"
# the page loads only its own files: no inline script, nothing from elsewhere
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SUSPENSE_SAMPLE_SECONDS = 10.0

TenantId = Annotated[str, Path(pattern=TENANT_ID_PATTERN, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=200)]
Authorization = Annotated[str | None, Header()]


class MissingKeyError(Exception):
    """The browser sent no API key (the page logs in first)."""


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: StrictStr = Field(min_length=1, max_length=200)


class ReasonCommand(_Command):
    reason: StrictStr = Field(min_length=1, max_length=1000)


class UnmatchCommand(ReasonCommand):
    line_id: StrictStr = Field(min_length=1, max_length=200)


def api_key_of(authorization: str | None) -> str:
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise MissingKeyError
    return key.strip()


def _decimal_text(value: Any) -> str | None:
    return None if value is None else str(value)


def flow_json(
    snapshot: FlowSnapshot,
    lag: tuple[ServiceLag, ...],
    lag_read_at: datetime | None,
    ages: tuple[SuspenseAge, ...],
    *,
    following: bool,
    dead_letters_total: int,
) -> dict[str, Any]:
    return {
        "at": snapshot.at.isoformat(),
        "following": following,
        "window_minutes": snapshot.window_minutes,
        "lines_per_minute": str(snapshot.lines_per_minute),
        "lines_last_minute": snapshot.lines_last_minute,
        "decisions_by_kind": snapshot.decisions_by_kind,
        "auto_match_rate": _decimal_text(snapshot.auto_match_rate),
        "dead_letters": snapshot.dead_letters,
        "dead_letters_all_tenants": dead_letters_total,
        "lag_read_at": lag_read_at.isoformat() if lag_read_at else None,
        "consumer_lag": [
            {
                "service": s.service,
                "lag": s.lag,
                "groups": [{"group": g.group, "lag": g.lag} for g in s.groups],
            }
            for s in lag
        ],
        "minutes": [
            {
                "minute": m.minute.isoformat(),
                "lines": m.lines,
                "decisions": m.decisions,
                "auto_match_rate": _decimal_text(m.auto_match_rate),
            }
            for m in snapshot.minutes
        ],
        "suspense_age": [age_json(a) for a in ages],
    }


def build_router(dashboard: Dashboard, watch: TopicWatch, push_seconds: float) -> APIRouter:
    router = APIRouter(prefix="/api/tenants/{tenant_id}")

    def flow_now(tenant_id: str) -> dict[str, Any]:
        return flow_json(
            watch.snapshot(tenant_id, datetime.now(UTC)),
            watch.lag,
            watch.lag_read_at,
            dashboard.suspense_age_history(tenant_id),
            following=watch.following,
            dead_letters_total=watch.dead_letters_total,
        )

    @router.get("/session")
    async def session(tenant_id: TenantId, authorization: Authorization = None) -> Any:
        """200 when the services take the key; the service's 401/403 otherwise."""
        return await dashboard.session(tenant_id, api_key_of(authorization))

    @router.get("/accounts")
    async def accounts(tenant_id: TenantId, authorization: Authorization = None) -> Any:
        return await dashboard.accounts(tenant_id, api_key_of(authorization))

    @router.get("/suspense")
    async def suspense(tenant_id: TenantId, authorization: Authorization = None) -> Any:
        return await dashboard.suspense_queue(tenant_id, api_key_of(authorization))

    @router.post("/suspense/{suspense_id}/allocations", status_code=201)
    async def allocate(
        tenant_id: TenantId,
        suspense_id: ItemId,
        body: Annotated[dict[str, Any], Body()],
        authorization: Authorization = None,
    ) -> Any:
        """The ledger's allocation (target open_item, customer, supplier or gl_account)."""
        return await dashboard.allocate(tenant_id, api_key_of(authorization), suspense_id, body)

    @router.post("/unmatch")
    async def unmatch(
        tenant_id: TenantId, body: UnmatchCommand, authorization: Authorization = None
    ) -> Any:
        return await dashboard.unmatch_line(
            tenant_id, api_key_of(authorization), body.line_id, body.actor, body.reason
        )

    @router.get("/accounts/{account_id}/periods/{period}")
    async def period(
        tenant_id: TenantId,
        account_id: ItemId,
        period: ItemId,
        authorization: Authorization = None,
    ) -> Any:
        return await dashboard.period(tenant_id, api_key_of(authorization), account_id, period)

    @router.post("/accounts/{account_id}/periods/{period}/adjustments", status_code=201)
    async def adjustment(
        tenant_id: TenantId,
        account_id: ItemId,
        period: ItemId,
        body: Annotated[dict[str, Any], Body()],
        authorization: Authorization = None,
    ) -> Any:
        return await dashboard.create_adjustment(
            tenant_id, api_key_of(authorization), account_id, period, body
        )

    @router.post("/accounts/{account_id}/periods/{period}/release")
    async def release(
        tenant_id: TenantId,
        account_id: ItemId,
        period: ItemId,
        body: _Command,
        authorization: Authorization = None,
    ) -> Any:
        return await dashboard.release(
            tenant_id, api_key_of(authorization), account_id, period, body.actor
        )

    @router.post("/accounts/{account_id}/periods/{period}/void")
    async def void(
        tenant_id: TenantId,
        account_id: ItemId,
        period: ItemId,
        body: ReasonCommand,
        authorization: Authorization = None,
    ) -> Any:
        return await dashboard.void(
            tenant_id, api_key_of(authorization), account_id, period, body.actor, body.reason
        )

    @router.get("/flow")
    async def flow(tenant_id: TenantId, authorization: Authorization = None) -> Any:
        api_key = api_key_of(authorization)
        await dashboard.session(tenant_id, api_key)
        await dashboard.sample_suspense_age(tenant_id, api_key)
        return flow_now(tenant_id)

    @router.get("/flow/stream")
    async def flow_stream(
        tenant_id: TenantId, request: Request, authorization: Authorization = None
    ) -> StreamingResponse:
        """Server-sent events: an ``event: flow`` every ``push_seconds`` until the page goes."""
        api_key = api_key_of(authorization)
        await dashboard.session(tenant_id, api_key)  # refuse a bad key before streaming

        async def events() -> AsyncIterator[bytes]:
            sampled_at = 0.0
            loop = asyncio.get_running_loop()
            while not await request.is_disconnected():
                if loop.time() - sampled_at >= SUSPENSE_SAMPLE_SECONDS:
                    try:
                        await dashboard.sample_suspense_age(tenant_id, api_key)
                        sampled_at = loop.time()
                    except ServiceCallError:
                        pass  # the ledger is away: the flow goes on without a new age sample
                data = json.dumps(flow_now(tenant_id), separators=(",", ":"))
                yield f"event: flow\ndata: {data}\n\n".encode()
                await asyncio.sleep(push_seconds)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return router


def install_api(app: FastAPI, dashboard: Dashboard, watch: TopicWatch, push_seconds: float) -> None:
    app.include_router(build_router(dashboard, watch, push_seconds))

    @app.exception_handler(ServiceCallError)
    async def service_refused(_request: Request, exc: ServiceCallError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(MissingKeyError)
    async def no_key(_request: Request, _exc: MissingKeyError) -> JSONResponse:
        return JSONResponse(
            error_body("api_key_missing", "log in with the tenant id and its API key"),
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        if request.url.path.startswith("/api/"):
            response.headers["cache-control"] = "no-store"
        return response

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "topics": "following" if watch.following else "not_following"}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
