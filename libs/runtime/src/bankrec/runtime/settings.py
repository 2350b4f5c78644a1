"""Settings every service shares; each service adds its own with its own prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from the environment (and a ``.env`` file); defaults run the local demo."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    http_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("BANKREC_HTTP_HOST", "http_host")
    )
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("BANKREC_LOG_LEVEL", "log_level")
    )
    otel_exporter: Literal["none", "otlp", "console"] = Field(
        default="none",  # tracing is off unless asked for
        validation_alias=AliasChoices("BANKREC_OTEL_EXPORTER", "otel_exporter"),
        description="Where trace spans go: none (off), otlp (OTLP over HTTP) or console",
    )
    otel_endpoint: str | None = Field(
        default=None,  # unset: the OTLP exporter's own (OTEL_EXPORTER_OTLP_ENDPOINT, :4318)
        validation_alias=AliasChoices("BANKREC_OTEL_ENDPOINT", "otel_endpoint"),
        description="OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces",
    )
