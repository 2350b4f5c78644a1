"""Schema (XSD) problems of camt files as diagnostics, never refusals (``camt_schema``).

The ISO XSDs are not shipped: these tests read them where the statement corpus holds them
and skip with a message without it. Files are built by the camt factories and printed one
element per line, so each diagnostic's line can be asserted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ingest_factories import (
    CORPUS_DIR,
    Detail,
    Entry,
    Statement,
    camt_corpus_files,
    camt_file,
    namespace,
)
from lxml import etree

from bankrec.contracts import STATEMENT_LINES, STATEMENTS
from bankrec.ingest.adapters import MemoryBroker
from bankrec.ingest.bootstrap import camt_schemas, create_app
from bankrec.ingest.cli import main
from bankrec.ingest.domain import Diagnostic, ParseResult, parse_statement_file
from bankrec.ingest.domain.parsers import camt_schema
from bankrec.ingest.domain.parsers.camt_schema import CamtSchemaError, CamtSchemas, readable
from bankrec.ingest.errors import ForbiddenXmlConstruct, IngestError
from bankrec.ingest.settings import IngestSettings

XSD_DIR = CORPUS_DIR / "sebastienrousseau+camt053" / "camt053" / "xsd"
NS = namespace("camt.053", 2)
TENANT = "t-schema"
IBAN_PATTERN = "[A-Z]{2,2}[0-9]{2,2}[a-zA-Z0-9]{1,30}"
STOPPED_AT_FIRST = (
    "validated as a stream, which stops at the first schema error; any later ones are not listed"
)


@pytest.fixture(scope="module")
def schemas() -> CamtSchemas:
    if not XSD_DIR.is_dir():
        pytest.skip(f"the ISO camt XSDs are read from the statement corpus, not at {XSD_DIR}")
    return CamtSchemas(XSD_DIR)


def pretty(data: bytes) -> bytes:
    """A camt file one element per line, as banks often write them."""
    tree = etree.fromstring(data)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(tree, pretty_print=True)


def changed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data, old
    return data.replace(old, new, 1)


def line_of(data: bytes, marker: bytes, occurrence: int = 1) -> int:
    at = -1
    for _ in range(occurrence):
        at = data.index(marker, at + 1)
    return data.count(b"\n", 0, at) + 1


def invalid(line: int, problem: str) -> Diagnostic:
    return Diagnostic("schema_invalid", f"line {line}: {problem}")


def schema_diagnostics(result: ParseResult) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.code.startswith("schema_")]


VALID = pretty(camt_file())


# ----------------------------------------------------------------------- valid, invalid


def test_a_schema_valid_corpus_file_gives_no_diagnostic(schemas: CamtSchemas) -> None:
    path = CORPUS_DIR / "genkgo+camt" / "test" / "data" / "camt053.v2.minimal.xml"
    xsd = etree.XMLSchema(etree.parse(XSD_DIR / "camt.053.001.02.xsd"))
    assert xsd.validate(etree.parse(path)), "lxml alone says the file is schema-valid"

    assert schemas.check(path, NS) == []
    with_schemas = parse_statement_file(path, tenant_id=TENANT, schemas=schemas)
    assert with_schemas == parse_statement_file(path, tenant_id=TENANT)


def test_the_factory_file_is_schema_valid(schemas: CamtSchemas) -> None:
    assert schemas.check(VALID, NS) == []
    assert schemas.check(camt_file(), NS) == []  # all on one line as well


def _out_of_order() -> tuple[bytes, Diagnostic]:
    data = changed(
        VALID,
        b"<ElctrncSeqNb>321</ElctrncSeqNb>\n      <LglSeqNb>321</LglSeqNb>",
        b"<LglSeqNb>321</LglSeqNb>\n      <ElctrncSeqNb>321</ElctrncSeqNb>",
    )
    problem = "element 'ElctrncSeqNb': not expected here; expected 'CreDtTm'"
    return data, invalid(line_of(data, b"<ElctrncSeqNb>"), problem)


def _missing_mandatory() -> tuple[bytes, Diagnostic]:
    # the opening balance without its date, the last element a balance must have
    data = pretty(changed(camt_file(), b"<Dt><Dt>2026-11-20</Dt></Dt></Bal>", b"</Bal>"))
    return data, invalid(line_of(data, b"<Bal>"), "element 'Bal': missing child element 'Dt'")


def _too_long() -> tuple[bytes, Diagnostic]:
    data = pretty(camt_file(Statement(statement_id="S" * 36, entries=[Entry()])))
    problem = "element 'Id': text of 36 characters, more than the 35 allowed"
    return data, invalid(line_of(data, b"<Id>SSS"), problem)


def _bad_iban() -> tuple[bytes, Diagnostic]:
    data = pretty(camt_file(Statement(iban="NO93 8601 1117 947", entries=[Entry()])))
    problem = (
        f"element 'IBAN': value 'NO93 8601 1117 947' does not match the pattern '{IBAN_PATTERN}'"
    )
    return data, invalid(line_of(data, b"<IBAN>"), problem)


INVALID_FILES = {
    "element out of order": _out_of_order,
    "missing mandatory element": _missing_mandatory,
    "text too long": _too_long,
    "IBAN against its pattern": _bad_iban,
}


@pytest.mark.parametrize("make", INVALID_FILES.values(), ids=INVALID_FILES.keys())
def test_each_schema_error_is_one_readable_diagnostic_with_line_and_element(
    schemas: CamtSchemas, make: Any
) -> None:
    data, expected = make()

    assert schemas.check(data, NS) == [expected]
    lenient = parse_statement_file(data, tenant_id=TENANT)
    checked = parse_statement_file(data, tenant_id=TENANT, schemas=schemas)
    assert checked.statements == lenient.statements  # read exactly as without the check
    assert checked.diagnostics == [*lenient.diagnostics, expected]


def test_the_lines_given_are_those_of_the_elements(schemas: CamtSchemas) -> None:
    data, _expected = _bad_iban()
    assert line_of(data, b"<IBAN>") == 19  # the figure the other tests compute


def test_a_namespace_without_an_xsd_is_not_checked_and_says_which_file_was_looked_for(
    tmp_path: Path, schemas: CamtSchemas
) -> None:
    empty = CamtSchemas(tmp_path)
    expected = Diagnostic(
        "schema_not_checked",
        f"no XSD for namespace {NS}: looked for {tmp_path / 'camt.053.001.02.xsd'}",
    )
    assert empty.check(VALID, NS) == [expected]
    result = parse_statement_file(VALID, tenant_id=TENANT, schemas=empty)
    assert schema_diagnostics(result) == [expected]  # once per file

    unread = namespace("camt.053", 15)
    [not_read] = schemas.check(VALID, unread)
    assert not_read.code == "schema_not_checked"
    assert unread in not_read.message


def test_without_schemas_nothing_changes(schemas: CamtSchemas) -> None:
    data, _expected = _too_long()
    assert schema_diagnostics(parse_statement_file(data, tenant_id=TENANT)) == []


# ------------------------------------------------------------------------ large files


def _two_errors() -> bytes:
    return pretty(camt_file(Statement(statement_id="S" * 36, iban="no938601", entries=[Entry()])))


def test_a_file_over_the_limit_is_validated_as_a_stream_up_to_its_first_error(
    schemas: CamtSchemas,
) -> None:
    data = _two_errors()
    too_long = invalid(
        line_of(data, b"<Id>SSS"), "element 'Id': text of 36 characters, more than the 35 allowed"
    )
    iban = invalid(
        line_of(data, b"<IBAN>"),
        f"element 'IBAN': value 'no938601' does not match the pattern '{IBAN_PATTERN}'",
    )
    assert schemas.check(data, NS) == [too_long, iban]

    streamed = CamtSchemas(XSD_DIR, max_bytes=100).check(data, NS)

    assert streamed == [
        too_long,
        Diagnostic(
            "schema_check_stopped",
            f"the file is {len(data):,} bytes, more than the 100 "
            f"(BANKREC_INGEST_SCHEMA_MAX_BYTES) validated as a whole: it was {STOPPED_AT_FIRST}",
        ),
    ]
    assert CamtSchemas(XSD_DIR, max_bytes=100).check(VALID, NS) == []


def test_the_streamed_error_s_line_is_found_across_chunks(
    schemas: CamtSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [Entry(bank_reference=f"REF-{n}") for n in range(30)]
    entries[23].status = "BOKK"
    data = pretty(camt_file(Statement(entries=entries)))
    [whole] = schemas.check(data, NS)
    monkeypatch.setattr(camt_schema, "STREAM_CHUNK_BYTES", 97)  # ~50 chunks

    first, stopped = CamtSchemas(XSD_DIR, max_bytes=100).check(data, NS)

    assert whole == invalid(
        line_of(data, b"<Sts>BOKK"),
        "element 'Sts': value 'BOKK' is not one of 'BOOK', 'PDNG', 'INFO'",
    )
    assert first == whole
    assert stopped.code == "schema_check_stopped"


def _many_errors(statements: int, entries: int, bad_every: int) -> bytes:
    made = []
    for number in range(statements):
        own = [Entry(bank_reference=f"R-{number}-{n}") for n in range(entries)]
        for entry in own[::bad_every]:
            entry.status = "BOKK"
        statement_id = f"S-{number}" if number else "S" * 36  # one statement header error
        made.append(Statement(statement_id=statement_id, entries=own))
    return pretty(camt_file(*made))


def test_a_big_tree_validated_in_pieces_gives_what_the_whole_tree_gives(
    schemas: CamtSchemas,
) -> None:
    data = _many_errors(statements=2, entries=40, bad_every=7)
    whole = schemas.check(data, NS)

    in_pieces = CamtSchemas(XSD_DIR, piece_elements_max=150).check(data, NS)

    assert len(whole) == 1 + 2 * 6  # the header, entries 0, 7, ..., 35 of each statement
    assert in_pieces == whole
    assert [d.message for d in whole] == sorted(
        (d.message for d in whole), key=lambda message: int(message.split(":")[0][5:])
    )


def test_an_entry_too_big_for_a_piece_falls_back_to_the_first_error(
    schemas: CamtSchemas,
) -> None:
    details = [Detail(amount="1.00", end_to_end_id=f"E-{n}") for n in range(20)]
    data = pretty(
        camt_file(Statement(entries=[Entry(status="BOKK"), Entry(amount="20.00", details=details)]))
    )
    tree = etree.fromstring(data)
    big = tree.findall(".//{*}Ntry")[1]
    size = sum(1 for _ in big.iter())

    first, stopped = CamtSchemas(XSD_DIR, piece_elements_max=size + 10).check(data, NS)

    assert first == invalid(
        line_of(data, b"<Sts>BOKK"),
        "element 'Sts': value 'BOKK' is not one of 'BOOK', 'PDNG', 'INFO'",
    )
    assert stopped == Diagnostic(
        "schema_check_stopped",
        f"an entry holds {size:,} elements, more than the {size + 10:,} validated at a time: "
        f"it was {STOPPED_AT_FIRST}",
    )


def test_errors_are_capped_like_every_diagnostic(schemas: CamtSchemas) -> None:
    data = _many_errors(statements=1, entries=150, bad_every=1)
    found = schemas.check(data, NS)

    assert Counter(d.code for d in found) == {"schema_invalid": 100, "more_diagnostics": 1}
    assert found[-1].message == (
        "51 more 'schema_invalid' diagnostic(s) like the ones above are not listed"
    )
    result = parse_statement_file(data, tenant_id=TENANT, schemas=schemas)
    assert Counter(d.code for d in result.diagnostics)["schema_invalid"] == 100


def test_validation_stops_after_errors_max(
    schemas: CamtSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(camt_schema, "ERRORS_MAX", 5)
    data = _many_errors(statements=1, entries=40, bad_every=1)

    found = CamtSchemas(XSD_DIR, piece_elements_max=150).check(data, NS)

    assert [d.code for d in found] == ["schema_invalid"] * 5 + ["schema_check_stopped"]
    assert found[-1].message == "validation stopped after 5 schema errors; the file may hold more"


# --------------------------------------------------------------------------- envelopes


def test_a_document_in_an_envelope_is_validated_as_a_whole_tree(schemas: CamtSchemas) -> None:
    assert schemas.check(camt_file(envelope=True), NS) == []
    data = pretty(camt_file(Statement(statement_id="S" * 36, entries=[Entry()]), envelope=True))
    assert schemas.check(data, NS) == [
        invalid(
            line_of(data, b"<Id>SSS"),
            "element 'Id': text of 36 characters, more than the 35 allowed",
        )
    ]
    [not_checked] = CamtSchemas(XSD_DIR, max_bytes=100).check(data, NS)
    assert not_checked.code == "schema_not_checked"
    assert "inside an envelope" in not_checked.message


# ----------------------------------------------------------------------------- safety


XXE = f"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="{NS}"><BkToCstmrStmt><Stmt><Id>&secret;</Id></Stmt></BkToCstmrStmt></Document>
""".encode()


