"""The ledger's HTTP API (JSON; money as decimal strings, numbers refused).

Every route of ``router`` is a tenant's (``/v1/tenants/{tenant_id}/...``) and takes an API key
of that tenant (``Authorization: Bearer <key>`` or ``X-API-Key``), checked at mount
(``bankrec.runtime.include_tenant_routes``) against the keys read from the credentials
topic; ``open_router`` holds what anyone may call (health).

Errors are ``{"error": {"code": ..., "message": ..., "details": [...]}}`` with a 4xx
status, mapped in one place (``STATUS_BY_ERROR``) from the ``LedgerError`` hierarchy.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bankrec.contracts import (
    AccountRole,
    AdjustmentKind,
    Money,
    OpenItem,
    OpenItemStatus,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    StatementLine,
)
from bankrec.ledger.chart_book import ChartBook, account_json
from bankrec.ledger.domain import parse_draft
from bankrec.ledger.domain.suspense import AllocationTarget, SuspenseStatus
from bankrec.ledger.errors import (
    AccountExists,
    AccountInUse,
    AlreadyReversed,
    BankAccountLinked,
    ChartExhausted,
    ConcurrentUpdate,
    FieldError,
    IdempotencyConflict,
    ImportTooLarge,
    InactiveAccount,
    InvalidCsv,
    InvalidManualAction,
    InvalidOpenItem,
    LedgerError,
    NothingToUnmatch,
    OpenItemConflict,
    OverAllocation,
    PaymentReconciled,
    RoleTaken,
    SuspenseAllocated,
    UnknownAccount,
    UnknownAdjustment,
    UnknownAllocation,
    UnknownDecision,
    UnknownOpenItem,
    UnknownPayment,
    UnknownPostingRule,
    UnknownSuspensePosting,
)
from bankrec.ledger.manual_work import (
    ManualResult,
    ManualWork,
    adjustment_json,
    allocation_json,
    audit_json,
    decision_json,
    payment_json,
    suspense_json,
)
from bankrec.ledger.posting_rule_book import PostingRuleBook
from bankrec.ledger.use_cases import ItemChange, Ledger

STATUS_BY_ERROR: dict[type[LedgerError], int] = {
    InvalidCsv: 400,
    UnknownOpenItem: 404,
    UnknownAccount: 404,
    UnknownSuspensePosting: 404,
    UnknownDecision: 404,
    UnknownPayment: 404,
    UnknownPostingRule: 404,
    UnknownAllocation: 404,
    UnknownAdjustment: 404,
    InactiveAccount: 409,
    AccountExists: 409,
    RoleTaken: 409,
    AccountInUse: 409,
    BankAccountLinked: 409,
    OpenItemConflict: 409,
    OverAllocation: 409,
    IdempotencyConflict: 409,
    ConcurrentUpdate: 409,
    ChartExhausted: 409,
    NothingToUnmatch: 409,
    AlreadyReversed: 409,
    SuspenseAllocated: 409,
    PaymentReconciled: 409,
    ImportTooLarge: 413,
}
"""HTTP status per error class (the nearest listed base class wins); anything else is 422."""

LIST_LIMIT_MAX = 5000

router = APIRouter()  # a tenant's routes, guarded by the tenant's API key at mount
open_router = APIRouter()  # open to anyone: health


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


def _manual_work(request: Request) -> ManualWork:
    manual: ManualWork = request.app.state.manual_work
    return manual


def _posting_rules(request: Request) -> PostingRuleBook:
    book: PostingRuleBook = request.app.state.posting_rules
    return book


def _chart_book(request: Request) -> ChartBook:
    book: ChartBook = request.app.state.chart_book
    return book


LedgerDep = Annotated[Ledger, Depends(_ledger)]
RuleBookDep = Annotated[PostingRuleBook, Depends(_posting_rules)]
ManualWorkDep = Annotated[ManualWork, Depends(_manual_work)]
ChartBookDep = Annotated[ChartBook, Depends(_chart_book)]
TenantId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Tenant")
]
CorrelationId = Annotated[
    str | None,
    Header(alias="X-Correlation-Id", max_length=200, description="Defaults to a new UUID"),
]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retry with the same key and request is answered again, not done again",
    ),
]


def _correlation(given: str | None) -> str:
    return given or f"api-{uuid.uuid4()}"


def _refuse_numbers(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError(
            f'amount {value!r} is a JSON number; send a decimal string like "12500.00" '
            "(numbers are refused so no float rounding enters the books)"
        )
    return value


class ManualRequest(BaseModel):
    """What every manual action carries: who asks, why, and (optionally) the posting date."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(max_length=200, description="Who does this (free text for now)")
    reason: str = Field(max_length=1000, description="Why: kept in the audit trail")
    posting_date: date | None = Field(default=None, description="Defaults to today (UTC)")


