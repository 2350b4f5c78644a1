"""The compose file cannot run here (no Docker engine), so check it against the settings the
code reads: every BANKREC_<SERVICE>_* variable it sets must be a field of that service's
settings, and every service must get the broker and its port."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic_settings import BaseSettings

from bankrec.ingest.settings import IngestSettings
from bankrec.ledger.settings import LedgerSettings
from bankrec.matcher.settings import MatcherSettings
from bankrec.reconciler.settings import ReconcilerSettings

COMPOSE = Path(__file__).resolve().parents[1] / "deploy" / "compose" / "docker-compose.yml"
SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "ledger": LedgerSettings,
    "matcher": MatcherSettings,
    "reconciler": ReconcilerSettings,
}
SHARED = {"KAFKA_BOOTSTRAP_SERVERS", "BANKREC_HTTP_HOST", "BANKREC_LOG_LEVEL"}


def _environment(service: dict[str, object], anchors: dict[str, str]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict)
    return {**anchors, **{str(k): str(v) for k, v in env.items()}}


def test_compose_sets_only_settings_the_services_read() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    for name, settings in SETTINGS.items():
        assert name in services, f"compose has no {name} service"
        env = _environment(services[name], {})
        assert set(env) >= SHARED, f"{name} lacks {SHARED - set(env)}"
        prefix = f"BANKREC_{name.upper()}_"
        fields = {field.upper() for field in settings.model_fields}
        for variable in env:
            if variable.startswith(prefix):
                assert variable.removeprefix(prefix) in fields, (
                    f"{name}: {variable} is read by nothing"
                )
        assert f"{prefix}HTTP_PORT" in env
        if "DATABASE_URL" in fields:
            assert env[f"{prefix}DATABASE_URL"].startswith("postgresql+psycopg://")
