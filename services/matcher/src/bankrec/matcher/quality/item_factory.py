"""Customers, suppliers and their open items for a generated tenant, seeded and pure.

Customers are 65% Norwegian firms and people whose invoices carry a KID (70% of them mod10,
30% mod11), 15% Norwegian without KIDs, 20% Swedish, Danish, Finnish and German firms whose
invoices carry an RF reference (80%) or none. Invoices are numbered 10001, 10002, ... (the
document number), ``INV-<number>`` being the item id; supplier bills carry the supplier's
own invoice number as external document number and, for most Norwegian suppliers, the KID
to pay with; registered payments are outgoing payments the books already know of, tied to
the tenant's bank account.

Amounts are Decimal, in NOK, drawn from integer ranges (a float never becomes money): a
sixth are round prices (1,250.00, 5,000.00, ...), so equal amounts occur as in real books.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from bankrec.contracts import Money, OpenItem, OpenItemKind, OpenItemStatus, ReferenceKind
from bankrec.matcher.quality import bank_numbers, party_names

CURRENCY = "NOK"
CENT = Decimal("0.01")
ROUND_PRICES = (
    500, 750, 990, 1000, 1250, 1500, 1990, 2000, 2500, 3000, 3750, 4990, 5000, 6250, 7500,
    10000, 12500, 15000, 20000, 25000, 50000,
)  # fmt: skip
# (weight, lowest, highest) in whole NOK: most invoices are small, a few large
AMOUNT_RANGES = (
    (35, 200, 2_000),
    (30, 2_000, 20_000),
    (15, 20_000, 150_000),
    (4, 150_000, 600_000),
)
ROUND_PRICE_WEIGHT = 16
PAYMENT_TERMS_DAYS = (10, 14, 14, 30, 30, 45)
INVOICE_TEXTS = (
    "Servicearbeid", "Varer levert", "Konsulenttimer", "Abonnement", "Materialer", "Montering",
    "Frakt", "Lisens", "Reparasjon", "Vedlikehold", "Prosjektledelse", "Leie av utstyr",
)  # fmt: skip
BILL_TEXTS = ("Innkjøp varer", "Husleie", "Strøm", "Telefoni", "Regnskapstjenester", "Verktøy")
COUNTRY_WEIGHTS = (("SE", 6), ("DK", 5), ("FI", 3), ("DE", 6))


@dataclass(frozen=True, slots=True)
class Party:
    """A customer or supplier as the tenant's books know it."""

    party_id: str
    number: int  # the customer or supplier number (part of the tenant's KIDs)
    name: str
    country: str
    accounts: tuple[str, ...]  # as registered: a Norwegian BBAN, or an IBAN
    kid_method: str | None  # "mod10"/"mod11": its invoices (or bills) carry a KID
    rf: bool = False  # its invoices carry an RF creditor reference
    person: bool = False

    @property
    def foreign(self) -> bool:
        return self.country != "NO"


def invoice_amount(rng: random.Random) -> Decimal:
    """A gross invoice amount in NOK."""
    weights = [weight for weight, _, _ in AMOUNT_RANGES] + [ROUND_PRICE_WEIGHT]
    bucket = rng.choices(range(len(weights)), weights=weights)[0]
    if bucket == len(AMOUNT_RANGES):
        return Decimal(rng.choice(ROUND_PRICES)).quantize(CENT)
    _, lowest, highest = AMOUNT_RANGES[bucket]
    cents = rng.randint(lowest * 100, highest * 100)
    if rng.random() < 0.3:
        cents -= cents % 100  # whole kroner
    return (Decimal(cents) / 100).quantize(CENT)


