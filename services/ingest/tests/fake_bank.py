"""A bank API speaking the bank-pull protocol, served for real by uvicorn on a free port.

``FakeBank`` holds accounts and their statement files, answers listings (``since``
inclusive, ``ETag``/``If-None-Match``, optional pages) and downloads, checks the bearer token,
and can be told to fail the next requests to a path (503 with ``Retry-After``, 401, 404...).
Every request it sees is kept in ``requests``, so tests can tell what the puller asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bankrec.devstack import free_port

BANK_TOKEN = "bank-token-0123456789abcdef"


def at(day: int, hour: int = 23, minute: int = 15) -> datetime:
    """A statement's creation time in November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class ServedStatement:
    statement_id: str
    created_at: datetime
    content: bytes
    filename: str | None = None
    declare_size: bool = False  # list size_bytes
    chunked: bool = False  # send without Content-Length, in pieces


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    host: str
    authorization: str | None
    if_none_match: str | None


@dataclass
class _Failure:
    path_part: str
    status: int
    headers: dict[str, str]
    times: int


@dataclass
class FakeBank:
    token: str = BANK_TOKEN
    accounts: dict[str, list[ServedStatement]] = field(default_factory=dict)
    page_size: int | None = None
    download_host: str | None = None  # e.g. "localhost": downloads on another origin
    requests: list[SeenRequest] = field(default_factory=list)
    download_gate: threading.Event | None = None  # a download waits until it is set
    _failures: list[_Failure] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, account: str, *statements: ServedStatement) -> None:
        with self._lock:
            self.accounts.setdefault(account, []).extend(statements)

    def fail_next(
        self, path_part: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_part`` with
        ``status``."""
        with self._lock:
            self._failures.append(_Failure(path_part, status, headers or {}, times))

    def seen(self, path_part: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    def downloads(self) -> list[str]:
        return [r.path.rsplit("/", 1)[-1] for r in self.seen("/files/")]

    # -- the app

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/accounts", self._accounts),
                Route("/api/accounts/{account}/statements", self._statements),
                Route("/files/{statement_id}", self._file),
            ]
        )

    def _seen(self, request: Request) -> Response | None:
        """Record the request; answer an injected failure or a wrong token."""
        with self._lock:
            self.requests.append(
                SeenRequest(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    host=request.url.hostname or "",
                    authorization=request.headers.get("authorization"),
                    if_none_match=request.headers.get("if-none-match"),
                )
            )
            for failure in self._failures:
                if failure.path_part in request.url.path and failure.times > 0:
                    failure.times -= 1
                    return JSONResponse(
                        {"error": f"injected {failure.status}"},
                        status_code=failure.status,
                        headers=failure.headers,
                    )
        presigned = request.query_params.get("sig") == "ok"
        if not presigned and request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return None

    async def _accounts(self, request: Request) -> Response:
        refused = self._seen(request)
        if refused is not None:
            return refused
        accounts = sorted(self.accounts)
        return self._page(request, [{"id": a, "currency": "NOK"} for a in accounts], "accounts")

    async def _statements(self, request: Request) -> Response:
        refused = self._seen(request)
        if refused is not None:
            return refused
        account = request.path_params["account"]
        if account not in self.accounts:
            return JSONResponse({"error": "unknown account"}, status_code=404)
        since_text = request.query_params.get("since")
        since = datetime.fromisoformat(since_text.replace("Z", "+00:00")) if since_text else None
        port = request.url.port
        items = []
        for statement in sorted(self.accounts[account], key=lambda s: s.created_at, reverse=True):
            if since is not None and statement.created_at < since:
                continue
            if self.download_host:
                link = f"http://{self.download_host}:{port}/files/{statement.statement_id}?sig=ok"
            else:
                link = f"/files/{statement.statement_id}"
            item: dict[str, object] = {
                "id": statement.statement_id,
                "created_at": statement.created_at.isoformat(),
                "format": "camt.053",
                "download_url": link,
                "bank_specific": {"ignored": True},
            }
            if statement.filename:
                item["filename"] = statement.filename
            if statement.declare_size:
                item["size_bytes"] = len(statement.content)
            items.append(item)
        return self._page(request, items, "statements")

    def _page(self, request: Request, items: list[dict[str, object]], key: str) -> Response:
        if self.page_size is None:
            body = json.dumps(items).encode()
        else:
            page = int(request.query_params.get("page", "0"))
            chunk = items[page * self.page_size : (page + 1) * self.page_size]
            more = (page + 1) * self.page_size < len(items)
            # the next link keeps the query it needs itself, as aggregators' links do
            since = request.query_params.get("since")
            link = f"{request.url.path}?page={page + 1}" + (f"&since={since}" if since else "")
            body = json.dumps({key: chunk, "next": link if more else None}).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(body, media_type="application/json", headers={"etag": etag})

    async def _file(self, request: Request) -> Response:
        refused = self._seen(request)
        if refused is not None:
            return refused
        if self.download_gate is not None:
            # set from the test's thread; wait in a worker so the server keeps answering
            await asyncio.to_thread(self.download_gate.wait, 30)
        wanted = request.path_params["statement_id"]
        for statements in self.accounts.values():
            for statement in statements:
                if statement.statement_id == wanted:
                    return _file_response(statement)
        return JSONResponse({"error": "no such file"}, status_code=404)


def _file_response(statement: ServedStatement) -> Response:
    if not statement.chunked:
        return Response(statement.content, media_type="application/xml")

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(statement.content), 16_384):
            yield statement.content[start : start + 16_384]

    return StreamingResponse(pieces(), media_type="application/xml")


@contextlib.contextmanager
def serving(bank: FakeBank) -> Iterator[str]:
    """Serve the bank on 127.0.0.1 in a background thread; yields the API's base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            bank.app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, name="fake-bank", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the fake bank did not start on port {port}")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
