"""Ingest's configuration, read from the environment (prefix ``BANKREC_INGEST_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bankrec.ingest.domain import UPLOAD_BYTES_MAX_DEFAULT
from bankrec.ingest.domain.credentials import REPLAY_WINDOW_SECONDS_DEFAULT
from bankrec.runtime import ServiceSettings


class IngestSettings(ServiceSettings):
    """Defaults run the local demo: HTTP on port 8001, SQLite under ./var, uploads to 50 MB."""

    model_config = SettingsConfigDict(env_prefix="BANKREC_INGEST_", env_file=".env", extra="ignore")

    http_port: int = 8001
    database_url: str = "sqlite:///var/ingest.sqlite"
    upload_bytes_max: int = Field(default=UPLOAD_BYTES_MAX_DEFAULT, gt=0)
    spool_dir: Path = Field(
        default=Path("var/ingest-spool"),
        description="Where webhook bodies wait until they are read (survives a restart)",
    )
    webhook_window_seconds: int = Field(
        default=REPLAY_WINDOW_SECONDS_DEFAULT,
        gt=0,
        description="How old (or early) a webhook signature's timestamp may be",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the admin API that issues tenants' API keys and webhook "
        "secrets; the admin API is off without it",
    )
