"""HTTP API of bank pulls: a tenant configures pulls from its bank's API and runs them.

Every route takes the tenant's API key, as the upload does. Secrets (the bearer token, the
basic password) are accepted on ``PUT`` and never returned: responses show them masked, and
a ``PUT`` that leaves one out, or sends back the masked value, keeps the stored one.

- ``GET    /v1/tenants/{tenant_id}/bank-pulls``             every pull of the tenant
- ``GET    /v1/tenants/{tenant_id}/bank-pulls/{name}``      one pull, its cursor, its last run
- ``PUT    /v1/tenants/{tenant_id}/bank-pulls/{name}``      create (201) or replace (200)
- ``DELETE /v1/tenants/{tenant_id}/bank-pulls/{name}``      204
- ``POST   /v1/tenants/{tenant_id}/bank-pulls/{name}/run``  run now; answers the run's outcome

Errors use the service's shape (``{"error": {"code", "message", ...}}``); the statuses of
bank-pull errors are mapped here, in ``BANK_PULL_ERROR_STATUS``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from bankrec.ingest.api import TenantId, _presented_key, error_response
from bankrec.ingest.bank_pull_errors import (
    BankApiFailure,
    BankPullError,
    BankPullInvalid,
    BankPullNotFound,
    BankPullRunning,
)
from bankrec.ingest.bank_pull_use_cases import BankPullChanges, BankPulls
from bankrec.ingest.domain.bank_pulls import (
    ACCOUNTS_MAX,
    INTERVAL_SECONDS_DEFAULT,
    AuthKind,
    BankPull,
    PulledFile,
    PullRun,
    effective_interval_seconds,
)
from bankrec.ingest.use_cases import StatementIngest

BANK_PULL_ERROR_STATUS: dict[type[BankPullError], int] = {
    BankPullNotFound: 404,
    BankPullInvalid: 422,
    BankPullRunning: 409,
    BankApiFailure: 502,
}

PullName = Annotated[str, Path(min_length=1, max_length=64, description="The pull's name")]
_INTERVAL_SECONDS_MAX = 31 * 24 * 3600  # monthly statements at the least


class BankAuthIn(BaseModel):
    """How to authenticate to the bank API: ``bearer`` with ``token``, or ``basic`` with
    ``username`` and ``password``. Leave the secret out to keep the stored one."""

    model_config = ConfigDict(extra="forbid")

    type: AuthKind
    token: SecretStr | None = Field(default=None, description="bearer: the access token")
    username: str | None = Field(default=None, max_length=200, description="basic: user")
    password: SecretStr | None = Field(default=None, description="basic: the password")


class BankPullIn(BaseModel):
    """A pull configuration; see docs/bank-pull-protocol.md for what the bank API serves."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        max_length=500,
        description="The API's base: statements are listed at "
        "{base_url}/accounts/{account}/statements",
    )
    auth: BankAuthIn
    accounts: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list,
        max_length=ACCOUNTS_MAX,
        description="The bank API's account ids; empty: list them with GET {base_url}/accounts",
    )
    statement_format: str | None = Field(
        default=None,
        max_length=20,
        description="Force a format; detected from each file when absent",
    )
    interval_seconds: int = Field(
        default=INTERVAL_SECONDS_DEFAULT,
        gt=0,
        le=_INTERVAL_SECONDS_MAX,
        description="How often the pull runs (at least the service's floor)",
    )
    fetch_from: AwareDatetime | None = Field(
        default=None, description="Where an account never fetched starts (default: everything)"
    )
    enabled: bool = Field(default=True, description="Run on schedule (a manual run works anyway)")
    reset_cursor: bool = Field(
        default=False, description="Forget what was fetched: the next run starts at fetch_from"
    )

    def changes(self) -> BankPullChanges:
        auth = self.auth
        if auth.type is AuthKind.BEARER:
            if auth.password is not None or auth.username is not None:
                raise BankPullInvalid("auth", "bearer authentication takes a token only")
            secret = auth.token
        else:
            if auth.token is not None:
                raise BankPullInvalid("auth.token", "basic authentication takes a password")
            secret = auth.password
        return BankPullChanges(
            base_url=self.base_url,
            auth_kind=auth.type,
            username=auth.username,
            secret=None if secret is None else secret.get_secret_value(),
            accounts=self.accounts,
            statement_format=self.statement_format,
            interval_seconds=self.interval_seconds,
            fetch_from=self.fetch_from,
            enabled=self.enabled,
            reset_cursor=self.reset_cursor,
        )


