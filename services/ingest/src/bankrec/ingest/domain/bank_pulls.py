"""Pulling statement files from a bank or aggregator HTTP API: the pure part.

A tenant configures a *bank pull*: the API's base URL, its credentials (bearer token or HTTP
basic), the accounts (or none, to list them), the format to expect (or detect) and how often
to poll. A run speaks the protocol of ``docs/bank-pull-protocol.md``:

- ``GET {base}/accounts`` (only when no account is configured) lists the account ids;
- ``GET {base}/accounts/{account}/statements?since=<created_at>`` lists the statements
  created at or after ``since``: ``[{"id", "created_at", "download_url", "format"?,
  "size_bytes"?, "filename"?}]``, or ``{"statements": [...], "next": <url or null>}`` when
  the listing comes in pages;
- ``GET <download_url>`` returns the statement file itself.

The *cursor* of an account remembers the newest ``created_at`` recorded and the ids recorded at
exactly that instant (``since`` is inclusive, so ties are neither lost nor fetched twice), and
the listing's ``ETag``/``Last-Modified`` so an unchanged listing costs a ``304``. It advances
one statement at a time, after ingest has recorded the file. Everything here is values and
functions; the HTTP client is ``adapters/bank_api.py``, the run ``bank_pull_use_cases.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from bankrec.ingest.bank_pull_errors import BankApiResponseInvalid, BankPullInvalid

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
INTERVAL_SECONDS_DEFAULT = 3600
ACCOUNTS_MAX = 100
ACCOUNT_ID_LENGTH_MAX = 128
STATEMENT_ID_LENGTH_MAX = 200
FILENAME_LENGTH_MAX = 255
BASE_URL_LENGTH_MAX = 500
SECRET_LENGTH_MAX = 4096
_MASK = "****"
_MASK_REVEALS_FROM = 16  # only long secrets show their last 4 characters
_RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class AuthKind(StrEnum):
    """How the puller authenticates to the bank API."""

    BEARER = "bearer"  # Authorization: Bearer <token>
    BASIC = "basic"  # Authorization: Basic base64(<username>:<password>)


@dataclass(frozen=True, slots=True)
class BankCredentials:
    """What the bank API needs to know who asks. ``secret`` is the token or the password;
    it is left out of ``repr`` so it never reaches a log line or a traceback."""

    kind: AuthKind
    secret: str = field(repr=False)
    username: str | None = None

    @property
    def masked_secret(self) -> str:
        return mask_secret(self.secret)


def mask_secret(secret: str) -> str:
    """What the API shows instead of a secret: enough to tell two apart, not to use one."""
    if len(secret) >= _MASK_REVEALS_FROM:
        return _MASK + secret[-4:]
    return _MASK


@dataclass(frozen=True, slots=True)
class BankPullSpec:
    """A validated pull configuration (what ``PUT .../bank-pulls/{name}`` stores)."""

    base_url: str
    credentials: BankCredentials
    accounts: tuple[str, ...] = ()  # empty: list them with GET {base}/accounts
    statement_format: str | None = None  # None: detect from the content
    interval_seconds: int = INTERVAL_SECONDS_DEFAULT
    fetch_from: datetime | None = None  # where an account without a cursor starts
    enabled: bool = True


def validate_spec(
    *,
    base_url: str,
    credentials: BankCredentials,
    accounts: Sequence[str],
    statement_format: str | None,
    interval_seconds: int,
    fetch_from: datetime | None,
    enabled: bool,
    supported_formats: Sequence[str],
    interval_floor_seconds: int,
    allow_plain_http: bool,
) -> BankPullSpec:
    """A ``BankPullSpec`` from what a tenant sent, or ``BankPullInvalid`` naming the field."""
    if statement_format is not None and statement_format not in supported_formats:
        raise BankPullInvalid(
            "statement_format",
            f"{statement_format!r} is not a format ingest reads; use one of "
            f"{', '.join(supported_formats)}, or leave it out to detect the format",
        )
    if interval_seconds < interval_floor_seconds:
        raise BankPullInvalid(
            "interval_seconds",
            f"{interval_seconds} s is more often than the floor of {interval_floor_seconds} s "
            "(BANKREC_INGEST_BANK_PULL_INTERVAL_FLOOR_SECONDS), which keeps banks from "
            "throttling the tenant",
        )
    if fetch_from is not None and fetch_from.tzinfo is None:
        raise BankPullInvalid("fetch_from", "give a time zone offset, e.g. 2026-11-01T00:00:00Z")
    return BankPullSpec(
        base_url=checked_base_url(base_url, allow_plain_http=allow_plain_http),
        credentials=_checked_credentials(credentials),
        accounts=_checked_accounts(accounts),
        statement_format=statement_format,
        interval_seconds=interval_seconds,
        fetch_from=None if fetch_from is None else fetch_from.astimezone(UTC),
        enabled=enabled,
    )


def check_pull_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise BankPullInvalid(
            "name",
            f"{name[:70]!r} is not a pull name: use 1 to 64 lowercase letters, digits, '.', "
            "'_' or '-', starting with a letter or digit",
        )
    return name


def checked_base_url(url: str, *, allow_plain_http: bool) -> str:
    """The base URL without a trailing slash, or ``BankPullInvalid`` saying what is wrong."""
    if len(url) > BASE_URL_LENGTH_MAX:
        raise BankPullInvalid("base_url", f"longer than {BASE_URL_LENGTH_MAX} characters")
    parts = urlsplit(url.strip())
    problem = url_scheme_problem(parts.scheme, allow_plain_http=allow_plain_http)
    if problem:
        raise BankPullInvalid("base_url", problem)
    if not parts.hostname:
        raise BankPullInvalid("base_url", f"{url!r} names no host")
    if parts.username is not None or parts.password is not None:
        # URLs end up in logs and error messages; credentials belong in ``auth``
        raise BankPullInvalid("base_url", "put the credentials in auth, not in the URL")
    if parts.query or parts.fragment:
        raise BankPullInvalid("base_url", "give the API's base without a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def url_scheme_problem(scheme: str, *, allow_plain_http: bool) -> str | None:
    """Why a URL's scheme may not be fetched, or None when it may."""
    if scheme == "https" or (scheme == "http" and allow_plain_http):
        return None
    if scheme == "http":
        return (
            "plain http would send the bank credentials and statements unencrypted; use "
            "https (BANKREC_INGEST_BANK_PULL_ALLOW_PLAIN_HTTP allows http for local test "
            "servers)"
        )
    return f"scheme {scheme or '(none)'!r} is not fetched; use https"


