"""The matcher's HTTP API: health, index figures, a line's last decision, explain a line,
the tenant's matching settings.

Every ``/v1/tenants/{tenant_id}/...`` route takes an API key of that tenant
(``Authorization: Bearer <key>`` or ``X-API-Key``), checked against the keys read from the
credentials topic (``bankrec.runtime.tenant_keys``); health and the AsyncAPI document are open.
Errors are ``{"error": {"code": ..., "message": ...}}``, mapped here in one place
(``ERROR_STATUS``) from the service's exception hierarchy and from request validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankrec.contracts import Amount, MatchDecision, MatchingSettings, StatementLine
from bankrec.matcher.domain.index_digest import index_digest as digest_of
from bankrec.matcher.errors import (
    ConcurrentDecisionError,
    DecisionNotFoundError,
    IndexNotReadyError,
    InvalidMatchingSettingsError,
    MatcherError,
)
from bankrec.matcher.use_cases import Matcher
from bankrec.runtime import TenantKeyRing, include_tenant_routes

ERROR_STATUS: dict[type[MatcherError], int] = {
    DecisionNotFoundError: 404,
    IndexNotReadyError: 503,  # the same request succeeds once the index has caught up
    InvalidMatchingSettingsError: 422,
    ConcurrentDecisionError: 409,  # settings changed meanwhile: read them and try again
}

TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
LineId = Annotated[str, Path(min_length=1, max_length=200)]

TENANT_PATH = "/v1/tenants/{tenant_id}"


class IndexFigures(BaseModel):
    """How many open items the index holds for the tenant, and how many are still open."""

    open_items: int
    open: int
    pending_lines: int


class IndexDigest(BaseModel):
    """The tenant's open-item index by content: SHA-256 of its snapshot, and its counts;
    ``ready``: the index has read the open-items topic up to where it ended at start-up."""

    digest: str
    items: int
    open: int
    ready: bool
    retired_before: AwareDatetime | None = Field(
        description="Items closed before this were retired first (None: closed items are "
        "kept); an index built to compare must be retired at the same cut-off"
    )


class MatchingSettingsRequest(BaseModel):
    """The settings a tenant wants (each optional: a missing one keeps its default)."""

    model_config = ConfigDict(extra="forbid")

    auto_confirm: bool = True
    auto_confirm_threshold: Amount = Decimal("0.9")
    date_tolerance_days: int = 5
    amount_tolerance: Amount = Decimal(0)
    amount_tolerance_percent: Amount = Decimal(0)
    name_similarity_threshold: int = 90
    text_similarity_threshold: int = 90
    updated_by: str | None = Field(default=None, max_length=200)


def build_open_router(matcher: Matcher, *, ready: Callable[[], bool]) -> APIRouter:
    """The routes anyone may call: health."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> JSONResponse:
        """``ok`` once the broker is started (503 before); ``index`` says whether the open-items
        index has caught up with the topic (lines wait until it has)."""
        if not ready():
            return JSONResponse({"status": "starting"}, status_code=503)
        index = "ready" if matcher.ready else "catching_up"
        return JSONResponse({"status": "ok", "index": index})

    return router


def build_router(matcher: Matcher) -> APIRouter:
    """A tenant's routes, every one under ``/v1/tenants/{tenant_id}`` (guarded at mount)."""
    router = APIRouter()

    @router.get(f"{TENANT_PATH}/index")
    async def index(tenant_id: TenantId) -> IndexFigures:
        """The tenant's open-item index: items held (any status) and items open."""
        summary = matcher.index_summary(tenant_id)
        return IndexFigures(
            open_items=summary.open_items,
            open=summary.open,
            pending_lines=matcher.pending_count(tenant_id),
        )

    @router.get(f"{TENANT_PATH}/index-digest")
    async def index_digest(tenant_id: TenantId) -> IndexDigest:
        """The tenant's open-item index by content (``domain.index_digest``): two matchers
        with the same digest hold the same items, states and lookups. Retires the items
        closed longer ago than the retention first, and says at which cut-off."""
        retired_before = matcher.retire_closed_items()
        held = matcher.index_of(tenant_id)
        return IndexDigest(
            digest=digest_of(held),
            items=len(held),
            open=held.open_count,
            ready=matcher.ready,
            retired_before=retired_before,
        )

    @router.get(f"{TENANT_PATH}/decisions/{{line_id}}")
    async def decision(tenant_id: TenantId, line_id: LineId) -> MatchDecision:
        """The last decision taken for the line (a later one supersedes a suspense)."""
        return await matcher.last_decision(tenant_id, line_id)

    @router.post(f"{TENANT_PATH}/explain")
    async def explain(tenant_id: TenantId, line: StatementLine) -> MatchDecision:
        """The decision the matcher would take for this line now; nothing is published or
        booked in the index."""
        return matcher.explain(tenant_id, line)

    @router.get(f"{TENANT_PATH}/matching-settings")
    async def get_matching_settings(tenant_id: TenantId) -> MatchingSettings:
        """The tenant's matching settings (the defaults, version 1, until first saved)."""
        return await matcher.matching_settings(tenant_id)

    @router.put(f"{TENANT_PATH}/matching-settings")
    async def put_matching_settings(
        tenant_id: TenantId, request: MatchingSettingsRequest
    ) -> MatchingSettings:
        """Replace the tenant's matching settings; lines decided from now on use them, and
        the change is published on the settings topic."""
        wanted = request.model_dump(exclude={"updated_by"})
        try:
            settings = MatchingSettings.model_validate(wanted)
        except ValidationError as exc:
            raise InvalidMatchingSettingsError(_problems(exc.errors())) from exc
        return await matcher.save_matching_settings(
            tenant_id, settings, updated_by=request.updated_by
        )

    return router


def _problems(errors: Sequence[Any]) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in errors
    )


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _matcher_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MatcherError)
    return error_response(ERROR_STATUS.get(type(exc), 400), exc.code, exc.message)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    )
    return error_response(422, "invalid_request", problems or "invalid request")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


def install_api(
    app: FastAPI, matcher: Matcher, *, ready: Callable[[], bool], tenant_keys: TenantKeyRing
) -> None:
    """Mount the routes (the tenant's behind its API key) and the one error mapping."""
    app.include_router(build_open_router(matcher, ready=ready))
    include_tenant_routes(app, build_router(matcher), tenant_keys)
    app.add_exception_handler(MatcherError, _matcher_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
