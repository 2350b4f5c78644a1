"""The HTTP API on a real SQLite store and outbox relay, with a recording broker: the
contract of the upload, webhooks, status, credentials, errors, health."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ingest_factories import DEMO_STATEMENT, Detail, Entry, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES, STATEMENTS, StatementHeader, StatementLine
from bankrec.ingest.adapters import MemoryBroker
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import file_sha256, header_message_id_for
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import decode_payload

UPLOAD_BYTES_MAX = 200_000


ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture
def publisher() -> MemoryBroker:
    return MemoryBroker(topics=(STATEMENTS, STATEMENT_LINES))  # not the API key records


@pytest.fixture
def settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(
        upload_bytes_max=UPLOAD_BYTES_MAX,
        database_url=f"sqlite:///{tmp_path / 'ingest.sqlite'}",
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def client(publisher: MemoryBroker, settings: IngestSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, broker=publisher)) as test_client:
        yield test_client


def issue_key(client: TestClient, tenant_id: str) -> str:
    response = client.post(
        f"/v1/admin/tenants/{tenant_id}/api-keys",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


_KEYS: dict[tuple[int, str], str] = {}


def upload(
    client: TestClient, tenant_id: str, body: bytes, *, key: str | None = None, **params: str
) -> Any:
    if key is None:
        key = _KEYS.setdefault((id(client), tenant_id), issue_key(client, tenant_id))
    return client.post(
        f"/v1/tenants/{tenant_id}/statements",
        content=body,
        params=params,
        headers={"content-type": "application/octet-stream", "authorization": f"Bearer {key}"},
    )


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_upload_answers_202_with_statements_lines_and_diagnostics(
    client: TestClient, tenant_id: str
) -> None:
    body = DEMO_STATEMENT.read_bytes()
    response = upload(client, tenant_id, body, filename="statement.xml")
    assert response.status_code == 202, response.text
    answer = response.json()
    [statement] = answer["statements"]
    assert answer == {
        "ingest_id": answer["ingest_id"],
        "status": "published",
        "lines_published": 7,
        "lines_already_published": 0,
        "duplicate_of": None,
        "file_sha256": file_sha256(body),
        "filename": "statement.xml",
        "format": "camt.053.001.02",
        "statements": [
            {
                "statement_id": statement["statement_id"],
                "bank_statement_id": "2026-11-20-00321",
                "account_id": statement["account_id"],
                "kind": "end_of_day",
                "entry_count": 6,
                "line_count": 7,
                "opening_balance": {"amount": "100000.00", "currency": "NOK"},
                "closing_balance": {"amount": "114225.00", "currency": "NOK"},
            }
        ],
        "lines": 7,
        "diagnostics": [],
    }
    assert statement["statement_id"] == f"{statement['account_id']}:2026-11-20-00321"


def test_upload_publishes_header_then_lines_in_enveloped_json(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    body = DEMO_STATEMENT.read_bytes()
    answer = upload(client, tenant_id, body).json()
    sha = file_sha256(body)
    account_id = answer["statements"][0]["account_id"]

    assert [m.topic for m in publisher.messages] == [STATEMENTS] + [STATEMENT_LINES] * 7
    assert {m.key for m in publisher.messages} == {f"{tenant_id}:{account_id}"}
    assert all(account_id in m.key and "NO93" not in m.key for m in publisher.messages)
    header_message = publisher.messages[0].envelope
    header = decode_payload(StatementHeader, header_message.model_dump_json()).payload
    assert header_message.type == "statement.received"
    assert header_message.tenant_id == tenant_id
    assert header_message.correlation_id == sha
    assert header_message.message_id == header_message_id_for(header.statement_id, sha)
    lines = [
        decode_payload(StatementLine, m.envelope.model_dump_json()) for m in publisher.messages[1:]
    ]
    assert [envelope.message_id for envelope in lines] == [e.payload.line_id for e in lines]
    assert all(envelope.type == "statement.line.received" for envelope in lines)
    assert all(envelope.correlation_id == sha for envelope in lines)
    assert [envelope.payload.sequence for envelope in lines] == list(range(7))


def test_the_same_file_uploaded_twice_publishes_nothing_the_second_time(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    body = DEMO_STATEMENT.read_bytes()
    first = upload(client, tenant_id, body).json()
    published = len(publisher.messages)
    again = upload(client, tenant_id, body).json()
    assert again["status"] == "duplicate"
    assert again["duplicate_of"] == first["ingest_id"]
    assert again["lines_published"] == 0
    assert len(publisher.messages) == published == 8


def test_an_overlapping_statement_publishes_only_its_new_lines(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    monday = Statement(
        entries=[Entry(bank_reference="R1"), Entry(bank_reference="R2", amount="2.00")],
        statement_id="S-1",
        electronic_sequence_number="1",
    )
    overlapping = Statement(
        entries=[Entry(bank_reference="R2", amount="2.00"), Entry(bank_reference="R3")],
        statement_id="S-2",
        electronic_sequence_number="2",
        opening="1002.00",
    )
    upload(client, tenant_id, camt_file(monday))
    answer = upload(client, tenant_id, camt_file(overlapping)).json()
    assert (answer["lines_published"], answer["lines_already_published"]) == (1, 1)
    assert "lines_already_received" in [d["code"] for d in answer["diagnostics"]]
    lines = [m.envelope.message_id for m in publisher.on(STATEMENT_LINES)]
    assert len(lines) == len(set(lines)) == 3
    header = decode_payload(StatementHeader, publisher.on(STATEMENTS)[1].envelope.model_dump_json())
    assert (header.payload.line_count, header.payload.lines_already_received) == (1, 1)


def test_a_gap_in_the_statement_sequence_is_reported(client: TestClient, tenant_id: str) -> None:
    def day(number: int) -> bytes:
        return camt_file(
            Statement(
                entries=[Entry(bank_reference=f"R{number}")],
                statement_id=f"S-{number}",
                electronic_sequence_number=str(number),
            )
        )

    upload(client, tenant_id, day(1))
    answer = upload(client, tenant_id, day(4)).json()
    [gap] = [d for d in answer["diagnostics"] if d["code"] == "sequence_gap"]
    assert "statement(s) 2 to 3 were never received" in gap["message"]


def test_diagnostics_are_part_of_the_answer(client: TestClient, tenant_id: str) -> None:
    body = camt_file(Statement(entries=[Entry(amount="5.00")], closing="1.00"))
    answer = upload(client, tenant_id, body).json()
    [diagnostic] = answer["diagnostics"]
    assert diagnostic["code"] == "balance_mismatch"
    assert diagnostic["statement"] == "2026-11-20-00321"


def test_format_can_be_forced(client: TestClient, tenant_id: str) -> None:
    body = camt_file(Statement(entries=[Entry()]), message="camt.054")
    assert upload(client, tenant_id, body, format="camt.054").status_code == 202
    other = camt_file(Statement(entries=[Entry()], statement_id="S-2"), message="camt.054")
    refused = upload(client, tenant_id, other, format="camt.053")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "format_mismatch"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "empty_file"),
        (b"Date;Amount\n2026-11-20;100\n", 422, "not_xml"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.99"/>',
            422,
            "unknown_namespace",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>',
            422,
            "forbidden_dtd",
        ),
        (
            camt_file(Statement(entries=[Entry(indicator=None)], closing=None)),
            422,
            "missing_element",
        ),
        (b"<a>" + b"x" * UPLOAD_BYTES_MAX + b"</a>", 413, "too_large"),
    ],
    ids=["empty", "not-xml", "namespace", "dtd", "missing-element", "too-large"],
)
def test_bad_input_is_refused_and_publishes_nothing(
    client: TestClient,
    publisher: MemoryBroker,
    tenant_id: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    response = upload(client, tenant_id, body, filename="bank.xml")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith("bank.xml: ")
    assert publisher.messages == []


def test_not_xml_error_carries_line_and_column(client: TestClient, tenant_id: str) -> None:
    error = upload(client, tenant_id, b"<a>\n<b></a>").json()["error"]
    assert error["code"] == "not_xml"
    assert error["line"] == 2
    assert isinstance(error["column"], int)


def test_a_bad_statement_later_in_the_file_publishes_nothing(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    good = Statement(entries=[Entry()], statement_id="S-1")
    bad = Statement(entries=[Entry(amount="1,00")], statement_id="S-2", closing=None)
    response = upload(client, tenant_id, camt_file(good, bad))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_value"
    assert response.json()["error"]["statement"] == "S-2"
    assert publisher.messages == []


def test_a_body_larger_than_declared_is_cut_off_while_streaming(
    client: TestClient, tenant_id: str
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x" * 10_000

    key = issue_key(client, tenant_id)
    response = client.post(
        f"/v1/tenants/{tenant_id}/statements",
        content=chunks(),
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_an_invalid_tenant_id_is_refused(client: TestClient) -> None:
    response = upload(client, "no spaces", camt_file(), key="brk_a_b")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_broker_failure_keeps_the_messages_in_the_outbox_until_it_is_back(
    client: TestClient, publisher: MemoryBroker, tenant_id: str
) -> None:
    body = camt_file(Statement(entries=[Entry(), Entry(details=[Detail(amount="1.00")])]))
    publisher.fail_after = 0
    response = upload(client, tenant_id, body)
    assert response.status_code == 202
    assert response.json()["status"] == "published"
    assert publisher.messages == []
    publisher.fail_after = None
    wait_for(lambda: len(publisher.messages) == 3)
    ids = [m.envelope.message_id for m in publisher.messages]
    assert len(set(ids)) == 3


def test_uploads_need_the_tenants_own_api_key(client: TestClient, tenant_id: str) -> None:
    body = camt_file()
    missing = client.post(f"/v1/tenants/{tenant_id}/statements", content=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert upload(client, tenant_id, body, key="brk_nope_nope").status_code == 401
    assert upload(client, tenant_id, body, key="garbage").status_code == 401
    other = issue_key(client, "t-someone-else")
    forbidden = upload(client, tenant_id, body, key=other)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"


def test_a_revoked_key_stops_working(client: TestClient, tenant_id: str) -> None:
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    issued = client.post(f"/v1/admin/tenants/{tenant_id}/api-keys", headers=admin).json()
    assert upload(client, tenant_id, camt_file(), key=issued["api_key"]).status_code == 202
    revoked = client.delete(
        f"/v1/admin/tenants/{tenant_id}/api-keys/{issued['key_id']}", headers=admin
    )
    assert revoked.status_code == 204
    assert upload(client, tenant_id, camt_file(), key=issued["api_key"]).status_code == 401


def test_the_admin_api_needs_the_admin_token(client: TestClient, tenant_id: str) -> None:
    response = client.post(
        f"/v1/admin/tenants/{tenant_id}/api-keys", headers={"authorization": "Bearer wrong"}
    )
    assert response.status_code == 401


def test_the_status_endpoint_tells_what_happened_to_each_file(
    client: TestClient, tenant_id: str
) -> None:
    accepted = upload(client, tenant_id, DEMO_STATEMENT.read_bytes()).json()
    refused = upload(client, tenant_id, b"<a><b></a>")
    assert refused.status_code == 422
    key = _KEYS[(id(client), tenant_id)]
    status = client.get(
        f"/v1/tenants/{tenant_id}/ingests/{accepted['ingest_id']}",
        headers={"authorization": f"Bearer {key}"},
    ).json()
    assert status["status"] == "published"
    assert status["lines_published"] == 7
    assert status["received_via"] == "upload"
    unknown = client.get(
        f"/v1/tenants/{tenant_id}/ingests/nope", headers={"authorization": f"Bearer {key}"}
    )
    assert unknown.status_code == 404


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_asyncapi_documents_the_published_topics(client: TestClient) -> None:
    document = client.get("/asyncapi.json").json()
    text = str(document)
    assert STATEMENTS.name in text
    assert STATEMENT_LINES.name in text


def test_health_is_503_until_the_broker_runs(settings: IngestSettings) -> None:
    app = create_app(settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"}))
    response = TestClient(app).get("/health")  # not entered: the lifespan never started
    assert response.status_code == 503
    assert response.json() == {"status": "starting"}


N26_EXPORT = (
    b'"Booking Date","Value Date","Partner Name","Partner Iban",Type,"Payment Reference",'
    b'"Account Name","Amount (EUR)","Original Amount","Original Currency","Exchange Rate"\n'
    b'2026-11-20,,"Kari Nordmann",DE27100110000000000000,"Credit Transfer","Invoice 10234",'
    b'"Main",328.00,,,\n'
)


def test_a_csv_that_does_not_name_its_account_needs_the_account_parameter(
    client: TestClient, tenant_id: str
) -> None:
    refused = upload(client, tenant_id, N26_EXPORT)
    assert refused.status_code == 422
    assert "?account=" in refused.json()["error"]["message"]
    accepted = upload(client, tenant_id, N26_EXPORT, account="DE89370400440532013000")
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["format"] == "csv"
    assert accepted.json()["lines_published"] == 1
