"""The matcher's configuration, read from the environment (prefix ``BANKREC_MATCHER_``)."""

from __future__ import annotations

from datetime import timedelta

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
    closed_items_kept_for: timedelta = Field(
        default=timedelta(days=90),
        gt=timedelta(0),
        description="How long an item the ledger closed (paid, cancelled) stays in the index "
        "(ISO 8601 duration: P90D, PT2M), counted from the message that closed it: within it a second payment of the item is "
        "recognised as a double payment, after it the item leaves memory (its counterparty's "
        "accounts and names stay known). Memory grows with the items closed in this window.",
    )
    recent_lines_max: int = Field(
        default=100_000,
        ge=1,
        description="Most statement lines a tenant's index remembers to pair reversals with "
        "(about 1 KiB each); the oldest leave first. Lines older than the longest reversal "
        "tolerance leave anyway.",
    )
    tenant_keys_catch_up_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait at start-up for the tenant keys to be read from the credentials "
        "topic; until then an unknown key gets 503 (retry), after it 401.",
    )
