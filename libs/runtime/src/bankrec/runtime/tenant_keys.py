"""Tenant API keys, verified by every service from the credentials topic (decision 0004).

A key reads ``brk_<key id>_<secret>``: the key id finds the key's record, the secret is
compared as a SHA-256 hash in constant time. The secret is 32 random bytes, so a fast hash is
enough (there is nothing to brute-force). Ingest issues keys and publishes each key's record
(``ApiKeyRecord``) on the compacted ``bankrec.ingest.credentials.v1``; the other services
read that topic from the beginning at every start (``TenantKeyReader``) into a
``TenantKeyRing`` and guard every ``/v1/tenants/{tenant_id}/...`` route with it
(``include_tenant_routes``):

- no key, a malformed, unknown or revoked key: 401 (``WWW-Authenticate: Bearer``);
- a valid key of another tenant: 403, naming only the tenant of the path;
- a key the service has not read yet while it is still reading the topic: 503 with
  ``Retry-After``, so a client retries instead of giving up on a good key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, ClassVar

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Depends, FastAPI, Path, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bankrec.contracts import CREDENTIALS, ApiKeyRecord
from bankrec.runtime.catch_up import TopicCatchUp
from bankrec.runtime.kafka import (
    MessageDecodeError,
    decode_payload,
    readable_end_offsets,
    whole_topic_reader_options,
)
from bankrec.runtime.messaging import publish_dead_letter

log = logging.getLogger(__name__)

API_KEY_PREFIX = "brk"
API_KEY_HEADER = "X-API-Key"
RETRY_AFTER_SECONDS = 2  # a service reads the whole topic in about that long after a start
TENANT_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


# -- the key format and its check (pure)


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A new key: ``plain`` is given to the tenant once; only ``key_hash`` is stored."""

    key_id: str
    plain: str
    key_hash: str


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A key as a client sent it, split into the id that finds it and the secret to check."""

    key_id: str
    secret: str


def issue_api_key() -> IssuedApiKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedApiKey(key_id, f"{API_KEY_PREFIX}_{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of a key's secret part: what is stored and published, never the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_api_key(plain: str) -> PresentedKey:
    """The key id and secret of a presented key; ``ApiKeyMalformed`` when it is not one."""
    prefix, _, rest = plain.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != API_KEY_PREFIX or not key_id or not secret:
        raise ApiKeyMalformed("the API key is malformed; it reads brk_<key id>_<secret>")
    return PresentedKey(key_id, secret)


def api_key_matches(secret: str, stored_hash: str) -> bool:
    """Whether the secret hashes to the stored hash, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def presented_api_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key of a request: ``Authorization: Bearer <key>``, else ``X-API-Key: <key>``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return x_api_key.strip() if x_api_key and x_api_key.strip() else None


# -- refusals: one class per reason, each with its HTTP status


class TenantKeyRefused(Exception):  # noqa: N818 - a refusal, answered to the client as such
    """A request refused for its API key; ``code`` is stable, ``message`` says what to do."""

    status: ClassVar[int] = 401
    code: ClassVar[str] = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="bankrec"'}


class ApiKeyMissing(TenantKeyRefused):
    code = "api_key_missing"


class ApiKeyMalformed(TenantKeyRefused):
    code = "api_key_malformed"


class ApiKeyUnknown(TenantKeyRefused):
    """No such key id, or the secret does not match (not told apart, on purpose)."""

    code = "api_key_unknown"


class ApiKeyRevoked(TenantKeyRefused):
    code = "api_key_revoked"


class ApiKeyOfAnotherTenant(TenantKeyRefused):
    """A valid key used on another tenant's path; the message never names the key's tenant."""

    status = 403
    code = "api_key_wrong_tenant"

    def headers(self) -> dict[str, str]:
        return {}


class TenantKeysLoading(TenantKeyRefused):
    """An unknown key while the service is still reading the credentials topic."""

    status = 503
    code = "tenant_keys_loading"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


