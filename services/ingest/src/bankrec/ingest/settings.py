"""Ingest's configuration, read from the environment (prefix ``BANKREC_INGEST_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bankrec.ingest.domain import UPLOAD_BYTES_MAX_DEFAULT
from bankrec.runtime import ServiceSettings


class IngestSettings(ServiceSettings):
    """Defaults run the local demo: HTTP on port 8001, uploads up to 50 MB. No database."""

    model_config = SettingsConfigDict(env_prefix="BANKREC_INGEST_", env_file=".env", extra="ignore")

    http_port: int = 8001
    upload_bytes_max: int = Field(default=UPLOAD_BYTES_MAX_DEFAULT, gt=0)
