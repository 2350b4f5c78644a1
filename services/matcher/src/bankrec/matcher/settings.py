"""The matcher's configuration, read from the environment (prefix ``BANKREC_MATCHER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bankrec.runtime import ServiceSettings


class MatcherSettings(ServiceSettings):
    """Defaults run the local demo: SQLite under ``var/``, HTTP on port 8003 (the open-item
    index is in memory, rebuilt from the topic at every start)."""

    model_config = SettingsConfigDict(
        env_prefix="BANKREC_MATCHER_", env_file=".env", extra="ignore"
    )

    http_port: int = 8003
    database_url: str = "sqlite:///var/matcher.sqlite"
    refused_attempts_max: int = Field(
        default=3,
        ge=1,
        description="Refusals of a line's decisions by the ledger (the items changed under "
        "them) after which the line goes to suspense instead of being decided again.",
    )
    index_catch_up_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Longest wait at start-up for the open-items index to read what the topic "
        "held; after it, lines are matched anyway (and a warning is logged). Keep it below the "
        "consumer's max_poll_interval_ms (300 s) so the line consumer is not thrown out of its group.",
    )
    tenant_keys_catch_up_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait at start-up for the tenant keys to be read from the credentials "
        "topic; until then an unknown key gets 503 (retry), after it 401.",
    )
