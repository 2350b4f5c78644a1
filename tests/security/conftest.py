"""The security tests' shared pieces: every service's subscriptions and routes read from the
apps themselves (built, never started), and the four services as processes on the real
broker, for the tests that throw hostile messages at them and read their logs."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which puts no test directory on sys.path: put
# this one there so the tests can import hostile_inputs and service_surface.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_surface import Subscription, built_app, subscriptions_of

from bankrec.devstack import ServiceStack, StackConfig, free_port
from bankrec.devstack.processes import SERVICE_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def service_subscriptions(tmp_path_factory: pytest.TempPathFactory) -> list[Subscription]:
    state = tmp_path_factory.mktemp("subscriptions")
    found: list[Subscription] = []
    for service in SERVICE_NAMES:
        found.extend(subscriptions_of(built_app(service, state), service))
    assert found, "no service subscribes to anything: the enumeration is broken"
    return found


async def _start_groups_at_end(bootstrap: str, subscriptions: list[Subscription]) -> None:
    from aiokafka.errors import KafkaError

    from bankrec.contracts import ALL_TOPICS
    from bankrec.devstack.topics import commit_group_at_end
    from bankrec.runtime import ensure_topics

    await ensure_topics(bootstrap, ALL_TOPICS)
    for subscription in subscriptions:
        if subscription.group is None:
            continue
        try:
            await commit_group_at_end(bootstrap, subscription.group, subscription.topic)
        except KafkaError as exc:
            # a member is live (another test's stack on the shared broker): the group is
            # caught up by that member, and ours joins it where it stands
            warnings.warn(
                f"{subscription.group} not moved to the end of {subscription.topic}: {exc}",
                stacklevel=1,
            )


@pytest.fixture(scope="session")
def stack_kafka() -> Iterator[str]:
    """The broker the stack runs on: always one of its own (deploy/local/kafka.sh on free
    ports, a small heap).

    The services' consumer groups have fixed names, so a stack on a shared broker joins the
    groups of every other stack there: it takes their partitions and refuses their messages
    (its databases lack their data), and they take ours. That holds for the test session's
    own broker too: this stack lives for the whole session (several modules use it), so on
    that broker its ledger and matcher would stay members of ``bankrec-ledger`` and
    ``bankrec-matcher`` while later tests start theirs."""
    port, controller_port = free_port(), free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="bankrec-security-kafka-"))
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_DATA_DIR": str(data_dir),
        "KAFKA_HEAP_OPTS": "-Xms128m -Xmx512m",
    }
    script = REPO_ROOT / "deploy" / "local" / "kafka.sh"
    subprocess.run(["bash", str(script), "start"], env=env, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(script), "stop"], env=env, check=False)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def security_stack(
    stack_kafka: str,
    service_subscriptions: list[Subscription],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackConfig]:
    """The four services as processes (SQLite each), every consumer group starting at the
    topics' ends (new databases on a broker other tests share)."""
    config = StackConfig(
        kafka_bootstrap_servers=stack_kafka,
        state_dir=tmp_path_factory.mktemp("security-stack"),
        ports={name: free_port() for name in SERVICE_NAMES},
    )
    asyncio.run(_start_groups_at_end(stack_kafka, service_subscriptions))
    with ServiceStack(config):
        yield config
