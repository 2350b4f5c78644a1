"""Reading a statement file as a stream: lines in batches, each header after its lines, the
same ids as reading it whole, refusals wherever they are found, and bounded memory."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from ingest_factories import CORPUS_DIR, Detail, Entry, Statement, camt_file
from lxml import etree

from bankrec.contracts import StatementLine
from bankrec.ingest.domain import (
    FileRead,
    LinesRead,
    ParsedStatement,
    ReadAgain,
    StatementEvent,
    StatementRead,
    collect_events,
    parse_statement_file,
    read_statement_file,
)
from bankrec.ingest.domain.diagnostics import DiagnosticLog
from bankrec.ingest.domain.digest_counter import DigestCounter
from bankrec.ingest.domain.line_identity import LineIdentifier, identify_lines
from bankrec.ingest.domain.model import Diagnostic
from bankrec.ingest.domain.parsers.camt import _bank_transaction_code_of, _FileReader
from bankrec.ingest.domain.parsers.camt_entries import read_ordinary_entry
from bankrec.ingest.domain.parsers.drafts import ReadingContext
from bankrec.ingest.domain.parsers.safe_xml import PARSER_OPTIONS
from bankrec.ingest.domain.parsers.sources import CHUNK_BYTES, survey_bytes
from bankrec.ingest.domain.parsers.xml_nodes import Node
from bankrec.ingest.errors import ArchiveRefused, ForbiddenXmlConstruct, InvalidValue

TENANT = "t-streaming"


def _events(data: bytes | Path, **options: object) -> list[StatementEvent]:
    return list(read_statement_file(data, tenant_id=TENANT, **options))  # type: ignore[arg-type]


def _entries(count: int, *, referenced: bool = True) -> list[Entry]:
    return [
        Entry(
            amount=f"{index % 97 + 1}.00",
            bank_reference=f"R{index}" if referenced else None,
            details=[Detail(debtor="KARI HANSEN", unstructured=[f"Faktura {index % 5}"])],
        )
        for index in range(count)
    ]


def _ids(statements: list[ParsedStatement]) -> list[str]:
    return [line.line_id for _header, lines in statements for line in lines]


def _identified_whole(result: list[ParsedStatement]) -> list[str]:
    """The ids a reader holding each whole statement gives (``identify_lines``)."""
    identifier = LineIdentifier(TENANT)
    notes: list[tuple[str, str]] = []
    return _ids(
        [
            identify_lines(
                ParsedStatement(header, [line.model_copy() for line in lines]),
                tenant_id=TENANT,
                note=lambda code, text: notes.append((code, text)),
                identifier=identifier,
            )
            for header, lines in result
        ]
    )


def test_lines_come_in_batches_and_each_header_after_its_lines() -> None:
    data = camt_file(
        Statement(entries=_entries(1_200), statement_id="S-1"),
        Statement(entries=_entries(3), statement_id="S-2", iban="NO8330001234567"),
    )
    events = _events(data, lines_per_batch=500)
    shape = [
        (type(event).__name__, getattr(event, "statement", None), len(getattr(event, "lines", ())))
        for event in events
    ]
    assert shape == [
        ("LinesRead", 0, 500),
        ("LinesRead", 0, 500),
        ("LinesRead", 0, 200),
        ("StatementRead", 0, 0),
        ("LinesRead", 1, 3),
        ("StatementRead", 1, 0),
        ("FileRead", None, 0),
    ]
    [file] = [event for event in events if isinstance(event, FileRead)]
    assert file.line_count == 1_203
    assert [header.line_count for header in file.statements] == [1_200, 3]
    lines = [line for event in events if isinstance(event, LinesRead) for line in event.lines]
    assert [line.sequence for line in lines[:1_200]] == list(range(1_200))


def test_a_path_a_stream_and_bytes_give_the_same_events(tmp_path: Path) -> None:
    data = camt_file(Statement(entries=_entries(20, referenced=False)))
    path = tmp_path / "statement.xml"
    path.write_bytes(data)
    whole = collect_events(_events(data))
    assert collect_events(_events(path)) == whole
    assert collect_events(read_statement_file(io.BytesIO(data), tenant_id=TENANT)) == whole


@pytest.mark.parametrize(
    "statements",
    [
        # identical payments without a bank reference, over two pages of one statement
        [
            Statement(entries=_entries(30, referenced=False), statement_id="S-1/p1"),
            Statement(entries=_entries(30, referenced=False), statement_id="S-1/p2"),
        ],
        # a reference on two lines of one statement: both are identified by content
        [
            Statement(
                entries=[Entry(bank_reference="SAME"), *_entries(600), Entry(bank_reference="SAME")]
            )
        ],
        # split batches, references and none, two statements of one account
        [
            Statement(
                entries=[
                    Entry(
                        amount="3.00",
                        bank_reference="B-1",
                        details=[Detail(amount="1.00"), Detail(amount="2.00")],
                    ),
                    *_entries(5, referenced=False),
                ],
                statement_id="A",
            ),
            Statement(entries=_entries(5, referenced=False), statement_id="B"),
        ],
    ],
    ids=["unreferenced-twins-on-pages", "repeated-reference-far-apart", "batches"],
)
def test_streamed_ids_are_those_of_a_whole_statement_reader(statements: list[Statement]) -> None:
    result = parse_statement_file(camt_file(*statements), tenant_id=TENANT)
    assert _ids(result.statements) == _identified_whole(result.statements)
    assert len(set(_ids(result.statements))) == result.line_count


def test_a_repeated_reference_found_late_asks_for_a_second_read_that_gets_it_right() -> None:
    entries = [Entry(bank_reference="SAME"), *_entries(1_000), Entry(bank_reference="SAME")]
    data = camt_file(Statement(entries=entries, statement_id="S-1"))
    given_out: list[StatementEvent] = []
    with pytest.raises(ReadAgain) as again:
        given_out.extend(read_statement_file(data, tenant_id=TENANT, lines_per_batch=100))
    # lines went out before the repeat was seen; the caller must drop them
    assert any(isinstance(event, LinesRead) for event in given_out)
    assert not any(isinstance(event, FileRead) for event in given_out)
    assert again.value.hints.repeated_references == {0: frozenset({"ref|SAME|"})}

    second = collect_events(read_statement_file(data, tenant_id=TENANT, hints=again.value.hints))
    assert _ids(second.statements) == _identified_whole(second.statements)
    assert "bank_reference_not_unique" in [d.code for d in second.diagnostics]
    assert parse_statement_file(data, tenant_id=TENANT) == second


def test_an_account_stated_after_the_entries_holds_its_lines_to_the_end() -> None:
    data = camt_file(Statement(entries=_entries(3), statement_id="LATE")).decode()
    account = re.search(r"<Acct>.*?</Acct>", data)
    assert account is not None
    moved = data.replace(account.group(0), "", 1).replace("</Stmt>", account.group(0) + "</Stmt>")
    result = parse_statement_file(moved.encode(), tenant_id=TENANT)
    in_order = parse_statement_file(data.encode(), tenant_id=TENANT)
    assert _ids(result.statements) == _ids(in_order.statements)
    assert result.statements[0].header.model_copy(update={"file_sha256": ""}) == (
        in_order.statements[0].header.model_copy(update={"file_sha256": ""})
    )


def test_an_error_in_the_last_entry_is_raised_after_lines_went_out_and_before_the_end() -> None:
    entries = [*_entries(1_100), Entry(amount="1,00")]
    data = camt_file(Statement(entries=entries, statement_id="S-BAD", closing=None))
    given_out: list[StatementEvent] = []
    with pytest.raises(InvalidValue) as refused:
        given_out.extend(read_statement_file(data, tenant_id=TENANT, lines_per_batch=500))
    assert refused.value.details()["statement"] == "S-BAD"
    # batches went out, but neither the statement's header nor the file's end: a caller
    # that publishes only at FileRead (the ingest service) publishes nothing of it
    assert [type(event) for event in given_out] == [LinesRead, LinesRead]
    with pytest.raises(InvalidValue):
        parse_statement_file(data, tenant_id=TENANT)


def test_a_doctype_across_two_chunks_is_found_before_the_parser_runs() -> None:
    prefix = b'<?xml version="1.0"?>\n' + b"<!-- " + b"x" * (CHUNK_BYTES - 36) + b" -->\n"
    data = prefix + b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>'
    assert data.index(b"<!DOCTYPE") < CHUNK_BYTES < data.index(b"<!DOCTYPE") + 9
    facts = survey_bytes(io.BytesIO(data), bytes_max=len(data))
    assert facts.forbidden_line == 3
    with pytest.raises(ForbiddenXmlConstruct, match="line 3"):
        _events(data, upload_bytes_max=len(data))


def test_bundle_members_are_streamed_and_checked_before_any_is_read() -> None:
    first = camt_file(Statement(entries=_entries(3), statement_id="Z-1"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a.xml", first)
        bundle.writestr("bomb.xml", b" " * 5_000_000)
    with pytest.raises(ArchiveRefused, match="inflates to more than"):
        _events(buffer.getvalue(), upload_bytes_max=1_000_000)


def test_digest_counter_counts_and_grows() -> None:
    counter = DigestCounter()
    keys = [f"key-{index % 3000}" for index in range(9_000)]
    before = [counter.add(key) for key in keys]
    assert before[:3000] == [0] * 3000
    assert before[3000:6000] == [1] * 3000
    assert before[6000:] == [2] * 3000
    assert len(counter) == 3000
    assert counter.size_bytes < 3000 * 80  # a few dozen bytes a key, not the keys


def test_fingerprint_memory_is_a_few_dozen_bytes_a_line() -> None:
    """The one thing identity keeps for a whole file: a digest per unreferenced line."""
    identifier = LineIdentifier(TENANT)
    result = parse_statement_file(
        camt_file(Statement(entries=_entries(2_000, referenced=False))), tenant_id=TENANT
    )
    ids = identifier.statement(0, result.statements[0].header.account.account_id, frozenset())
    for line in result.statements[0].lines:
        ids.line_id(line)
    assert identifier.remembered_bytes / 2_000 < 80


def test_diagnostics_of_one_kind_are_capped_with_a_count_of_the_rest() -> None:
    log = DiagnosticLog(per_code_max=2)
    for index in range(5):
        log.add(Diagnostic("missing_status", f"entry {index}"))
    log.add(Diagnostic("balance_mismatch", "off"))
    assert [(d.code, d.message) for d in log.diagnostics()] == [
        ("missing_status", "entry 0"),
        ("missing_status", "entry 1"),
        ("balance_mismatch", "off"),
        (
            "more_diagnostics",
            "3 more 'missing_status' diagnostic(s) like the ones above are not listed",
        ),
    ]


def test_a_statement_without_lines_still_gets_its_header() -> None:
    events = _events(camt_file(Statement(entries=[])))
    assert [type(event) for event in events] == [StatementRead, FileRead]


def test_streamed_lines_are_complete_statement_lines() -> None:
    result = parse_statement_file(camt_file(Statement(entries=_entries(3))), tenant_id=TENANT)
    lines = result.statements[0].lines
    assert all(isinstance(line, StatementLine) and line.line_id for line in lines)
    assert Counter(line.statement_id for line in lines) == {
        result.statements[0].header.statement_id: 3
    }


def _corpus_camt_files() -> list[Path]:
    if not CORPUS_DIR.is_dir():
        return []
    return [
        path
        for path in sorted(CORPUS_DIR.rglob("*"))
        if path.is_file() and b"<Ntry" in path.read_bytes()[:2_000_000]
    ]


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason="statement corpus ../shared/corpus absent")
def test_the_fast_entry_reader_reads_every_corpus_entry_as_the_full_reader_does() -> None:
    """``camt_entries`` reads ordinary entries in one walk and hands the rest to the full
    reader; wherever it gives an entry, the full reader gives the same one."""
    reader = _FileReader(ReadingContext(TENANT, "sha", DiagnosticLog()))
    compared = handed_over = 0
    for path in _corpus_camt_files():
        try:
            tree = etree.fromstring(path.read_bytes(), etree.XMLParser(**PARSER_OPTIONS))
        except etree.XMLSyntaxError:
            continue
        for element in tree.iter("{*}Ntry"):
            namespace = etree.QName(element).namespace or ""
            fast = read_ordinary_entry(element, namespace, 0, _bank_transaction_code_of)
            if fast is None:
                handed_over += 1
                continue
            assert fast == reader._read_entry(Node(element, namespace), 0), path
            compared += 1
    assert compared > 150  # the corpus holds some 200 ordinary entries
    assert handed_over < compared
