"""The topic registry: every topic, its key, its message and whether it is compacted.

Names follow ``bankrec.<owner>.<things>.v<major>``. Keys never carry personal data:
tenant id and the opaque internal account or item id only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from bankrec.contracts.adjustments import AdjustmentRefused, PostAdjustment
from bankrec.contracts.credentials import ApiKeyRecord
from bankrec.contracts.dead_letters import DeadLetter
from bankrec.contracts.decisions import MatchDecision
from bankrec.contracts.manual_matches import ManualMatchCommand, ManualMatchSettled
from bankrec.contracts.matching_settings import MatchingSettings
from bankrec.contracts.open_items import OpenItem
from bankrec.contracts.periods import PeriodEvent
from bankrec.contracts.posting_rules import PostingRule
from bankrec.contracts.postings import JournalEntryPosted
from bankrec.contracts.refusals import DecisionRefused
from bankrec.contracts.statements import StatementHeader, StatementLine


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    owner: str
    payload: type[BaseModel]
    key: str
    compacted: bool
    description: str
    partitions: int = 3

    @property
    def tenant_in_key(self) -> bool:
        """Whether the key starts with the tenant id (``<tenant id>:<entity id>``): consumers
        then check that it names the envelope's tenant."""
        return self.key.startswith("tenant_id:")

    def key_for(self, tenant_id: str, entity_id: str) -> str:
        """The Kafka key of a message about ``entity_id``: ``<tenant id>:<entity id>``, or the
        entity id alone on a topic keyed by a globally unique id (``key`` names no tenant)."""
        if self.tenant_in_key:
            return f"{tenant_id}:{entity_id}"
        return entity_id


STATEMENTS = Topic(
    name="bankrec.ingest.statements.v1",
    owner="ingest",
    payload=StatementHeader,
    key="tenant_id:account_id",
    compacted=False,
    description="One message per statement parsed: account, balances, sequence numbers, counts.",
)
STATEMENT_LINES = Topic(
    name="bankrec.ingest.statement-lines.v1",
    owner="ingest",
    payload=StatementLine,
    key="tenant_id:account_id",
    compacted=False,
    description="Every statement line, in statement order per account.",
)
OPEN_ITEMS = Topic(
    name="bankrec.ledger.open-items.v1",
    owner="ledger",
    payload=OpenItem,
    key="tenant_id:item_id",
    compacted=True,
    description="Latest state of each open item (invoice, bill, registered payment, journal line).",
)
DECISIONS = Topic(
    name="bankrec.matcher.decisions.v1",
    owner="matcher",
    payload=MatchDecision,
    key="tenant_id:account_id",
    compacted=False,
    description="Match, suspense, rule-posting and reversal decisions with rule and evidence.",
)
POSTINGS = Topic(
    name="bankrec.ledger.postings.v1",
    owner="ledger",
    payload=JournalEntryPosted,
    key="tenant_id:account_id",
    compacted=False,
    description="Journal entries as posted: balanced, immutable.",
)
REFUSED_DECISIONS = Topic(
    name="bankrec.ledger.refused-decisions.v1",
    owner="ledger",
    payload=DecisionRefused,
    key="tenant_id:account_id",
    compacted=False,
    description="Match decisions the ledger refused (never applied in part), with the reason and "
    "the current state of the open items they named.",
)
POSTING_RULES = Topic(
    name="bankrec.ledger.posting-rules.v1",
    owner="ledger",
    payload=PostingRule,
    key="tenant_id:rule_id",
    compacted=True,
    description="Latest version of each tenant's posting rule (a deleted rule: status deleted), "
    "for the matcher to evaluate.",
)
MATCHING_SETTINGS = Topic(
    name="bankrec.matcher.settings.v1",
    owner="matcher",
    payload=MatchingSettings,
    key="tenant_id",
    compacted=True,
    description="Latest matching settings of each tenant (auto-confirm on/off, threshold, "
    "tolerances, similarity thresholds).",
)
PERIOD_EVENTS = Topic(
    name="bankrec.reconciler.period-events.v1",
    owner="reconciler",
    payload=PeriodEvent,
    key="tenant_id:account_id",
    compacted=False,
    description="Every reconciliation period transition and figure change (the figures "
    "after each committed change: one event per period per consumed batch).",
)
ADJUSTMENT_REQUESTS = Topic(
    name="bankrec.reconciler.adjustment-requests.v1",
    owner="reconciler",
    payload=PostAdjustment,
    key="tenant_id:account_id",
    compacted=False,
    description="Adjustments (bank fee, interest, other) a reconciliation asks the ledger to "
    "post; the posting comes back on the postings topic.",
)
REFUSED_ADJUSTMENTS = Topic(
    name="bankrec.ledger.refused-adjustments.v1",
    owner="ledger",
    payload=AdjustmentRefused,
    key="tenant_id:account_id",
    compacted=False,
    description="Adjustment requests the ledger refused (nothing posted), with the reason.",
)
MATCH_REQUESTS = Topic(
    name="bankrec.reconciler.match-requests.v1",
    owner="reconciler",
    payload=ManualMatchCommand,
    key="tenant_id:account_id",
    compacted=False,
    description="Manual matches (and their removal) a reconciliation asks the ledger to apply; "
    "the ledger answers on the match-outcomes topic.",
)
MATCH_OUTCOMES = Topic(
    name="bankrec.ledger.match-outcomes.v1",
    owner="ledger",
    payload=ManualMatchSettled,
    key="tenant_id:account_id",
    compacted=False,
    description="What the ledger did with each manual match request: applied (entries "
    "posted) or refused (nothing posted), with the reason.",
)
CREDENTIALS = Topic(
    name="bankrec.ingest.credentials.v1",
    owner="ingest",
    payload=ApiKeyRecord,
    key="key_id",
    compacted=True,
    description="Latest state of each tenant API key (hash of its secret, tenant, created, "
    "revoked), for every service to verify keys locally.",
)
DEAD_LETTERS = Topic(
    name="bankrec.dead-letters.v1",
    owner="all",
    payload=DeadLetter,
    key="original key",
    compacted=False,
    description="Messages a consumer refused, with the reason; replayable after a fix.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    STATEMENTS,
    STATEMENT_LINES,
    OPEN_ITEMS,
    DECISIONS,
    POSTINGS,
    REFUSED_DECISIONS,
    POSTING_RULES,
    MATCHING_SETTINGS,
    PERIOD_EVENTS,
    ADJUSTMENT_REQUESTS,
    REFUSED_ADJUSTMENTS,
    MATCH_REQUESTS,
    MATCH_OUTCOMES,
    CREDENTIALS,
    DEAD_LETTERS,
)


def topic_named(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(f"no bankrec topic named {name!r}; known: {[t.name for t in ALL_TOPICS]}")
