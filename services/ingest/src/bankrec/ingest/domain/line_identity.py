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
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

from bankrec.contracts import StatementLine
from bankrec.ingest.domain.model import ParsedStatement

_LINE_NAMESPACE = uuid.UUID("3d0c8e62-5b1f-5a47-9c2e-7f4b1a6d8e90")
_PLACEHOLDERS = {"", "NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE", "N/A", "0"}

Note = Callable[[str, str], None]


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


def identify_lines(
    statement: ParsedStatement,
    *,
    tenant_id: str,
    note: Note,
    ordinals: Counter[str] | None = None,
) -> ParsedStatement:
    """The statement with every line's stable id (see the module docstring).

    ``ordinals`` counts fingerprints across the statements of one file (pass the same
    counter for each); without it they are counted within the statement.
    """
    header, lines = statement
    account_id = header.account.account_id
    references = [reference_key(line) for line in lines]
    repeated = {key for key, count in Counter(k for k in references if k).items() if count > 1}
    if repeated:
        shown = ", ".join(sorted(key.split("|")[1] for key in repeated)[:5])
        note(
            "bank_reference_not_unique",
            f"statement '{header.bank_statement_id}': bank reference(s) {shown} appear on more "
            "than one line; those lines are identified by their content instead",
        )
    if ordinals is None:
        ordinals = Counter()
    identified: list[StatementLine] = []
    for line, key in zip(lines, references, strict=True):
        if key is None or key in repeated:
            content = fingerprint(line)
            scoped = f"{account_id}|{content}"
            key = f"{content}|{ordinals[scoped]}"
            ordinals[scoped] += 1
        line_id = str(uuid.uuid5(_LINE_NAMESPACE, f"{tenant_id}|{account_id}|{key}"))
        identified.append(line.model_copy(update={"line_id": line_id}))
    return ParsedStatement(header=header, lines=identified)
