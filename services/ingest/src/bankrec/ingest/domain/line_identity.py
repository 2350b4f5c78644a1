"""Which statement lines are the same payment, across files and statements.

A line's id must be the same whenever the bank reports the same payment: in a re-sent
file, in the same statement inside another bundle, in an intraday camt.052 and the
end-of-day camt.053 that follows it, in two statements whose periods overlap. So the id
does not depend on the line's position or its statement, only on the account and:

1. **the bank's reference** for the line (camt ``AcctSvcrRef``, MT940 ``//`` bank reference,
   OFX ``FITID``, BAI2 bank reference, OCR archive reference, BgMax deposit id and BGC serial number), with
   the position inside a batch entry for a split batch. Placeholders (``NONREF``,
   ``NOTPROVIDED``) are no reference. A reference that repeats within one statement is not
   trusted for the lines that share it: they fall back to (2) and a diagnostic says so.
2. **fallback, when the bank gives no usable reference**: a fingerprint of what the bank
   says about the payment (booking date, value date, amount, currency, counterparty account,
   structured reference, end-to-end id, remittance text) plus its ordinal among lines with
   the same fingerprint and account earlier in the file. Two genuinely identical payments on
   one day keep two ids (ordinals 0 and 1), also when a bank splits a statement into pages
   (MT940 ``60M``/``62M``, camt ``StmtPgntn``) and each page holds one of them; the same day
   reported again in an overlapping statement of another file gives the same ids, as long
   as both files hold that whole day.

The ids are uuid5 values in a fixed namespace, so they fit every consumer's inbox column.

Files are read line by line (``LineIdentifier``), so what identity remembers of a file is
kept compact (``digest_counter``: tens of bytes a line, not the lines). Rule 1 looks ahead: the
first line with a reference cannot know that a later line repeats it. A file is therefore read
optimistically, trusting each reference; when a statement turns out to repeat one,
``ReferenceRepeated`` is raised and the reader reads the file again knowing which references
repeat (``repeated`` per statement), so every id is exactly what a reader holding the whole
statement would give.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from bankrec.contracts import StatementLine
from bankrec.ingest.domain.digest_counter import DigestCounter, DigestSet
from bankrec.ingest.domain.model import ParsedStatement

_LINE_NAMESPACE = uuid.UUID("3d0c8e62-5b1f-5a47-9c2e-7f4b1a6d8e90")


def _uuid5(seed: Any, name: str) -> tuple[str, bytes]:
    """``str(uuid.uuid5(_LINE_NAMESPACE, prefix + name))`` and its 16 bytes, from ``seed``
    (SHA-1 fed the namespace and the prefix): the same value at a fraction of the cost."""
    sha = seed.copy()
    sha.update(name.encode("utf-8"))
    raw = bytearray(sha.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}", bytes(raw)


_PLACEHOLDERS = {"", "NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE", "N/A", "0"}

Note = Callable[[str, str], None]


class ReferenceRepeated(Exception):  # noqa: N818 - a signal to read again, not an error
    """A bank reference appeared a second time in a statement whose earlier lines were
    already identified trusting it; the file must be read again knowing the repeats."""

    def __init__(self, statement: int, key: str) -> None:
        super().__init__(f"statement #{statement}: reference key {key!r} repeats")
        self.statement = statement
        self.key = key


def reference_key(line: StatementLine) -> str | None:
    """The bank's own reference of the line, when it gives a usable one."""
    reference = (line.bank_reference or "").strip()
    if reference.upper() in _PLACEHOLDERS:
        return None
    detail = "" if line.detail_index is None else str(line.detail_index)
    return f"ref|{reference}|{detail}"


def fingerprint(line: StatementLine) -> str:
    """What the bank says about a payment, for lines without a usable reference."""
    counterparty = line.counterparty.account_number if line.counterparty else None
    parts = (
        line.booking_date.isoformat() if line.booking_date else "",
        line.value_date.isoformat() if line.value_date else "",
        str(line.amount.amount.normalize()),
        line.amount.currency,
        "".join((counterparty or "").split()).upper(),
        line.structured_reference.value if line.structured_reference else "",
        line.end_to_end_id or "",
        " ".join((line.remittance_text or "").split()).casefold(),
        " ".join((line.additional_info or "").split()).casefold(),
    )
    return "fp|" + "|".join(parts)


