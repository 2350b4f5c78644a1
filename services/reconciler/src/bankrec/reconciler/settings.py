"""The reconciler's configuration, read from the environment (prefix ``BANKREC_RECONCILER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bankrec.runtime import ServiceSettings


class ReconcilerSettings(ServiceSettings):
    """Defaults run the local demo: SQLite under ``var/``, HTTP on port 8004."""

    model_config = SettingsConfigDict(
        env_prefix="BANKREC_RECONCILER_", env_file=".env", extra="ignore"
    )

    http_port: int = 8004
    database_url: str = "sqlite:///var/reconciler.sqlite"
    tenant_keys_catch_up_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait at start-up for the tenant keys to be read from the credentials "
        "topic; until then an unknown key gets 503 (retry), after it 401.",
    )
    period_cache_rows_max: int = Field(
        default=100_000,
        ge=0,
        description="Most lines and postings of unreleased periods held in memory between "
        "messages (about 4.4 KiB each; the least recently used periods leave first, and are "
        "read from the database when next needed). The period used last stays even when it "
        "alone holds more.",
    )
    consume_batch_records: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Most records a consumer takes per poll and records in one transaction "
        "(each still claimed in the inbox on its own); 1 is one transaction per message.",
    )
