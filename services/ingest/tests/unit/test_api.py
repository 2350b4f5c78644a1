"""The HTTP API with an in-memory publisher: the contract of the upload, errors, health."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ingest_factories import DEMO_STATEMENT, Detail, Entry, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES, STATEMENTS, StatementHeader, StatementLine
from bankrec.ingest.adapters import MemoryPublisher
from bankrec.ingest.bootstrap import create_app
from bankrec.ingest.domain import file_sha256, header_message_id_for
from bankrec.ingest.settings import IngestSettings
from bankrec.runtime import decode_payload

UPLOAD_BYTES_MAX = 200_000


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def client(publisher: MemoryPublisher) -> Iterator[TestClient]:
    settings = IngestSettings(upload_bytes_max=UPLOAD_BYTES_MAX)
    with TestClient(create_app(settings, publisher=publisher)) as test_client:
        yield test_client


def upload(client: TestClient, tenant_id: str, body: bytes, **params: str) -> Any:
    return client.post(
        f"/v1/tenants/{tenant_id}/statements",
        content=body,
        params=params,
        headers={"content-type": "application/octet-stream"},
    )


def test_upload_answers_202_with_statements_lines_and_diagnostics(
    client: TestClient, tenant_id: str
) -> None:
    body = DEMO_STATEMENT.read_bytes()
    response = upload(client, tenant_id, body, filename="statement.xml")
    assert response.status_code == 202, response.text
    answer = response.json()
    [statement] = answer["statements"]
    assert answer == {
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
    client: TestClient, publisher: MemoryPublisher, tenant_id: str
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


def test_the_same_file_uploaded_twice_publishes_the_same_message_ids(
    client: TestClient, publisher: MemoryPublisher, tenant_id: str
) -> None:
    body = DEMO_STATEMENT.read_bytes()
    upload(client, tenant_id, body)
    first = [m.envelope.message_id for m in publisher.messages]
    publisher.messages.clear()
    upload(client, tenant_id, body)
    assert [m.envelope.message_id for m in publisher.messages] == first


def test_diagnostics_are_part_of_the_answer(client: TestClient, tenant_id: str) -> None:
    body = camt_file(Statement(entries=[Entry(amount="5.00")], closing="1.00"))
    answer = upload(client, tenant_id, body).json()
    [diagnostic] = answer["diagnostics"]
    assert diagnostic["code"] == "balance_mismatch"
    assert diagnostic["statement"] == "2026-11-20-00321"


def test_format_can_be_forced(client: TestClient, tenant_id: str) -> None:
    body = camt_file(Statement(entries=[Entry()]), message="camt.054")
    assert upload(client, tenant_id, body, format="camt.054").status_code == 202
    refused = upload(client, tenant_id, body, format="camt.053")
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
        (b":20:STARTUMSE\r\n:25:10020030/1234567\r\n", 415, "unsupported_format"),
        (
            camt_file(Statement(entries=[Entry(indicator=None)], closing=None)),
            422,
            "missing_element",
        ),
        (b"<a>" + b"x" * UPLOAD_BYTES_MAX + b"</a>", 413, "too_large"),
    ],
    ids=["empty", "not-xml", "namespace", "dtd", "mt940", "missing-element", "too-large"],
)
def test_bad_input_is_refused_and_publishes_nothing(
    client: TestClient,
    publisher: MemoryPublisher,
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
    client: TestClient, publisher: MemoryPublisher, tenant_id: str
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

    response = client.post(f"/v1/tenants/{tenant_id}/statements", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_an_invalid_tenant_id_is_refused(client: TestClient) -> None:
    response = upload(client, "no spaces", camt_file())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_broker_failure_answers_503_and_a_retry_publishes_the_same_ids(
    client: TestClient, publisher: MemoryPublisher, tenant_id: str
) -> None:
    body = camt_file(Statement(entries=[Entry(), Entry(details=[Detail(amount="1.00")])]))
    publisher.fail_after = 2
    response = upload(client, tenant_id, body)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "publish_failed"
    assert "not all of its 3 messages" in response.json()["error"]["message"]
    partial = [m.envelope.message_id for m in publisher.messages]

    publisher.fail_after = None
    publisher.messages.clear()
    assert upload(client, tenant_id, body).status_code == 202
    assert [m.envelope.message_id for m in publisher.messages][:2] == partial


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_asyncapi_documents_the_published_topics(client: TestClient) -> None:
    document = client.get("/asyncapi.json").json()
    text = str(document)
    assert STATEMENTS.name in text
    assert STATEMENT_LINES.name in text


def test_health_is_503_until_the_broker_runs() -> None:
    app = create_app(IngestSettings(kafka_bootstrap_servers="127.0.0.1:1"))
    response = TestClient(app).get("/health")  # not entered: the lifespan never started
    assert response.status_code == 503
    assert response.json() == {"status": "starting"}
