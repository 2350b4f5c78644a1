"""The reconciler's configuration, read from the environment (prefix ``BANKREC_RECONCILER_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from bankrec.runtime import ServiceSettings


class ReconcilerSettings(ServiceSettings):
    """Defaults run the local demo: SQLite under ``var/``, HTTP on port 8004."""

    model_config = SettingsConfigDict(
        env_prefix="BANKREC_RECONCILER_", env_file=".env", extra="ignore"
    )

    http_port: int = 8004
    database_url: str = "sqlite:///var/reconciler.sqlite"
