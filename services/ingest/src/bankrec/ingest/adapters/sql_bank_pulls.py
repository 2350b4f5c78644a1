"""Bank pull configurations, cursors, leases and run outcomes on SQLAlchemy Core.

Times are stored in UTC: SQLite keeps a ``DateTime`` as text without its offset, so a lease
compared across rows only orders correctly when every value has the same one. The lease is
taken with one conditional ``UPDATE`` (whoever changes the row owns the run), which works the
same on SQLite and PostgreSQL and across instances.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.ingest.adapters.tables import bank_pulls
from bankrec.ingest.domain.bank_pulls import (
    AccountCursor,
    AuthKind,
    BankCredentials,
    BankPull,
    BankPullSpec,
    PullRun,
)


class SqlBankPullStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save(
        self, tenant_id: str, name: str, spec: BankPullSpec, *, now: datetime, reset_cursor: bool
    ) -> bool:
        """Create or replace the configuration (cursor kept unless ``reset_cursor``); True
        when it was created."""
        values: dict[str, Any] = {
            "base_url": spec.base_url,
            "auth_type": spec.credentials.kind.value,
            "auth_username": spec.credentials.username,
            "auth_secret": spec.credentials.secret,
            "accounts": json.dumps(list(spec.accounts)),
            "statement_format": spec.statement_format,
            "interval_seconds": spec.interval_seconds,
            "fetch_from": _utc(spec.fetch_from),
            "enabled": spec.enabled,
            "updated_at": _utc(now),
        }
        if reset_cursor:
            values["cursor"] = "{}"
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(bank_pulls).where(*_key(tenant_id, name)).values(**values)
            )
            if getattr(done, "rowcount", 0):
                return False
            await session.execute(
                insert(bank_pulls).values(
                    tenant_id=tenant_id,
                    name=name,
                    cursor="{}",
                    created_at=_utc(now),
                    **{k: v for k, v in values.items() if k != "cursor"},
                )
            )
            return True

    async def get(self, tenant_id: str, name: str) -> BankPull | None:
        async with self._sessions() as session:
            row = (await session.execute(select(bank_pulls).where(*_key(tenant_id, name)))).first()
            return None if row is None else _pull_of(row._mapping)

    async def of_tenant(self, tenant_id: str) -> list[BankPull]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(bank_pulls)
                .where(bank_pulls.c.tenant_id == tenant_id)
                .order_by(bank_pulls.c.name)
            )
            return [_pull_of(row._mapping) for row in rows]

    async def enabled(self) -> list[BankPull]:
        """Every enabled pull of every tenant (the scheduler decides which are due)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(bank_pulls)
                .where(bank_pulls.c.enabled.is_(True))
                .order_by(bank_pulls.c.last_run_started_at)
            )
            return [_pull_of(row._mapping) for row in rows]

    async def delete(self, tenant_id: str, name: str) -> bool:
        async with self._sessions() as session, session.begin():
            done = await session.execute(delete(bank_pulls).where(*_key(tenant_id, name)))
            return bool(getattr(done, "rowcount", 0))

    async def claim(
        self, tenant_id: str, name: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> BankPull | None:
        """Take the run lease (and stamp the run's start), or None when a run holds it or
        the pull does not exist."""
        return await self._claim(tenant_id, name, (), owner=owner, now=now, until=lease_until)

    async def claim_due(
        self,
        tenant_id: str,
        name: str,
        *,
        last_started_at: datetime | None,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> BankPull | None:
        """``claim`` for the scheduler: only while the last start is still the one that
        made the pull due, so a pull another instance just ran is not run again."""
        started = bank_pulls.c.last_run_started_at
        condition = (
            started.is_(None) if last_started_at is None else started == _utc(last_started_at)
        )
        return await self._claim(
            tenant_id, name, (condition,), owner=owner, now=now, until=lease_until
        )

    async def _claim(
        self,
        tenant_id: str,
        name: str,
        conditions: tuple[Any, ...],
        *,
        owner: str,
        now: datetime,
        until: datetime,
    ) -> BankPull | None:
        lease = bank_pulls.c.lease_expires_at
        async with self._sessions() as session, session.begin():
            done = await session.execute(
                update(bank_pulls)
                .where(*_key(tenant_id, name), (lease.is_(None)) | (lease < _utc(now)), *conditions)
                .values(
                    lease_owner=owner, lease_expires_at=_utc(until), last_run_started_at=_utc(now)
                )
            )
            if not getattr(done, "rowcount", 0):
                return None
            row = (await session.execute(select(bank_pulls).where(*_key(tenant_id, name)))).one()
            return _pull_of(row._mapping)

    async def save_cursor(
        self,
        tenant_id: str,
        name: str,
        cursors: Mapping[str, AccountCursor],
        *,
        owner: str,
        lease_until: datetime,
    ) -> None:
        """Store the cursors (and extend the lease) while the run holds the lease."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(bank_pulls)
                .where(*_key(tenant_id, name), bank_pulls.c.lease_owner == owner)
                .values(cursor=_cursor_json(cursors), lease_expires_at=_utc(lease_until))
            )

    async def extend_lease(
        self, tenant_id: str, name: str, *, owner: str, lease_until: datetime
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(bank_pulls)
                .where(*_key(tenant_id, name), bank_pulls.c.lease_owner == owner)
                .values(lease_expires_at=_utc(lease_until))
            )

    async def finish(self, tenant_id: str, name: str, run: PullRun, *, owner: str) -> None:
        """Record the run's outcome and give the lease back."""
        error = run.error
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "last_run_finished_at": _utc(run.finished_at),
            "last_run_status": run.status.value,
            "last_run_error_code": None if error is None else error.code,
            "last_run_error_message": None if error is None else error.message,
            "last_run": json.dumps(run.as_json()),
        }
        if error is None:
            values["last_success_at"] = _utc(run.finished_at)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(bank_pulls)
                .where(*_key(tenant_id, name), bank_pulls.c.lease_owner == owner)
                .values(**values)
            )


def _key(tenant_id: str, name: str) -> tuple[Any, Any]:
    return (bank_pulls.c.tenant_id == tenant_id, bank_pulls.c.name == name)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite gives it back without its offset)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _cursor_json(cursors: Mapping[str, AccountCursor]) -> str:
    return json.dumps({account: cursor.as_json() for account, cursor in sorted(cursors.items())})


def _pull_of(row: Any) -> BankPull:
    created_at, updated_at = _aware(row["created_at"]), _aware(row["updated_at"])
    assert created_at is not None, "NOT NULL column"
    assert updated_at is not None, "NOT NULL column"
    last_run = row["last_run"]
    return BankPull(
        tenant_id=row["tenant_id"],
        name=row["name"],
        spec=BankPullSpec(
            base_url=row["base_url"],
            credentials=BankCredentials(
                AuthKind(row["auth_type"]), row["auth_secret"], row["auth_username"]
            ),
            accounts=tuple(json.loads(row["accounts"] or "[]")),
            statement_format=row["statement_format"],
            interval_seconds=row["interval_seconds"],
            fetch_from=_aware(row["fetch_from"]),
            enabled=bool(row["enabled"]),
        ),
        cursors={
            account: AccountCursor.from_json(value)
            for account, value in json.loads(row["cursor"] or "{}").items()
        },
        created_at=created_at,
        updated_at=updated_at,
        last_started_at=_aware(row["last_run_started_at"]),
        last_run=None if last_run is None else PullRun.from_json(json.loads(last_run)),
        last_success_at=_aware(row["last_success_at"]),
        leased_until=_aware(row["lease_expires_at"]),
    )
