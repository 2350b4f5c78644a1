"""HTTP routes of the period workflow (seed 003): status, flags, adjustments, lines by hand,
diagnosis, history and the detailed report (JSON and CSV).

Every route is under ``/v1/tenants/{tenant_id}/accounts/{account_id}/periods``; ``{period}``
is a period number or ``current``. Commands take ``actor`` (who) and, where the audit trail
keeps it, ``reason`` (why) in their JSON body; amounts are decimal strings.

Every refusal of the reconciler (``ReconcilerError``), on these routes and on ``api.py``'s, maps
to ``{"error": {"code", "message"}}`` in one place here (``ERROR_STATUS``, one exception
handler): 404 for an unknown account, period or item, 422 for an invalid command or amount, 409
for a state of the period that refuses the command (a release with a difference, a void of a
period that is not the latest released one, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from bankrec.contracts import AdjustmentKind, Money, PeriodStatus
from bankrec.reconciler.domain import (
    AdjustmentView,
    AuditRecord,
    Finding,
    HistoryRow,
    ItemKind,
    ItemRef,
    MatchRequest,
    PeriodItem,
    PeriodLine,
    adjustment_views,
    amount_text,
    detail_csv,
    figures,
    history_csv,
    match_requests_of,
    request_state,
)
from bankrec.reconciler.domain.report_pdf import history_report_pdf, period_report_pdf
from bankrec.reconciler.errors import (
    AccountNotFoundError,
    AmountPrecisionError,
    CurrencyMismatchError,
    InvalidCommandError,
    ItemNotFoundError,
    PeriodNotFoundError,
    PeriodWorkflowError,
    ReconcilerError,
)
from bankrec.reconciler.period_workflow import PeriodState, PeriodWorkflow, WorkflowOutcome
from bankrec.reconciler.use_cases import Reconciler

# A refusal's status is that of its nearest class here (``status_of``): its own, then its bases'.
ERROR_STATUS: dict[type[ReconcilerError], int] = {
    AccountNotFoundError: 404,
    CurrencyMismatchError: 422,
    AmountPrecisionError: 422,
    PeriodNotFoundError: 404,
    ItemNotFoundError: 404,
    InvalidCommandError: 422,
    PeriodWorkflowError: 409,  # every other workflow refusal: the period's state forbids it
    ReconcilerError: 400,
}

TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
AccountId = Annotated[str, Path(min_length=1, max_length=100)]
PeriodRef = Annotated[str, Path(pattern=r"^([1-9][0-9]{0,8}|current)$", examples=["1", "current"])]
ItemId = Annotated[str, Path(min_length=1, max_length=200)]
CorrelationId = Annotated[str | None, Header(max_length=200)]

PERIODS_PATH = "/v1/tenants/{tenant_id}/accounts/{account_id}/periods"
PERIOD_PATH = PERIODS_PATH + "/{period}"
AMOUNT_PATTERN = r"^-?\d{1,18}(\.\d{1,6})?$"


def _period_no(period: str) -> int | None:
    return None if period == "current" else int(period)


def _money(money: Money | None) -> str | None:
    return None if money is None else amount_text(money)


# ------------------------------------------------------------------------------ bodies


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: StrictStr = Field(min_length=1, max_length=200, description="Who does this")


class ActorCommand(_Command):
    """Save balanced, release: who does it."""


class ReasonCommand(_Command):
    reason: StrictStr = Field(min_length=1, max_length=1000, description="Why: kept in the audit")


class OnHoldCommand(_Command):
    reason: StrictStr | None = Field(default=None, max_length=1000)


class BalanceCommand(_Command):
    """A balance entered by hand: a decimal string; the currency, if given, the period's."""

    amount: StrictStr = Field(pattern=AMOUNT_PATTERN, examples=["-172550.00"])
    currency: StrictStr | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class FlagsCommand(_Command):
    """The flags to set on one item; a flag left out stays as it is."""

    cleared: StrictBool | None = None
    reconciled: StrictBool | None = None