def test_a_dtd_is_still_refused_before_any_validation(schemas: CamtSchemas) -> None:
    with pytest.raises(ForbiddenXmlConstruct):
        parse_statement_file(XXE, tenant_id=TENANT, schemas=schemas)
    with pytest.raises(ForbiddenXmlConstruct):
        schemas.check(XXE, NS)


def _xsd(tmp_path: Path, body: str) -> Path:
    directory = tmp_path / "xsd"
    directory.mkdir()
    (directory / "camt.053.001.02.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{NS}">{body}</xs:schema>'
    )
    return directory


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('<xs:element name="Document" type="Nowhere"/>', "does not compile as an XML Schema"),
        ('<xs:include schemaLocation="http://example.com/x.xsd"/>', "refers to another schema"),
        ("<xs:element", "cannot be read as XML"),
    ],
    ids=["does not compile", "includes another file", "not XML"],
)
def test_an_xsd_that_cannot_be_used_stops_the_start_naming_the_file(
    tmp_path: Path, body: str, problem: str
) -> None:
    directory = _xsd(tmp_path, body)
    settings = IngestSettings(schema_dir=directory, database_url="sqlite://")

    with pytest.raises(CamtSchemaError) as refused:
        camt_schemas(settings)

    assert str(directory / "camt.053.001.02.xsd") in refused.value.message
    assert problem in refused.value.message
    with pytest.raises(CamtSchemaError):
        create_app(settings, broker=MemoryBroker(topics=(STATEMENTS, STATEMENT_LINES)))


