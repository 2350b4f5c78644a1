"""Posting rules over HTTP: create, change and delete a tenant's rules (every change a new
version, validated against the chart), publish each version on the compacted posting-rules
topic for the matcher, and say which rule a given statement line would meet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from bankrec.contracts import (
    POSTING_RULES,
    PostingRule,
    PostingRuleAction,
    PostingRuleConditions,
    PostingRuleStatus,
    StatementLine,
    envelope_for,
)
from bankrec.ledger.domain import Chart
from bankrec.ledger.domain.audit import (
    Accountability,
    AuditRecord,
    ManualAction,
    accountability,
    request_fingerprint,
)
from bankrec.ledger.domain.posting_rules import (
    RulePostingPart,
    deleted_version,
    first_rule_catching,
    next_version,
    rule_posting_parts,
    validated_rule,
)
from bankrec.ledger.errors import UnknownPostingRule
from bankrec.ledger.ports import LedgerTransaction
from bankrec.ledger.use_cases import _MESSAGE_IDS, Bookkeeper, ItemChange

DEFAULT_REASON = "posting rule changed"


def posting_rule_message_id(tenant_id: str, rule: PostingRule) -> str:
    """One version of a rule has one message id: a re-staged version is deduplicated."""
    return str(uuid.uuid5(_MESSAGE_IDS, f"posting-rule|{tenant_id}|{rule.rule_id}|{rule.version}"))


@dataclass(frozen=True, slots=True)
class SavedRule:
    rule: PostingRule
    change: ItemChange


@dataclass(frozen=True, slots=True)
class RuleEvaluation:
    """The rule a line meets (None: none does) and what it would post."""

    rule: PostingRule | None
    parts: tuple[RulePostingPart, ...]


class PostingRuleBook(Bookkeeper):
    """A tenant's posting rules: versioned, validated, published."""

    async def save_rule(
        self,
        tenant_id: str,
        rule_id: str,
        *,
        name: str,
        priority: int,
        conditions: PostingRuleConditions,
        action: PostingRuleAction,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
    ) -> SavedRule:
        """Create the rule (version 1) or change it (a new version); saving the same content
        again changes nothing. The GL accounts must be in the tenant's chart."""
        by = accountability(actor, reason or DEFAULT_REASON)

        async def work(tx: LedgerTransaction) -> SavedRule:
            now = self._clock()
            chart = await tx.load_chart(tenant_id) or Chart.default()
            proposed = validated_rule(
                PostingRule(
                    rule_id=rule_id,
                    version=1,
                    name=name,
                    priority=priority,
                    conditions=conditions,
                    action=action,
                    changed_at=now,
                ),
                chart,
            )
            current = await tx.posting_rule(tenant_id, rule_id)  # a deleted one is revived
            saved = next_version(current, proposed, at=now, by=by.actor)
            if saved is None:
                assert current is not None
                return SavedRule(current, ItemChange.UNCHANGED)
            await self._publish(
                tx, tenant_id, saved, ManualAction.SAVE_POSTING_RULE, by, now, correlation_id
            )
            change = ItemChange.CREATED if current is None else ItemChange.UPDATED
            return SavedRule(saved, change)

        return await self._in_transaction(work)

    async def delete_rule(
        self,
        tenant_id: str,
        rule_id: str,
        *,
        actor: str | None,
        reason: str | None,
        correlation_id: str,
    ) -> PostingRule:
        """Delete a rule: a last version with status ``deleted`` (deleting again is a no-op)."""
        by = accountability(actor, reason or "posting rule deleted")

        async def work(tx: LedgerTransaction) -> PostingRule:
            current = await tx.posting_rule(tenant_id, rule_id)
            if current is None:
                raise UnknownPostingRule(f"no posting rule {rule_id!r} for tenant {tenant_id}")
            if current.status is PostingRuleStatus.DELETED:
                return current
            now = self._clock()
            deleted = deleted_version(current, at=now, by=by.actor)
            await self._publish(
                tx, tenant_id, deleted, ManualAction.DELETE_POSTING_RULE, by, now, correlation_id
            )
            return deleted

        return await self._in_transaction(work)

    async def _publish(
        self,
        tx: LedgerTransaction,
        tenant_id: str,
        rule: PostingRule,
        action: ManualAction,
        by: Accountability,
        now: datetime,
        correlation_id: str,
    ) -> None:
        await tx.add_posting_rule(tenant_id, rule)
        audit_id = f"act-{uuid.uuid4().hex[:24]}"
        await tx.stage(
            POSTING_RULES,
            POSTING_RULES.key_for(tenant_id, rule.rule_id),
            envelope_for(
                rule,
                tenant_id=tenant_id,
                correlation_id=correlation_id,
                causation_id=audit_id,
                message_id=posting_rule_message_id(tenant_id, rule),
            ),
        )
        answer = {"rule_id": rule.rule_id, "version": rule.version, "status": rule.status.value}
        await tx.add_audit_record(
            tenant_id,
            AuditRecord(
                audit_id=audit_id,
                action=action,
                subject_id=rule.rule_id,
                actor=by.actor,
                reason=by.reason,
                occurred_at=now,
                fingerprint=request_fingerprint(rule.model_dump(mode="json")),
                result=answer,
            ),
        )

    # --- reads --------------------------------------------------------------------------

    async def rules(self, tenant_id: str, *, include_deleted: bool = False) -> list[PostingRule]:
        """The current version of every rule, in the order they are evaluated."""
        return await self._views.posting_rules(tenant_id, include_deleted=include_deleted)

    async def rule(self, tenant_id: str, rule_id: str, version: int | None = None) -> PostingRule:
        versions = await self._views.posting_rule_versions(tenant_id, rule_id)
        found = [r for r in versions if version is None or r.version == version]
        if not found:
            which = f"{rule_id!r}" + (f" version {version}" if version is not None else "")
            raise UnknownPostingRule(f"no posting rule {which} for tenant {tenant_id}")
        return found[-1]

    async def versions(self, tenant_id: str, rule_id: str) -> list[PostingRule]:
        versions = await self._views.posting_rule_versions(tenant_id, rule_id)
        if not versions:
            raise UnknownPostingRule(f"no posting rule {rule_id!r} for tenant {tenant_id}")
        return versions

    async def evaluate(self, tenant_id: str, line: StatementLine) -> RuleEvaluation:
        """Which active rule the line meets first, and the posting it would make."""
        rule = first_rule_catching(await self.rules(tenant_id), line)
        if rule is None or rule.action.gl_account is None:
            return RuleEvaluation(rule, ())
        return RuleEvaluation(rule, rule_posting_parts(rule.action, line.amount))


__all__ = ["PostingRuleBook", "RuleEvaluation", "SavedRule", "posting_rule_message_id"]
