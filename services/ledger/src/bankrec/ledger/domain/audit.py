"""The audit trail of manual work: who did what, why, when, and which entries it posted.

Every manual action (allocating a suspense posting or reversing an allocation, unmatching a
decision, registering or removing a payment, creating or reversing an adjustment, changing a
posting rule or the chart of accounts) needs an actor and a reason; the record is written in
the same transaction as the action's effects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bankrec.ledger.errors import InvalidManualAction

ACTOR_LENGTH_MAX = 200
REASON_LENGTH_MAX = 1000
IDEMPOTENCY_KEY_LENGTH_MAX = 200


class ManualAction(StrEnum):
    ALLOCATE_SUSPENSE = "allocate_suspense"
    UNMATCH_DECISION = "unmatch_decision"
    REGISTER_PAYMENT = "register_payment"
    REMOVE_PAYMENT = "remove_payment"
    CREATE_ADJUSTMENT = "create_adjustment"
    SAVE_POSTING_RULE = "save_posting_rule"
    DELETE_POSTING_RULE = "delete_posting_rule"
    REVERSE_SUSPENSE_ALLOCATION = "reverse_suspense_allocation"
    REVERSE_ADJUSTMENT = "reverse_adjustment"
    CREATE_ACCOUNT = "create_account"
    RENAME_ACCOUNT = "rename_account"
    ASSIGN_ACCOUNT_ROLE = "assign_account_role"
    LINK_BANK_ACCOUNT = "link_bank_account"
    DEACTIVATE_ACCOUNT = "deactivate_account"
    REACTIVATE_ACCOUNT = "reactivate_account"
    # the ledger's own, on a reversal_pair decision (actor bankrec-ledger)
    SETTLE_REVERSAL_PAIR = "settle_reversal_pair"
    NOTE_REVERSAL_PAIR = "note_reversal_pair"


@dataclass(frozen=True, slots=True)
class Accountability:
    """Who asks for a manual action and why (both required)."""

    actor: str
    reason: str


def accountability(actor: str | None, reason: str | None) -> Accountability:
    """The actor and reason, trimmed; refuses a missing or overlong one."""
    checked: dict[str, str] = {}
    for name, value, limit in (
        ("actor", actor, ACTOR_LENGTH_MAX),
        ("reason", reason, REASON_LENGTH_MAX),
    ):
        text = (value or "").strip()
        if not text:
            raise InvalidManualAction(
                name, f"is required: say {'who' if name == 'actor' else 'why'} (free text)"
            )
        if len(text) > limit:
            raise InvalidManualAction(name, f"is {len(text)} characters long; at most {limit}")
        checked[name] = text
    return Accountability(actor=checked["actor"], reason=checked["reason"])


def action_id_for(tenant_id: str, action: ManualAction, idempotency_key: str) -> str:
    """The id of the action a client's idempotency key names: a retry names the same one."""
    digest = hashlib.sha256(f"{tenant_id}|{action.value}|{idempotency_key}".encode()).hexdigest()
    return f"act-{digest[:24]}"


def request_fingerprint(request: Mapping[str, Any]) -> str:
    """SHA-256 of what a client asked for: the same key with another request is a conflict."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One manual action as it was done; ``result`` is what the caller was answered."""

    audit_id: str
    action: ManualAction
    subject_id: str
    actor: str
    reason: str
    occurred_at: datetime
    entry_ids: tuple[str, ...] = ()
    fingerprint: str = ""
    idempotency_key: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