@dataclass
class ItemFactory:
    """Makes the tenant's parties and open items; every id, document number and reference
    it gives is unique within the tenant."""

    rng: random.Random
    account_id: str  # the tenant's bank account, which registered payments are tied to
    customers: list[Party] = field(default_factory=list)
    suppliers: list[Party] = field(default_factory=list)
    _next_invoice: int = 10001
    _next_bill: int = 1
    _next_payment: int = 1
    _references: set[str] = field(default_factory=set)
    _accounts: set[str] = field(default_factory=set)
    _by_habit: dict[str, list[Party]] = field(default_factory=dict)

    # ------------------------------------------------------------------------- parties

    def add_customers(self, count: int) -> None:
        for _ in range(count):
            self.customers.append(self._customer())

    def add_suppliers(self, count: int) -> None:
        for _ in range(count):
            self.suppliers.append(self._supplier())

    def customer(self, habit: str) -> Party:
        """A random customer with a habit: ``kid`` (Norwegian, KIDs), ``plain`` (Norwegian,
        no references), ``foreign``, ``rf`` (foreign with RF references) or ``any``."""
        if habit == "any":
            return self.rng.choice(self.customers)
        pool = self._by_habit.get(habit)
        if pool is None:
            pool = self._by_habit[habit] = [c for c in self.customers if _has_habit(c, habit)]
            if not pool:
                raise ValueError(f"no customer with habit {habit}; generate more customers")
        return self.rng.choice(pool)

    def other_customer(self, than: Party) -> Party:
        while True:
            found = self.rng.choice(self.customers)
            if found.party_id != than.party_id:
                return found

    def supplier(self, *, kid: bool | None = None) -> Party:
        while True:
            found = self.rng.choice(self.suppliers)
            if kid is None or (found.kid_method is not None) == kid:
                return found

    def new_account(self, country: str) -> str:
        """An account number nobody in the books has."""
        return bank_numbers.unique(
            lambda: bank_numbers.account_number(country, self.rng), self._accounts
        )

    def _customer(self) -> Party:
        rng = self.rng
        number = 10000 + len(self.customers)
        roll = rng.randrange(100)
        if roll < 80:
            country = "NO"
        else:
            country = rng.choices(
                [c for c, _ in COUNTRY_WEIGHTS], weights=[w for _, w in COUNTRY_WEIGHTS]
            )[0]
        person = country == "NO" and rng.random() < 0.12
        name = (
            party_names.person_name(country, rng)
            if person
            else party_names.company_name(country, rng)
        )
        kid_method = None
        if roll < 65:
            kid_method = "mod10" if rng.random() < 0.7 else "mod11"
        return Party(
            party_id=f"C-{number}",
            number=number,
            name=name,
            country=country,
            accounts=self._accounts_of(country),
            kid_method=kid_method,
            rf=country != "NO" and rng.random() < 0.8,
            person=person,
        )

    def _supplier(self) -> Party:
        rng = self.rng
        number = 50000 + len(self.suppliers)
        country = "NO" if rng.random() < 0.85 else rng.choice(("SE", "DK", "DE"))
        return Party(
            party_id=f"S-{number}",
            number=number,
            name=party_names.company_name(country, rng),
            country=country,
            accounts=(self.new_account(country),),
            kid_method="mod10" if country == "NO" and rng.random() < 0.7 else None,
        )

    def _accounts_of(self, country: str) -> tuple[str, ...]:
        roll = self.rng.random()
        count = 0 if roll < 0.1 else (2 if roll > 0.88 else 1)
        return tuple(self.new_account(country) for _ in range(count))

    # ----------------------------------------------------------------------------- items

    def invoice(
        self,
        customer: Party,
        *,
        due: date,
        amount: Decimal | None = None,
        reference: bool = True,
        description: str | None = None,
    ) -> OpenItem:
        """A customer invoice (+), with the customer's KID or RF unless ``reference`` is
        False."""
        rng = self.rng
        number = self._next_invoice
        self._next_invoice += 1
        kind: ReferenceKind | None = None
        value: str | None = None
        if reference and customer.kid_method is not None:
            value, kind = self._invoice_kid(customer, number), ReferenceKind.KID
        elif reference and customer.rf:
            value, kind = self._rf(f"{customer.number:06d}{number:07d}"), ReferenceKind.RF
        posting = due - timedelta(days=rng.choice(PAYMENT_TERMS_DAYS))
        return self._item(
            item_id=f"INV-{number}",
            kind=OpenItemKind.INVOICE,
            party=customer,
            amount=amount if amount is not None else invoice_amount(rng),
            document_no=str(number),
            external_document_no=f"PO-{rng.randint(1000, 99999)}" if rng.random() < 0.25 else None,
            reference=value,
            reference_kind=kind,
            description=description or rng.choice(INVOICE_TEXTS),
            posting_date=posting,
            due_date=due,
        )

    def bill(self, supplier: Party, *, due: date, amount: Decimal | None = None) -> OpenItem:
        """A supplier bill (-): the supplier's invoice number, and its KID if it uses them."""
        number = self._next_bill
        self._next_bill += 1
        reference = self._supplier_kid(supplier) if supplier.kid_method is not None else None
        magnitude = amount if amount is not None else invoice_amount(self.rng)
        return self._item(
            item_id=f"BILL-{number}",
            kind=OpenItemKind.BILL,
            party=supplier,
            amount=-magnitude,
            document_no=f"B-{number}",
            external_document_no=self.supplier_invoice_number(),
            reference=reference,
            reference_kind=ReferenceKind.KID if reference else None,
            description=self.rng.choice(BILL_TEXTS),
            posting_date=due - timedelta(days=self.rng.choice(PAYMENT_TERMS_DAYS)),
            due_date=due,
        )

    def payment(self, supplier: Party, *, on: date, amount: Decimal | None = None) -> OpenItem:
        """An outgoing payment registered in the books (-), tied to the bank account."""
        number = self._next_payment
        self._next_payment += 1
        invoice_number = self.supplier_invoice_number()
        reference = None
        if supplier.kid_method is not None and self.rng.random() < 0.5:
            reference = self._supplier_kid(supplier)
        magnitude = amount if amount is not None else invoice_amount(self.rng)
        return self._item(
            item_id=f"PAY-{number}",
            kind=OpenItemKind.PAYMENT,
            party=supplier,
            amount=-magnitude,
            document_no=f"PAY-{number}",
            external_document_no=invoice_number,
            reference=reference,
            reference_kind=ReferenceKind.KID if reference else None,
            description=f"Betaling til {supplier.name}, faktura {invoice_number}",
            posting_date=on,
            due_date=on,
            bank_account_id=self.account_id,
        )

    def supplier_invoice_number(self) -> str:
        rng = self.rng
        shape = rng.randrange(4)
        if shape == 0:
            return str(rng.randint(10000, 999999))
        if shape == 1:
            return f"F-2026-{rng.randint(1, 9999):04d}"
        if shape == 2:
            return f"{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        return f"INV{rng.randint(100000, 999999)}"

    def _item(
        self,
        *,
        item_id: str,
        kind: OpenItemKind,
        party: Party,
        amount: Decimal,
        document_no: str,
        external_document_no: str | None,
        reference: str | None,
        reference_kind: ReferenceKind | None,
        description: str,
        posting_date: date,
        due_date: date,
        bank_account_id: str | None = None,
    ) -> OpenItem:
        money = Money(amount=amount, currency=CURRENCY)
        return OpenItem(
            item_id=item_id,
            kind=kind,
            counterparty_id=party.party_id,
            counterparty_name=party.name,
            counterparty_accounts=list(party.accounts),
            document_no=document_no,
            external_document_no=external_document_no,
            reference=reference,
            reference_kind=reference_kind,
            description=description,
            amount=money,
            remaining=money,
            posting_date=posting_date,
            due_date=due_date,
            status=OpenItemStatus.OPEN,
            bank_account_id=bank_account_id,
            version=1,
        )

    def _invoice_kid(self, customer: Party, number: int) -> str:
        """Customer number and invoice number, then the check digit of the customer's method
        (a mod11 body without a valid digit gets a 0 appended, as invoicing systems do)."""
        body = f"{customer.number:06d}{number:07d}"
        kid = self._kid(body, customer.kid_method or "mod10")
        while kid is None:
            body += "0"
            kid = self._kid(body, "mod11")
        return self._take(kid)

    def _supplier_kid(self, supplier: Party) -> str:
        while True:
            body = str(self.rng.randint(10**7, 10**14))
            kid = bank_numbers.kid_mod10(body)
            if kid not in self._references:
                return self._take(kid)

    def _rf(self, body: str) -> str:
        return self._take(bank_numbers.rf_reference(body))

    @staticmethod
    def _kid(body: str, method: str) -> str | None:
        return bank_numbers.kid_mod10(body) if method == "mod10" else bank_numbers.kid_mod11(body)

    def _take(self, reference: str) -> str:
        assert reference not in self._references, f"reference {reference} made twice"
        self._references.add(reference)
        return reference


def _has_habit(customer: Party, habit: str) -> bool:
    if habit == "kid":
        return customer.kid_method is not None
    if habit == "plain":
        return customer.country == "NO" and customer.kid_method is None
    if habit == "foreign":
        return customer.foreign
    if habit == "rf":
        return customer.rf
    raise ValueError(f"unknown customer habit {habit!r}")