def _checked_credentials(credentials: BankCredentials) -> BankCredentials:
    secret_name = "token" if credentials.kind is AuthKind.BEARER else "password"
    if not credentials.secret:
        raise BankPullInvalid(f"auth.{secret_name}", "required")
    if len(credentials.secret) > SECRET_LENGTH_MAX:
        raise BankPullInvalid(f"auth.{secret_name}", f"longer than {SECRET_LENGTH_MAX}")
    if any(ch in credentials.secret for ch in "\r\n\0"):
        raise BankPullInvalid(f"auth.{secret_name}", "holds a line break or NUL")
    if credentials.kind is AuthKind.BEARER:
        if credentials.username is not None:
            raise BankPullInvalid("auth.username", "bearer authentication takes no username")
        if any(ch.isspace() for ch in credentials.secret):
            raise BankPullInvalid("auth.token", "holds white space; send the token alone")
    else:
        username = credentials.username or ""
        if not username:
            raise BankPullInvalid("auth.username", "required for basic authentication")
        if ":" in username or any(ch in username for ch in "\r\n\0"):
            raise BankPullInvalid("auth.username", "may not hold ':' or a line break")
    return credentials


def _checked_accounts(accounts: Sequence[str]) -> tuple[str, ...]:
    if len(accounts) > ACCOUNTS_MAX:
        raise BankPullInvalid("accounts", f"more than {ACCOUNTS_MAX}; split the pull in two")
    found: list[str] = []
    for index, account in enumerate(accounts):
        if not account.strip() or len(account) > ACCOUNT_ID_LENGTH_MAX:
            raise BankPullInvalid(
                f"accounts[{index}]",
                f"give the bank API's account id (1 to {ACCOUNT_ID_LENGTH_MAX} characters)",
            )
        if account not in found:
            found.append(account)
    return tuple(found)


def merge_credentials(
    kind: AuthKind,
    *,
    username: str | None,
    secret: str | None,
    stored: BankCredentials | None,
) -> BankCredentials:
    """The credentials a ``PUT`` means: a secret left out, or sent back masked as ``GET``
    showed it, keeps the stored one (so a configuration can be read, changed and written back
    without typing the secret again)."""
    keeps_stored = stored is not None and stored.kind is kind
    if stored is not None and keeps_stored and (secret is None or secret == stored.masked_secret):
        return BankCredentials(kind, stored.secret, username)
    secret_name = "token" if kind is AuthKind.BEARER else "password"
    if secret is None:
        raise BankPullInvalid(f"auth.{secret_name}", f"required for {kind.value} authentication")
    return BankCredentials(kind, secret, username)


