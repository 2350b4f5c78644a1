"""A generated case as a camt.053.001.02 file, written so that ingest reads back every field
the generated lines have (amounts, dates, bank references, codes, parties, references, texts).

One ``Stmt`` per day with opening and closing booked balances that add up; a batch entry has
one ``TxDtls`` per line, each with its own ``AcctSvcrRef`` and amount; the bank's own lines
(fees, interest) have no ``TxDtls``. The party written is the debtor for money in and the
creditor for money out; for a reversal it is the party of the payment it reverses, as banks
report it (and as ingest reads it back).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from xml.sax.saxutils import escape

from bankrec.contracts import BankTransactionCode, StatementLine
from bankrec.matcher.quality.truth import GeneratedEntry, GeneratedStatement, QualityCase

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
NOT_PROVIDED = "NOTPROVIDED"


def statement_xml(case: QualityCase) -> bytes:
    """The case's statements as one camt.053 document (UTF-8)."""
    created = _moment(case.statements[-1].booking_date if case.statements else None)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<Document xmlns="{NAMESPACE}">\n<BkToCstmrStmt>\n',
        f"<GrpHdr><MsgId>BANKREC-QUALITY-{case.seed}</MsgId><CreDtTm>{created}</CreDtTm>"
        "</GrpHdr>\n",
    ]
    for statement in case.statements:
        parts.append(_statement(case, statement))
    parts.append("</BkToCstmrStmt>\n</Document>\n")
    return "".join(parts).encode("utf-8")


def _moment(day: date | None) -> str:
    """The statement's creation time: 23:00 UTC on its day."""
    if day is None:
        return datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    return datetime.combine(day, time(23, 0), tzinfo=UTC).isoformat()


def _text(value: str) -> str:
    return escape(value)


def _amount(value: Decimal) -> str:
    return format(abs(value), "f")


def _sign(value: Decimal) -> str:
    return "CRDT" if value >= 0 else "DBIT"


def _statement(case: QualityCase, statement: GeneratedStatement) -> str:
    account = case.account
    currency = account.currency
    day = statement.booking_date.isoformat()
    parts = [
        "<Stmt>\n",
        f"<Id>{_text(statement.bank_statement_id)}</Id>",
        f"<CreDtTm>{_moment(statement.booking_date)}</CreDtTm>\n",
        "<Acct><Id><IBAN>{}</IBAN></Id><Ccy>{}</Ccy><Ownr><Nm>{}</Nm></Ownr>"
        "<Svcr><FinInstnId><BIC>{}</BIC></FinInstnId></Svcr></Acct>\n".format(
            account.iban, currency, _text(account.owner_name or ""), account.servicer_bic or ""
        ),
    ]
    for code, balance in (
        ("OPBD", statement.opening_balance),
        ("CLBD", statement.closing_balance),
    ):
        parts.append(
            f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="{currency}">{_amount(balance)}</Amt><CdtDbtInd>{_sign(balance)}'
            f"</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>\n"
        )
    for entry in statement.entries:
        parts.append(_entry(entry, currency))
    parts.append("</Stmt>\n")
    return "".join(parts)


def _code(code: BankTransactionCode) -> str:
    parts = ["<BkTxCd>"]
    if code.domain:
        parts.append(
            f"<Domn><Cd>{code.domain}</Cd><Fmly><Cd>{code.family}</Cd>"
            f"<SubFmlyCd>{code.sub_family}</SubFmlyCd></Fmly></Domn>"
        )
    if code.proprietary:
        parts.append(
            f"<Prtry><Cd>{code.proprietary}</Cd><Issr>{code.proprietary_issuer or ''}</Issr></Prtry>"
        )
    parts.append("</BkTxCd>")
    return "".join(parts)


def _entry(entry: GeneratedEntry, currency: str) -> str:
    reversal = "<RvslInd>true</RvslInd>" if entry.reversal else ""
    parts = [
        "<Ntry>",
        f"<NtryRef>{_text(entry.ntry_ref)}</NtryRef>",
        f'<Amt Ccy="{currency}">{_amount(entry.amount)}</Amt>',
        f"<CdtDbtInd>{_sign(entry.amount)}</CdtDbtInd>{reversal}<Sts>BOOK</Sts>",
        f"<BookgDt><Dt>{entry.booking_date.isoformat()}</Dt></BookgDt>",
        f"<ValDt><Dt>{entry.value_date.isoformat()}</Dt></ValDt>",
        f"<AcctSvcrRef>{_text(entry.bank_reference)}</AcctSvcrRef>",
        _code(entry.code),
    ]
    if entry.with_details:
        parts.append("<NtryDtls>")
        for line in entry.lines:
            parts.append(_detail(line, currency))
        parts.append("</NtryDtls>")
    if entry.additional_info:
        parts.append(f"<AddtlNtryInf>{_text(entry.additional_info)}</AddtlNtryInf>")
    parts.append("</Ntry>\n")
    return "".join(parts)


def _detail(line: StatementLine, currency: str) -> str:
    parts = ["\n<TxDtls><Refs>"]
    if line.bank_reference:
        parts.append(f"<AcctSvcrRef>{_text(line.bank_reference)}</AcctSvcrRef>")
    parts.append(f"<EndToEndId>{_text(line.end_to_end_id or NOT_PROVIDED)}</EndToEndId></Refs>")
    parts.append(
        f'<AmtDtls><TxAmt><Amt Ccy="{currency}">{_amount(line.amount.amount)}</Amt></TxAmt>'
        "</AmtDtls>"
    )
    counterparty = line.counterparty
    if counterparty is not None:
        # the party whose money it is: ingest reads the debtor of money in, the creditor of
        # money out, and for a reversal the party of the payment it reverses
        role = "Dbtr" if (line.amount.amount >= 0) != line.reversal else "Cdtr"
        parts.append("<RltdPties>")
        if counterparty.name:
            parts.append(f"<{role}><Nm>{_text(counterparty.name)}</Nm></{role}>")
        if counterparty.iban:
            parts.append(f"<{role}Acct><Id><IBAN>{counterparty.iban}</IBAN></Id></{role}Acct>")
        elif counterparty.other_account:
            parts.append(
                f"<{role}Acct><Id><Othr><Id>{_text(counterparty.other_account)}</Id>"
                f"<SchmeNm><Cd>BBAN</Cd></SchmeNm></Othr></Id></{role}Acct>"
            )
        parts.append("</RltdPties>")
    remittance = []
    if line.remittance_text:
        remittance.append(f"<Ustrd>{_text(line.remittance_text)}</Ustrd>")
    if line.referred_documents or line.structured_reference:
        remittance.append("<Strd>")
        for number in line.referred_documents:
            remittance.append(
                "<RfrdDocInf><Tp><CdOrPrtry><Cd>CINV</Cd></CdOrPrtry></Tp>"
                f"<Nb>{_text(number)}</Nb></RfrdDocInf>"
            )
        if line.structured_reference:
            remittance.append(
                "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
                f"<Ref>{_text(line.structured_reference.value)}</Ref></CdtrRefInf>"
            )
        remittance.append("</Strd>")
    if remittance:
        parts.append("<RmtInf>" + "".join(remittance) + "</RmtInf>")
    parts.append("</TxDtls>")
    return "".join(parts)
