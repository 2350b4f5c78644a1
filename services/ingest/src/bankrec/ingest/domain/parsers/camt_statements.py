"""One statement's lines and header, built as the statement is streamed.

What the lines need from the statement (its id, page and account: ``StatementFacts``) is
read from the statement element as soon as its first entry ends, which in schema order is
after the ``Id``, ``Acct`` and ``Bal`` elements; the lines of each entry are then built as
it is read (``lines_for``) and the entry is added to the running ``EntryTotals``. When the
statement ends, its facts are read again from the whole element (with diagnostics), and
the header is built from them and the totals (``statement_header``).

Batch entries are split into one line per transaction detail when the details add up; the
file's own figures (opening + booked entries = closing, ``TxsSummry``) are checked and any
disagreement becomes a diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol

from bankrec.contracts import (
    Balance,
    BankAccountRef,
    BankTransactionCode,
    Counterparty,
    EntryStatus,
    Money,
    StatementHeader,
    StatementKind,
    StatementLine,
    StructuredReference,
    account_id_for,
    currency_exponent,
    normalize_account_number,
)
from bankrec.ingest.domain.identity import statement_id_for
from bankrec.ingest.domain.parsers.xml_nodes import (
    Node,
    is_true,
    joined,
    parse_datetime,
    read_amount,
    read_date_choice,
    sign_of,
)
from bankrec.ingest.errors import InvalidValue, MissingElement

if TYPE_CHECKING:
    from bankrec.ingest.domain.parsers.camt import CamtMessage

# An account without IBAN: ``Othr/Id`` (v02+); ``BBAN``, ``UPIC``, ``PrtryAcct/Id`` (v01)
OTHER_ACCOUNT_PATHS = ("Othr/Id", "BBAN", "UPIC", "PrtryAcct/Id")


@dataclass(frozen=True, slots=True)
class Party:
    name: str | None = None
    iban: str | None = None
    other_account: str | None = None
    bic: str | None = None

    def counterparty(self) -> Counterparty | None:
        if not (self.name or self.iban or self.other_account or self.bic):
            return None
        return Counterparty(
            name=self.name, iban=self.iban, other_account=self.other_account, bic=self.bic
        )

    @property
    def account_number(self) -> str | None:
        return self.iban or self.other_account


@dataclass(frozen=True, slots=True)
class Detail:
    """One ``TxDtls``, read into plain values."""

    amount: Decimal | None  # without sign
    currency: str | None
    sign: int | None  # from the detail's own CdtDbtInd
    end_to_end_id: str | None
    instruction_id: str | None
    bank_reference: str | None
    bank_transaction_code: BankTransactionCode | None
    debtor: Party
    creditor: Party
    structured_reference: StructuredReference | None
    referred_documents: tuple[str, ...]
    remittance_text: str | None
    additional_info: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``Ntry``, read into plain values at its end tag."""

    index: int
    line: int | None
    amount: Decimal  # signed: positive = credit
    currency: str
    status: EntryStatus
    reversal: bool
    booking_date: date | None
    value_date: date | None
    reference: str | None
    bank_reference: str | None
    bank_transaction_code: BankTransactionCode | None
    additional_info: str | None
    details: tuple[Detail, ...]


Note = Callable[[str, str], None]
"""``note(code, message)``: a diagnostic about the statement being read."""


def _quiet(_code: str, _message: str) -> None:
    """Notes of a first look at a statement's facts: they are made when it ends."""


