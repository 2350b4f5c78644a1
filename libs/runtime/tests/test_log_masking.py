"""Account numbers and counterparty names come out of the JSON logs masked; ids do not."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bankrec.runtime import JsonLogFormatter, SensitiveDataFilter, mask_text

IBAN = "NO9386011117947"
NAME = "Ola Nordmann"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(SensitiveDataFilter())
    logger = logging.getLogger("bankrec.test.masking")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.handlers.clear()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_iban_and_a_name_in_the_message_are_masked(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.info("line from counterparty=%r account %s", NAME, IBAN)
    [entry] = lines(stream)
    assert entry["message"] == "line from counterparty='O*** N***' account ****7947"
    assert IBAN not in stream.getvalue()
    assert "Nordmann" not in stream.getvalue()


def test_extra_fields_are_masked_by_what_they_hold_and_ids_are_kept(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.warning(
        "refused",
        extra={
            "tenant_id": "acme",
            "message_id": "550e8400-e29b-41d4-a716-446655440000",
            "counterparty_name": "Kari Nordmann AS",
            "account": "1503.12.34567",
            "detail": {"iban": "DE89 3704 0044 0532 0130 00", "amount": "114225.00"},
        },
    )
    [entry] = lines(stream)
    assert entry["tenant_id"] == "acme"
    assert entry["message_id"] == "550e8400-e29b-41d4-a716-446655440000"
    assert entry["counterparty_name"] == "K*** N*** A***"
    assert entry["account"] == "****4567"
    assert entry["detail"] == {"iban": "****3000", "amount": "114225.00"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("paid from 86011117947 on 2026-11-20", "paid from ****7947 on 2026-11-20"),
        ('{"name": "Per Hansen", "amount": "12500.00"}', '{"name": "P*** H***", "amount": "12500.00"}'),
        ("Counterparty(name='Per Hansen', iban='GB82WEST12345698765432')", "Counterparty(name='P*** H***', iban='****5432')"),
        ("KID 1002345005 for INV-10230", "KID ****5005 for INV-10230"),
        ("file statement-2026-11.camt053.xml, 7 lines, 114225.00 NOK", "file statement-2026-11.camt053.xml, 7 lines, 114225.00 NOK"),
    ],
)  # fmt: skip
def test_what_is_masked_and_what_is_not(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_a_traceback_is_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise ValueError(f"unknown account {IBAN}")
    except ValueError:
        logger.exception("failed")
    [entry] = lines(stream)
    assert "****7947" in str(entry["error"])
    assert IBAN not in stream.getvalue()
