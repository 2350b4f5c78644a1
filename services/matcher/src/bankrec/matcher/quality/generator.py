"""Generated bank statements with ground truth, to measure how well the matcher matches.

``generate_case(lines=10_000, seed=1)`` builds one tenant (a Norwegian firm, its NOK account
at a Norwegian bank), its customers and suppliers in Norway, Sweden, Denmark, Finland and
Germany (``item_factory``), their open items, and one statement per business day from
2026-09-01 (about 150 lines a day) whose lines exercise the scenarios below. The same
``lines`` and ``seed`` give the same case, byte for byte; nothing here does I/O.

Mix, as shares of the lines (a unit of several lines, e.g. a batch, is kept whole; every
scenario appears at least once, and the rounding remainder goes to ``kid_full``):

| scenario | share | the line(s) | truth |
|---|---|---|---|
| ``kid_full`` | 16% | an OCR giro payment with the invoice's valid KID (mod10 or mod11), full amount; 15% also name the invoice in text | the invoice |
| ``ocr_batch`` | 12% | 2 to 8 KID payments in one OCR batch entry, one line each (``detail_index``) | each its invoice |
| ``rf_full`` | 4% | a foreign customer pays with the RF creditor reference (SEPA), full amount | the invoice |
| ``invoice_text`` | 10% | no reference; the invoice number in the remittance text, in one of ~40 phrasings in five languages ("Faktura 10234", "fakt.nr. 10234", "Rechnung 10234", "Lasku 10234", bare "10234"); 10% as a structured referred document instead | the invoice |
| ``multi_invoice`` | 4% | one line pays 2 to 4 invoices of one customer named in text ("inv 10234/10235"); 10% also carry the first invoice's KID | every invoice, in full |
| ``partial`` | 4% | a part (1/4 to 3/4) of an invoice, by KID (60%) or text ("Delbetaling faktura 10234") | the invoice, the part |
| ``instalments`` | 4% | 2 or 3 lines on different days pay one invoice in full (KID 75%, else "Avdrag 2 faktura 10234") | the invoice, each its part |
| ``fee_deducted`` | 4% | the invoice amount less a bank fee of 5 to 50 NOK (reference 50%, else text) | the invoice settled in full, the fee to bank fees |
| ``late_payment`` | 4% | paid 45 to 150 days after the due date: text 50%, only name and amount 30%, KID 20% | the invoice |
| ``amount_decoy`` | 4% | another customer has an open invoice of exactly the line's amount: either both invoices have it, or the payer paid less (fee, part) than the invoice named in text | the named invoice |
| ``duplicate_amounts`` | 3% | the payer has 2 or 3 open invoices of the same amount (subscriptions); the line pays one, by KID or text | that invoice |
| ``mistyped_kid`` | 3% | the invoice's KID with one typo (changed digit or swapped neighbours): both check digits fail | the invoice, but never by the KID |
| ``bill_payment`` | 8% | an outgoing payment of a supplier bill with the supplier's KID or its invoice number | the bill |
| ``registered_payment`` | 5% | an outgoing payment the books registered (end-to-end id = the payment's number) | the payment item |
| ``reversal`` | 3% | a payment from (70%) or to a stranger and, 1 to 5 days later, the bank's reversal of it; 30% of the amounts equal an open invoice | no item: the pair cancels |
| ``bank_fee`` | 4% | a bank fee (BkTxCd ACMT/MDOP/CHRG, "Gebyr ...") | no item: a rule posting |
| ``interest`` | 1% | interest (ACMT/MDOP/INTR, "Kreditrente ...") | no item: a rule posting |
| ``unknown_payer`` | 7% | money from someone who is no customer; 25% of the amounts equal an open invoice | suspense |

Besides the items the lines pay, the books hold unpaid invoices and bills (half as many
invoices and a tenth as many bills as lines; ``open_items`` asks for more, e.g. a million for
the speed benchmark), so decoys also occur by chance. Every line's amount, references,
names and codes are what ingest reads from the camt.053 file ``camt_writer`` writes, so the
same case can be run offline through the real services.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bankrec.contracts import (
    BankAccountRef,
    BankTransactionCode,
    Counterparty,
    EntryStatus,
    Money,
    OpenItem,
    PostingRule,
    PostingRuleAction,
    PostingRuleActionKind,
    PostingRuleConditions,
    ReferenceKind,
    StatementLine,
    StructuredReference,
    TransactionCodeCondition,
    account_id_for,
)
from bankrec.matcher.quality import bank_numbers, party_names
from bankrec.matcher.quality.item_factory import (
    CENT,
    CURRENCY,
    ItemFactory,
    Party,
    invoice_amount,
)
from bankrec.matcher.quality.truth import (
    GeneratedEntry,
    GeneratedStatement,
    LineTruth,
    Outcome,
    QualityCase,
    Scenario,
    TruthAllocation,
    check_truth,
)

SCENARIO_SHARES: dict[Scenario, int] = {
    Scenario.KID_FULL: 16,
    Scenario.OCR_BATCH: 12,
    Scenario.RF_FULL: 4,
    Scenario.INVOICE_TEXT: 10,
    Scenario.MULTI_INVOICE: 4,
    Scenario.PARTIAL: 4,
    Scenario.INSTALMENTS: 4,
    Scenario.FEE_DEDUCTED: 4,
    Scenario.LATE_PAYMENT: 4,
    Scenario.AMOUNT_DECOY: 4,
    Scenario.DUPLICATE_AMOUNTS: 3,
    Scenario.MISTYPED_KID: 3,
    Scenario.BILL_PAYMENT: 8,
    Scenario.REGISTERED_PAYMENT: 5,
    Scenario.REVERSAL: 3,
    Scenario.BANK_FEE: 4,
    Scenario.INTEREST: 1,
    Scenario.UNKNOWN_PAYER: 7,
}
"""Percent of the lines per scenario (they add up to 100)."""

UNIT_LINES: dict[Scenario, tuple[int, int]] = {
    Scenario.OCR_BATCH: (2, 8),
    Scenario.INSTALMENTS: (2, 3),
    Scenario.REVERSAL: (2, 2),
}
"""Fewest and most lines of one unit of a scenario (others: one line)."""

LINES_DEFAULT = 10_000
LINES_MIN = 100
QUALITY_TENANT = "local"  # ingest's default tenant, so ``bankrec-matcher run`` needs no --tenant
ACCOUNT_IBAN = "NO9386011117947"
ACCOUNT_OWNER = "NORDISK VERKSTED AS"
ACCOUNT_BIC = "DNBANOKKXXX"
PERIOD_START = date(2026, 9, 1)
LINES_PER_DAY = 150
OPENING_BALANCE = Decimal("250000.00")
LATE_DAYS = (45, 150)  # well outside any date tolerance a matcher would use
DEDUCTED_FEES = tuple(Decimal(fee) for fee in ("5.00", "7.50", "10.00", "15.00", "25.00", "50.00"))
BANK_FEES = tuple(
    Decimal(fee) for fee in ("2.50", "5.00", "10.00", "25.00", "35.00", "49.00", "75.00", "150.00")
)
BANK_FEE_TEXTS = (
    "Gebyr", "Omkostninger nettbank", "Kontoholdsgebyr", "Gebyr utlandsbetaling",
    "Transaksjonsgebyr OCR", "Gebyr giro", "Årsavgift bedriftskort",
)  # fmt: skip
INTEREST_TEXTS = ("Kreditrente", "Renter", "Rente kvartal 3", "Debetrente", "Renteoppgjør")
STRANGER_TEXTS = (
    "Vipps", "Refusjon", "Overføring", "Betaling", "Innskudd", "Depositum", "Gave", "Tilbakebetaling",
)  # fmt: skip

INVOICE_PHRASES: dict[str, tuple[str, ...]] = {
    "NO": (
        "Faktura {n}", "Faktura nr. {n}", "fakt.nr. {n}", "Fakt {n}", "FAKTURANR {n}",
        "Betaling faktura {n}", "Innbetaling fakt. {n}", "Fakturanr.: {n}", "faktura {n} {name}",
        "{n}", "Kundenr {c} faktura {n}", "Betaling av faktura {n}, takk", "inv {n}",
        "Ref. faktura {n}", "FAKT {n} {name}", "Fakturanummer {n}",
    ),
    "SE": ("Faktura {n}", "Fakturanr {n}", "Fakturanummer {n}", "Betalning faktura {n}", "Invoice {n}"),
    "DK": ("Faktura {n}", "Fakturanr. {n}", "Betaling af faktura {n}", "Invoice no. {n}"),
    "FI": ("Lasku {n}", "Laskun numero {n}", "Invoice {n}", "Lasku nro {n}"),
    "DE": ("Rechnung {n}", "Rechnungsnr. {n}", "RE-Nr. {n}", "Rechnung Nr. {n} vom {d}", "Invoice {n}"),
}  # fmt: skip
MULTI_PREFIXES: dict[str, tuple[str, ...]] = {
    "NO": ("Faktura ", "Fakt. ", "inv ", "Fakturaer ", "Betaling fakt ", ""),
    "SE": ("Fakturor ", "Faktura "),
    "DK": ("Fakturaer ", "Faktura "),
    "FI": ("Laskut ", "Invoices "),
    "DE": ("Rechnungen ", "RE "),
}
PARTIAL_PHRASES = (
    "Delbetaling faktura {n}", "A konto faktura {n}", "Del av faktura {n}", "Teilzahlung Rechnung {n}",
)  # fmt: skip
BILL_PHRASES = ("Faktura {x}", "Inv {x}", "Fakturanr {x}", "{x}", "Betaling {x}")

CODE_OCR = BankTransactionCode(
    domain="PMNT", family="RCDT", sub_family="DMCT", proprietary="230", proprietary_issuer="NO-BANK"
)
CODE_CREDIT = BankTransactionCode(domain="PMNT", family="RCDT", sub_family="DMCT")
CODE_SEPA = BankTransactionCode(domain="PMNT", family="RCDT", sub_family="ESCT")
CODE_OUTGOING = BankTransactionCode(domain="PMNT", family="ICDT", sub_family="DMCT")
CODE_RETURN = BankTransactionCode(domain="PMNT", family="RCDT", sub_family="RRTN")
CODE_FEE = BankTransactionCode(domain="ACMT", family="MDOP", sub_family="CHRG")
CODE_INTEREST = BankTransactionCode(domain="ACMT", family="MDOP", sub_family="INTR")


QUALITY_POSTING_RULES = tuple(
    PostingRule(
        rule_id=rule_id,
        version=1,
        name=name,
        priority=priority,
        conditions=PostingRuleConditions(
            bank_transaction_code=TransactionCodeCondition(domain="ACMT", sub_family=sub_family)
        ),
        action=PostingRuleAction(kind=PostingRuleActionKind.POST_TO_ACCOUNT, gl_account=gl),
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for rule_id, name, priority, sub_family, gl in (
        ("bank-fees", "Bank fees", 10, "CHRG", "7770"),
        ("interest", "Interest", 20, "INTR", "8050"),
    )
)
"""The generated tenant's posting rules: the bank's fee and interest lines by their code."""


class CaseSizeError(ValueError):
    """The requested case is too small to hold every scenario."""


@dataclass(frozen=True, slots=True)
class _TruthDraft:
    scenario: Scenario
    outcome: Outcome
    allocations: tuple[TruthAllocation, ...] = ()
    pair_key: int | None = None
    reference_must_not_match: bool = False


@dataclass(slots=True)
class _PaymentDraft:
    """One line before its place in the statements (and so its ids) is known."""

    key: int
    amount: Decimal  # signed
    truth: _TruthDraft
    counterparty: Counterparty | None = None
    reference: StructuredReference | None = None
    text: str | None = None
    documents: tuple[str, ...] = ()
    end_to_end_id: str | None = None


@dataclass(slots=True)
class _EntryDraft:
    booking_date: date
    code: BankTransactionCode
    additional_info: str | None
    payments: list[_PaymentDraft]
    tiebreak: int
    reversal: bool = False
    with_details: bool = True


def scenario_budgets(lines: int) -> dict[Scenario, int]:
    """Lines per scenario for a case of ``lines`` lines (see the module docstring)."""
    if lines < LINES_MIN:
        raise CaseSizeError(f"a case needs at least {LINES_MIN} lines to hold every scenario")
    budgets = {
        scenario: max(UNIT_LINES.get(scenario, (1, 1))[0], lines * share // 100)
        for scenario, share in SCENARIO_SHARES.items()
    }
    budgets[Scenario.REVERSAL] -= budgets[Scenario.REVERSAL] % 2  # whole pairs
    budgets[Scenario.KID_FULL] += lines - sum(budgets.values())
    return budgets


def generate_case(
    lines: int = LINES_DEFAULT,
    seed: int = 1,
    *,
    tenant_id: str = QUALITY_TENANT,
    open_items: int | None = None,
) -> QualityCase:
    """A tenant, its open items and ``lines`` statement lines with their truth (seeded).

    ``open_items``: fill the books with unpaid invoices and bills up to this many items.
    """
    generation = _Generation(random.Random(seed), tenant_id, lines, open_items)
    for scenario, budget in scenario_budgets(lines).items():
        generation.run(scenario, budget)
    generation.top_up(open_items)
    case = generation.finish(seed)
    check_truth(case)
    return case


class _Generation:
    """The state of one generation: the books so far and the entries drafted."""

    def __init__(
        self, rng: random.Random, tenant_id: str, lines: int, open_items: int | None
    ) -> None:
        self.rng = rng
        self.tenant_id = tenant_id
        self.account = BankAccountRef(
            account_id=account_id_for(tenant_id, ACCOUNT_IBAN),
            iban=ACCOUNT_IBAN,
            currency=CURRENCY,
            servicer_bic=ACCOUNT_BIC,
            owner_name=ACCOUNT_OWNER,
        )
        self.factory = ItemFactory(rng, self.account.account_id)
        wanted = open_items or 0
        self.factory.add_customers(max(60, lines // 5, wanted // 25))
        self.factory.add_suppliers(max(15, lines // 40, wanted // 200))
        day_count = max(5, math.ceil(lines / LINES_PER_DAY))
        self.days = list(itertools.islice(_business_days(PERIOD_START), day_count))
        self.items: list[OpenItem] = []
        self.entries: list[_EntryDraft] = []
        self._keys = itertools.count()
        self.unpaid: list[OpenItem] = []  # invoices no line pays: the amounts strangers hit
        for _ in range(max(20, lines // 2)):
            self.unpaid.append(self._add(self._filler_invoice()))
        for _ in range(max(5, lines // 10)):
            self._add(self._filler_bill())
        self._makers: dict[Scenario, Callable[[int], int]] = {
            Scenario.KID_FULL: self._kid_full,
            Scenario.OCR_BATCH: self._ocr_batch,
            Scenario.RF_FULL: self._rf_full,
            Scenario.INVOICE_TEXT: self._invoice_text,
            Scenario.MULTI_INVOICE: self._multi_invoice,
            Scenario.PARTIAL: self._partial,
            Scenario.INSTALMENTS: self._instalments,
            Scenario.FEE_DEDUCTED: self._fee_deducted,
            Scenario.LATE_PAYMENT: self._late_payment,
            Scenario.AMOUNT_DECOY: self._amount_decoy,
            Scenario.DUPLICATE_AMOUNTS: self._duplicate_amounts,
            Scenario.MISTYPED_KID: self._mistyped_kid,
            Scenario.BILL_PAYMENT: self._bill_payment,
            Scenario.REGISTERED_PAYMENT: self._registered_payment,
            Scenario.REVERSAL: self._reversal,
            Scenario.BANK_FEE: self._bank_fee,
            Scenario.INTEREST: self._interest,
            Scenario.UNKNOWN_PAYER: self._unknown_payer,
        }

    # ------------------------------------------------------------------------ driving

    def run(self, scenario: Scenario, budget: int) -> None:
        left = budget
        while left > 0:
            made = self._makers[scenario](left)
            assert 0 < made <= left, f"{scenario} made {made} lines with {left} left"
            left -= made

    def top_up(self, open_items: int | None) -> None:
        """Unpaid invoices (85%) and bills until the books hold ``open_items`` items."""
        while open_items is not None and len(self.items) < open_items:
            if self.rng.random() < 0.85:
                self._add(self._filler_invoice())
            else:
                self._add(self._filler_bill())

    def finish(self, seed: int) -> QualityCase:
        """Entries in booking order, one statement per day, ids and bank references given."""
        order = sorted(self.entries, key=lambda entry: (entry.booking_date, entry.tiebreak))
        statements: list[GeneratedStatement] = []
        truths: list[tuple[str, str, _TruthDraft]] = []
        line_of_key: dict[int, str] = {}
        balance = OPENING_BALANCE
        line_count = 0
        entry_count = 0
        for day, group in itertools.groupby(order, key=lambda entry: entry.booking_date):
            bank_statement_id = f"{day.isoformat()}-{len(statements) + 1:05d}"
            statement_id = f"{self.account.account_id}:{bank_statement_id}"
            entries: list[GeneratedEntry] = []
            sequence = 0
            for position, draft in enumerate(group, start=1):
                entry_count += 1
                entry_reference = f"{day:%Y%m%d}{entry_count:07d}"
                total = sum((payment.amount for payment in draft.payments), Decimal(0))
                batch = len(draft.payments) > 1
                lines: list[StatementLine] = []
                for detail, payment in enumerate(draft.payments):
                    line_count += 1
                    line_id = f"L{line_count:07d}"
                    bank_reference = f"{entry_reference}-{detail + 1}" if batch else entry_reference
                    lines.append(
                        StatementLine(
                            line_id=line_id,
                            statement_id=statement_id,
                            account=self.account,
                            sequence=sequence,
                            entry_reference=str(position),
                            entry_amount=Money(amount=total, currency=CURRENCY) if batch else None,
                            detail_index=detail if batch else None,
                            amount=Money(amount=payment.amount, currency=CURRENCY),
                            status=EntryStatus.BOOKED,
                            booking_date=day,
                            value_date=day,
                            bank_reference=bank_reference,
                            end_to_end_id=payment.end_to_end_id,
                            bank_transaction_code=draft.code,
                            counterparty=payment.counterparty,
                            structured_reference=payment.reference,
                            referred_documents=list(payment.documents),
                            remittance_text=payment.text,
                            additional_info=draft.additional_info,
                            reversal=draft.reversal,
                        )
                    )
                    sequence += 1
                    line_of_key[payment.key] = line_id
                    truths.append((line_id, bank_reference, payment.truth))
                entries.append(
                    GeneratedEntry(
                        ntry_ref=str(position),
                        bank_reference=entry_reference,
                        amount=total,
                        booking_date=day,
                        value_date=day,
                        reversal=draft.reversal,
                        code=draft.code,
                        additional_info=draft.additional_info,
                        with_details=draft.with_details,
                        lines=tuple(lines),
                    )
                )
            statement = GeneratedStatement(
                bank_statement_id=bank_statement_id,
                booking_date=day,
                opening_balance=balance,
                entries=tuple(entries),
            )
            statements.append(statement)
            balance = statement.closing_balance
        return QualityCase(
            tenant_id=self.tenant_id,
            seed=seed,
            account=self.account,
            items=tuple(self.items),
            statements=tuple(statements),
            posting_rules=QUALITY_POSTING_RULES,
            truths={
                line_id: LineTruth(
                    line_id=line_id,
                    bank_reference=bank_reference,
                    scenario=draft.scenario,
                    outcome=draft.outcome,
                    allocations=draft.allocations,
                    paired_line_id=None if draft.pair_key is None else line_of_key[draft.pair_key],
                    reference_must_not_match=draft.reference_must_not_match,
                )
                for line_id, bank_reference, draft in truths
            },
        )

    # ------------------------------------------------------------------------ helpers

    def _add(self, item: OpenItem) -> OpenItem:
        self.items.append(item)
        return item

    def _day(self, first: int = 0, last: int | None = None) -> date:
        return self.rng.choice(self.days[first:last])

    def _due_for(self, day: date) -> date:
        """A due date the payment on ``day`` is on time for (a few days early or late)."""
        return day + timedelta(days=self.rng.randint(-3, 10))

    def _filler_invoice(self) -> OpenItem:
        due = self._day() + timedelta(days=self.rng.randint(-30, 40))
        return self.factory.invoice(self.factory.customer("any"), due=due)

    def _filler_bill(self) -> OpenItem:
        due = self._day() + timedelta(days=self.rng.randint(-20, 40))
        return self.factory.bill(self.factory.supplier(), due=due)

    def _invoice(
        self, customer: Party, day: date, *, amount: Decimal | None = None, reference: bool = True
    ) -> OpenItem:
        """An invoice of ``customer`` that a payment on ``day`` pays on time."""
        item = self.factory.invoice(
            customer, due=self._due_for(day), amount=amount, reference=reference
        )
        return self._add(item)

    def _entry(
        self,
        day: date,
        code: BankTransactionCode,
        payments: list[_PaymentDraft],
        additional_info: str | None,
        *,
        reversal: bool = False,
        with_details: bool = True,
    ) -> int:
        self.entries.append(
            _EntryDraft(
                booking_date=day,
                code=code,
                additional_info=additional_info,
                payments=payments,
                tiebreak=self.rng.randrange(1 << 30),
                reversal=reversal,
                with_details=with_details,
            )
        )
        return len(payments)

    def _payment(
        self,
        amount: Decimal,
        truth: _TruthDraft,
        *,
        counterparty: Counterparty | None = None,
        reference: StructuredReference | None = None,
        text: str | None = None,
        documents: tuple[str, ...] = (),
        end_to_end_id: str | None = None,
    ) -> _PaymentDraft:
        return _PaymentDraft(
            key=next(self._keys),
            amount=amount,
            truth=truth,
            counterparty=counterparty,
            reference=reference,
            text=text,
            documents=documents,
            end_to_end_id=end_to_end_id,
        )

    @staticmethod
    def _pays(
        scenario: Scenario, *paid: tuple[OpenItem, Decimal], must_not_match: bool = False
    ) -> _TruthDraft:
        return _TruthDraft(
            scenario=scenario,
            outcome=Outcome.ITEMS,
            allocations=tuple(TruthAllocation(item.item_id, amount) for item, amount in paid),
            reference_must_not_match=must_not_match,
        )

    def _party_account(self, party: Party) -> tuple[str | None, str | None]:
        """(IBAN, other account) the bank shows for the party: mostly a registered account
        (a Norwegian one as BBAN or IBAN), sometimes one the books do not know."""
        rng = self.rng
        if party.accounts and rng.random() < 0.85:
            number = rng.choice(party.accounts)
        else:
            number = self.factory.new_account(party.country)
        if number.isdigit():  # a Norwegian BBAN: banks show either form
            return (bank_numbers.as_iban(number), None) if rng.random() < 0.4 else (None, number)
        return number, None

    def _counterparty(self, party: Party) -> Counterparty:
        iban, other = self._party_account(party)
        return Counterparty(
            name=party_names.printed_name(party.name, self.rng, person=party.person),
            iban=iban,
            other_account=other,
        )

    def _stranger(self) -> Counterparty:
        rng = self.rng
        country = "NO" if rng.random() < 0.8 else rng.choice(("SE", "DK", "DE"))
        person = rng.random() < 0.6
        name = (
            party_names.person_name(country, rng)
            if person
            else party_names.company_name(country, rng)
        )
        number = self.factory.new_account(country)
        iban, other = (None, number) if number.isdigit() else (number, None)
        return Counterparty(
            name=party_names.printed_name(name, rng, person=person), iban=iban, other_account=other
        )

    def _phrase(self, item: OpenItem, customer: Party) -> str:
        """The invoice number as a payer writes it in the remittance text."""
        template = self.rng.choice(INVOICE_PHRASES[customer.country])
        posted = item.posting_date or item.due_date or PERIOD_START
        return template.format(
            n=item.document_no,
            name=party_names.printed_name(customer.name, self.rng, person=customer.person),
            c=customer.number,
            d=f"{posted:%d.%m.%Y}",
        )

    def _multi_phrase(self, items: Iterable[OpenItem], customer: Party) -> str:
        numbers = [item.document_no or item.item_id for item in items]
        separator = self.rng.choice((", ", "/", " + ", " ", "/"))
        prefix = self.rng.choice(MULTI_PREFIXES[customer.country])
        return prefix + separator.join(numbers)

    @staticmethod
    def _reference(item: OpenItem) -> StructuredReference | None:
        if item.reference is None or item.reference_kind is None:
            return None
        return StructuredReference(value=item.reference, kind=item.reference_kind)

    def _code_for(
        self, customer: Party, reference: StructuredReference | None
    ) -> BankTransactionCode:
        if customer.foreign:
            return CODE_SEPA
        return CODE_OCR if reference is not None else CODE_CREDIT

    def _info_for(self, code: BankTransactionCode) -> str:
        if code is CODE_OCR:
            return "Giro innbetaling KID"
        if code is CODE_SEPA:
            return self.rng.choice(("SEPA innbetaling", "Innbetaling fra utlandet"))
        return self.rng.choice(("Innbetaling", "Overføring", "Nettbank innbetaling"))

    def _e2e(self, customer: Party) -> str | None:
        return f"E2E{self.rng.randrange(10**12):012d}" if customer.foreign else None

    def _incoming(
        self,
        day: date,
        customer: Party,
        amount: Decimal,
        truth: _TruthDraft,
        *,
        reference: StructuredReference | None = None,
        text: str | None = None,
        documents: tuple[str, ...] = (),
    ) -> int:
        """One entry with one incoming payment from ``customer``."""
        code = self._code_for(customer, reference)
        payment = self._payment(
            amount,
            truth,
            counterparty=self._counterparty(customer),
            reference=reference,
            text=text,
            documents=documents,
            end_to_end_id=self._e2e(customer),
        )
        return self._entry(day, code, [payment], self._info_for(code))

    def _unit(self, scenario: Scenario, left: int) -> int:
        """How many lines the next unit of a multi-line scenario has, leaving a remainder
        that whole units can still fill."""
        lowest, highest = UNIT_LINES[scenario]
        size = min(self.rng.randint(lowest, highest), left)
        if 0 < left - size < lowest:
            size = left if left <= highest else left - lowest
        return size

    def _amount_hitting_an_open_invoice(self) -> Decimal:
        return self.rng.choice(self.unpaid).amount.amount

    # ---------------------------------------------------------------------- scenarios

    def _kid_full(self, _left: int) -> int:
        customer = self.factory.customer("kid")
        day = self._day()
        item = self._invoice(customer, day)
        text = self._phrase(item, customer) if self.rng.random() < 0.15 else None
        return self._incoming(
            day,
            customer,
            item.amount.amount,
            self._pays(Scenario.KID_FULL, (item, item.amount.amount)),
            reference=self._reference(item),
            text=text,
        )

    def _ocr_batch(self, left: int) -> int:
        day = self._day()
        payments: list[_PaymentDraft] = []
        for _ in range(self._unit(Scenario.OCR_BATCH, left)):
            customer = self.factory.customer("kid")
            item = self._invoice(customer, day)
            payments.append(
                self._payment(
                    item.amount.amount,
                    self._pays(Scenario.OCR_BATCH, (item, item.amount.amount)),
                    counterparty=self._counterparty(customer),
                    reference=self._reference(item),
                )
            )
        return self._entry(day, CODE_OCR, payments, f"OCR giro {len(payments)} innbetalinger")

    def _rf_full(self, _left: int) -> int:
        customer = self.factory.customer("rf")
        day = self._day()
        item = self._invoice(customer, day)
        text = f"Invoice {item.document_no}" if self.rng.random() < 0.3 else None
        return self._incoming(
            day,
            customer,
            item.amount.amount,
            self._pays(Scenario.RF_FULL, (item, item.amount.amount)),
            reference=self._reference(item),
            text=text,
        )

    def _invoice_text(self, _left: int) -> int:
        customer = self.factory.customer("foreign" if self.rng.random() < 0.3 else "any")
        day = self._day()
        item = self._invoice(customer, day)
        truth = self._pays(Scenario.INVOICE_TEXT, (item, item.amount.amount))
        if self.rng.random() < 0.1:  # the number as a structured referred document
            return self._incoming(
                day, customer, item.amount.amount, truth, documents=(item.document_no or "",)
            )
        text = self._phrase(item, customer)
        return self._incoming(day, customer, item.amount.amount, truth, text=text)

    def _multi_invoice(self, _left: int) -> int:
        customer = self.factory.customer("any")
        day = self._day()
        items = [self._invoice(customer, day) for _ in range(self.rng.choice((2, 2, 2, 3, 4)))]
        total = sum((item.amount.amount for item in items), Decimal(0))
        reference = self._reference(items[0]) if self.rng.random() < 0.1 else None
        return self._incoming(
            day,
            customer,
            total,
            self._pays(Scenario.MULTI_INVOICE, *((item, item.amount.amount) for item in items)),
            reference=reference,
            text=self._multi_phrase(items, customer),
        )

    def _part_of(self, amount: Decimal) -> Decimal:
        """1/4 to 3/4 of an amount, in whole kroner, more than 0 and less than all."""
        quarters = self.rng.choice((1, 2, 3))
        part = (amount * quarters / 4).quantize(Decimal(1)).quantize(CENT)
        return min(max(part, Decimal(1)), amount - Decimal(1))

    def _partial(self, _left: int) -> int:
        customer = self.factory.customer("kid")
        day = self._day()
        item = self._invoice(customer, day, amount=invoice_amount(self.rng) + Decimal(500))
        paid = self._part_of(item.amount.amount)
        truth = self._pays(Scenario.PARTIAL, (item, paid))
        if self.rng.random() < 0.6:
            return self._incoming(day, customer, paid, truth, reference=self._reference(item))
        text = self.rng.choice(PARTIAL_PHRASES).format(n=item.document_no)
        return self._incoming(day, customer, paid, truth, text=text)

    def _instalments(self, left: int) -> int:
        count = self._unit(Scenario.INSTALMENTS, left)
        customer = self.factory.customer("kid")
        days = sorted(self.rng.sample(self.days, count))
        item = self._invoice(customer, days[0], amount=invoice_amount(self.rng) + Decimal(3000))
        total = item.amount.amount
        share = (total / count).quantize(Decimal(1)).quantize(CENT)
        parts = [share] * (count - 1) + [total - share * (count - 1)]
        for number, (day, part) in enumerate(zip(days, parts, strict=True), start=1):
            truth = self._pays(Scenario.INSTALMENTS, (item, part))
            if self.rng.random() < 0.75:
                self._incoming(day, customer, part, truth, reference=self._reference(item))
            else:
                text = f"Avdrag {number} faktura {item.document_no}"
                self._incoming(day, customer, part, truth, text=text)
        return count

    def _fee_deducted(self, _left: int) -> int:
        customer = self.factory.customer("foreign" if self.rng.random() < 0.6 else "kid")
        day = self._day()
        item = self._invoice(customer, day, amount=invoice_amount(self.rng) + Decimal(500))
        received = item.amount.amount - self.rng.choice(DEDUCTED_FEES)
        # the invoice is settled in full, the fee posted to bank fees (the tenant's tolerance)
        truth = self._pays(Scenario.FEE_DEDUCTED, (item, item.amount.amount))
        reference = self._reference(item)
        if reference is not None and self.rng.random() < 0.5:
            return self._incoming(day, customer, received, truth, reference=reference)
        return self._incoming(day, customer, received, truth, text=self._phrase(item, customer))

    def _late_payment(self, _left: int) -> int:
        customer = self.factory.customer("kid")
        day = self._day(first=len(self.days) // 3)
        due = day - timedelta(days=self.rng.randint(*LATE_DAYS))
        item = self._add(self.factory.invoice(customer, due=due))
        truth = self._pays(Scenario.LATE_PAYMENT, (item, item.amount.amount))
        roll = self.rng.random()
        if roll < 0.5:
            text = self._phrase(item, customer)
            return self._incoming(day, customer, item.amount.amount, truth, text=text)
        if roll < 0.8:  # only the payer's name and the amount
            vague = self.rng.choice((None, "Betaling", "Innbetaling"))
            return self._incoming(day, customer, item.amount.amount, truth, text=vague)
        reference = self._reference(item)
        return self._incoming(day, customer, item.amount.amount, truth, reference=reference)

    def _amount_decoy(self, _left: int) -> int:
        customer = self.factory.customer("any")
        decoy_customer = self.factory.other_customer(customer)
        day = self._day()
        item = self._invoice(customer, day, reference=False)
        if self.rng.random() < 0.5:  # both invoices have the line's amount
            paid = item.amount.amount
            text = self._phrase(item, customer) if self.rng.random() < 0.7 else None
        else:  # the payer paid less than the invoice; the decoy has exactly that
            paid = item.amount.amount - self.rng.choice(DEDUCTED_FEES)
            text = self._phrase(item, customer)
        self._invoice(decoy_customer, day, amount=paid)
        # paid short by a deducted fee: the invoice is settled in full (the tenant's tolerance)
        truth = self._pays(Scenario.AMOUNT_DECOY, (item, item.amount.amount))
        return self._incoming(day, customer, paid, truth, text=text)

    def _duplicate_amounts(self, _left: int) -> int:
        customer = self.factory.customer("kid" if self.rng.random() < 0.5 else "plain")
        day = self._day()
        amount = self.rng.choice((Decimal("990.00"), Decimal("1490.00"), Decimal("2500.00")))
        amount += Decimal(self.rng.randint(0, 40) * 10)
        count = self.rng.choice((2, 2, 3))
        items = [
            self._add(
                self.factory.invoice(
                    customer,
                    due=day + timedelta(days=30 * month - 20),
                    amount=amount,
                    description="Abonnement",
                )
            )
            for month in range(count)
        ]
        item = self.rng.choice(items)
        truth = self._pays(Scenario.DUPLICATE_AMOUNTS, (item, amount))
        reference = self._reference(item)
        if reference is not None and self.rng.random() < 0.5:
            return self._incoming(day, customer, amount, truth, reference=reference)
        return self._incoming(day, customer, amount, truth, text=self._phrase(item, customer))

    def _mistyped_kid(self, _left: int) -> int:
        customer = self.factory.customer("kid")
        day = self._day()
        item = self._invoice(customer, day)
        assert item.reference is not None
        typo = bank_numbers.mistyped_kid(item.reference, self.rng)
        truth = self._pays(Scenario.MISTYPED_KID, (item, item.amount.amount), must_not_match=True)
        return self._incoming(
            day,
            customer,
            item.amount.amount,
            truth,
            reference=StructuredReference(value=typo, kind=ReferenceKind.KID),
        )

    def _outgoing(
        self,
        day: date,
        supplier: Party,
        item: OpenItem,
        scenario: Scenario,
        *,
        end_to_end_id: str | None = None,
    ) -> int:
        amount = item.amount.amount  # negative: money out
        reference = self._reference(item)
        text = None
        if reference is None:
            template = self.rng.choice(BILL_PHRASES)
            text = template.format(x=item.external_document_no)
        payment = self._payment(
            amount,
            self._pays(scenario, (item, amount)),
            counterparty=self._counterparty(supplier),
            reference=reference,
            text=text,
            end_to_end_id=end_to_end_id,
        )
        info = self.rng.choice(("Nettbank til konto", "Betaling", "Utbetaling", "Remittering"))
        return self._entry(day, CODE_OUTGOING, [payment], info)

    def _bill_payment(self, _left: int) -> int:
        supplier = self.factory.supplier()
        day = self._day()
        bill = self._add(self.factory.bill(supplier, due=self._due_for(day)))
        return self._outgoing(day, supplier, bill, Scenario.BILL_PAYMENT)

    def _registered_payment(self, _left: int) -> int:
        supplier = self.factory.supplier()
        day = self._day()
        registered = self._add(
            self.factory.payment(supplier, on=day - timedelta(days=self.rng.randint(0, 2)))
        )
        return self._outgoing(
            day,
            supplier,
            registered,
            Scenario.REGISTERED_PAYMENT,
            end_to_end_id=registered.document_no,
        )

    def _reversal(self, _left: int) -> int:
        rng = self.rng
        first = rng.randrange(len(self.days) - 1)
        later = min(len(self.days) - 1, first + rng.randint(1, 5))
        stranger = self._stranger()
        incoming = rng.random() < 0.7
        if incoming and rng.random() < 0.3:
            magnitude = self._amount_hitting_an_open_invoice()
        else:
            magnitude = invoice_amount(rng)
        amount = magnitude if incoming else -magnitude
        text = rng.choice(STRANGER_TEXTS)
        original_key, reversal_key = next(self._keys), next(self._keys)
        original = _PaymentDraft(
            key=original_key,
            amount=amount,
            truth=_TruthDraft(Scenario.REVERSAL, Outcome.REVERSAL, pair_key=reversal_key),
            counterparty=stranger,
            text=text,
        )
        reversal = _PaymentDraft(
            key=reversal_key,
            amount=-amount,
            truth=_TruthDraft(Scenario.REVERSAL, Outcome.REVERSAL, pair_key=original_key),
            counterparty=stranger,
            text=text,
        )
        code = CODE_CREDIT if incoming else CODE_OUTGOING
        self._entry(self.days[first], code, [original], "Overføring")
        info = rng.choice(("Tilbakeført betaling", "Retur", "Returnert: ukjent mottaker"))
        self._entry(self.days[later], CODE_RETURN, [reversal], info, reversal=True)
        return 2

    def _bank_fee(self, _left: int) -> int:
        payment = self._payment(
            -self.rng.choice(BANK_FEES), _TruthDraft(Scenario.BANK_FEE, Outcome.FEE)
        )
        text = self.rng.choice(BANK_FEE_TEXTS)
        return self._entry(self._day(), CODE_FEE, [payment], text, with_details=False)

    def _interest(self, _left: int) -> int:
        magnitude = (Decimal(self.rng.randint(100, 500_000)) / 100).quantize(CENT)
        amount = magnitude if self.rng.random() < 0.7 else -magnitude
        payment = self._payment(amount, _TruthDraft(Scenario.INTEREST, Outcome.INTEREST))
        text = self.rng.choice(INTEREST_TEXTS)
        return self._entry(self._day(), CODE_INTEREST, [payment], text, with_details=False)

    def _unknown_payer(self, _left: int) -> int:
        rng = self.rng
        if rng.random() < 0.25:
            amount = self._amount_hitting_an_open_invoice()
        else:
            amount = invoice_amount(rng)
        payment = self._payment(
            amount,
            _TruthDraft(Scenario.UNKNOWN_PAYER, Outcome.SUSPENSE),
            counterparty=self._stranger(),
            text=rng.choice((*STRANGER_TEXTS, None)),
        )
        return self._entry(self._day(), CODE_CREDIT, [payment], "Innbetaling")


def _business_days(start: date) -> Iterable[date]:
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)
