"""Fixtures every test suite shares: the real Kafka broker and real PostgreSQL databases.

Kafka comes from ``KAFKA_BOOTSTRAP_SERVERS`` when set, from testcontainers when a Docker
engine answers, and otherwise from the project's own local broker (deploy/local/kafka.sh)
started on free ports for this test session. PostgreSQL comes from
``BANKREC_TEST_POSTGRES_URL`` when set, otherwise deploy/local/postgres.sh starts it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bankrec.devstack import free_port

REPO_ROOT = Path(__file__).resolve().parent
CORPUS_DIR = (REPO_ROOT.parent / "shared" / "corpus").resolve()


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Apache Kafka broker."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    if _docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    port, controller_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bankrec-kafka-"))
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_DATA_DIR": str(data_dir),
    }
    script = REPO_ROOT / "deploy" / "local" / "kafka.sh"
    subprocess.run(["bash", str(script), "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, check=False)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A PostgreSQL URL whose role may create databases."""
    given = os.environ.get("BANKREC_TEST_POSTGRES_URL")
    if given:
        return given
    script = REPO_ROOT / "deploy" / "local" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], check=True)
    url = subprocess.run(
        ["bash", str(script), "url", "bankrec_test"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return url


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[Callable[[str], str]]:
    """Factory: a fresh, empty PostgreSQL database per call, dropped after the session."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url)
    created: list[str] = []

    def connect() -> psycopg.Connection:
        return psycopg.connect(
            host=admin.host,
            port=admin.port or 5432,
            user=admin.username,
            password=admin.password,
            dbname=admin.database,
            autocommit=True,
        )

    def create(name: str) -> str:
        db_name = f"t_{name}_{uuid.uuid4().hex[:10]}".lower()
        with connect() as conn:
            conn.execute(f'CREATE DATABASE "{db_name}"')
        created.append(db_name)
        return admin.set(database=db_name, drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        )

    yield create
    with connect() as conn:
        for db_name in created:
            _drop_database(conn, db_name)


def _drop_database(conn: Any, db_name: str) -> None:
    """Drop a test database; a session the role may not end (an autovacuum worker, a
    service process still closing) only delays it, and a database left behind is a warning,
    never a failed test."""
    import psycopg

    for attempt in range(10):
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(0.5 * (attempt + 1))
    warnings.warn(f"test database {db_name} could not be dropped; drop it by hand", stacklevel=1)


@pytest.fixture
def tenant_id() -> str:
    """One tenant per test, so tests never see each other's data."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"statement corpus not found at {CORPUS_DIR} (it lives beside the repo)")
    return CORPUS_DIR