class BankAuthOut(BaseModel):
    type: str
    username: str | None
    token: str | None = Field(description="Masked; never the token itself")
    password: str | None = Field(description="Masked; never the password itself")


class AccountCursorOut(BaseModel):
    since: str | None = Field(description="created_at of the newest statement recorded")
    statement_ids: list[str] = Field(description="The statements recorded at exactly `since`")


class ProblemOut(BaseModel):
    code: str
    message: str
    account: str | None


class PulledFileOut(BaseModel):
    account: str
    statement_id: str
    ingest_id: str
    status: str
    error_code: str | None
    status_url: str

    @classmethod
    def of(cls, tenant_id: str, pulled: PulledFile) -> PulledFileOut:
        return cls(
            account=pulled.account,
            statement_id=pulled.statement_id,
            ingest_id=pulled.ingest_id,
            status=pulled.status,
            error_code=pulled.error_code,
            status_url=f"/v1/tenants/{tenant_id}/ingests/{pulled.ingest_id}",
        )


class PullRunOut(BaseModel):
    """What one run did: the files it handed to ingest and what went wrong."""

    trigger: str
    status: str
    started_at: str
    finished_at: str
    accounts: list[str]
    files_fetched: int
    files: list[PulledFileOut]
    problems: list[ProblemOut]
    error: dict[str, str] | None

    @classmethod
    def of(cls, tenant_id: str, run: PullRun) -> PullRunOut:
        error = run.error
        return cls(
            trigger=run.trigger.value,
            status=run.status.value,
            started_at=_iso(run.started_at) or "",
            finished_at=_iso(run.finished_at) or "",
            accounts=list(run.accounts),
            files_fetched=run.files_fetched,
            files=[PulledFileOut.of(tenant_id, pulled) for pulled in run.files],
            problems=[
                ProblemOut(code=problem.code, message=problem.message, account=problem.account)
                for problem in run.problems
            ],
            error=None if error is None else {"code": error.code, "message": error.message},
        )


class BankPullOut(BaseModel):
    name: str
    base_url: str
    auth: BankAuthOut
    accounts: list[str]
    statement_format: str | None
    interval_seconds: int
    effective_interval_seconds: int = Field(description="The interval after the service's floor")
    fetch_from: str | None
    enabled: bool
    running: bool
    next_run_at: str | None = Field(description="None when disabled or when no scheduler runs")
    cursor: dict[str, AccountCursorOut]
    last_run: PullRunOut | None
    last_success_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, pull: BankPull, pulls: BankPulls, *, scheduled: bool) -> BankPullOut:
        spec, credentials = pull.spec, pull.spec.credentials
        now = datetime.now(UTC)
        bearer = credentials.kind is AuthKind.BEARER
        next_run = None
        if scheduled and spec.enabled:
            next_run = _iso(pulls.next_run_at(pull) or now)
        return cls(
            name=pull.name,
            base_url=spec.base_url,
            auth=BankAuthOut(
                type=credentials.kind.value,
                username=credentials.username,
                token=credentials.masked_secret if bearer else None,
                password=None if bearer else credentials.masked_secret,
            ),
            accounts=list(spec.accounts),
            statement_format=spec.statement_format,
            interval_seconds=spec.interval_seconds,
            effective_interval_seconds=effective_interval_seconds(
                spec.interval_seconds, pulls.interval_floor_seconds
            ),
            fetch_from=_iso(spec.fetch_from),
            enabled=spec.enabled,
            running=pull.running(now),
            next_run_at=next_run,
            cursor={
                account: AccountCursorOut(
                    since=_iso(cursor.since), statement_ids=sorted(cursor.statement_ids)
                )
                for account, cursor in sorted(pull.cursors.items())
            },
            last_run=None
            if pull.last_run is None
            else PullRunOut.of(pull.tenant_id, pull.last_run),
            last_success_at=_iso(pull.last_success_at),
            created_at=_iso(pull.created_at) or "",
            updated_at=_iso(pull.updated_at) or "",
        )


