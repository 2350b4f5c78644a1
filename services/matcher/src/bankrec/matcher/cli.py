"""``bankrec-matcher``: serve (default) runs the HTTP API and the consumers; ``quality``
scores the engine on a generated statement with ground truth; ``run`` matches a statement
file against an open-items CSV file offline and prints one JSON decision per line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bankrec.matcher.offline import (
    OFFLINE_TENANT,
    OfflineRunError,
    matching_policy,
    read_matching_settings,
    run_offline,
)
from bankrec.matcher.quality.generator import LINES_DEFAULT, CaseSizeError, generate_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bankrec-matcher",
        description="Matches statement lines to open items (settings: BANKREC_MATCHER_*, "
        "KAFKA_BOOTSTRAP_SERVERS).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP API and the consumers (default)")
    quality = commands.add_parser(
        "quality",
        help="generate a statement with ground truth, run the engine and the exact-amount "
        "baseline over it and print how often each auto-confirms, and how often rightly",
    )
    quality.add_argument("--lines", type=int, default=LINES_DEFAULT, help="statement lines")
    quality.add_argument("--seed", type=int, default=1, help="the generator's seed")
    quality.add_argument("--json", type=Path, dest="json_path", help="also write the figures")
    quality.add_argument(
        "--write-dir",
        type=Path,
        help="also write the case as statement.xml (camt.053), open_items.csv and truth.json",
    )
    quality.add_argument("--settings", type=Path, help="matching settings (TOML) for the engine")
    run = commands.add_parser(
        "run", help="match a statement file against open items offline; JSON lines on stdout"
    )
    run.add_argument("--statement", type=Path, required=True, help="any format ingest reads")
    run.add_argument(
        "--open-items", type=Path, required=True, help="CSV in the ledger's import format"
    )
    run.add_argument("--settings", type=Path, help="matching settings (TOML)")
    run.add_argument(
        "--posting-rules",
        type=Path,
        dest="posting_rules",
        help="the tenant's posting rules: a JSON list of PostingRule objects",
    )
    run.add_argument("--tenant", default=OFFLINE_TENANT, help="tenant the ids are derived for")
    args = parser.parse_args(argv)

    if args.command == "quality":
        return _quality(args)
    if args.command == "run":
        return _run(args)
    from bankrec.matcher.bootstrap import create_app
    from bankrec.matcher.settings import MatcherSettings
    from bankrec.runtime import serve

    settings = MatcherSettings()
    serve(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
    )
    return 0


def _quality(args: argparse.Namespace) -> int:
    from bankrec.matcher.quality.camt_writer import statement_xml
    from bankrec.matcher.quality.open_item_csv import open_items_csv
    from bankrec.matcher.quality.scorer import render_report, score_case

    try:
        policy = None
        if args.settings is not None:
            settings = read_matching_settings(args.settings)
            policy = matching_policy(settings, source=str(args.settings))
        started = time.perf_counter()
        case = generate_case(args.lines, args.seed)
        generated = time.perf_counter()
    except (OfflineRunError, CaseSizeError) as exc:
        print(f"bankrec-matcher: {exc}", file=sys.stderr)
        return 1
    if args.write_dir is not None:
        directory: Path = args.write_dir
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "statement.xml").write_bytes(statement_xml(case))
        (directory / "open_items.csv").write_text(open_items_csv(case.items), encoding="utf-8")
        (directory / "truth.json").write_text(
            json.dumps(case.truth_json(), indent=1) + "\n", encoding="utf-8"
        )
        print(
            f"wrote {directory}/statement.xml, open_items.csv, truth.json; match them with: "
            f"bankrec-matcher run --statement {directory}/statement.xml "
            f"--open-items {directory}/open_items.csv",
            file=sys.stderr,
        )
    scoring = time.perf_counter()
    report = score_case(case, policy=policy)
    scored = time.perf_counter()
    print(render_report(report))
    print(
        f"\ngenerated in {generated - started:.1f} s; engine and baseline scored in "
        f"{scored - scoring:.1f} s"
    )
    if args.json_path is not None:
        figures: dict[str, Any] = report.as_json()
        figures["seconds"] = {
            "generate": round(generated - started, 3),
            "score": round(scored - scoring, 3),
        }
        path: Path = args.json_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        for record in run_offline(
            args.statement,
            args.open_items,
            settings=args.settings,
            posting_rules=args.posting_rules,
            tenant_id=args.tenant,
        ):
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except OfflineRunError as exc:
        print(f"bankrec-matcher: {exc.message}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader stopped early (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
