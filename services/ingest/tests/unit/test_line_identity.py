"""Line identity: the same payment keeps its id across files and statements; different
payments never share one."""

from __future__ import annotations

from ingest_factories import Detail, Entry, Statement, camt_file

from bankrec.ingest.domain import ParseResult, parse_statement_file

TENANT = "t-identity"


def _ids(result: ParseResult) -> list[str]:
    return [line.line_id for statement in result.statements for line in statement.lines]


def _parse(*statements: Statement, message: str = "camt.053") -> ParseResult:
    return parse_statement_file(camt_file(*statements, message=message), tenant_id=TENANT)


def test_an_overlapping_statement_repeats_the_ids_of_the_payments_it_shares() -> None:
    first = _parse(
        Statement(
            entries=[Entry(bank_reference="R1"), Entry(bank_reference="R2", amount="20.00")],
            statement_id="S-1",
        )
    )
    overlapping = _parse(
        Statement(
            entries=[Entry(bank_reference="R2", amount="20.00"), Entry(bank_reference="R3")],
            statement_id="S-2",
        )
    )
    assert _ids(first)[1] == _ids(overlapping)[0]
    assert len(set(_ids(first)) | set(_ids(overlapping))) == 3


def test_an_intraday_report_and_the_end_of_day_statement_share_line_ids() -> None:
    entries = [Entry(bank_reference="R1"), Entry(bank_reference="R2", amount="7.00")]
    intraday = _parse(Statement(entries=entries, statement_id="R-1"), message="camt.052")
    end_of_day = _parse(Statement(entries=entries, statement_id="S-1"))
    assert _ids(intraday) == _ids(end_of_day)


def test_without_bank_references_identical_payments_keep_two_ids_by_ordinal() -> None:
    twins = _parse(Statement(entries=[Entry(), Entry()]))
    assert len(set(_ids(twins))) == 2
    again = _parse(Statement(entries=[Entry(), Entry()], statement_id="S-other"))
    assert _ids(again) == _ids(twins)


def test_a_reference_repeated_in_one_statement_is_not_trusted() -> None:
    result = _parse(
        Statement(
            entries=[Entry(bank_reference="SAME"), Entry(bank_reference="SAME", amount="3.00")]
        )
    )
    assert len(set(_ids(result))) == 2
    assert "bank_reference_not_unique" in [d.code for d in result.diagnostics]


def test_placeholder_references_fall_back_to_content() -> None:
    result = _parse(
        Statement(entries=[Entry(bank_reference="NONREF"), Entry(bank_reference="NONREF")])
    )
    assert len(set(_ids(result))) == 2
    assert "bank_reference_not_unique" not in [d.code for d in result.diagnostics]


def test_split_batch_details_get_one_id_each() -> None:
    batch = Entry(
        amount="3.00",
        bank_reference="B-1",
        details=[Detail(amount="1.00"), Detail(amount="2.00")],
    )
    result = _parse(Statement(entries=[batch]))
    assert len(set(_ids(result))) == 2


def test_other_tenants_never_share_ids() -> None:
    data = camt_file(Statement(entries=[Entry(bank_reference="R1")]))
    ours = _ids(parse_statement_file(data, tenant_id=TENANT))
    theirs = _ids(parse_statement_file(data, tenant_id="t-else"))
    assert not set(ours) & set(theirs)


def test_identical_lines_on_two_pages_of_one_file_keep_two_ids() -> None:
    """A bank splitting one day over two pages, each with the same unreferenced payment."""
    pages = [
        Statement(entries=[Entry()], statement_id="S-1/p1"),
        Statement(entries=[Entry()], statement_id="S-1/p2"),
    ]
    result = _parse(*pages)
    assert len(set(_ids(result))) == 2