def repeated_references(lines: Sequence[StatementLine]) -> frozenset[str]:
    """The reference keys that appear on more than one line of a whole statement."""
    counted = Counter(key for key in map(reference_key, lines) if key)
    return frozenset(key for key, count in counted.items() if count > 1)


def repeated_references_note(bank_statement_id: str | None, repeated: frozenset[str]) -> str:
    shown = ", ".join(sorted(key.split("|")[1] for key in repeated)[:5])
    return (
        f"statement '{bank_statement_id}': bank reference(s) {shown} appear on more "
        "than one line; those lines are identified by their content instead"
    )


class LineIdentifier:
    """Stable ids for the lines of one file, given statement by statement in file order.

    Fingerprint ordinals are counted per account across the whole file (pages of one
    statement, statements of a bundle), as digests.
    """

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._ordinals = DigestCounter()

    @property
    def remembered_bytes(self) -> int:
        """Memory held for the fingerprint ordinals (the benchmark reports it)."""
        return self._ordinals.size_bytes

    def statement(
        self, statement: int, account_id: str, repeated: frozenset[str] | None
    ) -> StatementLineIds:
        """The identifier of one statement's lines. ``repeated`` are the reference keys the
        statement repeats; None when not known yet (they are then found as lines come, and
        a repeat raises ``ReferenceRepeated``)."""
        return StatementLineIds(self, statement, account_id, repeated)

    def fallback_ordinal(self, account_id: str, content: str) -> int:
        return self._ordinals.add(f"{account_id}|{content}")


class StatementLineIds:
    """Identifies the lines of one statement, in statement order."""

    __slots__ = ("_account_id", "_file", "_repeated", "_seed", "_seen", "_statement")

    def __init__(
        self,
        file: LineIdentifier,
        statement: int,
        account_id: str,
        repeated: frozenset[str] | None,
    ) -> None:
        self._file = file
        self._statement = statement
        self._account_id = account_id
        self._seed = hashlib.sha1(_LINE_NAMESPACE.bytes, usedforsecurity=False)
        self._seed.update(f"{file.tenant_id}|{account_id}|".encode())
        self._repeated = repeated
        # known repeats need no memory; unknown ones are watched for, 8 bytes a reference
        self._seen = DigestSet() if repeated is None else None

    @property
    def remembered_bytes(self) -> int:
        return 0 if self._seen is None else self._seen.size_bytes

    def identify(self, lines: Sequence[StatementLine]) -> Sequence[StatementLine]:
        """Give drafted lines (fresh, owned by the caller) their stable ids, in place: a
        copy of each would cost more than building it."""
        for line in lines:
            # the field is set already (empty) and not validated on assignment: write it
            line.__dict__["line_id"] = self.line_id(line)
        return lines

    def identified(self, lines: Sequence[StatementLine]) -> list[StatementLine]:
        """Copies of the lines with their stable ids (see the module docstring)."""
        return [line.model_copy(update={"line_id": self.line_id(line)}) for line in lines]

    def line_id(self, line: StatementLine) -> str:
        key = reference_key(line)
        if key is not None:
            if self._repeated is not None and key in self._repeated:
                key = None
            else:
                line_id, digest = _uuid5(self._seed, key)
                # within a statement the id names the reference key: count ids, not keys
                if self._seen is not None and self._seen.add_digest(digest):
                    raise ReferenceRepeated(self._statement, key)
                return line_id
        content = fingerprint(line)
        key = f"{content}|{self._file.fallback_ordinal(self._account_id, content)}"
        return _uuid5(self._seed, key)[0]


def identify_lines(
    statement: ParsedStatement,
    *,
    tenant_id: str,
    note: Note,
    identifier: LineIdentifier | None = None,
) -> ParsedStatement:
    """A whole statement with every line's stable id (see the module docstring).

    Pass the same ``identifier`` for each statement of a file, so identical lines on
    several pages keep apart; without it ordinals are counted within the statement.
    """
    header, lines = statement
    repeated = repeated_references(lines)
    if repeated:
        note(
            "bank_reference_not_unique",
            repeated_references_note(header.bank_statement_id, repeated),
        )
    ids = (identifier or LineIdentifier(tenant_id)).statement(
        0, header.account.account_id, repeated
    )
    return ParsedStatement(header=header, lines=ids.identified(lines))
