"""Ingest's HTTP API: uploads (API key), bank webhooks (HMAC signature), the status of a
received file, and the admin API that issues credentials.

``POST /v1/tenants/{tenant_id}/statements`` takes the raw file as the request body (any
content type) and answers 202 once its new statements and lines are stored for publishing
(and, normally, published). Errors are
``{"error": {"code": ..., "message": ...}}`` (plus ``line``/``column``/``element`` when known)
with a 4xx/5xx status, mapped here in one place (``ERROR_STATUS``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from bankrec.contracts import Money
from bankrec.ingest.domain import SUPPORTED_FORMATS, FileRead
from bankrec.ingest.domain.credentials import signed, webhook_signer
from bankrec.ingest.domain.model import IngestRecord
from bankrec.ingest.errors import (
    ApiKeyRefused,
    ArchiveRefused,
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    FormatMismatch,
    IngestError,
    IngestNotFound,
    InvalidRecord,
    InvalidValue,
    MissingElement,
    NotXml,
    PublishFailed,
    StatementTooLarge,
    TenantForbidden,
    UnknownNamespace,
    UnsupportedFormat,
    WebhookSignatureRefused,
)
from bankrec.ingest.settings import IngestSettings
from bankrec.ingest.use_cases import IngestOutcome, SpooledBody, StatementIngest
from bankrec.runtime.tenant_keys import presented_api_key

log = logging.getLogger(__name__)

ERROR_STATUS: dict[type[IngestError], int] = {
    EmptyStatementFile: 400,
    ApiKeyRefused: 401,
    WebhookSignatureRefused: 401,
    TenantForbidden: 403,
    IngestNotFound: 404,
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
AccountParam = Annotated[
    str | None,
    Query(
        alias="account",
        max_length=64,
        description="The account the file belongs to, for CSV layouts that do not name it",
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

    ingest_id: str
    status: str
    lines_published: int
    lines_already_published: int
    duplicate_of: str | None
    file_sha256: str
    filename: str | None
    format: str
    statements: list[StatementSummary]
    lines: int
    diagnostics: list[DiagnosticOut]

    @classmethod
    def of(cls, outcome: IngestOutcome, filename: str | None) -> UploadAccepted:
        record = outcome.record
        file = outcome.file or FileRead(record.file_sha256, "", [], 0, [])
        return cls(
            ingest_id=record.ingest_id,
            status=record.status.value,
            lines_published=record.lines_published,
            lines_already_published=record.lines_already_published,
            duplicate_of=record.duplicate_of,
            file_sha256=record.file_sha256,
            filename=filename,
            format=record.source_format or file.source_format,
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
                for header in file.statements
            ],
            lines=file.line_count,
            diagnostics=[DiagnosticOut(**d.as_json()) for d in record.diagnostics],
        )


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The statement file itself (camt, MT940/942, BAI2, OFX, CSV, OCR giro, "
        "BgMax, or a zip/gzip/tar bundle of them), any content type",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class IngestStatusOut(BaseModel):
    """What happened to a received file."""

    ingest_id: str
    status: str
    received_via: str
    received_at: str
    completed_at: str | None
    filename: str | None
    file_sha256: str
    format: str | None
    statements: int
    lines_published: int
    lines_already_published: int
    duplicate_of: str | None
    error: dict[str, str] | None
    diagnostics: list[DiagnosticOut]

    @classmethod
    def of(cls, record: IngestRecord) -> IngestStatusOut:
        return cls(
            ingest_id=record.ingest_id,
            status=record.status.value,
            received_via=record.received_via,
            received_at=_iso(record.received_at) or "",
            completed_at=_iso(record.completed_at),
            filename=record.filename,
            file_sha256=record.file_sha256,
            format=record.source_format,
            statements=record.statements,
            lines_published=record.lines_published,
            lines_already_published=record.lines_already_published,
            duplicate_of=record.duplicate_of,
            error=None
            if record.error_code is None
            else {"code": record.error_code, "message": record.error_message or ""},
            diagnostics=[DiagnosticOut(**d.as_json()) for d in record.diagnostics],
        )


class WebhookAccepted(BaseModel):
    ingest_id: str
    status: str
    status_url: str


class IssuedKeyOut(BaseModel):
    key_id: str
    api_key: str = Field(description="Shown once; only its hash is stored")


class WebhookSecretOut(BaseModel):
    webhook_secret: str = Field(description="Sign '<timestamp>.<body>' with HMAC-SHA256")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _presented_key(request: Request) -> str | None:
    """The key (or admin token) a request carries, read as every service reads it."""
    return presented_api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


def build_router(ingest: StatementIngest, *, settings: IngestSettings) -> APIRouter:
    router = APIRouter()

    async def tenant_key(request: Request, tenant_id: str) -> None:
        await ingest.authorize(_presented_key(request), tenant_id)

    def admin(request: Request) -> None:
        token = settings.admin_token
        if token is None:
            raise IngestNotFound("the admin API is off; set BANKREC_INGEST_ADMIN_TOKEN to use it")
        presented = _presented_key(request) or ""
        if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
            raise ApiKeyRefused("the admin token is wrong")

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        """``ok`` once the database is migrated and the broker started; 503 before."""
        if getattr(request.app.state, "ready", False):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @router.post(
        "/v1/tenants/{tenant_id}/statements",
        status_code=202,
        openapi_extra=_UPLOAD_BODY,
        responses={
            400: {"description": "empty_file"},
            401: {"description": "unauthorized: no or unknown API key"},
            403: {"description": "forbidden: the key belongs to another tenant"},
            413: {"description": "too_large"},
            415: {"description": "unsupported_format"},
            422: {"description": "not_xml, unknown_namespace, forbidden_dtd, invalid_record, ..."},
        },
    )
    async def upload_statement(
        request: Request,
        tenant_id: TenantId,
        statement_format: FormatParam = None,
        filename: FilenameParam = None,
        account_number: AccountParam = None,
    ) -> UploadAccepted:
        """Read a statement file to its end, then publish its new statements and lines.

        The body is written to a spool file as it arrives (the byte limit checked on the
        way) and read from there in constant memory; the spool file goes when it is read.
        """
        await tenant_key(request, tenant_id)
        request.state.filename = filename  # errors name the file (see _ingest_error)
        body = await _spool_body(request, ingest.upload_bytes_max, ingest.spool_file())
        try:
            outcome = await ingest.ingest(
                tenant_id,
                body.path,
                statement_format=statement_format,
                filename=filename,
                account_number=account_number,
                file_sha256=body.sha256,
            )
        finally:
            await asyncio.to_thread(body.path.unlink, missing_ok=True)
        return UploadAccepted.of(outcome, filename)

    @router.get("/v1/tenants/{tenant_id}/ingests/{ingest_id}")
    async def ingest_status(
        request: Request, tenant_id: TenantId, ingest_id: str
    ) -> IngestStatusOut:
        """What happened to a received file (upload or webhook)."""
        await tenant_key(request, tenant_id)
        return IngestStatusOut.of(await ingest.status(tenant_id, ingest_id))

    @router.post("/v1/tenants/{tenant_id}/webhook-secret")
    async def rotate_webhook_secret(request: Request, tenant_id: TenantId) -> WebhookSecretOut:
        """A new webhook secret for the tenant; the old one stops working at once."""
        await tenant_key(request, tenant_id)
        return WebhookSecretOut(webhook_secret=await ingest.rotate_webhook_secret(tenant_id))

    @router.post(
        "/v1/webhooks/{tenant_id}/statements",
        status_code=202,
        openapi_extra=_UPLOAD_BODY,
        responses={401: {"description": "bad_signature (reason says which check failed)"}},
    )
    async def bank_webhook(
        request: Request, tenant_id: TenantId, filename: FilenameParam = None
    ) -> WebhookAccepted:
        """A bank integration delivers a statement file, signed with the tenant's secret.

        Answered 202 once the body is stored; it is read in the background. The status
        endpoint (``status_url``, with the tenant's API key) tells what happened to it.
        """
        timestamp = request.headers.get("x-bankrec-timestamp")
        secret = await ingest.webhook_secret(tenant_id)
        body = await _spool_body(
            request,
            ingest.upload_bytes_max,
            ingest.spool_file(),
            signer=None if secret is None or not timestamp else webhook_signer(secret, timestamp),
        )
        record = await ingest.receive_webhook(
            tenant_id,
            body,
            secret=secret,
            timestamp=timestamp,
            signature=request.headers.get("x-bankrec-signature"),
            filename=filename,
        )
        return WebhookAccepted(
            ingest_id=record.ingest_id,
            status=record.status.value,
            status_url=f"/v1/tenants/{tenant_id}/ingests/{record.ingest_id}",
        )

    @router.post("/v1/admin/tenants/{tenant_id}/api-keys", status_code=201)
    async def create_api_key(
        request: Request,
        tenant_id: TenantId,
        label: Annotated[str | None, Query(max_length=100)] = None,
    ) -> IssuedKeyOut:
        """Issue an API key for a tenant (admin token required)."""
        admin(request)
        issued = await ingest.create_api_key(tenant_id, label)
        return IssuedKeyOut(key_id=issued.key_id, api_key=issued.plain)

    @router.delete("/v1/admin/tenants/{tenant_id}/api-keys/{key_id}", status_code=204)
    async def revoke_api_key(request: Request, tenant_id: TenantId, key_id: str) -> None:
        """Revoke an API key (admin token required)."""
        admin(request)
        await ingest.revoke_api_key(tenant_id, key_id)

    @router.post("/v1/admin/tenants/{tenant_id}/webhook-secret")
    async def admin_webhook_secret(request: Request, tenant_id: TenantId) -> WebhookSecretOut:
        """Set a new webhook secret for a tenant (admin token required)."""
        admin(request)
        return WebhookSecretOut(webhook_secret=await ingest.rotate_webhook_secret(tenant_id))

    return router


_SPOOL_WRITE_BYTES = 1024 * 1024  # received chunks are written in pieces of about this


async def _spool_body(
    request: Request, limit_bytes: int, path: FilePath, *, signer: hmac.HMAC | None = None
) -> SpooledBody:
    """Write the request body to ``path`` as it arrives, hashing (and signing) it on the
    way; refused with ``too_large`` as soon as it is known to exceed the limit, and then
    nothing of it is kept."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        raise StatementTooLarge(int(declared), limit_bytes)
    digest = hashlib.sha256()
    size = 0
    pending = bytearray()
    stream = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit_bytes:
                raise StatementTooLarge(None, limit_bytes)
            pending.extend(chunk)
            if len(pending) >= _SPOOL_WRITE_BYTES:
                await asyncio.to_thread(_spool_piece, stream, bytes(pending), digest, signer)
                pending.clear()
        await asyncio.to_thread(_spool_piece, stream, bytes(pending), digest, signer)
    except BaseException:
        await asyncio.to_thread(stream.close)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    await asyncio.to_thread(stream.close)
    return SpooledBody(
        path=path,
        size_bytes=size,
        sha256=digest.hexdigest(),
        signature=None if signer is None else signed(signer),
    )


def _spool_piece(stream: BinaryIO, piece: bytes, digest: Any, signer: hmac.HMAC | None) -> None:
    """Write, hash and sign a piece of a body (in a worker thread: hashing a megabyte
    takes a millisecond the event loop should not wait)."""
    stream.write(piece)
    digest.update(piece)
    if signer is not None:
        signer.update(piece)


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


def install_api(app: FastAPI, ingest: StatementIngest, *, settings: IngestSettings) -> None:
    """Mount the routes and the one error mapping on an app."""
    app.include_router(build_router(ingest, settings=settings))
    app.add_exception_handler(IngestError, _ingest_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
