"""Bundles: every statement file of a zip/gzip/tar is read; bombs, nesting and broken
members are refused before anything is published."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest
from ingest_factories import CORPUS_DIR, Entry, Statement, camt_file

from bankrec.ingest.domain import parse_statement_file
from bankrec.ingest.domain.parsers.archives import unpack_archive
from bankrec.ingest.errors import ArchiveRefused, IngestError

TENANT = "t-archive"


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _tar(members: dict[str, bytes], *, mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as bundle:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_zip_with_two_statements_gives_both_with_the_bundles_hash() -> None:
    first = camt_file(Statement(entries=[Entry()], statement_id="S-1"))
    second = camt_file(Statement(entries=[Entry()], statement_id="S-2"))
    bundle = _zip({"day1.xml": first, "day2.xml": second, "__MACOSX/._day1.xml": b"junk"})
    result = parse_statement_file(bundle, tenant_id=TENANT)
    alone = parse_statement_file(first, tenant_id=TENANT)
    assert [s.header.bank_statement_id for s in result.statements] == ["S-1", "S-2"]
    assert result.source_format == "zip(camt.053.001.02)"
    assert {s.header.file_sha256 for s in result.statements} == {result.file_sha256}
    # the same statement gives the same line ids inside and outside the bundle
    assert [line.line_id for line in result.statements[0].lines] == [
        line.line_id for line in alone.statements[0].lines
    ]


def test_gzip_and_tar_gz_are_read() -> None:
    statement = camt_file(Statement(entries=[Entry()], statement_id="S-9"))
    for bundle in (gzip.compress(statement), _tar({"a/s.xml": statement}, mode="w:gz")):
        result = parse_statement_file(bundle, tenant_id=TENANT)
        assert [s.header.bank_statement_id for s in result.statements] == ["S-9"]


def test_a_bad_member_refuses_the_bundle_and_names_the_member() -> None:
    bundle = _zip({"good.xml": camt_file(), "bad.xml": b"<Document><unclosed>"})
    with pytest.raises(IngestError) as refused:
        parse_statement_file(bundle, tenant_id=TENANT)
    assert refused.value.message.startswith("bad.xml: ")


def test_a_zip_bomb_is_refused_before_it_is_inflated_past_the_limit() -> None:
    bomb = _zip({"huge.xml": b"\0" * 20_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(ArchiveRefused, match="inflates to more than 1,000,000 bytes"):
        unpack_archive(bomb, inflated_bytes_max=1_000_000)


def test_nested_archives_empty_and_corrupt_bundles_are_refused() -> None:
    with pytest.raises(ArchiveRefused, match="itself an archive"):
        unpack_archive(_zip({"inner.zip": _zip({"s.xml": camt_file()})}), inflated_bytes_max=10**7)
    with pytest.raises(ArchiveRefused, match="holds no files"):
        unpack_archive(_zip({".hidden": b"x"}), inflated_bytes_max=10**7)
    with pytest.raises(ArchiveRefused, match="cannot be read"):
        unpack_archive(b"PK\x03\x04" + b"\0" * 40, inflated_bytes_max=10**7)
    with pytest.raises(ArchiveRefused, match="cannot be inflated"):
        unpack_archive(b"\x1f\x8b\x08\x00" + b"\xff" * 40, inflated_bytes_max=10**7)


def test_a_zip_whose_member_offsets_point_before_its_start_is_refused() -> None:
    """Found by fuzzing: bytes cut from the front shift the central directory, so zipfile
    seeks to a negative offset for the first member (was ValueError)."""
    bundle = _zip({"a.xml": camt_file(), "b.xml": camt_file()})
    cut = bundle[:30] + bundle[40:]
    with pytest.raises(ArchiveRefused, match=r"member 'a.xml' cannot be read: negative seek"):
        parse_statement_file(cut, tenant_id=TENANT)


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason="statement corpus ../shared/corpus absent")
@pytest.mark.parametrize(
    ("relative", "statements", "lines"),
    [
        (
            "OCA+bank-statement-import/account_statement_import_camt/test_files/test-camt053.zip",
            2,
            6,
        ),
    ],
)
def test_corpus_bundles(relative: str, statements: int, lines: int) -> None:
    result = parse_statement_file((CORPUS_DIR / relative).read_bytes(), tenant_id=TENANT)
    assert len(result.statements) == statements
    assert result.line_count == lines
