"""``bankrec-ledger``: run the ledger service (``serve``, the default) or only migrate."""

from __future__ import annotations

import argparse

from bankrec.ledger.settings import LedgerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-ledger",
        description="The bankrec ledger: open items, journal entries, decisions applied once.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve: run the HTTP API and the consumers (default); migrate: upgrade the database",
    )
    args = parser.parse_args(argv)
    settings = LedgerSettings()
    if args.command == "migrate":
        from bankrec.ledger.bootstrap import MIGRATIONS_DIR
        from bankrec.runtime import configure_logging, upgrade_database

        configure_logging(settings.log_level)
        upgrade_database(settings.database_url, MIGRATIONS_DIR)
        return 0
    from bankrec.ledger.bootstrap import create_app
    from bankrec.runtime import serve

    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
