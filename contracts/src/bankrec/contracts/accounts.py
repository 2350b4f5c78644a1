"""Bank account identity shared by every service.

Kafka keys and logs carry the opaque ``account_id``, never the IBAN or account number.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

from bankrec.contracts.money import Currency


def normalize_account_number(number: str) -> str:
    """An IBAN or BBAN without spaces, dots or dashes, upper case."""
    return "".join(ch for ch in number if ch.isalnum()).upper()


def account_id_for(tenant_id: str, account_number: str) -> str:
    """The stable opaque id of a tenant's bank account, derived from its number."""
    digest = hashlib.sha256(
        f"{tenant_id}|{normalize_account_number(account_number)}".encode()
    ).hexdigest()
    return f"acc-{digest[:20]}"


def mask_account_number(number: str) -> str:
    """Only the last four characters, for logs and screens."""
    clean = normalize_account_number(number)
    return "*" * max(len(clean) - 4, 0) + clean[-4:]


class BankAccountRef(BaseModel):
    """Which bank account a statement, line or posting belongs to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str
    iban: str | None = None
    other_id: str | None = None
    currency: Currency
    servicer_bic: str | None = None
    owner_name: str | None = None

    @property
    def number(self) -> str:
        return self.iban or self.other_id or ""