class FileContext(Protocol):
    """What a statement needs from the file it is in (``camt._FileReader``)."""

    tenant_id: str
    sha256: str
    group_created_at: str | None
    group_page: tuple[str | None, str | None]
    group_header_seen: bool
    seen_statement_ids: set[str]
    statement_label: str | None

    def note(self, code: str, message: str, statement: str | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class StatementFacts:
    """What a statement element says besides its entries; ``account`` and ``statement_id``
    are what its lines carry."""

    bank_statement_id: str
    id_key: str  # the bank's statement id, with the page of a paginated statement
    statement_id: str
    account: BankAccountRef
    period_from: date | None
    period_to: date | None
    created_at: datetime | None
    balances: dict[str, Balance]
    own_number: str  # the account's number normalized, to tell our side of a payment

    def same_identity(self, other: StatementFacts) -> bool:
        """Whether lines built with ``other`` carry what lines built with these would."""
        return (self.statement_id, self.id_key, self.account) == (
            other.statement_id,
            other.id_key,
            other.account,
        )


def read_statement_facts(
    context: FileContext,
    node: Node,
    message: CamtMessage,
    *,
    first_entry_currency: str | None,
    note: Note = _quiet,
) -> StatementFacts:
    """The facts of a statement element (whole, or as far as it has been read).

    ``first_entry_currency`` is the currency of its first entry: the account's when neither
    the account nor a balance states one. Raises when the statement lacks what a line cannot
    exist without (``Id``, account).
    """
    reader = _FactsReader(context, node, message, note)
    return reader.read(first_entry_currency)


class _FactsReader:
    def __init__(self, context: FileContext, node: Node, message: CamtMessage, note: Note) -> None:
        self.context = context
        self.node = node
        self.message = message
        self.name = message.statement
        self.note = note
        self.bank_statement_id = ""

    def read(self, first_entry_currency: str | None) -> StatementFacts:
        node = self.node
        bank_statement_id = node.text("Id")
        if bank_statement_id is None:
            raise MissingElement(f"{self.name}/Id", line=node.line)
        self.bank_statement_id = bank_statement_id
        period_from, period_to = self._period()
        created_at = self._created_at()
        balances = self._balances(period_from, period_to, created_at)
        account = self._account(balances, first_entry_currency)
        id_key = self._id_key(bank_statement_id)
        return StatementFacts(
            bank_statement_id=bank_statement_id,
            id_key=id_key,
            statement_id=statement_id_for(account.account_id, id_key),
            account=account,
            period_from=period_from,
            period_to=period_to,
            created_at=created_at,
            balances=balances,
            own_number=normalize_account_number(account.number),
        )

    def _period(self) -> tuple[date | None, date | None]:
        found: list[date | None] = []
        for path in ("FrToDt/FrDtTm", "FrToDt/ToDtTm"):
            text = self.node.text(path)
            moment = None if text is None else parse_datetime(text)
            if text is not None and moment is None:
                self.note("invalid_period", f"<{self.name}/{path}> {text!r} is not a date-time")
            found.append(None if moment is None else moment.date())
        return found[0], found[1]

    def _id_key(self, bank_statement_id: str) -> str:
        """What ids derive from: the statement id, plus the page when the bank splits one
        statement over several messages (``StmtPgntn``, or ``MsgPgntn`` in the group
        header), so the entries of page 2 never take the ids of page 1's."""
        page, last = self.node.text("StmtPgntn/PgNb"), self.node.text("StmtPgntn/LastPgInd")
        if page is None:
            page, last = self.context.group_page
        if page is None or (page.lstrip("0") == "1" and is_true(last)):
            return bank_statement_id
        self.note(
            "paginated_statement",
            f"statement '{bank_statement_id}' is page {page} of several; its statement and "
            f"line ids carry the page ('{bank_statement_id}/p{page}')",
        )
        return f"{bank_statement_id}/p{page}"

    def _created_at(self) -> datetime | None:
        text = self.node.text("CreDtTm") or self.context.group_created_at
        if text is None:
            return None
        moment = parse_datetime(text)
        if moment is None:
            self.note("invalid_created_at", f"creation time {text!r} is not a date-time")
            return None
        if moment.tzinfo is None:
            self.note(
                "assumed_utc",
                f"creation time {text!r} has no UTC offset; read as UTC",
            )
            moment = moment.replace(tzinfo=UTC)
        return moment

    def _balances(
        self, period_from: date | None, period_to: date | None, created_at: datetime | None
    ) -> dict[str, Balance]:
        """Opening (OPBD, else PRCD), closing booked (CLBD) and closing available (CLAV)."""
        found: dict[str, Balance] = {}
        previously_closed: Balance | None = None
        for node in self.node.children("Bal"):
            code = node.first_text("Tp/CdOrPrtry/Cd", "Tp/Cd")
            role = {"OPBD": "opening", "CLBD": "closing", "CLAV": "closing_available"}.get(
                (code or "").upper()
            )
            if role is None and (code or "").upper() != "PRCD":
                continue
            fallback = period_to if role in ("closing", "closing_available") else period_from
            balance = self._balance(node, code or "", fallback, created_at)
            if balance is None:
                continue
            if role is None:
                previously_closed = previously_closed or balance
            elif role not in found:
                found[role] = balance
        if "opening" not in found and previously_closed is not None:
            found["opening"] = previously_closed
        if self.message.kind is StatementKind.END_OF_DAY:
            missing = [
                label
                for role, label in (("opening", "OPBD/PRCD"), ("closing", "CLBD"))
                if role not in found
            ]
            if missing:
                self.note(
                    "missing_balance",
                    f"no {' and no '.join(missing)} balance; the balance check is skipped",
                )
        return found

    def _balance(
        self, node: Node, code: str, fallback: date | None, created_at: datetime | None
    ) -> Balance | None:
        amount, currency = read_amount(
            node, "Amt", within=f"{self.name}/Bal", required=False, statement=self.bank_statement_id
        )
        sign = sign_of(node.text("CdtDbtInd"))
        if amount is None or currency is None or sign is None:
            self.note(
                "incomplete_balance",
                f"balance {code} (line {node.line}) lacks its amount or credit/debit "
                "indicator; ignored",
            )
            return None
        on = read_date_choice(node, "Dt", statement=self.bank_statement_id)
        if on is None:
            on = fallback or (created_at.date() if created_at else None)
            if on is None:
                self.note("incomplete_balance", f"balance {code} has no date; ignored")
                return None
            self.note("balance_date_assumed", f"balance {code} has no date; dated {on}")
        return Balance(amount=Money(amount=sign * amount, currency=currency), date=on)

    def _account(
        self, balances: dict[str, Balance], first_entry_currency: str | None
    ) -> BankAccountRef:
        acct = self.node.child("Acct")
        if acct is None:
            raise MissingElement(
                f"{self.name}/Acct", statement=self.bank_statement_id, line=self.node.line
            )
        iban = acct.text("Id/IBAN")
        other = acct.first_text(*(f"Id/{path}" for path in OTHER_ACCOUNT_PATHS))
        if iban is None and other is None:
            raise MissingElement(
                f"{self.name}/Acct/Id/IBAN",
                statement=self.bank_statement_id,
                line=acct.line,
                hint="an account needs an IBAN or an Othr/Id",
            )
        currency = acct.text("Ccy")
        if currency is None:
            currency = self._currency_from_content(balances, first_entry_currency)
        number = iban or other or ""
        try:
            return BankAccountRef(
                account_id=account_id_for(self.context.tenant_id, number),
                iban=normalize_account_number(iban) if iban else None,
                other_id=None if iban else other,
                currency=currency,
                servicer_bic=acct.first_text("Svcr/FinInstnId/BICFI", "Svcr/FinInstnId/BIC"),
                owner_name=acct.first_text("Ownr/Nm", "Ownr/Pty/Nm", "Nm"),
            )
        except ValueError as exc:
            raise InvalidValue(
                f"{self.name}/Acct/Ccy",
                currency,
                "a three-letter ISO 4217 currency",
                statement=self.bank_statement_id,
                line=acct.line,
            ) from exc

    def _currency_from_content(
        self, balances: dict[str, Balance], first_entry_currency: str | None
    ) -> str:
        for role in ("opening", "closing", "closing_available"):
            balance = balances.get(role)
            if balance is not None:
                return balance.amount.currency  # Acct/Ccy is optional: nothing odd
        if first_entry_currency is not None:
            self.note(
                "currency_from_entries",
                f"<{self.name}/Acct/Ccy> is missing and there is no balance; the account "
                f"currency {first_entry_currency} is taken from the entries",
            )
            return first_entry_currency
        raise MissingElement(
            f"{self.name}/Acct/Ccy",
            statement=self.bank_statement_id,
            line=self.node.line,
            hint="without balances or entries the account currency cannot be told",
        )


@dataclass(slots=True)
class _CurrencyTotals:
    credit_count: int
    credit_sum: Decimal  # positive
    debit_count: int
    debit_sum: Decimal  # positive
    booked: Decimal  # signed, booked entries only


@dataclass(slots=True)
class EntryTotals:
    """Counts and sums of a statement's entries, per currency, added as they are read, so
    the header needs none of the entries themselves."""

    entry_count: int = 0
    by_currency: dict[str, _CurrencyTotals] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        self.entry_count += 1
        totals = self.by_currency.get(entry.currency)
        if totals is None:
            # sums start at zero with the currency's decimals, as the file's TxsSummry does
            nothing = Decimal(0).scaleb(-currency_exponent(entry.currency))
            totals = self.by_currency[entry.currency] = _CurrencyTotals(
                0, nothing, 0, nothing, Decimal(0)
            )
        if entry.amount > 0:
            totals.credit_count += 1
            totals.credit_sum += entry.amount
        elif entry.amount < 0:
            totals.debit_count += 1
            totals.debit_sum += -entry.amount
        if entry.status is EntryStatus.BOOKED:
            totals.booked += entry.amount

    def of(self, currency: str) -> _CurrencyTotals:
        found = self.by_currency.get(currency)
        if found is not None:
            return found
        nothing = Decimal(0).scaleb(-currency_exponent(currency))
        return _CurrencyTotals(0, nothing, 0, nothing, Decimal(0))


# ---------------------------------------------------------------------------------- lines


def lines_for(
    entry: Entry, facts: StatementFacts, *, sequence: int, note: Note
) -> list[StatementLine]:
    """The lines of an entry: one per transaction detail of a batch whose details add up,
    otherwise one. ``sequence`` is the position of the first in the statement. The lines'
    ids are left empty: ``line_identity`` gives them."""
    if entry.currency != facts.account.currency:
        note(
            "entry_currency",
            f"Ntry #{entry.index + 1} (line {entry.line}) is in {entry.currency}, the "
            f"account in {facts.account.currency}; it is left out of the sums and the balance "
            "check",
        )
    details = entry.details
    if len(details) > 1:
        split = _split_amounts(entry, note)
        if split is not None:
            return [
                _line(
                    entry,
                    detail,
                    facts,
                    sequence=sequence + position,
                    amount=amount,
                    detail_index=position,
                )
                for position, (detail, amount) in enumerate(zip(details, split, strict=True))
            ]
        return [
            _line(
                entry,
                _combined(details),
                facts,
                sequence=sequence,
                amount=entry.amount,
                detail_index=None,
            )
        ]
    return [
        _line(
            entry,
            details[0] if details else None,
            facts,
            sequence=sequence,
            amount=entry.amount,
            detail_index=None,
        )
    ]


def _split_amounts(entry: Entry, note: Note) -> list[Decimal] | None:
    """Each detail's signed amount, when together they make the entry; else None."""
    amounts: list[Decimal] = []
    entry_sign = 1 if entry.amount >= 0 else -1
    for detail in entry.details:
        if detail.amount is None or detail.currency != entry.currency:
            note(
                "batch_not_split",
                f"Ntry #{entry.index + 1} (line {entry.line}) has {len(entry.details)} "
                "transaction details but not every one has an amount in the entry's "
                "currency; it is published as one line",
            )
            return None
        amounts.append((detail.sign or entry_sign) * detail.amount)
    if sum(amounts, Decimal(0)) != entry.amount:
        note(
            "batch_not_split",
            f"Ntry #{entry.index + 1} (line {entry.line}): its {len(amounts)} transaction "
            f"details add up to {sum(amounts, Decimal(0))}, the entry to {entry.amount}; "
            "it is published as one line",
        )
        return None
    return amounts


def _line(
    entry: Entry,
    detail: Detail | None,
    facts: StatementFacts,
    *,
    sequence: int,
    amount: Decimal,
    detail_index: int | None,
) -> StatementLine:
    account = facts.account
    split = detail_index is not None
    counterparty = None
    if detail is not None:
        counterparty = _counterparty(detail, amount, entry.reversal, facts.own_number)
    if split:
        assert detail is not None
        bank_reference = detail.bank_reference or entry.bank_reference
        code = detail.bank_transaction_code or entry.bank_transaction_code
    else:
        bank_reference = entry.bank_reference or (detail.bank_reference if detail else None)
        code = entry.bank_transaction_code or (detail.bank_transaction_code if detail else None)
    return StatementLine(
        line_id="",
        statement_id=facts.statement_id,
        account=account,
        sequence=sequence,
        entry_reference=entry.reference or entry.bank_reference or f"ntry-{entry.index + 1}",
        entry_amount=Money(amount=entry.amount, currency=entry.currency) if split else None,
        detail_index=detail_index,
        amount=Money(amount=amount, currency=entry.currency),
        status=entry.status,
        booking_date=entry.booking_date,
        value_date=entry.value_date,
        bank_reference=bank_reference,
        end_to_end_id=detail.end_to_end_id if detail else None,
        instruction_id=detail.instruction_id if detail else None,
        bank_transaction_code=code,
        counterparty=counterparty,
        structured_reference=detail.structured_reference if detail else None,
        referred_documents=list(detail.referred_documents) if detail else [],
        remittance_text=detail.remittance_text if detail else None,
        additional_info=joined(
            (detail.additional_info if detail else None, entry.additional_info), " / "
        ),
        reversal=entry.reversal,
    )


# --------------------------------------------------------------------------------- header


def statement_header(
    context: FileContext,
    node: Node,
    message: CamtMessage,
    facts: StatementFacts,
    totals: EntryTotals,
    *,
    line_count: int,
    note: Note,
) -> StatementHeader:
    """The header of a statement that has ended: its facts, the totals of its entries and
    the checks an accountant makes (opening + booked entries = closing, ``TxsSummry``)."""
    currency = facts.account.currency
    own = totals.of(currency)
    opening = facts.balances.get("opening")
    closing = facts.balances.get("closing")
    _check_balances(opening, closing, totals, note)
    _check_summary(node, totals, own, note)
    return StatementHeader(
        statement_id=facts.statement_id,
        bank_statement_id=facts.bank_statement_id,
        kind=message.kind,
        source_format=message.source_format,
        account=facts.account,
        electronic_sequence_number=_sequence_number(node, message, "ElctrncSeqNb", note),
        legal_sequence_number=_sequence_number(node, message, "LglSeqNb", note),
        created_at=facts.created_at,
        period_from=facts.period_from,
        period_to=facts.period_to,
        opening_booked=opening,
        closing_booked=closing,
        closing_available=facts.balances.get("closing_available"),
        entry_count=totals.entry_count,
        line_count=line_count,
        sum_credits=own.credit_sum,
        sum_debits=own.debit_sum,
        file_sha256=context.sha256,
    )


def _sequence_number(node: Node, message: CamtMessage, path: str, note: Note) -> int | None:
    text = node.text(path)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    # ISO's Number has at most 18 digits; int() of a longer one (1E+999999) would take
    # minutes, and no consumer's column holds it
    if (
        not value.is_finite()
        or value != value.to_integral_value()
        or value < 0
        or (value != 0 and value.adjusted() >= _SEQUENCE_DIGITS_MAX)
    ):
        shown = text if len(text) <= 40 else text[:37] + "..."
        note(
            "invalid_sequence_number",
            f"<{message.statement}/{path}> {shown!r} is not a number of at most "
            f"{_SEQUENCE_DIGITS_MAX} digits",
        )
        return None
    return int(value)


_SEQUENCE_DIGITS_MAX = 18


def _check_balances(
    opening: Balance | None, closing: Balance | None, totals: EntryTotals, note: Note
) -> None:
    """Opening balance + booked entries = closing balance."""
    if opening is None or closing is None:
        return
    currency = closing.amount.currency
    if opening.amount.currency != currency:
        note(
            "balance_currency",
            f"opening balance in {opening.amount.currency} and closing balance in "
            f"{currency}; the balance check is skipped",
        )
        return
    booked = totals.of(currency).booked
    expected = opening.amount.amount + booked
    if expected != closing.amount.amount:
        note(
            "balance_mismatch",
            f"opening balance {opening.amount.amount} + booked entries {booked} = "
            f"{expected}, but the closing balance is {closing.amount.amount} "
            f"(difference {closing.amount.amount - expected} {currency})",
        )


def _check_summary(node: Node, totals: EntryTotals, own: _CurrencyTotals, note: Note) -> None:
    """The file's own ``TxsSummry`` counts and sums against its entries."""
    summary = node.child("TxsSummry")
    if summary is None:
        return
    checks = (
        ("TtlNtries/NbOfNtries", totals.entry_count, "entries"),
        ("TtlCdtNtries/NbOfNtries", own.credit_count, "credit entries"),
        ("TtlCdtNtries/Sum", own.credit_sum, "sum of credits"),
        ("TtlDbtNtries/NbOfNtries", own.debit_count, "debit entries"),
        ("TtlDbtNtries/Sum", own.debit_sum, "sum of debits"),
    )
    for path, actual, label in checks:
        text = summary.text(path)
        if text is None:
            continue
        try:
            stated = Decimal(text)
        except InvalidOperation:
            continue
        if stated != actual:
            note(
                "summary_mismatch",
                f"<TxsSummry/{path}> says {text} but the statement has {actual} ({label})",
            )


def _combined(details: tuple[Detail, ...]) -> Detail:
    """The details of a batch that is published as one line: what they have in common."""
    references = {d.structured_reference for d in details if d.structured_reference}
    return Detail(
        amount=None,
        currency=None,
        sign=None,
        end_to_end_id=None,
        instruction_id=None,
        bank_reference=None,
        bank_transaction_code=None,
        debtor=Party(),
        creditor=Party(),
        structured_reference=references.pop() if len(references) == 1 else None,
        referred_documents=tuple(dict.fromkeys(n for d in details for n in d.referred_documents)),
        remittance_text=joined(d.remittance_text for d in details),
        additional_info=joined((d.additional_info for d in details), " / "),
    )


def _counterparty(
    detail: Detail, amount: Decimal, reversal: bool, own_number: str
) -> Counterparty | None:
    """Who paid us (a credit: the debtor) or whom we paid (a debit: the creditor).

    A reversal runs against its original payment, whose parties the details still name.
    """
    incoming = (amount >= 0) != reversal
    party, other = (
        (detail.debtor, detail.creditor) if incoming else (detail.creditor, detail.debtor)
    )
    found = party.counterparty()
    if found is not None:
        return found
    other_number = other.account_number
    if other_number and normalize_account_number(other_number) != own_number:
        return other.counterparty()
    return None
