"""Ingest's HTTP API: upload a statement file; health; the AsyncAPI document.

``POST /v1/tenants/{tenant_id}/statements`` takes the raw file as the request body (any
content type) and answers 202 once every header and line is on Kafka. Errors are
``{"error": {"code": ..., "message": ...}}`` (plus ``line``/``column``/``element`` when known)
with a 4xx/5xx status, mapped here in one place (``ERROR_STATUS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankrec.contracts import Money
from bankrec.ingest.domain import SUPPORTED_FORMATS, ParseResult
from bankrec.ingest.errors import (
    ArchiveRefused,
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    FormatMismatch,
    IngestError,
    InvalidRecord,
    InvalidValue,
    MissingElement,
    NotXml,
    PublishFailed,
    StatementTooLarge,
    UnknownNamespace,
    UnsupportedFormat,
)
from bankrec.ingest.use_cases import StatementIngest

log = logging.getLogger(__name__)

ERROR_STATUS: dict[type[IngestError], int] = {
    EmptyStatementFile: 400,
    ArchiveRefused: 422,
    InvalidRecord: 422,
    StatementTooLarge: 413,
    UnsupportedFormat: 415,
    NotXml: 422,
    ForbiddenXmlConstruct: 422,
    UnknownNamespace: 422,
    FormatMismatch: 422,
    MissingElement: 422,
    InvalidValue: 422,
    PublishFailed: 503,
}

TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
FormatParam = Annotated[
    str | None,
    Query(
        alias="format",
        max_length=20,
        description=f"Force the format ({', '.join(SUPPORTED_FORMATS)}); detected when absent",
    ),
]
FilenameParam = Annotated[
    str | None, Query(max_length=255, description="The file's name, quoted in errors and logs")
]


class StatementSummary(BaseModel):
    statement_id: str
    bank_statement_id: str | None
    account_id: str
    kind: str
    entry_count: int
    line_count: int
    opening_balance: Money | None
    closing_balance: Money | None


class DiagnosticOut(BaseModel):
    code: str
    message: str
    statement: str | None


class UploadAccepted(BaseModel):
    """What the upload published; money as decimal strings with their currency."""

    file_sha256: str
    filename: str | None
    format: str
    statements: list[StatementSummary]
    lines: int
    diagnostics: list[DiagnosticOut]

    @classmethod
    def of(cls, result: ParseResult, filename: str | None) -> UploadAccepted:
        return cls(
            file_sha256=result.file_sha256,
            filename=filename,
            format=result.source_format,
            statements=[
                StatementSummary(
                    statement_id=header.statement_id,
                    bank_statement_id=header.bank_statement_id,
                    account_id=header.account.account_id,
                    kind=header.kind.value,
                    entry_count=header.entry_count,
                    line_count=header.line_count,
                    opening_balance=header.opening_booked.amount if header.opening_booked else None,
                    closing_balance=header.closing_booked.amount if header.closing_booked else None,
                )
                for header, _lines in result.statements
            ],
            lines=result.line_count,
            diagnostics=[DiagnosticOut(**d.as_json()) for d in result.diagnostics],
        )


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The statement file itself (camt.053/052/054 XML), any content type",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def build_router(ingest: StatementIngest, *, ready: Callable[[], bool]) -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health() -> JSONResponse:
        """``ok`` once the broker is started; 503 before."""
        if ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @router.post(
        "/v1/tenants/{tenant_id}/statements",
        status_code=202,
        openapi_extra=_UPLOAD_BODY,
        responses={
            400: {"description": "empty_file"},
            413: {"description": "too_large"},
            415: {"description": "unsupported_format"},
            422: {"description": "not_xml, unknown_namespace, forbidden_dtd, missing_element, ..."},
            503: {"description": "publish_failed: send the same file again"},
        },
    )
    async def upload_statement(
        request: Request,
        tenant_id: TenantId,
        statement_format: FormatParam = None,
        filename: FilenameParam = None,
    ) -> UploadAccepted:
        """Parse a statement file completely, then publish its headers and lines."""
        request.state.filename = filename  # errors name the file (see _ingest_error)
        body = await _read_body(request, ingest.upload_bytes_max)
        result = await ingest.ingest(tenant_id, body, statement_format=statement_format)
        return UploadAccepted.of(result, filename)

    return router


async def _read_body(request: Request, limit_bytes: int) -> bytes:
    """The request body, refused as soon as it is known to exceed the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise StatementTooLarge(int(declared), limit_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit_bytes:
            raise StatementTooLarge(None, limit_bytes)
    return bytes(body)


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **details}}, status_code=status
    )


async def _ingest_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IngestError)
    status = next((code for kind, code in ERROR_STATUS.items() if isinstance(exc, kind)), 422)
    filename = getattr(request.state, "filename", None)
    message = f"{filename}: {exc.message}" if filename else exc.message
    log.info(
        "refused statement file (%s): %s",
        exc.code,
        message[:300],
        extra={"tenant_id": request.path_params.get("tenant_id")},
    )
    return error_response(status, exc.code, message, **exc.details())


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


def install_api(app: FastAPI, ingest: StatementIngest, *, ready: Callable[[], bool]) -> None:
    """Mount the routes and the one error mapping on an app."""
    app.include_router(build_router(ingest, ready=ready))
    app.add_exception_handler(IngestError, _ingest_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
