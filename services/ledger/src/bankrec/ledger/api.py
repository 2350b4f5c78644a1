"""The ledger's HTTP API (JSON; money as decimal strings, numbers refused).

Errors are ``{"error": {"code": ..., "message": ..., "details": [...]}}`` with a 4xx
status, mapped in one place (``STATUS_BY_ERROR``) from the ``LedgerError`` hierarchy.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bankrec.contracts import OpenItem, OpenItemStatus
from bankrec.ledger.domain import parse_draft
from bankrec.ledger.errors import (
    ChartExhausted,
    ConcurrentUpdate,
    FieldError,
    IdempotencyConflict,
    ImportTooLarge,
    InvalidCsv,
    InvalidOpenItem,
    LedgerError,
    OpenItemConflict,
    OverAllocation,
    UnknownAccount,
    UnknownOpenItem,
)
from bankrec.ledger.use_cases import ItemChange, Ledger

STATUS_BY_ERROR: dict[type[LedgerError], int] = {
    InvalidCsv: 400,
    UnknownOpenItem: 404,
    UnknownAccount: 404,
    OpenItemConflict: 409,
    OverAllocation: 409,
    IdempotencyConflict: 409,
    ConcurrentUpdate: 409,
    ChartExhausted: 409,
    ImportTooLarge: 413,
}
"""HTTP status per error class (the nearest listed base class wins); anything else is 422."""

LIST_LIMIT_MAX = 5000

router = APIRouter()


def status_for(error: LedgerError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 422


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse(status_code=status, content={"error": body})


async def _ledger_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    details: list[dict[str, Any]] | None = None
    if isinstance(exc, InvalidOpenItem):
        details = [{"field": error.field, "message": error.reason} for error in exc.errors]
    elif isinstance(exc, FieldError | OpenItemConflict):
        details = [{"field": exc.field, "message": exc.message}]
    return error_response(status_for(exc), exc.code, exc.message, details)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "field": ".".join(str(part) for part in error.get("loc", ()) if part != "body"),
            "message": str(error.get("msg", "invalid")).removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
    return error_response(422, "invalid_request", message, details)


def install_error_handlers(app: FastAPI) -> None:
    """Map every ledger error and request validation error to the JSON error shape."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]
TenantId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Tenant")
]
CorrelationId = Annotated[
    str | None,
    Header(alias="X-Correlation-Id", max_length=200, description="Defaults to a new UUID"),
]


def _correlation(given: str | None) -> str:
    return given or f"api-{uuid.uuid4()}"


class OpenItemRequest(BaseModel):
    """An open item as JSON: the CSV columns, with ``amount`` as a decimal string."""

    model_config = ConfigDict(extra="forbid")

    item_id: str
    kind: str = Field(description="invoice | bill | payment | journal")
    counterparty_id: str | None = None
    counterparty_name: str | None = None
    counterparty_accounts: str | list[str] | None = Field(
        default=None, description="Space-separated (as in the CSV) or a list"
    )
    document_no: str | None = None
    external_document_no: str | None = None
    reference: str | None = None
    reference_kind: str | None = Field(default=None, description="kid | rf | ocr | other")
    description: str | None = None
    amount: str = Field(
        description="Open amount as on the statement: + in, - out", examples=["12500.00"]
    )
    currency: str = Field(examples=["NOK"])
    posting_date: str | None = Field(default=None, description="YYYY-MM-DD")
    due_date: str | None = Field(default=None, description="YYYY-MM-DD")
    bank_account_id: str | None = None

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_is_a_string(cls, value: Any) -> Any:
        if isinstance(value, bool | int | float):
            raise ValueError(
                f'amount {value!r} is a JSON number; send a decimal string like "12500.00" '
                "(numbers are refused so no float rounding enters the books)"
            )
        return value


def _item_json(item: OpenItem) -> dict[str, Any]:
    return item.model_dump(mode="json")


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """``{"status": "ok"}`` once the broker is started, 503 before."""
    if getattr(request.app.state, "ready", False):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "starting"}, status_code=503)


