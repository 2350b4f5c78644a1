"""Tenant API keys as every service sees them (decision 0004).

Ingest issues a key (``brk_<key id>_<secret>``) and publishes its record on a compacted topic
keyed by key id; every other service reads the topic from the beginning and verifies a
presented key locally. Only the SHA-256 of the secret travels: the secret is 256 random bits,
so its hash reveals nothing useful.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class ApiKeyRecord(BaseModel):
    """A key's current state: issued, or revoked (for good: a revoked key never returns)."""

    MESSAGE_TYPE: ClassVar[str] = "api_key.changed"

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")
    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    key_hash: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the key's secret part"
    )
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = Field(
        default=None, description="Set once the key is revoked; it is then refused everywhere"
    )
