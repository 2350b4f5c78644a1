"""What operators read is true: the committed API documents are what the services serve, the
Grafana dashboard asks only for metrics a service exports, and every console command explains
every option in its ``--help``."""

from __future__ import annotations

import argparse
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from faststream.kafka.prometheus import KafkaPrometheusMiddleware

from bankrec.devstack.api_documents import stale_documents
from bankrec.runtime import ServiceMetrics

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "bankrec.json"
CONSOLE_COMMANDS = {
    "bankrec-ingest": "bankrec.ingest.cli",
    "bankrec-matcher": "bankrec.matcher.cli",
    "bankrec-reconciler": "bankrec.reconciler.cli",
    "bankrec-ledger": "bankrec.ledger.cli",
}


def test_the_committed_api_documents_are_what_the_services_serve() -> None:
    stale = stale_documents(REPO_ROOT / "docs" / "api")
    assert stale == [], f"stale API documents {stale}: run make docs"


def exported_metric_names() -> set[str]:
    """Every sample name a service's /metrics can show (bankrec's and FastStream's)."""
    metrics = ServiceMetrics("any")
    KafkaPrometheusMiddleware(registry=metrics.registry, app_name="any")
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    names: set[str] = set()
    for family in metrics.registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return {
        name
        for expr in expressions
        for name in re.findall(r"\b((?:bankrec|faststream)_[a-z_]+)\b", expr)
    }


def test_the_grafana_dashboard_uses_only_exported_metrics() -> None:
    used = dashboard_metric_names()
    assert len(used) >= 10, used
    assert used - exported_metric_names() == set()


class _ParsedError(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _captured_parser(module: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The console command's parser, caught as ``main`` parses (nothing runs)."""

    def parse_args(self: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise _ParsedError(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_args)
    with pytest.raises(_ParsedError) as caught:
        importlib.import_module(module).main([])
    return caught.value.parser


def commands_of(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, Any]]:
    """(command path, parser) of the parser and of every subcommand below it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from commands_of(sub, f"{name} {sub_name}")


@pytest.mark.parametrize("command", sorted(CONSOLE_COMMANDS))
def test_every_option_of_every_command_has_help(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = _captured_parser(CONSOLE_COMMANDS[command], monkeypatch)
    missing = [
        f"{path}: {'/'.join(action.option_strings) or action.dest}"
        for path, sub in commands_of(parser, command)
        for action in sub._actions
        if not isinstance(action, argparse._SubParsersAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == [], f"options without --help text: {missing}"
