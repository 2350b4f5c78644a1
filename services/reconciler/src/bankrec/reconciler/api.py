"""The reconciler's HTTP API: periods' figures and reports, manual balance entry.

Every ``/v1/tenants/{tenant_id}/...`` route takes an API key of that tenant
(``Authorization: Bearer <key>`` or ``X-API-Key``), checked against the keys read from the
credentials topic (``bankrec.runtime.tenant_keys``); health and the AsyncAPI document are open.
Errors are ``{"error": {"code": ..., "message": ...}}`` with a 4xx status: the service's
refusals mapped in one place (``api_periods.ERROR_STATUS``, shared with the period routes),
request validation and unknown routes here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankrec.contracts import PeriodStatus
from bankrec.reconciler.api_periods import error_response, install_period_api, refusal_response
from bankrec.reconciler.domain import (
    ReconciliationPeriod,
    amount_text,
    figures,
    masked_account,
    render_report,
)
from bankrec.reconciler.errors import ReconcilerError
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import TenantKeyRing, include_tenant_routes

TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
AccountId = Annotated[str, Path(min_length=1, max_length=100)]
CorrelationId = Annotated[str | None, Header(max_length=200)]

ACCOUNT_PATH = "/v1/tenants/{tenant_id}/accounts/{account_id}"


class PeriodReport(BaseModel):
    """The figures of an account's current period; money as decimal strings."""

    account_id: str
    account_number_masked: str | None
    currency: str
    status: PeriodStatus
    statement_ids: list[str]
    opening_balance: str
    statement_balance: str | None
    reconciled_balance: str
    difference: str | None
    lines: int
    reconciled: int
    matched: int
    in_suspense: int
    other: int
    outstanding: int

    @classmethod
    def of(cls, period: ReconciliationPeriod) -> PeriodReport:
        result = figures(period)
        return cls(
            account_id=period.account_id,
            account_number_masked=masked_account(period),
            currency=period.currency,
            status=period.status,
            statement_ids=list(result.statement_ids),
            opening_balance=amount_text(result.opening_balance),
            statement_balance=None
            if result.statement_balance is None
            else amount_text(result.statement_balance),
            reconciled_balance=amount_text(result.reconciled_balance),
            difference=None if result.difference is None else amount_text(result.difference),
            lines=result.lines,
            reconciled=result.reconciled,
            matched=result.matched,
            in_suspense=result.in_suspense,
            other=result.other,
            outstanding=result.outstanding,
        )


class AccountList(BaseModel):
    tenant_id: str
    accounts: list[PeriodReport]


class BalanceEntry(BaseModel):
    """A balance entered by hand: a decimal string (a JSON number is refused: floats are
    inexact); the currency, when given, must be the period's."""

    model_config = ConfigDict(extra="forbid")

    amount: StrictStr = Field(pattern=r"^-?\d{1,18}(\.\d{1,6})?$", examples=["123.45"])
    currency: StrictStr | None = Field(default=None, pattern=r"^[A-Z]{3}$")


def build_open_router(*, ready: Callable[[], bool]) -> APIRouter:
    """The routes anyone may call: health."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> JSONResponse:
        """``ok`` once the broker is started; 503 before."""
        if ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    return router


def build_router(reconciler: Reconciler) -> APIRouter:
    """A tenant's routes, every one under ``/v1/tenants/{tenant_id}`` (guarded at mount)."""
    router = APIRouter()

    @router.get("/v1/tenants/{tenant_id}/accounts")
    async def list_accounts(tenant_id: TenantId) -> AccountList:
        """Every account of the tenant with its current period's figures."""
        periods = await reconciler.periods(tenant_id)
        return AccountList(tenant_id=tenant_id, accounts=[PeriodReport.of(p) for p in periods])

    @router.get(f"{ACCOUNT_PATH}/report")
    async def report(tenant_id: TenantId, account_id: AccountId) -> PeriodReport:
        """The figures of the account's current period."""
        return PeriodReport.of(await reconciler.period(tenant_id, account_id))

    @router.get(f"{ACCOUNT_PATH}/report.txt", response_class=PlainTextResponse)
    async def report_text(tenant_id: TenantId, account_id: AccountId) -> PlainTextResponse:
        """The same figures as a fixed-width text table."""
        return PlainTextResponse(render_report(await reconciler.period(tenant_id, account_id)))

    @router.put(f"{ACCOUNT_PATH}/opening-balance")
    async def put_opening_balance(
        tenant_id: TenantId,
        account_id: AccountId,
        entry: BalanceEntry,
        x_correlation_id: CorrelationId = None,
    ) -> PeriodReport:
        """Enter the opening balance by hand; it wins over the statements' opening balance."""
        period = await reconciler.enter_opening_balance(
            tenant_id,
            account_id,
            Decimal(entry.amount),
            entry.currency,
            correlation_id=x_correlation_id,
        )
        return PeriodReport.of(period)

    @router.put(f"{ACCOUNT_PATH}/statement-balance")
    async def put_statement_balance(
        tenant_id: TenantId,
        account_id: AccountId,
        entry: BalanceEntry,
        x_correlation_id: CorrelationId = None,
    ) -> PeriodReport:
        """Enter the statement balance by hand; the next latest statement replaces it."""
        period = await reconciler.enter_statement_balance(
            tenant_id,
            account_id,
            Decimal(entry.amount),
            entry.currency,
            correlation_id=x_correlation_id,
        )
        return PeriodReport.of(period)

    return router


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
    app: FastAPI,
    reconciler: Reconciler,
    *,
    ready: Callable[[], bool],
    tenant_keys: TenantKeyRing,
) -> None:
    """Mount the routes (the tenant's behind its API key) and the one error mapping."""
    app.include_router(build_open_router(ready=ready))
    include_tenant_routes(app, build_router(reconciler), tenant_keys)
    install_period_api(app, reconciler, mount=lambda r: include_tenant_routes(app, r, tenant_keys))
    app.add_exception_handler(ReconcilerError, refusal_response)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