class ItemName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ItemKind
    item_id: StrictStr = Field(min_length=1, max_length=200)


class BulkFlagsCommand(FlagsCommand):
    """Flags on many items: the ``items`` named, or with ``all`` every item (of ``kind``, or
    only the cleared ones with ``only_cleared``: seed 003's "reconciliation processed")."""

    items: list[ItemName] | None = Field(default=None, max_length=100_000)
    all: StrictBool = False
    kind: ItemKind | None = None
    only_cleared: StrictBool = False


class AdjustmentCommand(ReasonCommand):
    kind: AdjustmentKind
    amount: StrictStr = Field(
        pattern=AMOUNT_PATTERN, description="Signed as on the statement: a fee of 50 is -50"
    )
    currency: StrictStr | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    adjustment_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Default: the period's next"
    )
    statement_line_id: StrictStr | None = Field(default=None, max_length=200)
    gl_account: StrictStr | None = Field(default=None, max_length=20)
    description: StrictStr | None = Field(default=None, max_length=300)
    posting_date: date | None = None


class ManualLineCommand(ReasonCommand):
    amount: StrictStr = Field(pattern=AMOUNT_PATTERN, description="+ money in, - money out")
    currency: StrictStr | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    booking_date: date
    text: StrictStr | None = Field(default=None, max_length=300)
    counterparty: StrictStr | None = Field(default=None, max_length=200)
    line_id: StrictStr | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,200}$")


class MatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: StrictStr = Field(min_length=1, max_length=100, description="The open item")
    amount: StrictStr = Field(
        pattern=AMOUNT_PATTERN, description="The part of the line it gets, signed as the line"
    )


class MatchCommand(ReasonCommand):
    """Match a statement line in suspense to one or several open items."""

    line_id: StrictStr = Field(min_length=1, max_length=200, description="The statement line")
    items: list[MatchItem] = Field(min_length=1, max_length=50)
    currency: StrictStr | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    request_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Default: the period's next"
    )


class UnmatchCommand(ReasonCommand):
    request_id: StrictStr | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Default: the period's next"
    )


# ------------------------------------------------------------------------------ views


class ErrorView(BaseModel):
    code: str
    message: str


class FindingView(BaseModel):
    code: str
    message: str
    suggestion: str
    amount: str | None
    line_ids: list[str]
    entry_ids: list[str]
    adjustment_ids: list[str]
    statement_ids: list[str]
    period_nos: list[int]
    adjustment_kind: AdjustmentKind | None

    @classmethod
    def of(cls, finding: Finding) -> FindingView:
        return cls(
            code=finding.code.value,
            message=finding.message,
            suggestion=finding.suggestion,
            amount=_money(finding.amount),
            line_ids=list(finding.line_ids),
            entry_ids=list(finding.entry_ids),
            adjustment_ids=list(finding.adjustment_ids),
            statement_ids=list(finding.statement_ids),
            period_nos=list(finding.period_nos),
            adjustment_kind=finding.adjustment_kind,
        )


