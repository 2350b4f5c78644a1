"""Tenant keys (decision 0004): the key format and hash check, the ring of records (newest
wins, a revocation is final), the HTTP guard's answers (401/403/503 and their headers), and
the reader of the credentials topic under FastStream's TestKafkaBroker."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Path
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from bankrec.contracts import CREDENTIALS, DEAD_LETTERS, ApiKeyRecord, DeadLetter, envelope_for
from bankrec.runtime import (
    JSON_HEADERS,
    TenantKeyReader,
    TenantKeyRefused,
    TenantKeyRing,
    create_broker,
    decode_payload,
    encode_envelope,
    include_tenant_routes,
)
from bankrec.runtime.tenant_keys import (
    ApiKeyMalformed,
    ApiKeyMissing,
    ApiKeyOfAnotherTenant,
    ApiKeyRevoked,
    ApiKeyUnknown,
    IssuedApiKey,
    TenantKeysLoading,
    api_key_matches,
    hash_secret,
    issue_api_key,
    parse_api_key,
    presented_api_key,
)

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def record_of(issued: IssuedApiKey, tenant_id: str, *, revoked: bool = False) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=issued.key_id,
        tenant_id=tenant_id,
        key_hash=issued.key_hash,
        created_at=CREATED,
        revoked_at=CREATED + timedelta(days=1) if revoked else None,
    )


# -- format and hash


def test_an_issued_key_parses_back_and_only_its_secret_hashes_to_the_stored_hash() -> None:
    issued = issue_api_key()
    key = parse_api_key(issued.plain)
    assert issued.plain == f"brk_{key.key_id}_{key.secret}"
    assert key.key_id == issued.key_id
    assert (
        issued.key_hash
        == hashlib.sha256(key.secret.encode()).hexdigest()
        == hash_secret(key.secret)
    )
    assert api_key_matches(key.secret, issued.key_hash)
    assert not api_key_matches(key.secret + "x", issued.key_hash)
    assert len(issued.key_hash) == 64


@pytest.mark.parametrize("plain", ["", "garbage", "brk_", "brk_id", "brk__secret", "xyz_id_secret"])
def test_a_malformed_key_is_refused_saying_how_a_key_reads(plain: str) -> None:
    with pytest.raises(ApiKeyMalformed, match=r"brk_<key id>_<secret>"):
        parse_api_key(plain)


def test_bearer_wins_over_the_key_header_and_blank_values_count_as_none() -> None:
    assert presented_api_key("Bearer brk_a_b", "brk_c_d") == "brk_a_b"
    assert presented_api_key("bearer  brk_a_b ", None) == "brk_a_b"
    assert presented_api_key("Basic dXNlcg==", "brk_c_d") == "brk_c_d"
    assert presented_api_key(None, "  ") is None
    assert presented_api_key("Bearer ", None) is None


# -- the ring


def test_a_valid_key_of_the_tenant_passes() -> None:
    issued = issue_api_key()
    TenantKeyRing([record_of(issued, "t1")]).verify(issued.plain, "t1")


def test_every_refusal_has_its_status_and_never_names_the_keys_tenant() -> None:
    good, revoked = issue_api_key(), issue_api_key()
    ring = TenantKeyRing([record_of(good, "t1"), record_of(revoked, "t1", revoked=True)])
    cases: list[tuple[str | None, type[TenantKeyRefused], int]] = [
        (None, ApiKeyMissing, 401),
        ("not-a-key", ApiKeyMalformed, 401),
        (issue_api_key().plain, ApiKeyUnknown, 401),
        (f"brk_{good.key_id}_wrong-secret", ApiKeyUnknown, 401),
        (revoked.plain, ApiKeyRevoked, 401),
    ]
    for presented, refusal, status in cases:
        with pytest.raises(refusal) as caught:
            ring.verify(presented, "t1")
        assert caught.value.status == status
    with pytest.raises(ApiKeyOfAnotherTenant) as other:
        ring.verify(good.plain, "t2")
    assert other.value.status == 403
    assert other.value.message == "this key is not valid for tenant 't2'"
    assert "t1" not in other.value.message


def test_a_wrong_secret_of_a_revoked_or_foreign_key_tells_nothing_about_it() -> None:
    revoked = issue_api_key()
    ring = TenantKeyRing([record_of(revoked, "t1", revoked=True)])
    with pytest.raises(ApiKeyUnknown):
        ring.verify(f"brk_{revoked.key_id}_guessed", "t2")


def test_the_newest_record_wins_but_a_revocation_is_final() -> None:
    issued = issue_api_key()
    ring = TenantKeyRing()
    assert ring.record(record_of(issued, "t1"))
    assert not ring.record(record_of(issued, "t1"))  # the same record again changes nothing
    assert ring.record(record_of(issued, "t1", revoked=True))
    # ingest's start-up republication of an older "issued" record arrives late
    assert not ring.record(record_of(issued, "t1"))
    with pytest.raises(ApiKeyRevoked):
        ring.verify(issued.plain, "t1")


def test_an_unknown_key_gets_503_until_the_topic_is_read_then_401() -> None:
    known, later = issue_api_key(), issue_api_key()
    ring = TenantKeyRing([record_of(known, "t1")])
    ring.catch_up.expect({0: 3})
    ring.verify(known.plain, "t1")  # what is already read is honoured while reading
    with pytest.raises(TenantKeysLoading) as loading:
        ring.verify(later.plain, "t1")
    assert loading.value.status == 503
    assert loading.value.headers() == {"Retry-After": "2"}
    ring.catch_up.read(0, 2)
    with pytest.raises(ApiKeyUnknown):
        ring.verify(later.plain, "t1")
    ring.record(record_of(later, "t1"))
    ring.verify(later.plain, "t1")


# -- the HTTP guard

TenantId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@dataclass
class Guarded:
    http: httpx.AsyncClient
    ring: TenantKeyRing
    key: IssuedApiKey


@pytest.fixture
async def guarded() -> AsyncIterator[Guarded]:
    key = issue_api_key()
    ring = TenantKeyRing([record_of(key, "t1")])
    router = APIRouter()

    @router.post("/v1/tenants/{tenant_id}/things")
    async def things(tenant_id: TenantId, body: dict[str, int]) -> dict[str, str]:
        return {"tenant_id": tenant_id}

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    include_tenant_routes(app, router, ring)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://guarded") as http:
        yield Guarded(http, ring, key)


async def test_the_guard_takes_bearer_and_the_key_header(guarded: Guarded) -> None:
    for headers in (
        {"authorization": f"Bearer {guarded.key.plain}"},
        {"x-api-key": guarded.key.plain},
    ):
        response = await guarded.http.post("/v1/tenants/t1/things", json={}, headers=headers)
        assert (response.status_code, response.json()) == (200, {"tenant_id": "t1"})
    assert (await guarded.http.get("/health")).status_code == 200


async def test_the_guard_answers_in_the_error_shape_with_the_status_headers(
    guarded: Guarded,
) -> None:
    missing = await guarded.http.post("/v1/tenants/t1/things", json={"n": "not a number"})
    assert missing.status_code == 401  # refused before the body is even looked at
    assert missing.json()["error"]["code"] == "api_key_missing"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    assert missing.headers["www-authenticate"].startswith("Bearer")

    auth = {"authorization": f"Bearer {guarded.key.plain}"}
    other = await guarded.http.post("/v1/tenants/t2/things", json={}, headers=auth)
    assert other.status_code == 403
    assert other.json()["error"] == {
        "code": "api_key_wrong_tenant",
        "message": "this key is not valid for tenant 't2'",
    }

    guarded.ring.catch_up.expect({0: 1})
    loading = await guarded.http.post(
        "/v1/tenants/t1/things", json={}, headers={"x-api-key": issue_api_key().plain}
    )
    assert loading.status_code == 503
    assert loading.headers["retry-after"] == "2"


async def test_a_bad_tenant_id_is_still_a_validation_error(guarded: Guarded) -> None:
    auth = {"authorization": f"Bearer {guarded.key.plain}"}
    response = await guarded.http.post("/v1/tenants/not a tenant!/things", json={}, headers=auth)
    assert response.status_code == 422


# -- the reader


async def test_the_reader_fills_the_ring_and_dead_letters_what_is_not_a_key_record() -> None:
    broker = create_broker("127.0.0.1:1", client_id="test")
    ring = TenantKeyRing()
    TenantKeyReader(broker, ring, service="test", catch_up_seconds=60)
    dead_letters: list[DeadLetter] = []

    async def on_dead_letter(message: KafkaMessage) -> None:
        dead_letters.append(decode_payload(DeadLetter, message.body).payload)

    broker.subscriber(DEAD_LETTERS.name)(on_dead_letter)
    issued = issue_api_key()
    record = record_of(issued, "t1")
    spoofed = envelope_for(record_of(issue_api_key(), "t1"), tenant_id="t2", correlation_id="c")
    async with TestKafkaBroker(broker):
        for body in (
            encode_envelope(envelope_for(record, tenant_id="t1", correlation_id="c")),
            b"{not json",
            encode_envelope(spoofed),
        ):
            await broker.publish(
                body, topic=CREDENTIALS.name, key=issued.key_id.encode(), headers=JSON_HEADERS
            )
    ring.verify(issued.plain, "t1")
    assert len(ring) == 1
    assert [d.consumer for d in dead_letters] == ["bankrec-test-tenant-keys"] * 2
    assert "not the key's tenant" in dead_letters[1].reason


async def test_the_reader_gives_up_waiting_after_its_time() -> None:
    broker = create_broker("127.0.0.1:1", client_id="test")
    ring = TenantKeyRing()
    ring.catch_up.expect({0: 5})
    reader = TenantKeyReader(broker, ring, service="test", catch_up_seconds=0.05)
    async with reader.catching_up(None):
        await ring.catch_up.wait()
    assert ring.catch_up.gave_up
    with pytest.raises(ApiKeyUnknown):
        ring.verify(issue_api_key().plain, "t1")
