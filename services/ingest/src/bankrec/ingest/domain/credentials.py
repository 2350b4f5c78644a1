"""Tenant credentials ingest keeps: signed webhooks (HMAC-SHA256).

API keys (``brk_<key id>_<secret>``, stored as the SHA-256 of the secret) are issued by ingest
(``StatementIngest.create_api_key``), but their format, issue and check live in
``bankrec.runtime.tenant_keys``, written once for every service that verifies them
(decision 0004); ``domain.messages.api_key_message`` is the record ingest publishes.

A bank webhook signs ``<timestamp>.<body>`` with the tenant's webhook secret and sends
``X-Bankrec-Timestamp: <unix seconds>`` and ``X-Bankrec-Signature: sha256=<hex>``. A
signature older or newer than the replay window is refused even when it is correct, so a
captured request cannot be replayed later; within the window a replay is harmless anyway
(the same file publishes nothing twice).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from bankrec.ingest.errors import WebhookSignatureRefused

SIGNATURE_SCHEME = "sha256="
REPLAY_WINDOW_SECONDS_DEFAULT = 300


def issue_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Bankrec-Signature`` value for a body sent at ``timestamp``."""
    signer = webhook_signer(secret, timestamp)
    signer.update(body)
    return signed(signer)


def webhook_signer(secret: str, timestamp: str) -> hmac.HMAC:
    """An HMAC to feed a body as it arrives (``update``), then read with ``signed``:
    a body of any size is signed without being held."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii", "replace") + b".", "sha256")


def signed(signer: hmac.HMAC) -> str:
    return SIGNATURE_SCHEME + signer.hexdigest()


def verify_webhook(
    *,
    secret: str | None,
    timestamp: str | None,
    signature: str | None,
    signed_body: str | None,
    now: datetime,
    window_seconds: int = REPLAY_WINDOW_SECONDS_DEFAULT,
) -> None:
    """Raise ``WebhookSignatureRefused`` (with the reason) unless the request is signed.

    ``signed_body`` is the body's signature with the tenant's secret and the request's
    timestamp (``webhook_signer``), computed while the body was received; None when either
    was missing."""
    if secret is None:
        raise WebhookSignatureRefused(
            "no_secret", "the tenant has no webhook secret; create one before sending webhooks"
        )
    if not timestamp or not signature:
        raise WebhookSignatureRefused(
            "missing_signature",
            "the request lacks X-Bankrec-Timestamp or X-Bankrec-Signature",
        )
    if not timestamp.isdigit():
        raise WebhookSignatureRefused(
            "bad_timestamp", "X-Bankrec-Timestamp must be whole seconds since 1970 (UTC)"
        )
    age = now.timestamp() - int(timestamp)
    if abs(age) > window_seconds:
        raise WebhookSignatureRefused(
            "timestamp_out_of_window",
            f"the request was signed {int(abs(age))} s {'ago' if age > 0 else 'ahead'}, "
            f"outside the {window_seconds} s window; sign each delivery when it is sent",
        )
    if signed_body is None:  # pragma: no cover - the secret and timestamp were there
        raise AssertionError("a webhook body with a secret and timestamp was not signed")
    expected = signed_body
    presented = signature.strip()
    if not hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii", "replace")):
        raise WebhookSignatureRefused(
            "bad_signature",
            "the signature does not match the body; sign '<timestamp>.<body>' with HMAC-SHA256 "
            "and the tenant's webhook secret, as 'sha256=<hex>'",
        )
