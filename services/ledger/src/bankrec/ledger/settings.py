"""The ledger's settings: environment variables with the prefix BANKREC_LEDGER_."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bankrec.runtime import ServiceSettings


class LedgerSettings(ServiceSettings):
    """Defaults run the local demo (SQLite under ./var, Kafka on 127.0.0.1:9092)."""

    model_config = SettingsConfigDict(env_prefix="BANKREC_LEDGER_", env_file=".env", extra="ignore")

    http_port: int = Field(default=8002, ge=1, le=65535)
    database_url: str = "sqlite:///var/ledger.sqlite"
    import_bytes_max: int = Field(
        default=20 * 1024 * 1024, ge=1, description="Largest open-item CSV accepted"
    )
    tenant_keys_catch_up_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait at start-up for the tenant keys to be read from the credentials "
        "topic; until then an unknown key gets 503 (retry), after it 401.",
    )