class BankPullList(BaseModel):
    bank_pulls: list[BankPullOut]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def build_bank_pull_router(
    ingest: StatementIngest, pulls: BankPulls, *, scheduled: bool
) -> APIRouter:
    router = APIRouter(prefix="/v1/tenants/{tenant_id}/bank-pulls", tags=["bank pulls"])

    async def tenant_key(request: Request, tenant_id: str) -> None:
        await ingest.authorize(_presented_key(request), tenant_id)

    def out(pull: BankPull) -> BankPullOut:
        return BankPullOut.of(pull, pulls, scheduled=scheduled)

    @router.get("")
    async def list_bank_pulls(request: Request, tenant_id: TenantId) -> BankPullList:
        """The tenant's bank pulls, secrets masked."""
        await tenant_key(request, tenant_id)
        return BankPullList(bank_pulls=[out(pull) for pull in await pulls.of_tenant(tenant_id)])

    @router.get("/{name}", responses={404: {"description": "not_found"}})
    async def get_bank_pull(request: Request, tenant_id: TenantId, name: PullName) -> BankPullOut:
        """One pull: configuration (secrets masked), cursor per account, last run."""
        await tenant_key(request, tenant_id)
        return out(await pulls.get(tenant_id, name))

    @router.put(
        "/{name}",
        responses={
            201: {"description": "created"},
            409: {"description": "pull_running: reset_cursor while the pull runs"},
            422: {"description": "invalid_bank_pull (field names the part) or invalid_request"},
        },
    )
    async def put_bank_pull(
        request: Request,
        response: Response,
        tenant_id: TenantId,
        name: PullName,
        body: BankPullIn,
    ) -> BankPullOut:
        """Create or replace a pull. The cursor is kept unless ``reset_cursor``."""
        await tenant_key(request, tenant_id)
        pull, created = await pulls.configure(tenant_id, name, body.changes())
        response.status_code = 201 if created else 200
        return out(pull)

    @router.delete("/{name}", status_code=204, responses={404: {"description": "not_found"}})
    async def delete_bank_pull(request: Request, tenant_id: TenantId, name: PullName) -> None:
        """Delete a pull; files already pulled stay (their ingest records too)."""
        await tenant_key(request, tenant_id)
        await pulls.delete(tenant_id, name)

    @router.post(
        "/{name}/run",
        responses={
            404: {"description": "not_found"},
            409: {"description": "pull_running: a run is under way"},
        },
    )
    async def run_bank_pull(request: Request, tenant_id: TenantId, name: PullName) -> PullRunOut:
        """Run the pull now and answer its outcome (``status`` ``succeeded`` or ``failed``
        with the problems; a failed run is still a 200: the outcome is the answer). Runs a
        disabled pull too."""
        await tenant_key(request, tenant_id)
        return PullRunOut.of(tenant_id, await pulls.run(tenant_id, name))

    return router


async def _bank_pull_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BankPullError)
    status = next(
        (code for kind, code in BANK_PULL_ERROR_STATUS.items() if isinstance(exc, kind)), 422
    )
    return error_response(status, exc.code, exc.message, **exc.details())


def install_bank_pull_api(
    app: FastAPI, ingest: StatementIngest, pulls: BankPulls, *, scheduled: bool
) -> None:
    """Mount the bank-pull routes; their errors map here (Starlette picks the handler of the
    nearest class, so this one wins over the service's ``IngestError`` handler)."""
    app.include_router(build_bank_pull_router(ingest, pulls, scheduled=scheduled))
    app.add_exception_handler(BankPullError, _bank_pull_error)