class AdjustmentOut(BaseModel):
    adjustment_id: str
    kind: AdjustmentKind
    amount: str
    currency: str
    state: str
    entry_ids: list[str]
    posted_amount: str | None
    statement_line_id: str | None
    gl_account: str | None
    description: str | None
    posting_date: date | None
    requested_by: str
    requested_at: datetime
    reason: str
    refusal_code: str | None = Field(
        default=None, description="Set when the ledger refused to post it (state refused)"
    )
    refusal_reason: str | None = None
    refused_at: datetime | None = None
    ledger_request: dict[str, Any] = Field(
        description="What was sent to the ledger on bankrec.reconciler.adjustment-requests.v1, "
        "as the body of the ledger's POST /v1/tenants/{tenant_id}/adjustments (for a manual "
        "retry after a refusal, with a new adjustment_id)"
    )

    @classmethod
    def of(cls, view: AdjustmentView, account_id: str) -> AdjustmentOut:
        a = view.adjustment
        request: dict[str, Any] = {
            "actor": a.requested_by,
            "reason": a.reason,
            "kind": a.kind.value,
            "amount": amount_text(a.amount),
            "currency": a.amount.currency,
            "bank_account_id": account_id,
            "adjustment_id": a.adjustment_id,
        }
        for name, value in (
            ("gl_account", a.gl_account),
            ("statement_line_id", a.statement_line_id),
            ("description", a.description),
            ("posting_date", a.posting_date.isoformat() if a.posting_date else None),
        ):
            if value is not None:
                request[name] = value
        return cls(
            adjustment_id=a.adjustment_id,
            kind=a.kind,
            amount=amount_text(a.amount),
            currency=a.amount.currency,
            state=view.state.value,
            entry_ids=list(view.entry_ids),
            posted_amount=_money(view.posted_amount),
            statement_line_id=a.statement_line_id,
            gl_account=a.gl_account,
            description=a.description,
            posting_date=a.posting_date,
            requested_by=a.requested_by,
            requested_at=a.requested_at,
            reason=a.reason,
            refusal_code=a.refusal_code,
            refusal_reason=a.refusal_reason,
            refused_at=a.refused_at,
            ledger_request=request,
        )


class MatchItemOut(BaseModel):
    item_id: str
    amount: str


class MatchRequestOut(BaseModel):
    """A manual match (or its removal) asked of the ledger, with its state."""

    request_id: str
    kind: str = Field(description="match or unmatch")
    line_id: str
    state: str = Field(description="requested (waiting for the ledger), done or refused")
    items: list[MatchItemOut]
    undoes_request_id: str | None
    decision_id: str = Field(description="The matcher's decision the ledger built on")
    entry_ids: list[str] = Field(description="The entries the ledger posted (done)")
    requested_by: str
    requested_at: datetime
    reason: str
    refusal_code: str | None
    refusal_reason: str | None
    settled_at: datetime | None

    @classmethod
    def of(cls, request: MatchRequest) -> MatchRequestOut:
        return cls(
            request_id=request.request_id,
            kind=request.kind.value,
            line_id=request.line_id,
            state=request_state(request).value,
            items=[
                MatchItemOut(item_id=item_id, amount=amount_text(amount))
                for item_id, amount in request.allocations
            ],
            undoes_request_id=request.undoes_request_id,
            decision_id=request.decision_id,
            entry_ids=list(request.entry_ids),
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            reason=request.reason,
            refusal_code=request.refusal_code,
            refusal_reason=request.refusal_reason,
            settled_at=request.settled_at,
        )


class PeriodView(BaseModel):
    """One period: status, figures, adjustments, what blocks its release, and the diagnosis
    (every finding; empty when nothing is off)."""

    period_id: str
    period_no: int
    account_id: str
    currency: str
    status: PeriodStatus
    sequence_no: int | None
    reconciliation_date: date | None
    opening_balance: str
    opening_source: str
    statement_balance: str | None
    statement_source: str
    reconciled_balance: str
    difference: str | None
    lines: int
    reconciled: int
    outstanding: int
    matched: int
    in_suspense: int
    other: int
    entries: int
    entries_reconciled: int
    entries_outstanding: int
    adjustments: list[AdjustmentOut]
    match_requests: list[MatchRequestOut]
    can_release: bool
    release_blockers: list[ErrorView]
    diagnosis: list[FindingView]

    @classmethod
    def of(cls, state: PeriodState) -> PeriodView:
        period = state.period
        result = figures(period)
        return cls(
            period_id=period.period_id,
            period_no=period.period_no,
            account_id=period.account_id,
            currency=period.currency,
            status=period.status,
            sequence_no=period.sequence_no,
            reconciliation_date=result.reconciliation_date,
            opening_balance=amount_text(result.opening_balance),
            opening_source=result.opening_source.value,
            statement_balance=_money(result.statement_balance),
            statement_source=result.statement_source.value,
            reconciled_balance=amount_text(result.reconciled_balance),
            difference=_money(result.difference),
            lines=result.lines,
            reconciled=result.reconciled,
            outstanding=result.outstanding,
            matched=result.matched,
            in_suspense=result.in_suspense,
            other=result.other,
            entries=result.entries,
            entries_reconciled=result.entries_reconciled,
            entries_outstanding=result.entries_outstanding,
            adjustments=[AdjustmentOut.of(v, period.account_id) for v in adjustment_views(period)],
            match_requests=[MatchRequestOut.of(r) for r in match_requests_of(period)],
            can_release=not period.is_released and not state.release_blockers,
            release_blockers=[
                ErrorView(code=e.code, message=e.message) for e in state.release_blockers
            ],
            diagnosis=[FindingView.of(f) for f in state.diagnosis.findings],
        )