def test_a_directory_without_camt_xsds_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(CamtSchemaError, match=r"holds no camt\.052/053/054 XSD"):
        CamtSchemas(tmp_path).compile_all()
    with pytest.raises(CamtSchemaError, match="is not a directory"):
        CamtSchemas(tmp_path / "missing")


def test_every_xsd_of_the_corpus_compiles(schemas: CamtSchemas) -> None:
    assert CamtSchemas(XSD_DIR).compile_all() == 3 * 14


# ------------------------------------------------------------------- where they show


def test_the_cli_prints_schema_problems_as_notes(
    tmp_path: Path, schemas: CamtSchemas, capsys: pytest.CaptureFixture[str]
) -> None:
    data, expected = _bad_iban()
    path = tmp_path / "statement.xml"
    path.write_bytes(data)
    assert main(["parse", str(path)]) == 0
    plain_out, plain_err = capsys.readouterr()

    assert main(["parse", str(path), "--schema-dir", str(XSD_DIR)]) == 0
    out, err = capsys.readouterr()

    assert out == plain_out
    assert f"bankrec-ingest: {path}: note schema_invalid: {expected.message}\n" in err
    assert "schema_" not in plain_err
    assert main(["parse", str(path), "--schema-dir", str(tmp_path / "missing")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_the_cli_takes_the_schema_dir_from_the_environment(
    tmp_path: Path,
    schemas: CamtSchemas,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, expected = _too_long()
    path = tmp_path / "statement.xml"
    path.write_bytes(data)
    monkeypatch.setenv("BANKREC_INGEST_SCHEMA_DIR", str(XSD_DIR))

    assert main(["parse", str(path)]) == 0

    assert f"note schema_invalid: {expected.message}" in capsys.readouterr().err


ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture
def client(tmp_path: Path, schemas: CamtSchemas) -> Iterator[TestClient]:
    settings = IngestSettings(
        database_url=f"sqlite:///{tmp_path / 'ingest.sqlite'}",
        spool_dir=tmp_path / "spool",
        admin_token=ADMIN_TOKEN,
        schema_dir=XSD_DIR,
    )
    broker = MemoryBroker(topics=(STATEMENTS, STATEMENT_LINES))
    with TestClient(create_app(settings, broker=broker)) as test_client:
        yield test_client


def test_an_upload_answers_and_records_the_schema_problems(client: TestClient) -> None:
    data, expected = _out_of_order()
    issued = client.post(
        f"/v1/admin/tenants/{TENANT}/api-keys",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    headers = {"authorization": f"Bearer {issued.json()['api_key']}"}

    answer = client.post(f"/v1/tenants/{TENANT}/statements", content=data, headers=headers)

    assert answer.status_code == 202, answer.text
    assert answer.json()["lines"] == 1
    shown = {"code": "schema_invalid", "message": expected.message, "statement": None}
    assert shown in answer.json()["diagnostics"]
    status = client.get(
        f"/v1/tenants/{TENANT}/ingests/{answer.json()['ingest_id']}", headers=headers
    )
    assert shown in status.json()["diagnostics"]


# -------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("libxml2", "shown"),
    [
        (
            "Element '{urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}Bal': Missing child "
            "element(s). Expected is ( {urn:iso:std:iso:20022:tech:xsd:camt.053.001.02}Amt ).",
            "element 'Bal': missing child element 'Amt'",
        ),
        (
            "Element '{urn:x}Sts': Missing child element(s). Expected is one of ( {urn:x}Cd, "
            "{urn:x}Prtry ).",
            "element 'Sts': missing child element, one of 'Cd', 'Prtry'",
        ),
        (
            "Element '{urn:x}Amt': [facet 'fractionDigits'] The value '1.0000001' has more "
            "fractional digits than are allowed ('5').",
            "element 'Amt': value '1.0000001' has more than 5 decimals",
        ),
        (
            "Element '{urn:x}Amt', attribute 'Ccy': [facet 'pattern'] The value 'nok' is not "
            "accepted by the pattern '[A-Z]{3,3}'.",
            "element 'Amt', attribute 'Ccy': value 'nok' does not match the pattern '[A-Z]{3,3}'",
        ),
        (
            "Element '{urn:x}CreDtTm': '2019-08-09T11:17:11:735' is not a valid value of the "
            "atomic type '{urn:x}ISODateTime'.",
            "element 'CreDtTm': value '2019-08-09T11:17:11:735' is not a valid ISODateTime",
        ),
        (
            "Element '{urn:x}Sts': Character content other than whitespace is not allowed "
            "because the content type is 'element-only'.",
            "element 'Sts': holds text where only child elements belong",
        ),
        ("Element '{urn:x}X': Something new.", "element 'X': something new"),
    ],
)
def test_libxml2_messages_are_made_readable(libxml2: str, shown: str) -> None:
    assert readable(libxml2) == shown


# ---------------------------------------------------------------------------- corpus

CAMT_FILES = camt_corpus_files()


def _document_namespace(path: Path) -> str:
    for _event, element in etree.iterparse(path, events=("start",), tag="{*}Document"):
        return etree.QName(element).namespace or ""
    return ""


def _parsed(path: Path, schemas: CamtSchemas | None) -> ParseResult | str:
    try:
        return parse_statement_file(path, tenant_id=TENANT, schemas=schemas)
    except IngestError as refused:
        return refused.code


@pytest.mark.skipif(not CAMT_FILES, reason=f"statement corpus not found at {CORPUS_DIR}")
def test_corpus_schema_figures_and_an_unchanged_lenient_parse(schemas: CamtSchemas) -> None:
    """Every camt file of the corpus is schema-valid, invalid, or not checked (no XSD for
    its namespace); parsed with the check it gives the same statements and lines and the
    same other diagnostics as without it, or the same refusal. Run with -s for the figures."""
    figures: Counter[str] = Counter()
    invalid_files = []
    for path in CAMT_FILES:
        diagnostics = schemas.check(path, _document_namespace(path))
        codes = {d.code for d in diagnostics}
        if "schema_not_checked" in codes:
            figures["not checked"] += 1
        elif codes:
            assert codes <= {"schema_invalid", "more_diagnostics"}, diagnostics
            figures["invalid"] += 1
            invalid_files.append(f"{path.relative_to(CORPUS_DIR).as_posix()}: {len(diagnostics)}")
        else:
            figures["valid"] += 1

        lenient, checked = _parsed(path, None), _parsed(path, schemas)
        if isinstance(lenient, str):
            assert checked == lenient  # refused the same way
            figures["refused by the lenient parse"] += 1
            continue
        assert isinstance(checked, ParseResult)
        assert checked.statements == lenient.statements
        others = [d for d in checked.diagnostics if not d.code.startswith("schema_")]
        assert others == lenient.diagnostics
        assert schema_diagnostics(checked) == diagnostics

    print(f"\ncamt files in the corpus: {len(CAMT_FILES)}; {dict(figures)}")
    print("schema-invalid (diagnostics):", *invalid_files, sep="\n  ")
    assert figures == {
        "valid": 86,
        "invalid": 29,
        "not checked": 2,
        "refused by the lenient parse": 8,
    }