# -- listings


@dataclass(frozen=True, slots=True)
class ListedStatement:
    """One statement as the bank's listing describes it."""

    statement_id: str
    created_at: datetime
    download_url: str  # absolute, resolved against the listing's URL
    statement_format: str | None = None  # what the bank says; ingest detects anyway
    size_bytes: int | None = None
    filename: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.created_at, self.statement_id)

    @property
    def shown_name(self) -> str:
        """The file name ingest records (and quotes in errors)."""
        return (self.filename or self.statement_id)[:FILENAME_LENGTH_MAX]


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One page of a listing and the absolute URL of the next page, if any."""

    items: list[ListedStatement]
    next_url: str | None = None


@dataclass(frozen=True, slots=True)
class StatementListing:
    """Every statement listed for an account since the cursor (all pages), with the
    listing's validators for ``If-None-Match``/``If-Modified-Since`` next time."""

    statements: list[ListedStatement]
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class AccountPage:
    accounts: list[str]
    next_url: str | None = None


def statements_url(base_url: str, account: str) -> str:
    return f"{base_url}/accounts/{quote(account, safe='')}/statements"


def accounts_url(base_url: str) -> str:
    return f"{base_url}/accounts"


def since_param(since: datetime | None) -> dict[str, str]:
    """The listing's query: ``since`` in UTC, ISO 8601 with ``Z`` (none on a first run)."""
    if since is None:
        return {}
    return {"since": since.astimezone(UTC).isoformat().replace("+00:00", "Z")}


def parse_statement_page(document: Any, *, page_url: str) -> ListingPage:
    """A listing page from the decoded JSON, or ``BankApiResponseInvalid`` naming the item
    and field that breaks the protocol. Unknown fields are ignored (banks add their own)."""
    items, next_url = _page(document, "statements", page_url=page_url)
    statements = [_listed_statement(item, index, page_url) for index, item in enumerate(items)]
    return ListingPage(statements, next_url)


def parse_account_page(document: Any, *, page_url: str) -> AccountPage:
    """Account ids from ``GET {base}/accounts``: strings, or objects with an ``id``."""
    items, next_url = _page(document, "accounts", page_url=page_url)
    accounts: list[str] = []
    for index, item in enumerate(items):
        account = item.get("id") if isinstance(item, dict) else item
        if not isinstance(account, str) or not account or len(account) > ACCOUNT_ID_LENGTH_MAX:
            raise BankApiResponseInvalid(
                f"the account listing's item {index} has no account id (a string of 1 to "
                f"{ACCOUNT_ID_LENGTH_MAX} characters, or an object with one as 'id')"
            )
        accounts.append(account)
    return AccountPage(accounts, next_url)


def _page(document: Any, key: str, *, page_url: str) -> tuple[list[Any], str | None]:
    if isinstance(document, list):
        return document, None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise BankApiResponseInvalid(
            f"the {key} listing at {shown_url(page_url)} is neither a JSON list nor an object "
            f"with a '{key}' list"
        )
    link = document.get("next")
    if link is None or link == "":
        return document[key], None
    if not isinstance(link, str):
        raise BankApiResponseInvalid(f"the {key} listing's 'next' is not a URL string")
    next_url = urljoin(page_url, link)
    if not same_origin(next_url, page_url):
        # the next page gets the credentials: it must come from the same API
        raise BankApiResponseInvalid(
            f"the {key} listing's next page {shown_url(next_url)} leaves the bank API's origin"
        )
    return document[key], next_url


def _listed_statement(item: Any, index: int, page_url: str) -> ListedStatement:
    def problem(what: str) -> BankApiResponseInvalid:
        return BankApiResponseInvalid(f"the statement listing's item {index}: {what}")

    if not isinstance(item, dict):
        raise problem("is not an object")
    statement_id = item.get("id")
    if not isinstance(statement_id, str) or not statement_id.strip():
        raise problem("'id' is missing or not a string")
    if len(statement_id) > STATEMENT_ID_LENGTH_MAX:
        raise problem(f"'id' is longer than {STATEMENT_ID_LENGTH_MAX} characters")
    created_at = _timestamp(item.get("created_at"))
    if created_at is None:
        raise problem(
            f"'created_at' of {statement_id!r} is not an ISO 8601 time with a time zone "
            "(e.g. 2026-11-20T23:15:02+01:00)"
        )
    link = item.get("download_url")
    if not isinstance(link, str) or not link:
        raise problem(f"'download_url' of {statement_id!r} is missing")
    download_url = urljoin(page_url, link)
    if urlsplit(download_url).scheme not in ("http", "https"):
        raise problem(f"'download_url' of {statement_id!r} is not an http(s) URL")
    size = item.get("size_bytes")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise problem(f"'size_bytes' of {statement_id!r} is not a whole number of bytes")
    statement_format = item.get("format")
    filename = item.get("filename")
    return ListedStatement(
        statement_id=statement_id,
        created_at=created_at,
        download_url=download_url,
        statement_format=statement_format if isinstance(statement_format, str) else None,
        size_bytes=size,
        filename=_clean_filename(filename) if isinstance(filename, str) else None,
    )


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # an instant the cursor can compare needs its offset
        return None
    return moment.astimezone(UTC)