class CommandResult(BaseModel):
    """The period after the command; a release or void also returns the next period."""

    period: PeriodView
    next_period: PeriodView | None = None


class ItemView(BaseModel):
    kind: ItemKind
    item_id: str
    date: date | None
    amount: str
    currency: str
    cleared: bool
    reconciled: bool
    origin: str
    text: str | None
    counterparty: str | None
    linked_ids: list[str]
    carried_from: int | None
    marked_by: str | None
    marked_at: datetime | None

    @classmethod
    def of(cls, item: PeriodItem) -> ItemView:
        return cls(
            kind=item.kind,
            item_id=item.item_id,
            date=item.on,
            amount=amount_text(item.amount),
            currency=item.amount.currency,
            cleared=item.cleared,
            reconciled=item.reconciled,
            origin=item.origin,
            text=item.text,
            counterparty=item.counterparty,
            linked_ids=list(item.linked_ids),
            carried_from=item.carried_from,
            marked_by=item.marked_by,
            marked_at=item.marked_at,
        )


class RemovedLineView(BaseModel):
    line_id: str
    date: date | None
    amount: str
    origin: str
    text: str | None

    @classmethod
    def of(cls, line: PeriodLine) -> RemovedLineView:
        return cls(
            line_id=line.line_id,
            date=line.booking_date,
            amount=amount_text(line.amount),
            origin=line.origin.value,
            text=line.text,
        )


class AuditView(BaseModel):
    action: str
    actor: str
    at: datetime
    reason: str | None
    subject_id: str | None
    sequence_no: int | None
    amount: str | None

    @classmethod
    def of(cls, record: AuditRecord) -> AuditView:
        return cls(
            action=record.action.value,
            actor=record.actor,
            at=record.at,
            reason=record.reason,
            subject_id=record.subject_id,
            sequence_no=record.sequence_no,
            amount=_money(record.amount),
        )


class PeriodReportView(BaseModel):
    """The detailed report of one period (seed 003's "Avstämning detalj")."""

    period: PeriodView
    reconciled_items: list[ItemView]
    outstanding_items: list[ItemView]
    removed_lines: list[RemovedLineView]
    audit: list[AuditView]


class ItemsView(BaseModel):
    period_id: str
    items: list[ItemView]


class DiagnosisView(BaseModel):
    period_id: str
    difference: str | None
    balanced: bool
    findings: list[FindingView]


class HistoryRowView(BaseModel):
    period_no: int
    period_id: str
    status: PeriodStatus
    sequence_no: int | None
    reconciliation_date: date | None
    opening_balance: str
    closing_balance: str | None
    difference: str | None
    released_by: str | None
    released_at: datetime | None
    voided_by: str | None
    voided_at: datetime | None
    void_reason: str | None

    @classmethod
    def of(cls, row: HistoryRow) -> HistoryRowView:
        return cls(
            period_no=row.period_no,
            period_id=row.period_id,
            status=row.status,
            sequence_no=row.sequence_no,
            reconciliation_date=row.reconciliation_date,
            opening_balance=amount_text(row.opening_balance),
            closing_balance=_money(row.closing_balance),
            difference=_money(row.difference),
            released_by=row.released_by,
            released_at=row.released_at,
            voided_by=row.voided_by,
            voided_at=row.voided_at,
            void_reason=row.void_reason,
        )


