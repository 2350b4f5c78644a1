"""Ingest's configuration, read from the environment (prefix ``BANKREC_INGEST_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from bankrec.ingest.domain import UPLOAD_BYTES_MAX_DEFAULT
from bankrec.ingest.domain.credentials import REPLAY_WINDOW_SECONDS_DEFAULT
from bankrec.ingest.domain.parsers.camt_schema import SCHEMA_MAX_BYTES_DEFAULT
from bankrec.runtime import ServiceSettings

FREE_CONNECTIONS_MIN = 2
"""Connections file reads leave free: one for the outbox relay, one at least for requests."""


class IngestSettings(ServiceSettings):
    """Defaults run the local demo: HTTP on port 8001, SQLite under ./var, uploads to 50 MB."""

    model_config = SettingsConfigDict(env_prefix="BANKREC_INGEST_", env_file=".env", extra="ignore")

    http_port: int = 8001
    database_url: str = "sqlite:///var/ingest.sqlite"
    database_pool_size: int = Field(
        default=5, gt=0, description="Database connections kept open (SQLAlchemy pool_size)"
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="Connections opened beyond the pool under load"
    )
    database_pool_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long a request waits for a free connection"
    )
    file_reads_max: int = Field(
        default=4,
        gt=0,
        description="Statement files stored at the same time (uploads, webhooks, bank pulls): "
        "each holds one connection for its transaction; webhook bodies wait in a queue for "
        "one of this many background readers. SQLite stores one at a time",
    )
    upload_bytes_max: int = Field(default=UPLOAD_BYTES_MAX_DEFAULT, gt=0)
    spool_dir: Path = Field(
        default=Path("var/ingest-spool"),
        description="Where webhook bodies wait until they are read (survives a restart)",
    )
    schema_dir: Path | None = Field(
        default=None,
        description="Directory of the ISO 20022 camt XSDs, named as ISO names them "
        "(camt.053.001.02.xsd, ...): camt files are validated against them and schema errors "
        "reported as diagnostics (never refused); unset: no validation",
    )
    schema_max_bytes: int = Field(
        default=SCHEMA_MAX_BYTES_DEFAULT,
        gt=0,
        description="camt files up to this size are validated as a whole, listing every "
        "schema error; larger ones as a stream, in constant memory, up to the first error",
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
    bank_pull_enabled: bool = Field(
        default=True,
        description="Run due bank pulls in the background; POST .../bank-pulls/{name}/run "
        "works either way",
    )
    bank_pull_interval_floor_seconds: int = Field(
        default=300,
        gt=0,
        description="The shortest interval a bank pull may poll at (banks throttle more)",
    )
    bank_pull_tick_seconds: float = Field(
        default=30.0, gt=0, description="How often the scheduler looks for due bank pulls"
    )
    bank_pull_concurrency: int = Field(
        default=4, gt=0, description="How many bank pulls one instance runs at the same time"
    )
    bank_pull_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Timeout of each network step of a request to a bank API (connect at "
        "most 10 s)",
    )
    bank_pull_attempts: int = Field(
        default=4,
        ge=1,
        description="Attempts per request to a bank API (retries on 5xx, 429 and network "
        "errors, with backoff and Retry-After)",
    )
    bank_pull_backoff_seconds: float = Field(
        default=1.0, ge=0, description="First retry delay; doubles per attempt, at most 30 s"
    )
    bank_pull_allow_plain_http: bool = Field(
        default=False,
        description="Allow http:// bank API URLs (local test servers only: credentials and "
        "statements would travel unencrypted)",
    )

    @model_validator(mode="after")
    def _file_reads_leave_connections(self) -> IngestSettings:
        """Files being stored hold a connection each; the outbox relay and the requests need
        some too, or they wait for the pool to time out."""
        connections = self.database_pool_size + self.database_max_overflow
        if self.file_reads_max > connections - FREE_CONNECTIONS_MIN:
            raise ValueError(
                f"BANKREC_INGEST_FILE_READS_MAX={self.file_reads_max} leaves fewer than "
                f"{FREE_CONNECTIONS_MIN} of the {connections} database connections "
                "(BANKREC_INGEST_DATABASE_POOL_SIZE + BANKREC_INGEST_DATABASE_MAX_OVERFLOW) to "
                "the outbox relay and the requests: lower it or raise the pool"
            )
        return self
