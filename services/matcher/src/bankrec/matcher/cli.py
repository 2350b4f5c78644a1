"""``bankrec-matcher``: serve (default) runs the HTTP API and the consumers."""

from __future__ import annotations

import argparse

from bankrec.matcher.bootstrap import create_app
from bankrec.matcher.settings import MatcherSettings
from bankrec.runtime import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-matcher",
        description="Matches statement lines to open items (settings: BANKREC_MATCHER_*, "
        "KAFKA_BOOTSTRAP_SERVERS).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API and the consumers (default)")
    parser.parse_args(argv)
    settings = MatcherSettings()
    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