def _money(amount: str | None, currency: str | None) -> Money | None:
    if amount is None:
        if currency is not None:
            raise InvalidManualAction("amount", "is missing; currency is given without it")
        return None
    if currency is None or len(currency) != 3 or not currency.isalpha():
        raise InvalidManualAction("currency", "must be the ISO 4217 code of the amount, e.g. NOK")
    try:
        value = Decimal(amount.strip())
    except InvalidOperation as exc:
        raise InvalidManualAction("amount", f"{amount!r} is not a decimal number") from exc
    if not value.is_finite():
        raise InvalidManualAction("amount", f"{amount!r} is not a finite number")
    return Money(amount=value, currency=currency.upper())


def _manual_answer(result: ManualResult, created: bool = False) -> JSONResponse:
    status = 201 if created and not result.replayed else 200
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    return JSONResponse(dict(result.answer), status_code=status, headers=headers)


class AllocationRequest(ManualRequest):
    target: AllocationTarget = Field(description="open_item | customer | supplier | gl_account")
    target_id: str = Field(
        max_length=100, description="Item id, counterparty id or GL account code"
    )
    amount: str | None = Field(
        default=None, description="Signed as the suspense posting; default: all that is left"
    )
    currency: str | None = None

    _numbers = field_validator("amount", mode="before")(_refuse_numbers)


class PaymentRequest(ManualRequest):
    payment_id: str = Field(max_length=100, description="Becomes the payment's open item id")
    bank_account_id: str = Field(max_length=100)
    amount: str | None = Field(default=None, description="Default: all that is open")
    currency: str | None = None

    _numbers = field_validator("amount", mode="before")(_refuse_numbers)


class AdjustmentRequest(ManualRequest):
    kind: AdjustmentKind = Field(description="bank_fee | interest | other")
    amount: str = Field(description="Signed as on the statement: + in, - out")
    currency: str
    bank_account_id: str = Field(max_length=100)
    adjustment_id: str | None = Field(default=None, max_length=100)
    gl_account: str | None = Field(default=None, max_length=20)
    statement_line_id: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=300)

    _numbers = field_validator("amount", mode="before")(_refuse_numbers)


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


@open_router.get("/health")
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
async def list_accounts(tenant_id: TenantId, chart_book: ChartBookDep) -> JSONResponse:
    """The chart of accounts (the default one until the tenant's first posting or change),
    deactivated accounts included (``active: false``)."""
    chart = await chart_book.chart(tenant_id)
    return JSONResponse({"accounts": [account_json(account) for account in chart.accounts]})


# --- chart of accounts ------------------------------------------------------------------

AccountCode = Annotated[str, Path(max_length=20, description="GL account code, e.g. 2910")]