def _clean_filename(name: str) -> str | None:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:FILENAME_LENGTH_MAX] or None


def same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == (
        b.scheme,
        b.hostname,
        b.port or _default_port(b.scheme),
    )


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def shown_url(url: str) -> str:
    """A URL fit for a message: without query and fragment (pre-signed URLs keep their
    signature there) and without user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


# -- cursors


@dataclass(frozen=True, slots=True)
class AccountCursor:
    """What was fetched last from one account's listing.

    ``since`` is the newest ``created_at`` recorded; ``statement_ids`` the ids recorded at
    exactly that instant. ``etag``/``last_modified`` validate the listing fetched with
    ``since == validated_since`` (a listing with another ``since`` is another resource).
    """

    since: datetime | None = None
    statement_ids: frozenset[str] = frozenset()
    etag: str | None = None
    last_modified: str | None = None
    validated_since: datetime | None = None

    @classmethod
    def starting(cls, fetch_from: datetime | None) -> AccountCursor:
        """The cursor of an account never fetched: from ``fetch_from``, or everything."""
        return cls(since=fetch_from)

    def is_new(self, statement: ListedStatement) -> bool:
        if self.since is None or statement.created_at > self.since:
            return True
        return statement.created_at == self.since and (
            statement.statement_id not in self.statement_ids
        )

    def advanced(self, statement: ListedStatement) -> AccountCursor:
        """The cursor once ``statement`` is recorded. The listing's validators are dropped:
        they describe the listing from the old ``since``."""
        if self.since is not None and statement.created_at < self.since:
            return self
        if self.since is not None and statement.created_at == self.since:
            ids = self.statement_ids | {statement.statement_id}
        else:
            ids = frozenset({statement.statement_id})
        return AccountCursor(since=statement.created_at, statement_ids=ids)

    def validated(self, *, etag: str | None, last_modified: str | None) -> AccountCursor:
        """The cursor after a listing from ``since`` was processed completely."""
        return replace(self, etag=etag, last_modified=last_modified, validated_since=self.since)

    def conditional_headers(self) -> dict[str, str]:
        """``If-None-Match``/``If-Modified-Since`` when they apply to the next listing."""
        if self.validated_since != self.since:
            return {}
        headers: dict[str, str] = {}
        if self.etag:
            headers["if-none-match"] = self.etag
        if self.last_modified:
            headers["if-modified-since"] = self.last_modified
        return headers

    def as_json(self) -> dict[str, Any]:
        return {
            "since": _iso(self.since),
            "statement_ids": sorted(self.statement_ids),
            "etag": self.etag,
            "last_modified": self.last_modified,
            "validated_since": _iso(self.validated_since),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> AccountCursor:
        return cls(
            since=_parse_iso(value.get("since")),
            statement_ids=frozenset(value.get("statement_ids") or ()),
            etag=value.get("etag"),
            last_modified=value.get("last_modified"),
            validated_since=_parse_iso(value.get("validated_since")),
        )


def new_statements(
    listed: Iterable[ListedStatement], cursor: AccountCursor
) -> list[ListedStatement]:
    """The statements the cursor has not seen, oldest first, each id once."""
    seen: set[str] = set()
    found: list[ListedStatement] = []
    for statement in sorted(listed, key=lambda s: s.order):
        if statement.statement_id in seen or not cursor.is_new(statement):
            continue
        seen.add(statement.statement_id)
        found.append(statement)
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- schedule


def effective_interval_seconds(interval_seconds: int, floor_seconds: int) -> int:
    """The interval a pull runs at: never more often than the floor (which may have been
    raised after the pull was configured)."""
    return max(interval_seconds, floor_seconds)


def next_run_at(
    last_started_at: datetime | None, *, interval_seconds: int, floor_seconds: int
) -> datetime | None:
    """When a pull is due next; None means now (it never ran). Counted from the last start,
    so a slow run does not push the schedule back."""
    if last_started_at is None:
        return None
    interval = effective_interval_seconds(interval_seconds, floor_seconds)
    return last_started_at + timedelta(seconds=interval)


def is_due(
    *,
    enabled: bool,
    last_started_at: datetime | None,
    interval_seconds: int,
    floor_seconds: int,
    leased_until: datetime | None,
    now: datetime,
) -> bool:
    if not enabled or (leased_until is not None and leased_until > now):
        return False
    due_at = next_run_at(
        last_started_at, interval_seconds=interval_seconds, floor_seconds=floor_seconds
    )
    return due_at is None or due_at <= now


# -- retries


def is_retryable_status(status: int) -> bool:
    """Statuses a later attempt may get past: overload, rate limits, gateway trouble."""
    return status in _RETRYABLE_STATUSES


def backoff_seconds(attempt: int, *, base_seconds: float, cap_seconds: float = 30.0) -> float:
    """Exponential backoff before attempt ``attempt + 1`` (attempts count from 1)."""
    return float(min(cap_seconds, base_seconds * 2 ** (attempt - 1)))


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent or
    unreadable (then the backoff applies)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


# -- runs


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"  # every account listed, every new statement recorded
    FAILED = "failed"  # something could not be fetched; ``problems`` says what


class RunTrigger(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class PulledFile:
    """One statement file fetched and handed to ingest (its status endpoint tells more)."""

    account: str
    statement_id: str
    ingest_id: str
    status: str  # the ingest status: published | duplicate | refused
    error_code: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "account": self.account,
            "statement_id": self.statement_id,
            "ingest_id": self.ingest_id,
            "status": self.status,
            "error_code": self.error_code,
        }


@dataclass(frozen=True, slots=True)
class PullProblem:
    """Why (part of) a run failed; ``account`` is None when the whole run is concerned."""

    code: str
    message: str
    account: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "account": self.account}


RUN_FILES_KEPT = 200  # a first pull of years of daily statements keeps a short record


@dataclass(frozen=True, slots=True)
class PullRun:
    """The outcome of one run, stored as the pull's last run."""

    trigger: RunTrigger
    started_at: datetime
    finished_at: datetime
    files: tuple[PulledFile, ...] = ()
    problems: tuple[PullProblem, ...] = ()
    accounts: tuple[str, ...] = ()
    files_fetched: int = 0

    @property
    def status(self) -> RunStatus:
        return RunStatus.FAILED if self.problems else RunStatus.SUCCEEDED

    @property
    def error(self) -> PullProblem | None:
        return self.problems[0] if self.problems else None

    def as_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "accounts": list(self.accounts),
            "files_fetched": self.files_fetched,
            "files": [f.as_json() for f in self.files[-RUN_FILES_KEPT:]],
            "problems": [p.as_json() for p in self.problems],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> PullRun:
        started = _parse_iso(value.get("started_at"))
        finished = _parse_iso(value.get("finished_at"))
        assert started is not None, "a stored run has its start"
        assert finished is not None, "a stored run has its end"
        return cls(
            trigger=RunTrigger(value.get("trigger", RunTrigger.MANUAL.value)),
            started_at=started,
            finished_at=finished,
            accounts=tuple(value.get("accounts") or ()),
            files_fetched=int(value.get("files_fetched") or 0),
            files=tuple(
                PulledFile(
                    account=f["account"],
                    statement_id=f["statement_id"],
                    ingest_id=f["ingest_id"],
                    status=f["status"],
                    error_code=f.get("error_code"),
                )
                for f in value.get("files") or ()
            ),
            problems=tuple(
                PullProblem(code=p["code"], message=p["message"], account=p.get("account"))
                for p in value.get("problems") or ()
            ),
        )


@dataclass(frozen=True, slots=True)
class BankPull:
    """A tenant's stored pull: its configuration, cursors and the last run's outcome."""

    tenant_id: str
    name: str
    spec: BankPullSpec
    cursors: Mapping[str, AccountCursor]
    created_at: datetime
    updated_at: datetime
    last_started_at: datetime | None = None
    last_run: PullRun | None = None
    last_success_at: datetime | None = None
    leased_until: datetime | None = None

    def cursor_of(self, account: str) -> AccountCursor:
        return self.cursors.get(account) or AccountCursor.starting(self.spec.fetch_from)

    def running(self, now: datetime) -> bool:
        return self.leased_until is not None and self.leased_until > now
