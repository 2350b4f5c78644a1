"""Settings every service shares; each service adds its own with its own prefix."""

from __future__ import annotations

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