class ChartRequest(BaseModel):
    """What every chart change carries: who asks and why (kept in the audit trail)."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(max_length=200, description="Who does this (free text for now)")
    reason: str = Field(max_length=1000, description="Why: kept in the audit trail")


class CreateAccountRequest(ChartRequest):
    code: str = Field(max_length=20, description="4 to 10 digits, unique in the chart")
    name: str = Field(max_length=200)
    role: AccountRole = Field(
        default=AccountRole.OTHER,
        description="other, or a role one account holds (interim, receivable, payable, "
        "bank_fees, rounding, interest_income, interest_expense); bank: link a bank account",
    )
    take_role: bool = Field(
        default=False,
        description="Move the role from the account holding it to this one (explicit)",
    )


class RenameAccountRequest(ChartRequest):
    name: str = Field(max_length=200)


class AssignRoleRequest(ChartRequest):
    code: str = Field(max_length=20, description="The account (of role other) to hold the role")


class LinkBankAccountRequest(ChartRequest):
    gl_account: str = Field(max_length=20, description="A free code, or an unlinked bank account")
    currency: str = Field(max_length=3, examples=["NOK"])
    iban: str | None = Field(default=None, max_length=50)
    bban: str | None = Field(default=None, max_length=50, description="A Norwegian account no.")
    bank_account_id: str | None = Field(
        default=None, max_length=100, description="Defaults to the id ingest gives the IBAN"
    )
    name: str | None = Field(default=None, max_length=200)


@router.get("/v1/tenants/{tenant_id}/accounts/{code}")
async def get_account(
    tenant_id: TenantId, code: AccountCode, chart_book: ChartBookDep
) -> JSONResponse:
    """One account with its debit, credit and balance per currency over the journal."""
    view = await chart_book.account(tenant_id, code)
    return JSONResponse(
        {
            **account_json(view.account),
            "balances": [
                {
                    "currency": currency,
                    "debit": format(debit, "f"),
                    "credit": format(credit, "f"),
                    "balance": format(debit - credit, "f"),
                }
                for currency, (debit, credit) in sorted(view.balances.items())
            ],
        }
    )


@router.post("/v1/tenants/{tenant_id}/accounts")
async def create_account(
    tenant_id: TenantId,
    body: CreateAccountRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add a GL account (201); a role held by another account moves only with ``take_role``."""
    result = await chart_book.create_account(
        tenant_id,
        code=body.code,
        name=body.name,
        role=body.role,
        take_role=body.take_role,
        actor=body.actor,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return _manual_answer(result, created=True)


@router.patch("/v1/tenants/{tenant_id}/accounts/{code}")
async def rename_account(
    tenant_id: TenantId,
    code: AccountCode,
    body: RenameAccountRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Rename an account (its code, role and entries stay)."""
    result = await chart_book.rename_account(
        tenant_id,
        code,
        name=body.name,
        actor=body.actor,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return _manual_answer(result)


@router.post("/v1/tenants/{tenant_id}/accounts/{code}/deactivate")
async def deactivate_account(
    tenant_id: TenantId,
    code: AccountCode,
    body: ChartRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """No new postings on the account; refused while it holds a role, is a bank account's
    or has a non-zero balance (409 ``account_in_use`` says which)."""
    result = await chart_book.deactivate_account(
        tenant_id, code, actor=body.actor, reason=body.reason, idempotency_key=idempotency_key
    )
    return _manual_answer(result)


@router.post("/v1/tenants/{tenant_id}/accounts/{code}/reactivate")
async def reactivate_account(
    tenant_id: TenantId,
    code: AccountCode,
    body: ChartRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    result = await chart_book.reactivate_account(
        tenant_id, code, actor=body.actor, reason=body.reason, idempotency_key=idempotency_key
    )
    return _manual_answer(result)


@router.put("/v1/tenants/{tenant_id}/account-roles/{role}")
async def assign_account_role(
    tenant_id: TenantId,
    role: AccountRole,
    body: AssignRoleRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Give a role to another account from now on; entries posted before stay where they
    are (the answer's ``note`` says so)."""
    result = await chart_book.assign_role(
        tenant_id,
        role,
        code=body.code,
        actor=body.actor,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return _manual_answer(result)


@router.post("/v1/tenants/{tenant_id}/bank-accounts")
async def link_bank_account(
    tenant_id: TenantId,
    body: LinkBankAccountRequest,
    chart_book: ChartBookDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Link a bank account (IBAN/BBAN validated) to a GL code of the tenant's choice (201),
    or add the number to its existing link (200)."""
    result = await chart_book.link_bank_account(
        tenant_id,
        gl_account=body.gl_account,
        currency=body.currency,
        iban=body.iban,
        bban=body.bban,
        bank_account_id=body.bank_account_id,
        name=body.name,
        actor=body.actor,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return _manual_answer(result, created=bool(result.answer.get("created")))


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
            "decisions_unmatched": counts.decisions_unmatched,
        }
    )


# --- manual work ------------------------------------------------------------------------

SuspenseId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=100)]


@router.get("/v1/tenants/{tenant_id}/suspense-postings")
async def list_suspense_postings(
    tenant_id: TenantId,
    manual: ManualWorkDep,
    status: SuspenseStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Suspense postings ("received, no match"), oldest first; ``status=open`` lists the
    ones waiting for manual allocation."""
    postings = await manual.suspense_postings(tenant_id, status=status, limit=limit, offset=offset)
    return JSONResponse({"suspense_postings": [suspense_json(p) for p in postings]})


@router.get("/v1/tenants/{tenant_id}/suspense-postings/{suspense_id}")
async def get_suspense_posting(
    tenant_id: TenantId, suspense_id: SuspenseId, manual: ManualWorkDep
) -> JSONResponse:
    posting, allocations = await manual.suspense_posting(tenant_id, suspense_id)
    return JSONResponse(
        {**suspense_json(posting), "allocations": [allocation_json(a) for a in allocations]}
    )


@router.post("/v1/tenants/{tenant_id}/suspense-postings/{suspense_id}/allocations")
async def allocate_suspense_posting(
    tenant_id: TenantId,
    suspense_id: SuspenseId,
    body: AllocationRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Move (part of) a suspense posting off the interim account to an invoice or bill, a
    customer, a supplier or a GL account (201)."""
    result = await manual.allocate_suspense(
        tenant_id,
        suspense_id,
        target=body.target,
        target_id=body.target_id,
        amount=_money(body.amount, body.currency),
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result, created=True)


@router.post(
    "/v1/tenants/{tenant_id}/suspense-postings/{suspense_id}/allocations/{allocation_id}/reverse"
)
async def reverse_suspense_allocation(
    tenant_id: TenantId,
    suspense_id: SuspenseId,
    allocation_id: Annotated[str, Path(max_length=64)],
    body: ManualRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Take an allocation back: reversing entry onto the interim account, the posting's
    remaining up again, the invoice or bill it paid reopened."""
    result = await manual.reverse_suspense_allocation(
        tenant_id,
        suspense_id,
        allocation_id,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result)


@router.get("/v1/tenants/{tenant_id}/decisions/{decision_id}")
async def get_decision(
    tenant_id: TenantId, decision_id: Annotated[str, Path(max_length=200)], manual: ManualWorkDep
) -> JSONResponse:
    """What the ledger did with a decision: applied, refused, unmatched."""
    return JSONResponse(decision_json(await manual.decision(tenant_id, decision_id)))


@router.post("/v1/tenants/{tenant_id}/decisions/{decision_id}/unmatch")
async def unmatch_decision(
    tenant_id: TenantId,
    decision_id: Annotated[str, Path(max_length=200)],
    body: ManualRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Undo a decision: reversing entry, its items reopened, the line parked in suspense."""
    result = await manual.unmatch_decision(
        tenant_id,
        decision_id,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result)


@router.get("/v1/tenants/{tenant_id}/open-items/{item_id}/payments")
async def list_payments(
    tenant_id: TenantId, item_id: ItemId, manual: ManualWorkDep
) -> JSONResponse:
    payments = await manual.payments(tenant_id, item_id)
    return JSONResponse({"payments": [payment_json(p) for p in payments]})


@router.post("/v1/tenants/{tenant_id}/open-items/{item_id}/payments")
async def register_payment(
    tenant_id: TenantId,
    item_id: ItemId,
    body: PaymentRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a payment on an invoice or bill, on a bank account (201)."""
    result = await manual.register_payment(
        tenant_id,
        item_id,
        payment_id=body.payment_id,
        amount=_money(body.amount, body.currency),
        bank_account_id=body.bank_account_id,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result, created=True)


@router.post("/v1/tenants/{tenant_id}/open-items/{item_id}/payments/{payment_id}/remove")
async def remove_payment(
    tenant_id: TenantId,
    item_id: ItemId,
    payment_id: ItemId,
    body: ManualRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Remove a registered payment: reversing entry, the item reopened, the payment cancelled."""
    result = await manual.remove_payment(
        tenant_id,
        item_id,
        payment_id,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result)


@router.post("/v1/tenants/{tenant_id}/adjustments")
async def create_adjustment(
    tenant_id: TenantId,
    body: AdjustmentRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Post a bank fee, interest or other adjustment on a bank account (201); the posting
    carries ``adjustment_kind`` for the reconciler."""
    amount = _money(body.amount, body.currency)
    assert amount is not None
    result = await manual.create_adjustment(
        tenant_id,
        kind=body.kind,
        amount=amount,
        bank_account_id=body.bank_account_id,
        adjustment_id=body.adjustment_id,
        gl_account=body.gl_account,
        statement_line_id=body.statement_line_id,
        description=body.description,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result, created=True)


AdjustmentId = Annotated[str, Path(max_length=100)]


@router.get("/v1/tenants/{tenant_id}/adjustments/{adjustment_id}")
async def get_adjustment(
    tenant_id: TenantId, adjustment_id: AdjustmentId, manual: ManualWorkDep
) -> JSONResponse:
    """An adjustment as posted, with ``status`` posted or reversed."""
    return JSONResponse(adjustment_json(await manual.adjustment(tenant_id, adjustment_id)))


@router.post("/v1/tenants/{tenant_id}/adjustments/{adjustment_id}/reverse")
async def reverse_adjustment(
    tenant_id: TenantId,
    adjustment_id: AdjustmentId,
    body: ManualRequest,
    manual: ManualWorkDep,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reverse an adjustment made by mistake: the reversing entry (published on the
    postings topic with the adjustment's id and kind); the adjustment's status: reversed."""
    result = await manual.reverse_adjustment(
        tenant_id,
        adjustment_id,
        actor=body.actor,
        reason=body.reason,
        posting_date=body.posting_date,
        idempotency_key=idempotency_key,
        correlation_id=_correlation(correlation_id),
    )
    return _manual_answer(result)


@router.get("/v1/tenants/{tenant_id}/audit-trail")
async def audit_trail(
    tenant_id: TenantId,
    manual: ManualWorkDep,
    subject_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_LIMIT_MAX)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Every manual action, oldest first: who, why, when, which entries."""
    records = await manual.audit_trail(tenant_id, subject_id=subject_id, limit=limit, offset=offset)
    return JSONResponse({"audit_trail": [audit_json(record) for record in records]})


# --- posting rules ----------------------------------------------------------------------

RuleId = Annotated[str, Path(max_length=100)]


class PostingRuleRequest(BaseModel):
    """A posting rule as the tenant writes it; the ledger adds version and status."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    priority: int = Field(ge=0, description="Lower is evaluated first")
    conditions: PostingRuleConditions
    action: PostingRuleAction
    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=1000)


class DeleteRuleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=1000)


def _rule_json(rule: PostingRule) -> dict[str, Any]:
    return rule.model_dump(mode="json")


@router.get("/v1/tenants/{tenant_id}/posting-rules")
async def list_posting_rules(
    tenant_id: TenantId, book: RuleBookDep, include_deleted: bool = False
) -> JSONResponse:
    """The current version of each rule, in evaluation order (priority, then rule id)."""
    rules = await book.rules(tenant_id, include_deleted=include_deleted)
    return JSONResponse({"posting_rules": [_rule_json(rule) for rule in rules]})


@router.put("/v1/tenants/{tenant_id}/posting-rules/{rule_id}")
async def save_posting_rule(
    tenant_id: TenantId,
    rule_id: RuleId,
    body: PostingRuleRequest,
    book: RuleBookDep,
    correlation_id: CorrelationId = None,
) -> JSONResponse:
    """Create (201, version 1) or change (200, a new version) a rule; the same content
    again is 200 with the version unchanged. Published on the posting-rules topic."""
    saved = await book.save_rule(
        tenant_id,
        rule_id,
        name=body.name,
        priority=body.priority,
        conditions=body.conditions,
        action=body.action,
        actor=body.actor,
        reason=body.reason,
        correlation_id=_correlation(correlation_id),
    )
    status = 201 if saved.change is ItemChange.CREATED else 200
    return JSONResponse(_rule_json(saved.rule), status_code=status)


@router.get("/v1/tenants/{tenant_id}/posting-rules/{rule_id}")
async def get_posting_rule(tenant_id: TenantId, rule_id: RuleId, book: RuleBookDep) -> JSONResponse:
    return JSONResponse(_rule_json(await book.rule(tenant_id, rule_id)))


@router.get("/v1/tenants/{tenant_id}/posting-rules/{rule_id}/versions")
async def list_posting_rule_versions(
    tenant_id: TenantId, rule_id: RuleId, book: RuleBookDep
) -> JSONResponse:
    versions = await book.versions(tenant_id, rule_id)
    return JSONResponse({"versions": [_rule_json(rule) for rule in versions]})


@router.get("/v1/tenants/{tenant_id}/posting-rules/{rule_id}/versions/{version}")
async def get_posting_rule_version(
    tenant_id: TenantId,
    rule_id: RuleId,
    version: Annotated[int, Path(ge=1)],
    book: RuleBookDep,
) -> JSONResponse:
    return JSONResponse(_rule_json(await book.rule(tenant_id, rule_id, version)))


@router.delete("/v1/tenants/{tenant_id}/posting-rules/{rule_id}")
async def delete_posting_rule(
    tenant_id: TenantId,
    rule_id: RuleId,
    body: DeleteRuleRequest,
    book: RuleBookDep,
    correlation_id: CorrelationId = None,
) -> JSONResponse:
    """Delete a rule: a last version with status ``deleted`` (published like any version)."""
    deleted = await book.delete_rule(
        tenant_id,
        rule_id,
        actor=body.actor,
        reason=body.reason,
        correlation_id=_correlation(correlation_id),
    )
    return JSONResponse(_rule_json(deleted))


@router.post("/v1/tenants/{tenant_id}/posting-rules/evaluate")
async def evaluate_posting_rules(
    tenant_id: TenantId, line: StatementLine, book: RuleBookDep
) -> JSONResponse:
    """Which rule a statement line (as on the statement-lines topic) meets first, and the
    posting parts it would make; ``rule`` is null when none does."""
    evaluation = await book.evaluate(tenant_id, line)
    return JSONResponse(
        {
            "rule": _rule_json(evaluation.rule) if evaluation.rule else None,
            "parts": [
                {
                    "gl_account": part.gl_account,
                    "amount": {
                        "amount": format(part.amount.amount, "f"),
                        "currency": part.amount.currency,
                    },
                }
                for part in evaluation.parts
            ],
        }
    )
