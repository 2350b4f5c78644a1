"""``decode_payload(..., key=...)``: a message whose Kafka key names another tenant than its
envelope (issue 9) is refused with ``tenant_key_mismatch``, so consumers dead-letter it as
they do a malformed message, instead of applying it to the envelope's tenant on the key's
partition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bankrec.contracts import STATEMENT_LINES, ApiKeyRecord, envelope_for
from bankrec.runtime import (
    TENANT_KEY_MISMATCH,
    MessageDecodeError,
    decode_payload,
    encode_envelope,
)


def key_record_body(tenant_id: str) -> bytes:
    """An enveloped message of ``tenant_id`` as it travels (JSON bytes)."""
    record = ApiKeyRecord(
        key_id="k1",
        tenant_id=tenant_id,
        key_hash="0" * 64,
        created_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        revoked_at=None,
    )
    return encode_envelope(envelope_for(record, tenant_id=tenant_id, correlation_id="c-1"))


def test_a_key_of_the_envelopes_tenant_is_accepted() -> None:
    key = STATEMENT_LINES.key_for("acme", "acc-1").encode()
    envelope = decode_payload(ApiKeyRecord, key_record_body("acme"), key=key)
    assert envelope.tenant_id == "acme"


def test_without_a_key_nothing_is_checked() -> None:
    assert decode_payload(ApiKeyRecord, key_record_body("acme")).tenant_id == "acme"


def test_a_key_of_another_tenant_is_refused_naming_both() -> None:
    key = STATEMENT_LINES.key_for("globex", "acc-1").encode()
    with pytest.raises(MessageDecodeError) as refused:
        decode_payload(ApiKeyRecord, key_record_body("acme"), key=key)
    assert refused.value.reason_code == TENANT_KEY_MISMATCH == "tenant_key_mismatch"
    assert str(refused.value) == (
        "the message key names tenant 'globex' but its envelope names tenant 'acme': "
        "refused rather than applied to either"
    )


@pytest.mark.parametrize(
    "key",
    [
        b"acc-1",
        "acc-1",
        b"acme-acc-1",
        "other:acc-1",
        b"\xff\xfe:acc-1",
        b"acm:acc-1",
        b"acmee:acc-1",
    ],
)
def test_a_key_naming_no_or_a_near_tenant_is_refused(key: bytes) -> None:
    with pytest.raises(MessageDecodeError) as refused:
        decode_payload(ApiKeyRecord, key_record_body("acme"), key=key)
    assert refused.value.reason_code == TENANT_KEY_MISMATCH
    assert "'acme'" in str(refused.value)


def test_an_undecodable_body_keeps_its_own_reason_even_with_a_key() -> None:
    with pytest.raises(MessageDecodeError) as refused:
        decode_payload(ApiKeyRecord, b"{not json", key=b"acme:acc-1")
    assert refused.value.reason_code == "undecodable_message"
    assert MessageDecodeError("x").reason_code == "undecodable_message"


@pytest.mark.parametrize("key", [None, b"", ""])
def test_no_key_is_not_checked(key: bytes | str | None) -> None:
    """A producer that set no key (FastStream's test broker passes ``""``) leaves nothing to
    compare; every bankrec producer sets one."""
    assert decode_payload(ApiKeyRecord, key_record_body("acme"), key=key).tenant_id == "acme"