# -- the book of key records


class TenantKeyRing:
    """Every tenant key's latest record, in memory, and the check of a presented key.

    Records replace earlier ones of the same key id in the order they are read, except that a
    revocation is final: an older "issued" record read after it (ingest republishes its keys
    at every start, and two of its writes may reach the topic out of order) cannot bring a
    revoked key back. ``catch_up`` says whether the credentials topic has been read up to
    where it ended at start-up; a ring filled by hand (tests) counts as read.
    """

    def __init__(
        self, records: Iterable[ApiKeyRecord] = (), *, catch_up: TopicCatchUp | None = None
    ) -> None:
        self._records: dict[str, ApiKeyRecord] = {}
        self.catch_up = catch_up or TopicCatchUp()
        for record in records:
            self.record(record)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, record: ApiKeyRecord) -> bool:
        """Take a key's record; False when it changes nothing (a revoked key stays revoked)."""
        held = self._records.get(record.key_id)
        if held is not None and (held.revoked_at is not None or held == record):
            return False
        self._records[record.key_id] = record
        if record.revoked_at is not None:
            log.info("API key %s revoked", record.key_id, extra={"tenant_id": record.tenant_id})
        return True

    def verify(self, presented: str | None, tenant_id: str) -> None:
        """Return when ``presented`` is a valid key of ``tenant_id``; raise why not otherwise.

        The secret is checked before anything else is told about the key, so a guessed key id
        learns nothing (not whether it exists, is revoked or belongs elsewhere)."""
        if not presented:
            raise ApiKeyMissing(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'"
            )
        key = parse_api_key(presented)
        held = self._records.get(key.key_id)
        if held is None and not self.catch_up.ready:
            raise TenantKeysLoading(
                "this service is still reading the tenant keys after a start and does not "
                f"know this key yet; retry in {RETRY_AFTER_SECONDS} seconds"
            )
        if held is None or not api_key_matches(key.secret, held.key_hash):
            raise ApiKeyUnknown(
                "the API key is unknown; use a key issued by ingest's admin API (a key issued "
                "a moment ago reaches every service within a second or two)"
            )
        if held.revoked_at is not None:
            raise ApiKeyRevoked("the API key was revoked; ask for a new one")
        if held.tenant_id != tenant_id:
            raise ApiKeyOfAnotherTenant(f"this key is not valid for tenant {tenant_id!r}")


# -- the HTTP guard

_BEARER = HTTPBearer(
    auto_error=False,  # a missing key gets our own 401 with the error shape, not FastAPI's
    scheme_name="TenantApiKey",
    description="The tenant's API key (brk_<key id>_<secret>), issued by ingest's admin API",
)
_X_API_KEY = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="TenantApiKeyHeader",
    description="The same key in a header of its own, for clients that cannot set Bearer",
)

TenantGuard = Callable[..., Awaitable[str]]


def tenant_key_guard(keys: TenantKeyRing) -> TenantGuard:
    """A FastAPI dependency: the request carries a valid key of the tenant in its path.

    It declares ``tenant_id`` as a path parameter, so on a route without one it fails
    (422) instead of letting the request through."""

    async def require_tenant_key(
        tenant_id: Annotated[str, Path(min_length=1, max_length=64, pattern=TENANT_ID_PATTERN)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
        header_key: Annotated[str | None, Security(_X_API_KEY)],
    ) -> str:
        keys.verify(bearer.credentials if bearer is not None else header_key, tenant_id)
        return tenant_id

    return require_tenant_key


async def tenant_key_refused(_request: Request, exc: Exception) -> JSONResponse:
    """The error shape every bankrec service answers with, plus the status's headers."""
    assert isinstance(exc, TenantKeyRefused)
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}},
        status_code=exc.status,
        headers=exc.headers(),
    )


