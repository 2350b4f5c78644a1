"""Which statement lines are the bank's own fees or interest (seed 000: "Gebyr og renter").

Such a line has no payment behind it in the books: it is posted by an adjustment created from
the reconciliation. The diagnosis points these lines out; nothing is posted automatically.

The bank transaction code decides when it says so (ISO 20022 sub-families, SWIFT MT940 ``:61:``
type codes, OFX ``TRNTYPE``); otherwise words in the line's text in the seeds' languages and
English. A word match only ever produces a suggestion, so a false hit costs a glance.
"""

from __future__ import annotations

import re

from bankrec.contracts import AdjustmentKind, BankTransactionCode, StatementLine

# ISO 20022 (camt) family / sub-family codes
_ISO_FEE_CODES = frozenset({"CHRG", "FEES", "COMM", "CHRGS"})
_ISO_INTEREST_CODES = frozenset({"INTR", "INTE"})
# SWIFT MT940 :61: transaction type identification codes, OFX TRNTYPE values
_PROPRIETARY_FEE_CODES = frozenset({"NCHG", "FCHG", "NCOM", "FCOM", "FEE", "SRVCHG"})
_PROPRIETARY_INTEREST_CODES = frozenset({"NINT", "FINT", "INT"})

_FEE_WORDS = re.compile(
    r"\b(gebyr\w*|bankgebyr\w*|avgift\w*|bankavgift\w*|afgift\w*|fees?|charges?|"
    r"kontoavgift\w*|utbetalningsavgift\w*)\b",
    re.IGNORECASE,
)
_INTEREST_WORDS = re.compile(
    r"\b(renter?|rentor|r[äa]nta|r[äa]ntor|interest|kreditrente\w*|debetrente\w*)\b",
    re.IGNORECASE,
)


def charge_kind(line: StatementLine) -> AdjustmentKind | None:
    """``bank_fee`` or ``interest`` when the line looks like one, else None."""
    by_code = _kind_of_code(line.bank_transaction_code)
    if by_code is not None:
        return by_code
    text = " ".join(t for t in (line.remittance_text, line.additional_info) if t)
    if _INTEREST_WORDS.search(text):
        return AdjustmentKind.INTEREST
    if _FEE_WORDS.search(text):
        return AdjustmentKind.BANK_FEE
    return None


def _kind_of_code(code: BankTransactionCode | None) -> AdjustmentKind | None:
    if code is None:
        return None
    iso = {(value or "").upper() for value in (code.family, code.sub_family)}
    if iso & _ISO_INTEREST_CODES:
        return AdjustmentKind.INTEREST
    if iso & _ISO_FEE_CODES:
        return AdjustmentKind.BANK_FEE
    proprietary = (code.proprietary or "").upper()
    if proprietary in _PROPRIETARY_INTEREST_CODES:
        return AdjustmentKind.INTEREST
    if proprietary in _PROPRIETARY_FEE_CODES:
        return AdjustmentKind.BANK_FEE
    return None
