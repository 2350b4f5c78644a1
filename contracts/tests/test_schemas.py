"""The committed JSON Schemas must match the models; regenerate with
``uv run bankrec-contracts export-schemas``."""

import json
from pathlib import Path

import jsonschema

from bankrec.contracts import (
    ALL_TOPICS,
    BankAccountRef,
    Money,
    StatementLine,
    envelope_for,
)
from bankrec.contracts.schemas import message_schemas, render

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_the_models() -> None:
    generated = message_schemas()
    committed = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert committed == set(generated), "run: uv run bankrec-contracts export-schemas"
    for name, schema in generated.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == render(schema), (
            f"{name} drifted from the models; run: uv run bankrec-contracts export-schemas"
        )


def test_every_topic_has_a_schema_and_a_versioned_name() -> None:
    for topic in ALL_TOPICS:
        assert topic.name.startswith("bankrec.")
        assert topic.name.rsplit(".", 1)[1].startswith("v")


def test_a_message_validates_against_its_schema() -> None:
    account = BankAccountRef(account_id="acc-1", iban="NO9386011117947", currency="NOK")
    line = StatementLine(
        line_id="l-1",
        statement_id="s-1",
        account=account,
        sequence=0,
        amount=Money.of("100.00", "NOK"),
    )
    message = json.loads(envelope_for(line, tenant_id="t1", correlation_id="c1").model_dump_json())
    schema = message_schemas()["bankrec.ingest.statement-lines.v1.schema.json"]
    jsonschema.validate(message, schema)
    assert message["payload"]["amount"] == {"amount": "100.00", "currency": "NOK"}
    assert message["type"] == "statement.line.received"


def test_a_key_record_validates_and_is_keyed_by_its_key_id_alone() -> None:
    from datetime import UTC, datetime

    from bankrec.contracts import CREDENTIALS, OPEN_ITEMS, ApiKeyRecord

    record = ApiKeyRecord(
        key_id="0123456789abcdef",
        tenant_id="t1",
        key_hash="ab" * 32,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    message = json.loads(
        envelope_for(record, tenant_id="t1", correlation_id="c1").model_dump_json()
    )
    jsonschema.validate(message, message_schemas()["bankrec.ingest.credentials.v1.schema.json"])
    assert message["type"] == "api_key.changed"
    assert CREDENTIALS.compacted
    assert CREDENTIALS.key_for("t1", record.key_id) == "0123456789abcdef"
    assert OPEN_ITEMS.key_for("t1", "INV-1") == "t1:INV-1"
