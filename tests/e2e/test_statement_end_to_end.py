"""A real camt.053 upload through the four services as separate processes, on the real
Kafka broker and real PostgreSQL: decisions, a balanced journal, paid invoices, and a
reconciliation whose difference is what the file implies."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from bankrec.contracts import ALL_TOPICS, CREDENTIALS, DECISIONS, STATEMENT_LINES, STATEMENTS
from bankrec.devstack import ServiceStack, StackConfig, free_port
from bankrec.devstack.client import KEY_PROBE_PATHS, BankrecClient, wait_until
from bankrec.devstack.processes import start_groups_at_end
from bankrec.devstack.topics import json_object

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "deploy" / "demo"
STATEMENT = DEMO / "statement-2026-11.camt053.xml"
OPEN_ITEMS = DEMO / "open-items.csv"

# What the demo statement implies, entry by entry (see the comments in the file).
EXPECTED_DECISIONS = {
    "12500.00": ("match", "INV-10230"),  # KID 1002345005
    "2500.00": ("match", "INV-10231"),  # KID in an OCR batch
    "1250.00": ("match", "INV-10232"),  # KID in an OCR batch
    "8900.00": ("match", "INV-10234"),  # invoice number in text; the only 8900.00 item
    "-15000.00": ("match", "BILL-4410"),  # supplier bill paid; the only -15000.00 item
    "-125.00": ("suspense", None),  # bank fee: no open item, no posting rule yet
    "4200.00": ("suspense", None),  # unknown payer
}


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str,
    database_url: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackConfig]:
    config = StackConfig(
        kafka_bootstrap_servers=kafka_bootstrap,
        state_dir=tmp_path_factory.mktemp("stack"),
        ports={name: free_port() for name in ("ingest", "ledger", "matcher", "reconciler")},
        database_urls={
            "ingest": database_url("ingest"),
            "ledger": database_url("ledger"),
            "reconciler": database_url("reconciler"),
        },
    )
    # new databases on a broker other tests share: start where caught-up services would be
    asyncio.run(start_groups_at_end(kafka_bootstrap))
    with ServiceStack(config):
        yield config


async def _read_topic(
    bootstrap: str, topic: str, tenant_id: str, count: int, timeout_seconds: float = 60.0
) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_seconds):
            while len(found) < count:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        message = json_object(record.value)
                        if message is not None and message.get("tenant_id") == tenant_id:
                            found.append(message)
    finally:
        await consumer.stop()
    return found


@pytest.fixture(scope="module")
def uploaded(stack: StackConfig) -> Iterator[tuple[BankrecClient, dict[str, Any]]]:
    import uuid

    client = BankrecClient(stack, f"e2e-{uuid.uuid4().hex[:10]}")
    imported = client.import_open_items(OPEN_ITEMS)
    assert imported["errors"] == []
    client.wait_for_matcher_index(imported["imported"])
    response = client.upload_statement(STATEMENT)
    assert response.status_code == 202, response.text
    upload = response.json()
    yield client, upload
    client.close()


async def test_decisions_appear_on_the_decisions_topic(
    uploaded: tuple[BankrecClient, dict[str, Any]], kafka_bootstrap: str
) -> None:
    client, upload = uploaded
    assert upload["lines"] == 7
    decisions = await _read_topic(kafka_bootstrap, DECISIONS.name, client.tenant_id, 7)
    by_amount = {d["payload"]["amount"]["amount"]: d["payload"] for d in decisions}
    assert set(by_amount) == set(EXPECTED_DECISIONS)
    for amount, (kind, item_id) in EXPECTED_DECISIONS.items():
        decision = by_amount[amount]
        assert decision["kind"] == kind, decision["explanation"]
        assert decision["rule"]
        assert decision["explanation"]
        allocated = [a["item_id"] for a in decision["allocations"]]
        assert allocated == ([item_id] if item_id else [])
    assert by_amount["12500.00"]["rule"] == "structured_reference"
    assert by_amount["8900.00"]["rule"] == "document_number"  # "Faktura 10234"


def test_the_ledger_is_balanced_and_the_invoices_are_paid(
    uploaded: tuple[BankrecClient, dict[str, Any]],
) -> None:
    client, upload = uploaded
    account_id = upload["statements"][0]["account_id"]
    client.wait_for_reconciliation(account_id, upload["lines"])
    trial = client.get("ledger", "/trial-balance")
    assert trial["balanced"] is True
    for item_id in ("INV-10230", "INV-10231", "INV-10232", "INV-10234", "BILL-4410"):
        item = client.get("ledger", f"/open-items/{item_id}")
        assert item["status"] == "paid", item
        assert Decimal(item["remaining"]["amount"]) == 0
    for item_id in ("INV-10233", "INV-10235"):
        assert client.get("ledger", f"/open-items/{item_id}")["status"] == "open"
    # the two unmatched lines sit on the interim account: +4200.00 in, -125.00 out
    interim = [a for a in trial["accounts"] if a["role"] == "interim"]
    assert sum(Decimal(a["credit"]) - Decimal(a["debit"]) for a in interim) == Decimal("4075.00")
    assert client.get("ledger", "/status")["decisions_applied"] == 7


def test_the_reconciliation_difference_is_what_the_file_implies(
    uploaded: tuple[BankrecClient, dict[str, Any]],
) -> None:
    client, upload = uploaded
    account_id = upload["statements"][0]["account_id"]
    report = client.wait_for_reconciliation(account_id, upload["lines"])
    assert report["lines"] == 7
    assert report["matched"] == 5
    assert report["in_suspense"] == 2
    assert report["currency"] == "NOK"
    assert Decimal(report["opening_balance"]) == Decimal("100000.00")
    assert Decimal(report["statement_balance"]) == Decimal("114225.00")
    assert Decimal(report["reconciled_balance"]) == Decimal("114225.00")
    assert Decimal(report["difference"]) == 0
    text = client.report_text(account_id)
    assert "114225.00" in text
    assert "7947" in text
    assert "NO9386011117947" not in text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"Date;Amount\n2026-11-20;100,00\n", 422, "not_xml"),
        (
            STATEMENT.read_bytes().replace(
                b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02",
                b"urn:example:not-a-bank-statement",
            ),
            422,
            "unknown_namespace",
        ),
    ],
    ids=["empty", "not-xml", "unknown-namespace"],
)
async def test_bad_uploads_are_refused_and_publish_nothing(
    stack: StackConfig,
    uploaded: tuple[BankrecClient, dict[str, Any]],
    kafka_bootstrap: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    import uuid

    good_client, upload = uploaded
    client = BankrecClient(stack, f"bad-{uuid.uuid4().hex[:10]}")
    response = client.upload_statement_bytes(body, filename="bad-upload")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert len(error["message"]) > 10
    # nothing for the bad tenant on the ingest topics, even after a short wait
    for topic in (STATEMENTS.name, STATEMENT_LINES.name):
        with pytest.raises(TimeoutError):
            await _read_topic(kafka_bootstrap, topic, client.tenant_id, 1, timeout_seconds=3)
    # the earlier upload is unaffected
    report = good_client.report(upload["statements"][0]["account_id"])
    assert report["lines"] == 7
    assert Decimal(report["difference"]) == 0
    client.close()


def test_kcat_reads_every_topic_as_json(
    uploaded: tuple[BankrecClient, dict[str, Any]], kafka_bootstrap: str
) -> None:
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if kcat is None:
        pytest.skip("kcat is not installed (make test installs it: apt-get install kcat)")
    client, upload = uploaded
    client.wait_for_reconciliation(upload["statements"][0]["account_id"], upload["lines"])
    for topic in ALL_TOPICS:
        if topic.name in (
            "bankrec.dead-letters.v1",
            "bankrec.ledger.refused-decisions.v1",
            "bankrec.ledger.posting-rules.v1",
            "bankrec.reconciler.adjustment-requests.v1",
            "bankrec.ledger.refused-adjustments.v1",
            "bankrec.matcher.settings.v1",
            "bankrec.reconciler.match-requests.v1",
            "bankrec.ledger.match-outcomes.v1",
        ):
            continue  # the demo statement puts nothing there; the same codec writes them
        output = subprocess.run(
            [
                kcat,
                "-b",
                kafka_bootstrap,
                "-C",
                "-t",
                topic.name,
                "-o",
                "beginning",
                "-e",
                "-q",
                "-f",
                "%k\t%s\n",
            ],
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout.decode("utf-8", errors="replace")  # other tests' malformed records are there too
        messages = [line.split("\t", 1) for line in output.splitlines() if line.strip()]
        # the credentials topic is keyed by key id alone; every other by tenant first
        ours = (
            (lambda key: key == client.key_id)
            if topic is CREDENTIALS
            else (lambda key: key.startswith(client.tenant_id))
        )
        mine = [json.loads(value) for key, value in messages if ours(key)]
        assert mine, f"kcat read nothing of tenant {client.tenant_id} on {topic.name}"
        for message in mine:
            assert message["tenant_id"] == client.tenant_id
            assert message["schema_version"] == 1
            assert client.api_key.split("_", 2)[2] not in json.dumps(message)  # never the secret


def test_every_service_serves_its_asyncapi_document(stack: StackConfig) -> None:
    import httpx

    expected = {
        "ingest": "bankrec.ingest.statement-lines.v1",
        "ledger": "bankrec.ledger.postings.v1",
        "matcher": "bankrec.matcher.decisions.v1",
        "reconciler": "bankrec.reconciler.period-events.v1",
    }
    for service, topic in expected.items():
        document = httpx.get(f"{stack.base_url(service)}/asyncapi.json", timeout=10).json()
        assert document["asyncapi"].startswith("3.")
        addresses = {channel["address"] for channel in document["channels"].values()}
        assert topic in addresses, (service, addresses)


def test_the_services_take_only_the_tenants_key_and_a_revocation_reaches_them(
    stack: StackConfig,
) -> None:
    """A key issued through ingest's admin API works in the ledger, the matcher and the
    reconciler; no key is 401, another tenant's key 403; revoked in ingest, it is refused
    everywhere within the credentials topic's latency."""
    import uuid

    import httpx

    client = BankrecClient(stack, f"keys-{uuid.uuid4().hex[:10]}")
    stranger = BankrecClient(stack, f"other-{uuid.uuid4().hex[:10]}")
    try:
        urls = {
            service: f"{stack.base_url(service)}/v1/tenants/{client.tenant_id}{path}"
            for service, path in KEY_PROBE_PATHS.items()
        }
        for service, url in urls.items():
            own = httpx.get(url, headers=client.auth_headers(service), timeout=10)
            assert own.status_code == 200, (service, own.text)
            assert httpx.get(url, timeout=10).status_code == 401, service
            foreign = httpx.get(url, headers=stranger.auth_headers(service), timeout=10)
            assert foreign.status_code == 403, (service, foreign.text)
            assert stranger.tenant_id not in foreign.text  # the key's tenant is never named
        revoked = {"authorization": f"Bearer {client.api_key}"}
        client.revoke_api_key()
        for service, url in urls.items():

            def refused(url: str = url) -> bool | None:
                response = httpx.get(url, headers=revoked, timeout=10)
                return True if response.status_code == 401 else None

            wait_until(refused, timeout_seconds=30, what=f"{service} to refuse a revoked key")
    finally:
        client.close()
        stranger.close()
