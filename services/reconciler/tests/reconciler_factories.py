"""Small named factories for the messages the reconciler consumes, and the tenant API keys
the suite's apps accept (``auth_headers``) (tests only)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel

from bankrec.contracts import (
    AccountRole,
    ApiKeyRecord,
    Balance,
    BankAccountRef,
    DecisionKind,
    EntrySource,
    Envelope,
    JournalEntryPosted,
    MatchDecision,
    Money,
    PostingLine,
    StatementHeader,
    StatementLine,
    account_id_for,
    envelope_for,
)
from bankrec.runtime import TenantKeyRing
from bankrec.runtime.tenant_keys import issue_api_key

BASE_TIME = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
TENANT_KEYS = TenantKeyRing()
"""The keys every app of this suite is given (``tenant_keys=TENANT_KEYS``)."""
_API_KEYS: dict[str, str] = {}


def money(amount: str | Decimal, currency: str = "NOK") -> Money:
    return Money.of(amount, currency)


@dataclass
class Messages:
    """Builds payloads and envelopes for one tenant's bank account."""

    tenant_id: str
    iban: str = "NO9386011117947"
    currency: str = "NOK"
    correlation_id: str = field(default_factory=lambda: f"file-{uuid.uuid4().hex[:8]}")

    @classmethod
    def for_tenant(cls, tenant_id: str, iban: str = "NO9386011117947") -> Messages:
        return cls(tenant_id=tenant_id, iban=iban)

    @property
    def account(self) -> BankAccountRef:
        return BankAccountRef(
            account_id=account_id_for(self.tenant_id, self.iban),
            iban=self.iban,
            currency=self.currency,
        )

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def money(self, amount: str | Decimal) -> Money:
        return money(amount, self.currency)

    # ------------------------------------------------------------------ payloads

    def header(
        self,
        statement_id: str = "stmt-1",
        *,
        opening: str | None = "1000.00",
        closing: str | None = "1000.00",
        closing_date: date = date(2026, 11, 30),
        opening_date: date = date(2026, 11, 1),
        sequence: int | None = None,
        line_count: int = 0,
    ) -> StatementHeader:
        return StatementHeader(
            statement_id=statement_id,
            source_format="camt.053.001.02",
            account=self.account,
            electronic_sequence_number=sequence,
            opening_booked=None
            if opening is None
            else Balance(amount=self.money(opening), date=opening_date),
            closing_booked=None
            if closing is None
            else Balance(amount=self.money(closing), date=closing_date),
            entry_count=line_count,
            line_count=line_count,
            sum_credits=Decimal(0),
            sum_debits=Decimal(0),
            file_sha256="0" * 64,
        )

    def line(
        self,
        line_id: str,
        amount: str,
        *,
        statement_id: str = "stmt-1",
        booking_date: date = date(2026, 11, 15),
        sequence: int = 0,
    ) -> StatementLine:
        return StatementLine(
            line_id=line_id,
            statement_id=statement_id,
            account=self.account,
            sequence=sequence,
            amount=self.money(amount),
            booking_date=booking_date,
        )

    def decision(
        self,
        line_id: str,
        amount: str,
        kind: DecisionKind = DecisionKind.MATCH,
        *,
        decision_id: str | None = None,
        statement_id: str = "stmt-1",
    ) -> MatchDecision:
        return MatchDecision(
            decision_id=decision_id or f"dec-{line_id}-{kind.value}",
            kind=kind,
            line_id=line_id,
            statement_id=statement_id,
            account=self.account,
            amount=self.money(amount),
            booking_date=date(2026, 11, 15),
            rule="test",
            confidence=Decimal("1"),
            explanation=f"{kind.value} by test",
        )

    def posting(
        self,
        line_id: str | None,
        amount: str,
        *,
        entry_id: str | None = None,
        reverses: str | None = None,
        counter_role: AccountRole = AccountRole.RECEIVABLE,
        bank_account_id: str | None = None,
    ) -> JournalEntryPosted:
        """Money in (amount > 0): Dr bank / Cr counter account; money out the other way."""
        value = Decimal(amount)
        debit, credit = (value, Decimal(0)) if value >= 0 else (Decimal(0), -value)
        bank = PostingLine(
            account_code="1920",
            account_role=AccountRole.BANK,
            debit=debit,
            credit=credit,
            currency=self.currency,
            bank_account_id=bank_account_id or self.account_id,
            statement_line_id=line_id,
        )
        counter = PostingLine(
            account_code="1500",
            account_role=counter_role,
            debit=credit,
            credit=debit,
            currency=self.currency,
        )
        entry = entry_id or f"je-{line_id}-{uuid.uuid4().hex[:6]}"
        return JournalEntryPosted(
            entry_id=entry,
            idempotency_key=entry,
            posting_date=date(2026, 11, 15),
            source=EntrySource.REVERSAL if reverses else EntrySource.DECISION,
            source_ref=f"dec-{line_id}",
            description="test posting",
            lines=[bank, counter],
            reverses_entry_id=reverses,
        )

    # ------------------------------------------------------------------ envelopes

    def envelope(
        self,
        payload: BaseModel,
        *,
        occurred_at: datetime | None = None,
        message_id: str | None = None,
    ) -> Envelope[Any]:
        wrapped = envelope_for(
            payload,
            tenant_id=self.tenant_id,
            correlation_id=self.correlation_id,
            message_id=message_id,
        )
        if occurred_at is not None:
            wrapped = wrapped.model_copy(update={"occurred_at": occurred_at})
        return wrapped

    def at(self, minutes: int) -> datetime:
        return BASE_TIME + timedelta(minutes=minutes)


def api_key_record(tenant_id: str, *, revoked: bool = False) -> tuple[str, ApiKeyRecord]:
    """A new key of the tenant (plain) and its record, as ingest would publish it."""
    issued = issue_api_key()
    now = datetime.now(UTC)
    return issued.plain, ApiKeyRecord(
        key_id=issued.key_id,
        tenant_id=tenant_id,
        key_hash=issued.key_hash,
        created_at=now,
        revoked_at=now if revoked else None,
    )


def auth_headers(tenant_id: str) -> dict[str, str]:
    """The tenant's API key as a request header; the key is known to ``TENANT_KEYS``."""
    if tenant_id not in _API_KEYS:
        plain, record = api_key_record(tenant_id)
        TENANT_KEYS.record(record)
        _API_KEYS[tenant_id] = plain
    return {"authorization": f"Bearer {_API_KEYS[tenant_id]}"}


WAIT_SECONDS = 60.0


async def eventually(
    probe: Callable[[], Awaitable[dict[str, Any]]], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Probe until ``done`` holds (the services work on their own time), or fail with the
    last answer after ``WAIT_SECONDS``."""
    deadline = time.monotonic() + WAIT_SECONDS
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = await probe()
        if done(last):
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out after {WAIT_SECONDS:.0f}s; last: {last!r}")


@asynccontextmanager
async def running(app: Any, base_url: str, tenant_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (its lifespan: consumers, relay) and an HTTP client with the tenant's
    key."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=base_url, headers=auth_headers(tenant_id), timeout=30
        ) as http:
            yield http
