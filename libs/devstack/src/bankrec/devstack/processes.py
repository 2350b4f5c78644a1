"""The four services as separate OS processes, configured only through their environment."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bankrec.contracts import (
    ADJUSTMENT_REQUESTS,
    ALL_TOPICS,
    DECISIONS,
    MATCH_OUTCOMES,
    MATCH_REQUESTS,
    POSTINGS,
    REFUSED_ADJUSTMENTS,
    REFUSED_DECISIONS,
    STATEMENT_LINES,
    STATEMENTS,
)

SERVICE_NAMES: tuple[str, ...] = ("ledger", "matcher", "reconciler", "ingest")
DEFAULT_PORTS: dict[str, int] = {
    "ingest": 8001,
    "ledger": 8002,
    "matcher": 8003,
    "reconciler": 8004,
}
SERVICES_WITH_DATABASE: tuple[str, ...] = ("ingest", "ledger", "matcher", "reconciler")


# Each service's Kafka consumer groups and the topics they read (the open-items reader of
# the matcher has no group: it rebuilds its index from the compacted topic each start).
# tests/test_devstack.py checks these against the services' own constants.
SERVICE_CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    "bankrec-ledger": (DECISIONS.name,),
    "bankrec-ledger.adjustment-requests": (ADJUSTMENT_REQUESTS.name,),
    "bankrec-ledger.match-requests": (MATCH_REQUESTS.name,),
    "bankrec-matcher": (STATEMENT_LINES.name,),
    **{f"bankrec-matcher.{topic.name}": (topic.name,) for topic in (REFUSED_DECISIONS, POSTINGS)},
    **{
        f"bankrec-reconciler.{topic.name}": (topic.name,)
        for topic in (
            STATEMENTS,
            STATEMENT_LINES,
            DECISIONS,
            POSTINGS,
            REFUSED_ADJUSTMENTS,
            MATCH_OUTCOMES,
        )
    },
}


async def start_groups_at_end(bootstrap_servers: str) -> None:
    """Create the topics and commit every service group at their ends (no member may run)."""
    from bankrec.devstack.topics import commit_group_at_end
    from bankrec.runtime import ensure_topics

    await ensure_topics(bootstrap_servers, ALL_TOPICS)
    for group, topics in SERVICE_CONSUMER_GROUPS.items():
        for topic in topics:
            await commit_group_at_end(bootstrap_servers, group, topic)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceStartError(RuntimeError):
    """A service process died or did not become healthy in time."""


@dataclass(frozen=True)
class StackConfig:
    kafka_bootstrap_servers: str
    state_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    database_urls: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    # the ingest admin API issues the stack's tenants their API keys; random per stack
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def database_url(self, service: str) -> str:
        return self.database_urls.get(
            service, f"sqlite:///{self.state_dir / (service + '.sqlite')}"
        )

    def base_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


def _console_script(service: str) -> str:
    candidate = Path(sys.executable).parent / f"bankrec-{service}"
    if not candidate.exists():
        raise ServiceStartError(
            f"console script {candidate} not found; install the workspace with `uv sync --all-packages`"
        )
    return str(candidate)


@dataclass
class ServiceProcess:
    name: str
    config: StackConfig
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.config.state_dir / f"{self.name}.log"

    def environment(self) -> dict[str, str]:
        prefix = f"BANKREC_{self.name.upper()}_"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.config.kafka_bootstrap_servers,
            "BANKREC_HTTP_HOST": "127.0.0.1",
            "BANKREC_LOG_LEVEL": self.config.log_level,
            f"{prefix}HTTP_PORT": str(self.config.ports[self.name]),
        }
        if self.name in SERVICES_WITH_DATABASE:
            env[f"{prefix}DATABASE_URL"] = self.config.database_url(self.name)
        if self.name == "ingest":
            env[f"{prefix}ADMIN_TOKEN"] = self.config.admin_token
            env[f"{prefix}SPOOL_DIR"] = str(self.config.state_dir / "ingest-spool")
        return env

    def start(self) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [_console_script(self.name), "serve"],
            env=self.environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, not each child
        )

    def wait_healthy(self, timeout_seconds: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_seconds
        url = f"{self.config.base_url(self.name)}/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceStartError(
                    f"{self.name} exited with code {self.process.returncode}; "
                    f"last log lines:\n{self.log_tail()}"
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise ServiceStartError(
            f"{self.name} not healthy at {url} after {timeout_seconds:.0f}s; "
            f"last log lines:\n{self.log_tail()}"
        )

    def stop(self, timeout_seconds: float = 20.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class ServiceStack:
    """Starts ledger, matcher, reconciler and ingest; stops them in reverse order."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.services = {name: ServiceProcess(name, config) for name in SERVICE_NAMES}

    def start(self, timeout_seconds: float = 120.0) -> None:
        try:
            for service in self.services.values():
                service.start()
            for service in self.services.values():
                service.wait_healthy(timeout_seconds)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def __enter__(self) -> ServiceStack:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
