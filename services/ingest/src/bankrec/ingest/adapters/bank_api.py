"""The bank-pull protocol over HTTP with httpx: listings, pages and statement downloads.

One ``BankApiClient`` serves one run (``async with``), so cookies and connections never pass
from one tenant's bank to another's. Every option is written out below with its reason.
Requests are retried with exponential backoff on 408/425/429/5xx and on transport errors,
honouring ``Retry-After``; 401/403 and other 4xx are not retried. Bodies are read as a
stream and refused as soon as they pass their limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bankrec.ingest.bank_pull_errors import (
    BankApiFailure,
    BankApiRejected,
    BankApiResponseInvalid,
    BankApiUnauthorized,
    BankApiUnavailable,
    BankApiUnreachable,
    BankStatementTooLarge,
)
from bankrec.ingest.domain.bank_pulls import (
    AccountCursor,
    AuthKind,
    BankCredentials,
    ListedStatement,
    StatementListing,
    accounts_url,
    backoff_seconds,
    is_retryable_status,
    parse_account_page,
    parse_statement_page,
    retry_after_seconds,
    same_origin,
    shown_url,
    since_param,
    statements_url,
    url_scheme_problem,
)

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO; a pre-signed download URL carries its
# signature in the query, which must not reach the logs
logging.getLogger("httpx").setLevel(logging.WARNING)

LISTING_BYTES_MAX = 5 * 1024 * 1024  # a listing is metadata; more is a broken or hostile API
LISTING_PAGES_MAX = 200  # a `next` chain longer than this is a loop, not a listing
REDIRECTS_MAX = 3  # enough for a load balancer and a storage hop, not a redirect loop
RETRY_AFTER_MAX_SECONDS = 120.0  # a longer wait is left to the next scheduled run
CONNECT_TIMEOUT_MAX_SECONDS = 10.0
_PROBLEM_TEXT_MAX = 200
USER_AGENT = "bankrec-ingest/0.1 (statement pull)"


@dataclass(frozen=True, slots=True)
class BankApiOptions:
    """How the client behaves; built from settings in ``bootstrap``."""

    timeout_seconds: float = 30.0
    attempts: int = 4
    backoff_seconds: float = 1.0
    download_bytes_max: int = 50 * 1024 * 1024
    allow_plain_http: bool = False


class BankApiClient:
    """One run's connection to a bank or aggregator API speaking the bank-pull protocol."""

    def __init__(
        self,
        base_url: str,
        credentials: BankCredentials,
        options: BankApiOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base_url = base_url
        self._credentials = credentials
        self._options = options
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> BankApiClient:
        timeout = self._options.timeout_seconds
        self._client = httpx.AsyncClient(
            # the statement must come from the bank: never skip certificate checks
            verify=True,
            # per network step (connect, each read, ...), so a slow large download still
            # finishes while a stalled one fails
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_MAX_SECONDS)),
            # download URLs are often redirects to storage; httpx drops Authorization when a
            # redirect leaves the origin
            follow_redirects=True,
            max_redirects=REDIRECTS_MAX,
            headers={"user-agent": USER_AGENT},
            # proxies and CA bundles from the environment, as corporate networks need; no
            # other state (cookies live only as long as this run's client)
            trust_env=True,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the protocol

    async def list_accounts(self) -> list[str]:
        """Every account id from ``GET {base}/accounts`` (following ``next`` pages)."""
        url: str | None = accounts_url(self._base_url)
        found: list[str] = []
        for _ in range(LISTING_PAGES_MAX):
            if url is None:
                return found
            answer = await self._get(
                url,
                headers={"accept": "application/json"},
                limit=LISTING_BYTES_MAX,
                too_large=_listing_too_large(url),
            )
            page = parse_account_page(_json(answer, url), page_url=str(answer.url))
            found.extend(account for account in page.accounts if account not in found)
            url = page.next_url
        raise BankApiResponseInvalid(
            f"the account listing has more than {LISTING_PAGES_MAX} pages; is 'next' a loop?"
        )

    async def list_statements(self, account: str, cursor: AccountCursor) -> StatementListing | None:
        """The statements listed since the cursor, or None when the listing did not change
        (``304 Not Modified``)."""
        first = statements_url(self._base_url, account)
        url: str | None = first
        statements: list[ListedStatement] = []
        etag = last_modified = None
        for page_number in range(LISTING_PAGES_MAX):
            if url is None:
                return StatementListing(statements, etag, last_modified)
            headers = {"accept": "application/json"}
            if page_number == 0:
                headers |= cursor.conditional_headers()
            answer = await self._get(
                url,
                params=since_param(cursor.since) if page_number == 0 else None,
                headers=headers,
                limit=LISTING_BYTES_MAX,
                too_large=_listing_too_large(url),
                not_modified_ok=page_number == 0,
            )
            if answer.status_code == 304:
                return None
            if page_number == 0:
                etag = answer.headers.get("etag")
                last_modified = answer.headers.get("last-modified")
            page = parse_statement_page(_json(answer, url), page_url=str(answer.url))
            statements.extend(page.items)
            url = page.next_url
        raise BankApiResponseInvalid(
            f"the statement listing of account {account!r} has more than {LISTING_PAGES_MAX} "
            "pages; is 'next' a loop?"
        )

    async def download(self, statement: ListedStatement) -> bytes:
        """The statement file, refused (``BankStatementTooLarge``) past ``download_bytes_max``."""
        limit = self._options.download_bytes_max
        if statement.size_bytes is not None and statement.size_bytes > limit:
            raise _too_large(statement, statement.size_bytes, limit)
        answer = await self._get(
            statement.download_url,
            headers={"accept": "*/*"},
            limit=limit,
            too_large=lambda size: _too_large(statement, size, limit),
            # a pre-signed URL elsewhere (object storage) must not see the bank credentials
            authenticated=same_origin(statement.download_url, self._base_url),
        )
        return answer.content

    # -- HTTP

    async def _get(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        limit: int,
        too_large: Callable[[int | None], BankApiFailure],
        params: Mapping[str, str] | None = None,
        authenticated: bool = True,
        not_modified_ok: bool = False,
    ) -> _Answer:
        """GET with retries; the answer's body read up to ``limit`` bytes (``too_large``
        makes the error for a larger one)."""
        problem = url_scheme_problem(
            urlsplit(url).scheme, allow_plain_http=self._options.allow_plain_http
        )
        if problem:
            raise BankApiRejected(f"will not fetch {shown_url(url)}: {problem}")
        attempts = max(1, self._options.attempts)
        for attempt in range(1, attempts + 1):
            try:
                answer = await self._get_once(url, headers, params, limit, authenticated)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == attempts or _certificate_refused(exc):
                    raise _unreachable(url, exc, attempt) from None
                delay = self._backoff(attempt)
                log.info("bank API %s: %s; retrying in %.1f s", shown_url(url), _reason(exc), delay)
                await self._sleep(delay)
                continue
            except _BodyTooLargeError as refused:
                raise too_large(refused.size_bytes) from None
            except httpx.InvalidURL as exc:
                raise BankApiResponseInvalid(
                    f"{shown_url(url)} is not a usable URL: {exc}"
                ) from None
            except httpx.TooManyRedirects:
                raise BankApiUnreachable(
                    f"GET {shown_url(url)} was redirected more than {REDIRECTS_MAX} times"
                ) from None
            except httpx.HTTPError as exc:
                raise _unreachable(url, exc, attempt) from None
            status = answer.status_code
            if 200 <= status < 300 or (status == 304 and not_modified_ok):
                return answer
            said = _problem_text(answer, self._credentials.secret)
            if status in (401, 403):
                raise BankApiUnauthorized(
                    f"the bank API refused the credentials (HTTP {status} on GET "
                    f"{shown_url(url)}{said}); renew the token or password with PUT on the "
                    "bank pull"
                )
            if not is_retryable_status(status):
                raise BankApiRejected(f"GET {shown_url(url)} answered HTTP {status}{said}")
            wait = retry_after_seconds(answer.headers.get("retry-after"), now=datetime.now(UTC))
            if wait is not None and wait > RETRY_AFTER_MAX_SECONDS:
                raise BankApiUnavailable(
                    f"GET {shown_url(url)} answered HTTP {status} and asks to wait {wait:.0f} s "
                    "(Retry-After); the next scheduled run tries again"
                )
            if attempt == attempts:
                raise BankApiUnavailable(
                    f"GET {shown_url(url)} answered HTTP {status} on all {attempts} attempts; "
                    "the next scheduled run tries again"
                )
            delay = self._backoff(attempt) if wait is None else wait
            log.info("bank API %s: HTTP %d; retrying in %.1f s", shown_url(url), status, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _get_once(
        self,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        limit: int,
        authenticated: bool,
    ) -> _Answer:
        assert self._client is not None, "use the client in 'async with'"
        request_headers = dict(headers)
        auth: httpx.Auth | None = None
        if authenticated:
            if self._credentials.kind is AuthKind.BEARER:
                request_headers["authorization"] = f"Bearer {self._credentials.secret}"
            else:
                auth = httpx.BasicAuth(self._credentials.username or "", self._credentials.secret)
        async with self._client.stream(
            "GET", url, params=params, headers=request_headers, auth=auth
        ) as response:
            if not 200 <= response.status_code < 300:
                # only a short problem text is kept from an error answer
                body = await _read_limited(response, _PROBLEM_TEXT_MAX * 4, truncate=True)
            else:
                body = await _read_limited(response, limit, truncate=False)
            return _Answer(response.status_code, response.headers, response.url, body)

    def _backoff(self, attempt: int) -> float:
        # jitter keeps many tenants' pulls from retrying in step against one bank
        return backoff_seconds(
            attempt, base_seconds=self._options.backoff_seconds
        ) * random.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class _Answer:
    status_code: int
    headers: httpx.Headers
    url: httpx.URL
    content: bytes


class _BodyTooLargeError(Exception):
    def __init__(self, size_bytes: int | None) -> None:
        super().__init__(size_bytes)
        self.size_bytes = size_bytes


async def _read_limited(response: httpx.Response, limit: int, *, truncate: bool) -> bytes:
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLargeError(int(declared))
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise _BodyTooLargeError(None)
    return bytes(body)


def _json(answer: _Answer, url: str) -> Any:
    try:
        return json.loads(answer.content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BankApiResponseInvalid(
            f"GET {shown_url(url)} did not answer JSON ({exc}); is the base URL the bank "
            "API's (the one under which /accounts/{account}/statements lives)?"
        ) from None


def _problem_text(answer: _Answer, secret: str) -> str:
    """The start of an error answer, for the message; a bank that echoes the presented
    token or password gets it masked."""
    text = answer.content.decode("utf-8", "replace")
    if secret:  # before cutting, so no part of it survives at the cut either
        text = text.replace(secret, "****")
    text = " ".join(text.split())[:_PROBLEM_TEXT_MAX]
    return f"; the bank said: {text}" if text else ""


def _too_large(statement: ListedStatement, size_bytes: int | None, limit: int) -> BankApiFailure:
    size = "more than" if size_bytes is None else f"{size_bytes:,} bytes, more than"
    return BankStatementTooLarge(
        f"statement {statement.statement_id!r} is {size} the limit of {limit:,} bytes and was "
        "not fetched; raise BANKREC_INGEST_UPLOAD_BYTES_MAX or ask the bank for smaller files "
        "(the pull retries it on its next run)"
    )


def _listing_too_large(url: str) -> Callable[[int | None], BankApiFailure]:
    def refuse(_size_bytes: int | None) -> BankApiFailure:
        return BankApiResponseInvalid(
            f"the listing at {shown_url(url)} is larger than {LISTING_BYTES_MAX:,} bytes; "
            "a listing holds links to statements, not the statements"
        )

    return refuse


def _certificate_refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _unreachable(url: str, exc: BaseException, attempts: int) -> BankApiFailure:
    if _certificate_refused(exc):
        return BankApiUnreachable(
            f"the TLS certificate of {shown_url(url)} did not verify ({_reason(exc)}); "
            "a bank API must present a valid certificate"
        )
    tried = "once" if attempts == 1 else f"{attempts} times"
    return BankApiUnreachable(
        f"GET {shown_url(url)} failed ({type(exc).__name__}: {_reason(exc)}), tried {tried}; "
        "check the base URL and that the bank API is up"
    )
