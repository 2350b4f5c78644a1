"""The deployment files cannot run here (no Docker engine, no cluster), so they are checked
against the code they deploy: every topic of the contracts with the same partitions and
compaction in the Strimzi KafkaTopics and in the compose topic creation; every environment
variable they set is one the service's settings class reads; every consumer group KEDA
watches is one the service subscribes with, and every group it subscribes with is watched;
the ports are the services' default ports; every service's Dockerfile is the generated one.
Pure Python: reads files, imports the packages and builds the apps, starts nothing."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
import tomllib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from bankrec.contracts import ADJUSTMENT_REQUESTS, ALL_TOPICS, DECISIONS, MATCH_REQUESTS, Topic
from bankrec.dashboard.settings import DashboardSettings
from bankrec.ingest.settings import IngestSettings
from bankrec.ledger.adjustment_requests import ADJUSTMENT_CONSUMER
from bankrec.ledger.match_requests import MATCH_CONSUMER
from bankrec.ledger.settings import LedgerSettings
from bankrec.ledger.use_cases import CONSUMER as LEDGER_CONSUMER
from bankrec.matcher import consumers as matcher_consumers
from bankrec.matcher.settings import MatcherSettings
from bankrec.reconciler import consumers as reconciler_consumers
from bankrec.reconciler.settings import ReconcilerSettings

REPOSITORY = Path(__file__).resolve().parents[2]
K8S = REPOSITORY / "deploy" / "k8s"
COMPOSE = REPOSITORY / "deploy" / "compose" / "docker-compose.yml"
COMPOSE_TOPICS = REPOSITORY / "deploy" / "compose" / "create-topics.sh"
SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "ledger": LedgerSettings,
    "matcher": MatcherSettings,
    "reconciler": ReconcilerSettings,
    "dashboard": DashboardSettings,
}
# what the images set for Python and uv themselves, not for bankrec
IMAGE_ENVIRONMENT = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PATH"}


@cache
def generator() -> ModuleType:
    """deploy/k8s/generate.py, which is a script, not a package."""
    spec = importlib.util.spec_from_file_location("bankrec_deploy_generate", K8S / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def environment_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads: the prefix and the field name, or the
    field's own alias (the shared settings: KAFKA_BOOTSTRAP_SERVERS, BANKREC_HTTP_HOST, ...)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def default_port(service: str) -> int:
    port = SETTINGS[service].model_fields["http_port"].default
    assert isinstance(port, int)
    return port


@cache
def rendered() -> dict[Path, str]:
    """What generate.py writes (builds the services' apps once per session)."""
    files: dict[Path, str] = generator().rendered()
    return files


@cache
def groups_in_code() -> frozenset[tuple[str, str, str]]:
    """(service, group, topic) of every consumer group the services' apps subscribe with."""
    return frozenset((g.service, g.group_id, g.topic) for g in generator().consumer_groups())


@cache
def manifests() -> list[dict[str, Any]]:
    """Every resource the kustomization lists, as written (kustomize only adds the namespace
    and the labels)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    resources = []
    for name in kustomization["resources"]:
        documents = yaml.safe_load_all((K8S / name).read_text(encoding="utf-8"))
        resources += [document for document in documents if document]
    return resources


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in manifests() if r["kind"] == kind}


def compose_services() -> dict[str, Any]:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert isinstance(services, dict)
    return services


def deployment_environment(service: str) -> dict[str, str]:
    """What a service's container gets: its ConfigMaps and Secrets (envFrom) and env."""
    [container] = of_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
    config_maps, secrets = of_kind("ConfigMap"), of_kind("Secret")
    found: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            found |= config_maps[source["configMapRef"]["name"]]["data"]
        else:
            found |= secrets[source["secretRef"]["name"]]["stringData"]
    found |= {e["name"]: e.get("value", "") for e in container.get("env", [])}
    return found


def dockerfile(service: str) -> str:
    return (REPOSITORY / "services" / service / "Dockerfile").read_text(encoding="utf-8")


def dockerfile_environment(service: str) -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (the image that runs)."""
    last_stage = dockerfile(service).split("\nFROM ")[-1].replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in last_stage.splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line.removeprefix("ENV ")):
                name, _, value = pair.partition("=")
                found[name] = value
    return found


def topic_policy(topic: Topic) -> tuple[int, str]:
    return topic.partitions, "compact" if topic.compacted else "delete"


# -- generated files


def test_the_generated_files_are_what_the_code_says_now() -> None:
    stale = [
        str(path.relative_to(REPOSITORY))
        for path, text in rendered().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"{stale} no longer match the topics, consumer groups or image template in the code; "
        "run: uv run python deploy/k8s/generate.py"
    )


def test_every_service_is_deployed_with_a_generated_image() -> None:
    """A new services/<name> package cannot be left without an image, settings or manifests."""
    packages = {p.parent.name for p in (REPOSITORY / "services").glob("*/pyproject.toml")}
    assert set(generator().SERVICES) == packages == set(SETTINGS)
    for service in packages:
        for name in ("Dockerfile", "Dockerfile.dockerignore"):
            path = REPOSITORY / "services" / service / name
            assert path in rendered(), f"generate.py writes no {path}"
            assert generator().GENERATED in path.read_text(encoding="utf-8"), path
    assert set(of_kind("Deployment")) == set(of_kind("Service")) == packages
    assert set(compose_services()) >= packages
    images = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))["images"]
    assert {image["name"] for image in images} == {f"bankrec-{s}" for s in packages}


# -- topics


def test_every_contract_topic_is_a_kafka_topic_with_its_partitions_and_compaction() -> None:
    topics = of_kind("KafkaTopic")
    assert set(topics) == {t.name for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        spec = topics[topic.name]["spec"]
        assert (spec["partitions"], spec["config"]["cleanup.policy"]) == topic_policy(topic)
        assert spec["replicas"] >= int(spec["config"]["min.insync.replicas"]) + 1, topic.name
        if not topic.compacted:
            assert int(spec["config"]["retention.ms"]) >= 7 * 24 * 3600 * 1000, topic.name
        assert topics[topic.name]["metadata"]["labels"]["strimzi.io/cluster"] == "bankrec"


def test_compose_creates_every_contract_topic_with_its_partitions_and_compaction() -> None:
    created = {}
    for line in COMPOSE_TOPICS.read_text(encoding="utf-8").splitlines():
        if "kafka-topics.sh" not in line:
            continue
        words = shlex.split(line)
        options = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
        configs = dict(
            words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "--config"
        )
        created[options["--topic"]] = (int(options["--partitions"]), configs["cleanup.policy"])
    assert created == {t.name: topic_policy(t) for t in ALL_TOPICS}
    topics_service = compose_services()["topics"]
    assert topics_service["volumes"] == ["./create-topics.sh:/opt/bankrec/create-topics.sh:ro"]
    for name in SETTINGS:
        waits_for = compose_services()[name]["depends_on"]["topics"]["condition"]
        assert waits_for == "service_completed_successfully", name


# -- settings


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_variable_the_deployments_set_is_one_the_service_reads(service: str) -> None:
    read = environment_names(SETTINGS[service])
    compose_env = {str(k): str(v) for k, v in compose_services()[service]["environment"].items()}
    sources = {
        "compose": compose_env,
        "k8s": deployment_environment(service),
        "Dockerfile": {
            name: value
            for name, value in dockerfile_environment(service).items()
            if name not in IMAGE_ENVIRONMENT
        },
    }
    for where, environment in sources.items():
        unread = sorted(set(environment) - read)
        assert not unread, f"{where} sets {unread} for {service}, which its settings never read"
    for where in ("compose", "k8s"):
        environment = sources[where]
        assert {"KAFKA_BOOTSTRAP_SERVERS", "BANKREC_HTTP_HOST"} <= set(environment), where
        assert environment["BANKREC_HTTP_HOST"] == "0.0.0.0", f"{where}: reachable from outside"
        database = f"BANKREC_{service.upper()}_DATABASE_URL"
        if database in read:  # a service with a database gets PostgreSQL, never the demo's SQLite
            assert environment[database].startswith("postgresql+psycopg://"), (where, database)


def test_the_services_find_the_broker_the_topics_and_keda_name() -> None:
    bootstrap = of_kind("ConfigMap")["bankrec-common"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == generator().KAFKA_BOOTSTRAP
    for scaled in of_kind("ScaledObject").values():
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["bootstrapServers"] == bootstrap


def test_ingest_spools_webhook_bodies_on_its_volume() -> None:
    directory = "/var/lib/bankrec/ingest-spool"
    assert deployment_environment("ingest")["BANKREC_INGEST_SPOOL_DIR"] == directory
    pod = of_kind("Deployment")["ingest"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert {"name": "spool", "mountPath": directory} in container["volumeMounts"]
    assert of_kind("Deployment")["ingest"]["spec"]["replicas"] == 1  # see ingest.yaml
    ingest = compose_services()["ingest"]
    assert ingest["environment"]["BANKREC_INGEST_SPOOL_DIR"] == directory
    assert f"ingest-spool:{directory}" in ingest["volumes"]
    # the image creates it for its user, so an empty volume mounted there is writable
    assert f"mkdir -p /app/var {directory} " in dockerfile("ingest")


def test_the_dashboard_reaches_each_service_by_its_name_and_port() -> None:
    for where, environment in (
        (
            "compose",
            {str(k): str(v) for k, v in compose_services()["dashboard"]["environment"].items()},
        ),
        ("k8s", deployment_environment("dashboard")),
    ):
        for service in ("ingest", "ledger", "matcher", "reconciler"):
            url = environment[f"BANKREC_DASHBOARD_{service.upper()}_URL"]
            assert url == f"http://{service}:{default_port(service)}", (where, service)


# -- consumer groups and autoscaling


def test_the_subscribers_found_include_every_group_the_code_names() -> None:
    """The apps' subscribers hold (at least) every group the services' constants name: the
    ledger's decision consumer and its two command consumers, the matcher's and the
    reconciler's group per topic. A group added later is found without being listed here."""
    named = {
        ("ledger", LEDGER_CONSUMER, DECISIONS.name),
        ("ledger", ADJUSTMENT_CONSUMER, ADJUSTMENT_REQUESTS.name),
        ("ledger", MATCH_CONSUMER, MATCH_REQUESTS.name),
        *(
            ("matcher", matcher_consumers.group_for(t), t.name)
            for t in matcher_consumers.GROUP_TOPICS
        ),
        *(
            ("reconciler", reconciler_consumers.group_for(t), t.name)
            for t in reconciler_consumers.CONSUMED_TOPICS
        ),
    }
    assert len(named) == 12
    assert named <= groups_in_code(), sorted(named - groups_in_code())
    # ingest consumes no topic; the dashboard reads its topics with no group
    assert {service for service, _, _ in groups_in_code()} == {"ledger", "matcher", "reconciler"}


def test_keda_watches_exactly_the_consumer_groups_the_services_subscribe_with() -> None:
    watched = {
        (name, t["metadata"]["consumerGroup"], t["metadata"]["topic"])
        for name, scaled in of_kind("ScaledObject").items()
        for t in scaled["spec"]["triggers"]
    }
    assert watched == groups_in_code(), (
        f"not watched: {sorted(groups_in_code() - watched)}; "
        f"watched but not subscribed: {sorted(watched - groups_in_code())}"
    )
    names = [t["name"] for s in of_kind("ScaledObject").values() for t in s["spec"]["triggers"]]
    assert len(names) == len(set(names)), "KEDA needs each trigger of a ScaledObject named apart"


def test_the_local_stack_starts_the_same_groups_the_cluster_scales_on() -> None:
    from bankrec.devstack.processes import SERVICE_CONSUMER_GROUPS

    local = {
        (group, topic) for group, topics in SERVICE_CONSUMER_GROUPS.items() for topic in topics
    }
    assert local == {(group, topic) for _, group, topic in groups_in_code()}


def test_a_service_without_consumer_groups_has_fixed_replicas_and_no_scaler() -> None:
    scaled = set(of_kind("ScaledObject"))
    for name, deployment in of_kind("Deployment").items():
        if name not in scaled:
            assert deployment["spec"]["replicas"] == 1, name
    assert scaled == {service for service, _, _ in groups_in_code()}


def test_no_service_scales_past_the_partitions_of_what_it_reads() -> None:
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    deployments = of_kind("Deployment")
    for name, scaled in of_kind("ScaledObject").items():
        spec = scaled["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert name in deployments
        assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA owns its replicas"
        read = [partitions[t["metadata"]["topic"]] for t in spec["triggers"]]
        assert spec["maxReplicaCount"] == max(read)
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        for trigger in spec["triggers"]:
            assert trigger["metadata"]["offsetResetPolicy"] == "earliest"
            assert trigger["metadata"]["allowIdleConsumers"] == "false"


# -- images, ports, probes


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_image_entry_point_and_ports_are_the_services_own(service: str) -> None:
    port = default_port(service)
    text = dockerfile(service)
    scripts = tomllib.loads(
        (REPOSITORY / "services" / service / "pyproject.toml").read_text(encoding="utf-8")
    )["project"]["scripts"]
    assert f'ENTRYPOINT ["bankrec-{service}"]' in text
    assert f"bankrec-{service}" in scripts
    assert 'CMD ["serve"]' in text
    assert f"--package bankrec-{service} " in text
    assert "--frozen --no-dev" in text
    assert re.search(rf"^EXPOSE {port}$", text, re.MULTILINE)
    assert re.search(r"^USER 10001$", text, re.MULTILINE), "the image runs as a non-root user"
    assert text.startswith("# syntax=docker/dockerfile:1")
    assert text.count("\nFROM ") >= 2
    assert "/health" in text.split("HEALTHCHECK", 1)[1]
    variable = f"BANKREC_{service.upper()}_HTTP_PORT"
    assert dockerfile_environment(service)[variable] == str(port)

    [container] = of_kind("Deployment")[service]["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert deployment_environment(service)[variable] == str(port)
    assert container["args"] == ["serve"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    [service_port] = of_kind("Service")[service]["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port, "http")

    compose = compose_services()[service]
    assert compose["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert str(compose["environment"][variable]) == str(port)
    assert compose["build"]["dockerfile"] == f"services/{service}/Dockerfile"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_the_health_route_the_probes_use_exists(service: str) -> None:
    package = REPOSITORY / "services" / service / "src" / "bankrec" / service
    routes = "".join(path.read_text(encoding="utf-8") for path in package.glob("api*.py"))
    assert re.search(r'\.get\("/health"\)', routes), f"{service} serves no GET /health"
