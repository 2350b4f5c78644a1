from pathlib import Path

from bankrec.devstack import ServiceProcess, StackConfig, free_port
from bankrec.devstack.topics import json_object


def test_each_service_gets_the_broker_its_port_and_its_database(tmp_path: Path) -> None:
    config = StackConfig(
        kafka_bootstrap_servers="127.0.0.1:19092",
        state_dir=tmp_path,
        database_urls={"ledger": "postgresql+psycopg://u:p@127.0.0.1/ledger"},
    )
    ledger = ServiceProcess("ledger", config).environment()
    assert ledger["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert ledger["BANKREC_LEDGER_HTTP_PORT"] == "8002"
    assert ledger["BANKREC_LEDGER_DATABASE_URL"].startswith("postgresql+psycopg://")
    reconciler = ServiceProcess("reconciler", config).environment()
    assert (
        reconciler["BANKREC_RECONCILER_DATABASE_URL"] == f"sqlite:///{tmp_path}/reconciler.sqlite"
    )
    matcher = ServiceProcess("matcher", config).environment()
    assert matcher["BANKREC_MATCHER_DATABASE_URL"] == f"sqlite:///{tmp_path}/matcher.sqlite"


def test_free_port_is_bindable() -> None:
    assert 1024 < free_port() < 65536


def test_json_object_skips_what_is_not_an_envelope() -> None:
    assert json_object(b'{"tenant_id": "t1"}') == {"tenant_id": "t1"}
    assert json_object(b"{not json") is None
    assert json_object(b"[1, 2]") is None
    assert json_object(b"\xff\xfe") is None
    assert json_object(None) is None


def test_the_demo_knows_every_services_consumer_groups() -> None:
    from bankrec.contracts import ADJUSTMENT_REQUESTS, DECISIONS, MATCH_REQUESTS
    from bankrec.devstack.processes import SERVICE_CONSUMER_GROUPS
    from bankrec.ledger.adjustment_requests import ADJUSTMENT_CONSUMER
    from bankrec.ledger.match_requests import MATCH_CONSUMER
    from bankrec.ledger.use_cases import CONSUMER as LEDGER_GROUP
    from bankrec.matcher.consumers import GROUP_TOPICS as MATCHER_TOPICS
    from bankrec.matcher.consumers import group_for as matcher_group_for
    from bankrec.reconciler.consumers import CONSUMED_TOPICS, group_for

    expected = {
        LEDGER_GROUP: (DECISIONS.name,),
        ADJUSTMENT_CONSUMER: (ADJUSTMENT_REQUESTS.name,),
        MATCH_CONSUMER: (MATCH_REQUESTS.name,),
        **{matcher_group_for(topic): (topic.name,) for topic in MATCHER_TOPICS},
        **{group_for(topic): (topic.name,) for topic in CONSUMED_TOPICS},
    }
    assert expected == SERVICE_CONSUMER_GROUPS
