"""The tenant API keys the ledger suite's apps accept (``auth_headers``) (tests only).

Values of the books are built by the ``make`` fixture (``conftest.Make``)."""

from __future__ import annotations

from datetime import UTC, datetime

from bankrec.contracts import ApiKeyRecord
from bankrec.runtime import TenantKeyRing
from bankrec.runtime.tenant_keys import issue_api_key

TENANT_KEYS = TenantKeyRing()
"""The keys every app of this suite is given (``create_app(..., tenant_keys=TENANT_KEYS)``)."""
_API_KEYS: dict[str, str] = {}


def api_key_record(tenant_id: str, *, revoked: bool = False) -> tuple[str, ApiKeyRecord]:
    """A new key of the tenant (plain) and its record, as ingest would publish it."""
    issued = issue_api_key()
    now = datetime.now(UTC)
    return issued.plain, ApiKeyRecord(
        key_id=issued.key_id,
        tenant_id=tenant_id,
        key_hash=issued.key_hash,
        created_at=now,
        revoked_at=now if revoked else None,
    )


def auth_headers(tenant_id: str) -> dict[str, str]:
    """The tenant's API key as a request header; the key is known to ``TENANT_KEYS``."""
    if tenant_id not in _API_KEYS:
        plain, record = api_key_record(tenant_id)
        TENANT_KEYS.record(record)
        _API_KEYS[tenant_id] = plain
    return {"authorization": f"Bearer {_API_KEYS[tenant_id]}"}