def include_tenant_routes(app: FastAPI, router: APIRouter, keys: TenantKeyRing) -> None:
    """Mount a router whose every route is under ``/v1/tenants/{tenant_id}``, each guarded
    by ``tenant_key_guard``, and the refusals' error mapping."""
    app.include_router(router, dependencies=[Depends(tenant_key_guard(keys))])
    app.add_exception_handler(TenantKeyRefused, tenant_key_refused)


# -- the reader of the credentials topic


class TenantKeyReader:
    """Keeps a ``TenantKeyRing`` current from the credentials topic.

    Every instance reads the whole compacted topic at every start, with no consumer group
    (``whole_topic_reader_options``), as the matcher reads open items. ``catching_up`` wraps
    the broker's start: it reads where the topic ends before consuming starts (so the target
    is what the topic held at start-up) and opens the gate after ``catch_up_seconds`` even
    when some records were never read (then unknown keys get 401 instead of 503 for ever).
    """

    def __init__(
        self,
        broker: KafkaBroker,
        keys: TenantKeyRing,
        *,
        service: str,
        catch_up_seconds: float,
    ) -> None:
        self._broker = broker
        self._keys = keys
        self._service = service
        self._catch_up_seconds = catch_up_seconds
        self.reader = f"bankrec-{service}-tenant-keys"  # how dead letters name the reader
        broker.subscriber(CREDENTIALS.name, **whole_topic_reader_options(self.reader))(
            self._on_api_key
        )

    async def _on_api_key(self, message: KafkaMessage) -> None:
        """A key's latest record updates the ring; an undecodable one is dead-lettered."""
        record = message.raw_message if isinstance(message.raw_message, ConsumerRecord) else None
        try:
            envelope = decode_payload(ApiKeyRecord, message.body)
            if envelope.tenant_id != envelope.payload.tenant_id:
                raise MessageDecodeError(
                    f"the envelope's tenant {envelope.tenant_id!r} is not the key's tenant "
                    f"{envelope.payload.tenant_id!r}"
                )
            self._keys.record(envelope.payload)
        except MessageDecodeError as exc:
            await publish_dead_letter(
                self._broker,
                consumer=self.reader,
                source_topic=CREDENTIALS.name,
                reason_code=exc.reason_code,
                reason=str(exc),
                raw_value=message.body,
                raw_key=record.key
                if record is not None and isinstance(record.key, bytes)
                else None,
                partition=record.partition if record is not None else None,
                offset=record.offset if record is not None else None,
            )
        finally:  # read is read: a record that failed must not hold back the start-up gate
            if record is not None:
                self._keys.catch_up.read(record.partition, record.offset)

    @contextlib.asynccontextmanager
    async def catching_up(self, bootstrap_servers: str | None) -> AsyncIterator[None]:
        """Around the broker's start and run: expect the topic's end (``bootstrap_servers``
        None: no admin client, e.g. under ``TestKafkaBroker``; the ring is then read at
        once) and give up waiting after ``catch_up_seconds``."""
        catch_up = self._keys.catch_up
        if bootstrap_servers is not None:
            catch_up.expect(
                await readable_end_offsets(
                    bootstrap_servers, CREDENTIALS, client_id=f"bankrec-{self._service}"
                )
            )
        watchdog = asyncio.create_task(
            self._give_up_waiting(), name=f"{self._service}-tenant-keys-catch-up"
        )
        try:
            yield
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    async def _give_up_waiting(self) -> None:
        catch_up = self._keys.catch_up
        try:
            await asyncio.wait_for(catch_up.wait(), timeout=self._catch_up_seconds)
        except TimeoutError:
            log.warning(
                "tenant keys not read to the topic's end after %.0fs (still to read: %s); "
                "unknown keys now get 401 instead of 503",
                self._catch_up_seconds,
                catch_up.pending,
            )
            catch_up.give_up()
            return
        log.info("tenant keys read: %d key(s) known", len(self._keys))