class HistoryView(BaseModel):
    account_id: str
    periods: list[HistoryRowView]


# ------------------------------------------------------------------------------ routes


def build_period_router(workflow: PeriodWorkflow) -> APIRouter:
    """The routes; every one under ``/v1/tenants/{tenant_id}`` (for the tenant key guard)."""
    router = APIRouter()

    async def view(tenant_id: str, account_id: str, period_no: int | None) -> PeriodView:
        return PeriodView.of(await workflow.state(tenant_id, account_id, period_no))

    async def result(tenant_id: str, account_id: str, outcome: WorkflowOutcome) -> CommandResult:
        following = outcome.next_period
        return CommandResult(
            period=await view(tenant_id, account_id, outcome.period.period_no),
            next_period=None
            if following is None
            else await view(tenant_id, account_id, following.period_no),
        )

    @router.get(PERIODS_PATH)
    async def history(tenant_id: TenantId, account_id: AccountId) -> HistoryView:
        """Every release (sequence number, dates, balances, who released and voided it) and
        every period not released now."""
        rows = await workflow.history(tenant_id, account_id)
        return HistoryView(account_id=account_id, periods=[HistoryRowView.of(r) for r in rows])

    @router.get(PERIODS_PATH + ".csv", response_class=Response)
    async def history_download(tenant_id: TenantId, account_id: AccountId) -> Response:
        """The history as a CSV file."""
        rows = await workflow.history(tenant_id, account_id)
        return _csv(history_csv(rows), f"{account_id}-history.csv")

    @router.get(PERIODS_PATH + ".pdf", response_class=Response)
    async def history_pdf(tenant_id: TenantId, account_id: AccountId) -> Response:
        """The history as a PDF an auditor can keep."""
        rows = await workflow.history(tenant_id, account_id)
        pdf = history_report_pdf(account_id, rows, printed_at=datetime.now(UTC))
        return _pdf(pdf, f"{account_id}-history.pdf")

    @router.get(PERIOD_PATH)
    async def period_view(
        tenant_id: TenantId, account_id: AccountId, period: PeriodRef
    ) -> PeriodView:
        """The period with its figures, adjustments, release blockers and diagnosis."""
        return await view(tenant_id, account_id, _period_no(period))

    @router.get(PERIOD_PATH + "/diagnosis")
    async def diagnosis(
        tenant_id: TenantId, account_id: AccountId, period: PeriodRef
    ) -> DiagnosisView:
        """Why the period does not balance, naming the lines and items."""
        state = await workflow.state(tenant_id, account_id, _period_no(period))
        found = state.diagnosis
        return DiagnosisView(
            period_id=found.period_id,
            difference=_money(found.difference),
            balanced=found.balanced,
            findings=[FindingView.of(f) for f in found.findings],
        )

    @router.get(PERIOD_PATH + "/items")
    async def items(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        kind: ItemKind | None = None,
        reconciled: bool | None = None,
    ) -> ItemsView:
        """The period's statement lines and ledger entries with their flags."""
        detail = await workflow.detail(tenant_id, account_id, _period_no(period))
        chosen = [
            item
            for item in (*detail.reconciled_items, *detail.outstanding_items)
            if (kind is None or item.kind is kind)
            and (reconciled is None or item.reconciled is reconciled)
        ]
        return ItemsView(period_id=detail.period.period_id, items=[ItemView.of(i) for i in chosen])

    @router.get(PERIOD_PATH + "/report")
    async def report(
        tenant_id: TenantId, account_id: AccountId, period: PeriodRef
    ) -> PeriodReportView:
        """The detailed report: reconciled and outstanding items, adjustments, removed lines,
        the audit trail."""
        state = await workflow.state(tenant_id, account_id, _period_no(period))
        detail = await workflow.detail(tenant_id, account_id, state.period.period_no)
        return PeriodReportView(
            period=PeriodView.of(state),
            reconciled_items=[ItemView.of(i) for i in detail.reconciled_items],
            outstanding_items=[ItemView.of(i) for i in detail.outstanding_items],
            removed_lines=[RemovedLineView.of(line) for line in detail.removed_lines],
            audit=[AuditView.of(r) for r in detail.audit],
        )

    @router.get(PERIOD_PATH + "/report.csv", response_class=Response)
    async def report_download(
        tenant_id: TenantId, account_id: AccountId, period: PeriodRef
    ) -> Response:
        """The detailed report as a CSV file."""
        detail = await workflow.detail(tenant_id, account_id, _period_no(period))
        return _csv(detail_csv(detail), f"{detail.period.period_id}.csv")

    @router.get(PERIOD_PATH + "/report.pdf", response_class=Response)
    async def report_pdf(tenant_id: TenantId, account_id: AccountId, period: PeriodRef) -> Response:
        """The detailed report as a PDF an auditor can keep."""
        detail = await workflow.detail(tenant_id, account_id, _period_no(period))
        pdf = period_report_pdf(detail, printed_at=datetime.now(UTC))
        return _pdf(pdf, f"{detail.period.period_id}.pdf")

    @router.post(PERIOD_PATH + "/balanced")
    async def balanced(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: ActorCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Save the period balanced (its difference must be exactly 0)."""
        outcome = await workflow.save_balanced(
            tenant_id,
            account_id,
            _period_no(period),
            actor=body.actor,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/on-hold")
    async def on_hold(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: OnHoldCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Park the period (balanced or void -> on hold)."""
        outcome = await workflow.put_on_hold(
            tenant_id,
            account_id,
            _period_no(period),
            actor=body.actor,
            reason=body.reason,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/release")
    async def release(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: ActorCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Release the period (next sequence number); returns it and the next period."""
        outcome = await workflow.release(
            tenant_id,
            account_id,
            _period_no(period),
            actor=body.actor,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/void")
    async def void(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: ReasonCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Void the account's latest released period, saying why."""
        outcome = await workflow.void(
            tenant_id,
            account_id,
            _period_no(period),
            actor=body.actor,
            reason=body.reason,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.put(PERIOD_PATH + "/{which}-balance")
    async def enter_balance(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        which: Literal["opening", "statement"],
        body: BalanceCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Enter the period's opening or statement balance by hand (not once released)."""
        outcome = await workflow.enter_balance(
            tenant_id,
            account_id,
            _period_no(period),
            which=which,
            amount=Decimal(body.amount),
            currency=body.currency,
            actor=body.actor,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.put(PERIOD_PATH + "/items/{kind}/{item_id:path}")
    async def set_flags(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        kind: ItemKind,
        item_id: ItemId,
        body: FlagsCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Set ``cleared`` and/or ``reconciled`` on one item."""
        outcome = await workflow.mark_items(
            tenant_id,
            account_id,
            _period_no(period),
            refs=[ItemRef(kind, item_id)],
            cleared=body.cleared,
            reconciled=body.reconciled,
            actor=body.actor,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/items/flags")
    async def set_flags_in_bulk(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: BulkFlagsCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Set flags on the items named, or with ``all`` on every item (of a kind)."""
        if body.all == (body.items is not None):
            raise InvalidCommandError("name the items, or say all (not both)")
        outcome = await workflow.mark_items(
            tenant_id,
            account_id,
            _period_no(period),
            refs=None if body.items is None else [ItemRef(i.kind, i.item_id) for i in body.items],
            kind=body.kind,
            only_cleared=body.only_cleared,
            cleared=body.cleared,
            reconciled=body.reconciled,
            actor=body.actor,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/adjustments", status_code=201)
    async def create_adjustment(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: AdjustmentCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Request a bank fee, interest or other adjustment; each adjustment in the answer
        carries the ``ledger_request`` that posts it."""
        outcome = await workflow.request_adjustment(
            tenant_id,
            account_id,
            _period_no(period),
            kind=body.kind,
            amount=Decimal(body.amount),
            currency=body.currency,
            actor=body.actor,
            reason=body.reason,
            adjustment_id=body.adjustment_id,
            statement_line_id=body.statement_line_id,
            gl_account=body.gl_account,
            description=body.description,
            posting_date=body.posting_date,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/matches", status_code=202)
    async def request_match(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: MatchCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Match a statement line in suspense to open items; the ledger allocates it (the
        request in ``match_requests`` is ``requested`` until the ledger's answer)."""
        outcome = await workflow.request_match(
            tenant_id,
            account_id,
            _period_no(period),
            line_id=body.line_id,
            allocations=[(item.item_id, Decimal(item.amount)) for item in body.items],
            currency=body.currency,
            actor=body.actor,
            reason=body.reason,
            request_id=body.request_id,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.delete(PERIOD_PATH + "/matches/{line_id:path}", status_code=202)
    async def request_unmatch(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        line_id: ItemId,
        body: UnmatchCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Remove a line's match (by hand or the matcher's); the ledger takes it back."""
        outcome = await workflow.request_unmatch(
            tenant_id,
            account_id,
            _period_no(period),
            line_id=line_id,
            actor=body.actor,
            reason=body.reason,
            request_id=body.request_id,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.post(PERIOD_PATH + "/statement-lines", status_code=201)
    async def add_line(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        body: ManualLineCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Add a statement line by hand (a mid-month start)."""
        outcome = await workflow.add_manual_line(
            tenant_id,
            account_id,
            _period_no(period),
            amount=Decimal(body.amount),
            currency=body.currency,
            booking_date=body.booking_date,
            text=body.text,
            counterparty=body.counterparty,
            line_id=body.line_id,
            actor=body.actor,
            reason=body.reason,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    @router.delete(PERIOD_PATH + "/statement-lines/{line_id:path}")
    async def remove_line(
        tenant_id: TenantId,
        account_id: AccountId,
        period: PeriodRef,
        line_id: ItemId,
        body: ReasonCommand,
        x_correlation_id: CorrelationId = None,
    ) -> CommandResult:
        """Remove a wrongly created statement line (kept in the audit trail)."""
        outcome = await workflow.remove_line(
            tenant_id,
            account_id,
            _period_no(period),
            line_id,
            actor=body.actor,
            reason=body.reason,
            correlation_id=x_correlation_id,
        )
        return await result(tenant_id, account_id, outcome)

    return router


def _csv(text: str, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", filename)
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def _pdf(content: bytes, filename: str) -> Response:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", filename)
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """The one shape of every error the reconciler answers."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def status_of(refusal: ReconcilerError) -> int:
    """The HTTP status of a refusal: that of the nearest of its classes in ``ERROR_STATUS``."""
    return next(ERROR_STATUS[kind] for kind in type(refusal).__mro__ if kind in ERROR_STATUS)


async def refusal_response(_request: Request, exc: Exception) -> JSONResponse:
    """The exception handler of every ``ReconcilerError``: ``api.install_api`` registers it,
    ``install_period_api`` for the workflow's refusals."""
    assert isinstance(exc, ReconcilerError)
    return error_response(status_of(exc), exc.code, exc.message)


def install_period_api(
    app: FastAPI,
    reconciler: Reconciler,
    *,
    mount: Callable[[APIRouter], None] | None = None,
) -> None:
    """Mount the period workflow's routes on the reconciler's storage, and map its refusals.

    ``mount`` includes the router in the app (default ``app.include_router``): the API passes
    the tenant key guard's, which puts every route behind the tenant's API key.
    """
    router = build_period_router(PeriodWorkflow.sharing(reconciler))
    (mount or app.include_router)(router)
    # the workflow's own class: an app that maps ``ReconcilerError`` otherwise keeps these
    app.add_exception_handler(PeriodWorkflowError, refusal_response)


__all__ = [
    "ERROR_STATUS",
    "build_period_router",
    "error_response",
    "install_period_api",
    "refusal_response",
    "status_of",
]
