"""``bankrec-reconciler``: serve (default), migrate, print an account's report, or rebuild the
derived state from the topics."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bankrec.reconciler.adapters import reconciler_engine, sql_units_of_work
from bankrec.reconciler.bootstrap import MIGRATIONS_DIR, create_app
from bankrec.reconciler.domain import render_report
from bankrec.reconciler.errors import ReconcilerError
from bankrec.reconciler.rebuild import RebuildReport, rebuild_from_topics
from bankrec.reconciler.settings import ReconcilerSettings
from bankrec.reconciler.use_cases import Reconciler
from bankrec.runtime import serve, session_factory, upgrade_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-reconciler",
        description="Reconciliation periods per bank account (settings: BANKREC_RECONCILER_*).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API and the consumers (default)")
    commands.add_parser("migrate", help="upgrade the database to the latest schema and exit")
    report = commands.add_parser("report", help="print an account's report from the database")
    report.add_argument("--tenant", required=True, help="the tenant whose account to report on")
    report.add_argument("--account", required=True, help="the opaque account id (acc-...)")
    commands.add_parser(
        "rebuild",
        help="rebuild the periods' derived state from the consumed topics (service stopped); "
        "what people entered is kept",
    )
    args = parser.parse_args(argv)
    settings = ReconcilerSettings()

    if args.command in (None, "serve"):
        serve(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_level=settings.log_level,
        )
        return 0
    upgrade_database(settings.database_url, MIGRATIONS_DIR)
    if args.command == "migrate":
        return 0
    try:
        if args.command == "rebuild":
            print(asyncio.run(_rebuild(settings)).render(), end="")
        else:
            print(asyncio.run(_report(settings, args.tenant, args.account)), end="")
    except ReconcilerError as exc:
        print(f"bankrec-reconciler: {exc.message}", file=sys.stderr)
        return 1
    return 0


async def _report(settings: ReconcilerSettings, tenant_id: str, account_id: str) -> str:
    engine = reconciler_engine(settings.database_url)
    try:
        reconciler = Reconciler(sql_units_of_work(session_factory(engine)))
        return render_report(await reconciler.period(tenant_id, account_id))
    finally:
        await engine.dispose()


async def _rebuild(settings: ReconcilerSettings) -> RebuildReport:
    engine = reconciler_engine(settings.database_url)
    try:
        return await rebuild_from_topics(
            session_factory(engine),
            settings.kafka_bootstrap_servers,
            batch_records=settings.consume_batch_records,
        )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
