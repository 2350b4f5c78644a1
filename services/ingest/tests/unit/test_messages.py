"""The messages a parsed file becomes, without any broker."""

from __future__ import annotations

from ingest_factories import Detail, Entry, Statement, camt_file

from bankrec.contracts import STATEMENT_LINES, STATEMENTS
from bankrec.ingest.domain import header_message_id_for, messages_for, parse_statement_file


def test_each_statement_is_followed_by_its_lines_with_deterministic_ids() -> None:
    data = camt_file(
        Statement(entries=[Entry(), Entry()], statement_id="S-1"),
        Statement(entries=[Entry(details=[Detail(amount="100.00")])], statement_id="S-2"),
    )
    result = parse_statement_file(data, tenant_id="t-messages")
    messages = messages_for(result, tenant_id="t-messages")
    assert [m.topic for m in messages] == [
        STATEMENTS,
        STATEMENT_LINES,
        STATEMENT_LINES,
        STATEMENTS,
        STATEMENT_LINES,
    ]
    first_header = result.statements[0].header
    assert messages[0].envelope.message_id == header_message_id_for(
        first_header.statement_id, result.file_sha256
    )
    assert messages[1].envelope.message_id == result.statements[0].lines[0].line_id
    assert {m.key for m in messages} == {f"t-messages:{first_header.account.account_id}"}
    assert {m.envelope.correlation_id for m in messages} == {result.file_sha256}
    assert all(len(m.envelope.message_id) <= 100 for m in messages)  # fits consumers' inbox
    again = messages_for(parse_statement_file(data, tenant_id="t-messages"), tenant_id="t-messages")
    assert [m.envelope.message_id for m in again] == [m.envelope.message_id for m in messages]
