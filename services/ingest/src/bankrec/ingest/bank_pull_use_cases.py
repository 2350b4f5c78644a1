"""Bank pulls: configure a tenant's pull, run it (new statement files into ingest), find the
pulls that are due.

A run takes the pull's lease (one run at a time, on any instance), then per account: lists
the statements since the cursor, downloads each new one and hands it to
``StatementIngest.ingest(..., via="pull")`` exactly as an upload would be. The cursor moves
past a statement only once ingest has recorded the file (published, duplicate or refused), so
a crash between download and record fetches it again and ingest's dedupe makes that harmless.
A failure of the bank's API stops that account (its cursor stays before the statement that
failed) and is recorded as the run's outcome; 401/403 stops the whole run, since every account
would fail alike.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bankrec.ingest.bank_pull_errors import (
    BankApiFailure,
    BankApiUnauthorized,
    BankPullNotFound,
    BankPullRunning,
)
from bankrec.ingest.domain import SUPPORTED_FORMATS
from bankrec.ingest.domain.bank_pulls import (
    AccountCursor,
    AuthKind,
    BankPull,
    BankPullSpec,
    ListedStatement,
    PulledFile,
    PullProblem,
    PullRun,
    RunTrigger,
    StatementListing,
    check_pull_name,
    is_due,
    merge_credentials,
    new_statements,
    next_run_at,
    validate_spec,
)
from bankrec.ingest.errors import IngestError, IngestNotFound
from bankrec.ingest.use_cases import StatementIngest

log = logging.getLogger(__name__)

LEASE_SECONDS = 600  # renewed before each download; an instance that dies frees it this late


class BankPullStore(Protocol):
    async def save(
        self, tenant_id: str, name: str, spec: BankPullSpec, *, now: datetime, reset_cursor: bool
    ) -> bool: ...
    async def get(self, tenant_id: str, name: str) -> BankPull | None: ...
    async def of_tenant(self, tenant_id: str) -> list[BankPull]: ...
    async def enabled(self) -> list[BankPull]: ...
    async def delete(self, tenant_id: str, name: str) -> bool: ...
    async def claim(
        self, tenant_id: str, name: str, *, owner: str, now: datetime, lease_until: datetime
    ) -> BankPull | None: ...
    async def claim_due(
        self,
        tenant_id: str,
        name: str,
        *,
        last_started_at: datetime | None,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> BankPull | None: ...
    async def save_cursor(
        self,
        tenant_id: str,
        name: str,
        cursors: Mapping[str, AccountCursor],
        *,
        owner: str,
        lease_until: datetime,
    ) -> None: ...
    async def extend_lease(
        self, tenant_id: str, name: str, *, owner: str, lease_until: datetime
    ) -> None: ...
    async def finish(self, tenant_id: str, name: str, run: PullRun, *, owner: str) -> None: ...


class BankApi(Protocol):
    """The bank-pull protocol, as ``adapters.bank_api.BankApiClient`` speaks it."""

    async def list_accounts(self) -> list[str]: ...
    async def list_statements(
        self, account: str, cursor: AccountCursor
    ) -> StatementListing | None: ...
    async def download(self, statement: ListedStatement) -> bytes: ...


ConnectBankApi = Callable[[BankPullSpec], AbstractAsyncContextManager[BankApi]]


@dataclass(frozen=True, slots=True)
class BankPullChanges:
    """What a tenant sends to configure a pull, before validation. ``secret`` None keeps
    the stored token or password."""

    base_url: str
    auth_kind: AuthKind
    username: str | None = None
    secret: str | None = field(default=None, repr=False)
    accounts: Sequence[str] = ()
    statement_format: str | None = None
    interval_seconds: int = 3600
    fetch_from: datetime | None = None
    enabled: bool = True
    reset_cursor: bool = False


class BankPulls:
    """A tenant's bank pulls: their configurations and their runs."""

    def __init__(
        self,
        store: BankPullStore,
        ingest: StatementIngest,
        *,
        connect: ConnectBankApi,
        interval_floor_seconds: int,
        allow_plain_http: bool = False,
        supported_formats: Sequence[str] = SUPPORTED_FORMATS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._ingest = ingest
        self._connect = connect
        self.interval_floor_seconds = interval_floor_seconds
        self._allow_plain_http = allow_plain_http
        self._supported_formats = tuple(supported_formats)
        self._clock = clock
        self._owner = f"ingest-{uuid.uuid4().hex[:16]}"  # this instance, as lease holder

    # -- configurations

    async def configure(
        self, tenant_id: str, name: str, changes: BankPullChanges
    ) -> tuple[BankPull, bool]:
        """Create or replace a pull; returns it and whether it was created."""
        check_pull_name(name)
        stored = await self._store.get(tenant_id, name)
        now = self._clock()
        if changes.reset_cursor and stored is not None and stored.running(now):
            raise BankPullRunning(
                f"bank pull {name!r} is running; reset its cursor once the run has ended"
            )
        credentials = merge_credentials(
            changes.auth_kind,
            username=changes.username,
            secret=changes.secret,
            stored=None if stored is None else stored.spec.credentials,
        )
        spec = validate_spec(
            base_url=changes.base_url,
            credentials=credentials,
            accounts=changes.accounts,
            statement_format=changes.statement_format,
            interval_seconds=changes.interval_seconds,
            fetch_from=changes.fetch_from,
            enabled=changes.enabled,
            supported_formats=self._supported_formats,
            interval_floor_seconds=self.interval_floor_seconds,
            allow_plain_http=self._allow_plain_http,
        )
        created = await self._store.save(
            tenant_id, name, spec, now=now, reset_cursor=changes.reset_cursor
        )
        log.info(
            "bank pull %r %s (%s, every %d s, %s)",
            name,
            "created" if created else "replaced",
            spec.base_url,
            spec.interval_seconds,
            "enabled" if spec.enabled else "disabled",
            extra={"tenant_id": tenant_id},
        )
        return await self.get(tenant_id, name), created

    async def get(self, tenant_id: str, name: str) -> BankPull:
        pull = await self._store.get(tenant_id, name)
        if pull is None:
            raise BankPullNotFound(
                f"no bank pull {name!r} for this tenant; create it with "
                f"PUT /v1/tenants/{tenant_id}/bank-pulls/{name}"
            )
        return pull

    async def of_tenant(self, tenant_id: str) -> list[BankPull]:
        return await self._store.of_tenant(tenant_id)

    async def delete(self, tenant_id: str, name: str) -> None:
        if not await self._store.delete(tenant_id, name):
            raise BankPullNotFound(f"no bank pull {name!r} for this tenant")
        log.info("bank pull %r deleted", name, extra={"tenant_id": tenant_id})

    def next_run_at(self, pull: BankPull) -> datetime | None:
        """When the scheduler runs the pull next (None: at its next look)."""
        return next_run_at(
            pull.last_started_at,
            interval_seconds=pull.spec.interval_seconds,
            floor_seconds=self.interval_floor_seconds,
        )

    # -- runs

    async def run(self, tenant_id: str, name: str) -> PullRun:
        """Run a pull now (whether enabled or not); ``BankPullRunning`` when it runs already."""
        now = self._clock()
        pull = await self._store.claim(
            tenant_id, name, owner=self._owner, now=now, lease_until=self._lease_from(now)
        )
        if pull is None:
            await self.get(tenant_id, name)  # BankPullNotFound when there is none
            raise BankPullRunning(
                f"bank pull {name!r} is running already; its outcome shows on "
                f"GET /v1/tenants/{tenant_id}/bank-pulls/{name} when it ends"
            )
        return await self._run_claimed(pull, RunTrigger.MANUAL, now)

    async def due(self) -> list[BankPull]:
        """The enabled pulls whose interval has passed and that nobody runs."""
        now = self._clock()
        return [
            pull
            for pull in await self._store.enabled()
            if is_due(
                enabled=pull.spec.enabled,
                last_started_at=pull.last_started_at,
                interval_seconds=pull.spec.interval_seconds,
                floor_seconds=self.interval_floor_seconds,
                leased_until=pull.leased_until,
                now=now,
            )
        ]

    async def run_due(self, pull: BankPull) -> PullRun | None:
        """Run a pull ``due`` returned, unless another instance took it meanwhile."""
        now = self._clock()
        claimed = await self._store.claim_due(
            pull.tenant_id,
            pull.name,
            last_started_at=pull.last_started_at,
            owner=self._owner,
            now=now,
            lease_until=self._lease_from(now),
        )
        if claimed is None:
            return None
        return await self._run_claimed(claimed, RunTrigger.SCHEDULED, now)

    async def _run_claimed(
        self, pull: BankPull, trigger: RunTrigger, started_at: datetime
    ) -> PullRun:
        run = _RunLog(dict(pull.cursors))
        try:
            async with self._connect(pull.spec) as api:
                run.accounts = list(pull.spec.accounts) or await api.list_accounts()
                for account in run.accounts:
                    try:
                        await self._pull_account(pull, api, account, run)
                    except BankApiUnauthorized as refused:
                        run.problems.append(PullProblem(refused.code, refused.message, account))
                        break  # the same credentials serve every account
                    except BankApiFailure as failure:
                        run.problems.append(PullProblem(failure.code, failure.message, account))
                    except IngestError as refusal:  # not recorded: the cursor stays before it
                        run.problems.append(PullProblem(refusal.code, refusal.message, account))
        except BankApiFailure as failure:  # the account listing itself
            run.problems.append(PullProblem(failure.code, failure.message))
        except Exception as exc:
            log.exception(
                "bank pull %r stopped on an internal error",
                pull.name,
                extra={"tenant_id": pull.tenant_id},
            )
            run.problems.append(
                PullProblem(
                    "pull_crashed",
                    f"an internal error ({type(exc).__name__}) stopped the run; the files "
                    "recorded so far are kept and the next run goes on from there",
                )
            )
        except BaseException:  # cancelled at shutdown: still give the lease back
            run.problems.append(
                PullProblem("pull_interrupted", "the service stopped during the run")
            )
            await self._finish(pull, run.outcome(trigger, started_at, self._clock()))
            raise
        return await self._finish(pull, run.outcome(trigger, started_at, self._clock()))

    async def _finish(self, pull: BankPull, outcome: PullRun) -> PullRun:
        await self._store.finish(pull.tenant_id, pull.name, outcome, owner=self._owner)
        error = outcome.error
        log.log(
            logging.WARNING if error else logging.INFO,
            "bank pull %r %s: %d file(s) fetched from %d account(s)%s",
            pull.name,
            outcome.status.value,
            outcome.files_fetched,
            len(outcome.accounts),
            f"; {error.code}: {error.message}" if error else "",
            extra={"tenant_id": pull.tenant_id},
        )
        return outcome

    async def _pull_account(self, pull: BankPull, api: BankApi, account: str, run: _RunLog) -> None:
        cursor = pull.cursor_of(account)
        listing = await api.list_statements(account, cursor)
        if listing is None:  # 304: nothing new since the last complete listing
            return
        for statement in new_statements(listing.statements, cursor):
            await self._store.extend_lease(
                pull.tenant_id, pull.name, owner=self._owner, lease_until=self._lease()
            )
            data = await api.download(statement)
            run.files_fetched += 1
            run.files.append(await self._ingest_file(pull, account, statement, data))
            cursor = cursor.advanced(statement)
            run.cursors[account] = cursor
            await self._store.save_cursor(
                pull.tenant_id, pull.name, run.cursors, owner=self._owner, lease_until=self._lease()
            )
        # only a listing processed to the end may answer 304 next time
        run.cursors[account] = cursor.validated(
            etag=listing.etag, last_modified=listing.last_modified
        )
        await self._store.save_cursor(
            pull.tenant_id, pull.name, run.cursors, owner=self._owner, lease_until=self._lease()
        )

    async def _ingest_file(
        self, pull: BankPull, account: str, statement: ListedStatement, data: bytes
    ) -> PulledFile:
        ingest_id = str(uuid.uuid4())  # ours, so a refused file can still be named
        try:
            outcome = await self._ingest.ingest(
                pull.tenant_id,
                data,
                statement_format=pull.spec.statement_format,
                filename=statement.shown_name,
                via="pull",
                ingest_id=ingest_id,
            )
        except IngestError as refusal:
            try:  # refused files are recorded before the refusal is raised; make sure
                await self._ingest.status(pull.tenant_id, ingest_id)
            except IngestNotFound:
                raise refusal from None
            return PulledFile(account, statement.statement_id, ingest_id, "refused", refusal.code)
        return PulledFile(account, statement.statement_id, ingest_id, outcome.record.status.value)

    def _lease(self) -> datetime:
        return self._lease_from(self._clock())

    @staticmethod
    def _lease_from(now: datetime) -> datetime:
        return now + timedelta(seconds=LEASE_SECONDS)


@dataclass
class _RunLog:
    """What a run has done so far."""

    cursors: dict[str, AccountCursor]
    accounts: list[str] = field(default_factory=list)
    files: list[PulledFile] = field(default_factory=list)
    problems: list[PullProblem] = field(default_factory=list)
    files_fetched: int = 0

    def outcome(self, trigger: RunTrigger, started_at: datetime, finished_at: datetime) -> PullRun:
        return PullRun(
            trigger=trigger,
            started_at=started_at,
            finished_at=finished_at,
            files=tuple(self.files),
            problems=tuple(self.problems),
            accounts=tuple(self.accounts),
            files_fetched=self.files_fetched,
        )
