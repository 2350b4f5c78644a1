"""Format detection: only a positive recognition names another format; the rest is XML's."""

from __future__ import annotations

import gzip

import pytest
from ingest_factories import camt_file

from bankrec.ingest.domain import StatementFormat, detect_format, parse_statement_file
from bankrec.ingest.errors import NotXml, UnsupportedFormat

MT940 = b":20:STARTUMSE\r\n:25:10020030/1234567\r\n:28C:00001/001\r\n:60F:C261119EUR1000,00\r\n-"
SWIFT_MT940 = b"{1:F01DNBANOKKAXXX0000000000}{2:I940DNBANOKKXXXXN}{4:\r\n:20:1\r\n:25:1\r\n-}"
OFX_SGML = b"OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\n\r\n<OFX><BANKMSGSRSV1>"
OFX_XML = b'<?xml version="1.0"?><?OFX OFXHEADER="200" VERSION="220"?><OFX><SIGNONMSGSRSV1/></OFX>'
BAI2 = b"01,122099999,123456789,261120,0200,1,,,2/\n02,123456789,122099999,1,261119,,USD,2/\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (camt_file(), StatementFormat.CAMT),
        (b"\xef\xbb\xbf  \n" + camt_file(), StatementFormat.CAMT),
        (
            "<?xml version='1.0' encoding='UTF-16'?><Document/>".encode("utf-16"),
            StatementFormat.CAMT,
        ),
        (MT940, StatementFormat.MT940),
        (SWIFT_MT940, StatementFormat.MT940),
        (OFX_SGML, StatementFormat.OFX),
        (OFX_XML, StatementFormat.OFX),
        (BAI2, StatementFormat.BAI2),
        (b"PK\x03\x04\x14\x00\x00\x00", StatementFormat.ZIP),
        (gzip.compress(b"<Document/>"), StatementFormat.GZIP),
        (b"Date;Amount;Text\n", StatementFormat.UNKNOWN),
        (MT940.decode().encode("utf-16"), StatementFormat.MT940),
        (b"\xfe\xff" + MT940.decode().encode("utf-16-be"), StatementFormat.MT940),
        (BAI2.decode().encode("utf-16"), StatementFormat.BAI2),
        ("Date;Amount;Text\n".encode("utf-16"), StatementFormat.UNKNOWN),
    ],
    ids=[
        "camt",
        "camt-bom",
        "utf16",
        "mt940",
        "swift",
        "ofx-sgml",
        "ofx-xml",
        "bai2",
        "zip",
        "gzip",
        "csv",
        "mt940-utf16le",
        "mt940-utf16be",
        "bai2-utf16",
        "csv-utf16",
    ],
)
def test_detect_format(data: bytes, expected: StatementFormat) -> None:
    assert detect_format(data) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b":20:X\r\n:25:1\r\n:28C:1\r\n:34F:EURD0,\r\n:13D:2611201200+0100\r\n", "mt942"),
        (b"{1:F01X}{2:O9421200261120X}{4:\r\n:20:1\r\n:25:1\r\n-}", "mt942"),
        (b"NY000010" + b"0" * 72 + b"\r\n", "ocr-giro"),
        (b"01BGMAX               0120261120123456789012P" + b" " * 34, "bgmax"),
    ],
    ids=["mt942-tags", "mt942-block", "ocr-giro", "bgmax"],
)
def test_detect_nordic_and_intraday_formats(data: bytes, expected: str) -> None:
    assert detect_format(data).value == expected


def test_a_format_forced_that_ingest_does_not_know_is_refused_with_the_choices() -> None:
    with pytest.raises(UnsupportedFormat) as refused:
        parse_statement_file(camt_file(), tenant_id="t-detect", statement_format="xls")
    assert "camt.053" in refused.value.message
    assert "mt940" in refused.value.message


def test_unrecognised_content_goes_to_the_xml_parser() -> None:
    with pytest.raises(NotXml):
        parse_statement_file(b"Date;Amount;Text\n", tenant_id="t-detect")


def test_a_utf16_csv_export_is_read_as_csv_not_as_xml() -> None:
    """Excel's "Unicode text" export is UTF-16 with a BOM; a shipped profile still
    recognises it (it used to be sent to the XML parser and refused as not XML)."""
    text = (
        "Dato;Beskrivelse;Rentedato;Inn;Ut;Til konto;Fra konto;\r\n"
        '"01.09.2026";"BYGG OG MALING AS";"01.09.2026";;"-499,00";"88889900112";"12345678903";\r\n'
        '"03.09.2026";"Kari Nordmann";"03.09.2026";"2 000,00";;"12345678903";"33334455667";\r\n'
    )

    result = parse_statement_file(text.encode("utf-16"), tenant_id="t-detect")

    assert result.source_format == "csv"
    assert result.line_count == 2
