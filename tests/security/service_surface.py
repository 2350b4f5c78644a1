"""Every service's surface read from the app itself (built by ``create_app``, never started):
its Kafka subscribers, so a test of "every topic" cannot forget one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscriber of a service: the topic it reads and its consumer group (None: a
    whole-topic reader, which reads the topic from its start at every start)."""

    service: str
    topic: str
    group: str | None


def built_app(service: str, state_dir: Path, **settings: Any) -> Any:
    """The service's app as ``create_app`` builds it from its settings (not started)."""
    bootstrap = importlib.import_module(f"bankrec.{service}.bootstrap")
    settings_module = importlib.import_module(f"bankrec.{service}.settings")
    [settings_type] = [
        value
        for name, value in vars(settings_module).items()
        if name.lower() == f"{service}settings"
    ]
    if "database_url" in settings_type.model_fields:
        settings.setdefault("database_url", f"sqlite:///{state_dir / service}.sqlite")
    return bootstrap.create_app(settings_type(**settings))


def subscriptions_of(app: Any, service: str) -> list[Subscription]:
    """Every subscriber of the app's broker (``app.state.broker``, set by the runtime)."""
    found: list[Subscription] = []
    for subscriber in app.state.broker.subscribers:
        for topic in subscriber.topics:
            name = topic if isinstance(topic, str) else topic.name
            found.append(Subscription(service, str(name), subscriber.group_id))
    return found


# -- HTTP routes, read from a service's OpenAPI document

TENANT_PREFIXES = ("/v1/tenants/{tenant_id}/", "/api/tenants/{tenant_id}/")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of an OpenAPI document."""

    method: str
    path: str
    operation: dict[str, Any]

    @property
    def tenant_scoped(self) -> bool:
        return self.path.startswith(TENANT_PREFIXES)

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.operation.get("parameters", []) if p.get("in") == where]

    def json_body_schema(self) -> dict[str, Any] | None:
        content = self.operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return schema if isinstance(schema, dict) else None

    def has_body(self) -> bool:
        return "requestBody" in self.operation


def routes_of(document: dict[str, Any]) -> list[Route]:
    """Every operation of the document (HEAD and OPTIONS are not listed by FastAPI)."""
    return [
        Route(method.upper(), path, operation)
        for path, operations in sorted(document.get("paths", {}).items())
        for method, operation in sorted(operations.items())
        if method.lower() in {"get", "post", "put", "patch", "delete"}
    ]