@router.post("/v1/tenants/{tenant_id}/open-items", status_code=201)
async def register_open_item(
    tenant_id: TenantId,
    body: OpenItemRequest,
    ledger: LedgerDep,
    correlation_id: CorrelationId = None,
) -> JSONResponse:
    """Create (201) or revise (200) an open item; its new state goes to the open-items topic."""
    draft = parse_draft(body.model_dump())
    registered = await ledger.register_open_item(
        tenant_id, draft, correlation_id=_correlation(correlation_id)
    )
    status = 201 if registered.change is ItemChange.CREATED else 200
    return JSONResponse(_item_json(registered.item), status_code=status)


@router.post("/v1/tenants/{tenant_id}/open-items/import")
async def import_open_items(
    tenant_id: TenantId,
    request: Request,
    ledger: LedgerDep,
    correlation_id: CorrelationId = None,
) -> JSONResponse:
    """Import a CSV (``text/csv`` body); good rows are saved, bad ones listed by row and field."""
    limit: int = request.app.state.settings.import_bytes_max
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ImportTooLarge(f"the CSV is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ImportTooLarge(f"the CSV is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidCsv(f"the CSV is not UTF-8 (byte {exc.start}); save it as UTF-8") from exc
    report = await ledger.import_open_items(
        tenant_id, text, correlation_id=_correlation(correlation_id)
    )
    return JSONResponse(
        {
            "imported": report.imported,
            "unchanged": report.unchanged,
            "errors": [
                {"row": error.row, "field": error.field, "message": error.message}
                for error in report.errors
            ],
        }
    )


@router.get("/v1/tenants/{tenant_id}/open-items")
async def list_open_items(
    tenant_id: TenantId,
    ledger: LedgerDep,
    status: OpenItemStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Open items ordered by item id, optionally of one status."""
    items = await ledger.open_items(tenant_id, status=status, limit=limit, offset=offset)
    return JSONResponse({"open_items": [_item_json(item) for item in items]})


@router.get("/v1/tenants/{tenant_id}/open-items/{item_id}")
async def get_open_item(
    tenant_id: TenantId, item_id: Annotated[str, Path(max_length=100)], ledger: LedgerDep
) -> JSONResponse:
    return JSONResponse(_item_json(await ledger.open_item(tenant_id, item_id)))


@router.get("/v1/tenants/{tenant_id}/accounts")
async def list_accounts(tenant_id: TenantId, ledger: LedgerDep) -> JSONResponse:
    """The chart of accounts (the default one until the tenant's first posting)."""
    chart = await ledger.chart(tenant_id)
    return JSONResponse(
        {
            "accounts": [
                {
                    "code": account.code,
                    "name": account.name,
                    "role": account.role.value,
                    "currency": account.currency,
                    "bank_account_id": account.bank_account_id,
                }
                for account in chart.accounts
            ]
        }
    )


@router.get("/v1/tenants/{tenant_id}/journal")
async def list_journal(
    tenant_id: TenantId,
    ledger: LedgerDep,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Journal entries with their lines, in the order they were posted."""
    entries = await ledger.journal(tenant_id, limit=limit, offset=offset)
    return JSONResponse(
        {
            "entries": [
                {**posted.entry.model_dump(mode="json"), "posted_at": posted.posted_at.isoformat()}
                for posted in entries
            ]
        }
    )


@router.get("/v1/tenants/{tenant_id}/trial-balance")
async def trial_balance(tenant_id: TenantId, ledger: LedgerDep) -> JSONResponse:
    """Debit, credit and balance (debit - credit) per account and currency."""
    balance = await ledger.trial_balance(tenant_id)
    return JSONResponse(
        {
            "accounts": [
                {
                    "account_code": row.account_code,
                    "role": row.role.value,
                    "currency": row.currency,
                    "debit": format(row.debit, "f"),
                    "credit": format(row.credit, "f"),
                    "balance": format(row.debit - row.credit, "f"),
                }
                for row in balance.accounts
            ],
            "balanced": balance.balanced,
        }
    )


@router.get("/v1/tenants/{tenant_id}/status")
async def ledger_status(tenant_id: TenantId, ledger: LedgerDep) -> JSONResponse:
    counts = await ledger.counts(tenant_id)
    return JSONResponse(
        {
            "decisions_applied": counts.decisions_applied,
            "decisions_refused": counts.decisions_refused,
            "journal_entries": counts.journal_entries,
        }
    )
