"""The dashboard's configuration, read from the environment (prefix ``BANKREC_DASHBOARD_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bankrec.runtime import ServiceSettings


class DashboardSettings(ServiceSettings):
    """Defaults run beside the local demo: the four services on their default ports."""

    model_config = SettingsConfigDict(
        env_prefix="BANKREC_DASHBOARD_", env_file=".env", extra="ignore"
    )

    http_port: int = 8005
    ingest_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8002"
    matcher_url: str = "http://127.0.0.1:8003"
    reconciler_url: str = "http://127.0.0.1:8004"
    service_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest wait for one call to a service's API"
    )
    flow_window_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="Minutes of flow the page shows and charts"
    )
    flow_push_seconds: float = Field(
        default=2.0, gt=0, description="How often the page gets new flow figures (SSE)"
    )
    lag_refresh_seconds: float = Field(
        default=5.0, gt=0, description="How often consumer lag is read from the broker"
    )
    watch_topics: bool = Field(
        default=True, description="Read the topics for the live flow (off: no Kafka needed)"
    )
