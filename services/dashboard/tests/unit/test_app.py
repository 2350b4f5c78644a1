"""The dashboard's app: its own HTTP metrics at /metrics, as every service has."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bankrec.dashboard.bootstrap import create_app
from bankrec.dashboard.settings import DashboardSettings


def test_metrics_count_the_dashboards_http_requests_by_route() -> None:
    app = create_app(DashboardSettings(watch_topics=False))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        exposition = client.get("/metrics").text
    assert (
        'bankrec_http_requests_total{method="GET",route="/health",status="200"} 1.0' in exposition
    )
