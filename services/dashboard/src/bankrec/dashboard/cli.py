"""``bankrec-dashboard``: serve the dashboard page (default)."""

from __future__ import annotations

import argparse

from bankrec.dashboard.bootstrap import create_app
from bankrec.dashboard.settings import DashboardSettings
from bankrec.runtime import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-dashboard",
        description=(
            "The dashboard web page for one tenant at a time (settings: BANKREC_DASHBOARD_*: "
            "HTTP_PORT, INGEST_URL, LEDGER_URL, MATCHER_URL, RECONCILER_URL, "
            "FLOW_WINDOW_MINUTES; KAFKA_BOOTSTRAP_SERVERS for the live flow)."
        ),
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the page and its API on BANKREC_DASHBOARD_HTTP_PORT")
    parser.parse_args(argv)
    settings = DashboardSettings()
    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
