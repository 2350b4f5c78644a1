"""A Kafka broker and a PostgreSQL cluster of one's own, on free ports, that may be restarted.

The fault suite restarts both mid-run; the shared broker (127.0.0.1:9092) and the shared
PostgreSQL server (5432) serve other people, so they are never touched: the broker comes from
deploy/local/kafka.sh with its own ports and data dir, the cluster from ``initdb`` in a
temporary directory (as the ``postgres`` user when we are root: initdb refuses root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bankrec.devstack.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[5]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka.sh"
POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_USER = "postgres"  # the OS user the Debian packages run the server as
ROLE = "bankrec"  # the cluster's superuser; trust auth: loopback only, thrown away after


class PrivateInfraError(RuntimeError):
    """The private broker or cluster could not be started, stopped or used."""


class PrivateKafka:
    """A single-node KRaft broker on free ports with its own data dir (deploy/local/kafka.sh)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.controller_port = free_port()
        self.data_dir = root / "kafka"
        self.restarts = 0

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, command: str) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_DATA_DIR": str(self.data_dir),
            # small heap: the machine is shared; a test broker holds little
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
        }
        done = subprocess.run(
            ["bash", str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise PrivateInfraError(
                f"kafka.sh {command} on port {self.port} failed ({done.returncode}): "
                f"{done.stderr[-2000:]}"
            )

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def restart(self) -> None:
        """A clean stop (SIGTERM) and a start on the same ports and data."""
        self.stop()
        self.start()
        self.restarts += 1


def _postgres_bin() -> Path:
    versions = sorted(
        (p for p in POSTGRES_ROOT.glob("*/bin/initdb")), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise PrivateInfraError(
            f"no PostgreSQL server binaries under {POSTGRES_ROOT}; "
            "run `bash deploy/local/postgres.sh start` once to install them"
        )
    return versions[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster made with initdb in a temporary directory, on a free port.

    ``restart`` stops it with ``-m immediate`` (no checkpoint: the next start runs crash
    recovery, as after a power cut) and starts it again.
    """

    def __init__(self) -> None:
        self.port = free_port()
        # initdb wants a directory the server's OS user owns and can reach: not under a
        # private (0700) temporary directory of root's
        self.root = Path(tempfile.mkdtemp(prefix="bankrec-pg-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.bin = _postgres_bin()
        self.restarts = 0
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", POSTGRES_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            log = (
                self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            )
            raise PrivateInfraError(
                f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}"
            )

    def start(self) -> None:
        if not self.data_dir.exists():
            if self._as_postgres:
                shutil.chown(self.root, user=POSTGRES_USER, group=POSTGRES_USER)
            self._run("initdb", "-D", str(self.data_dir), "-U", ROLE, "--auth=trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", "60",
            "-l", str(self.log_path), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60")

    def restart(self) -> None:
        self.stop("immediate")
        self.start()
        self.restarts += 1

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        """Stop the cluster (immediately: its data is thrown away) and delete its files."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
