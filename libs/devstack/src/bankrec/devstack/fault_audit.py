"""After a fault run: did every statement line get exactly one final decision, and was every
decision applied exactly once? Read-only: the topics from the start, the ledger's and the
reconciler's databases, the reconciler's API.

The rules (issue 8), each a list of findings that must stay empty:

- every line on the lines topic has exactly one final decision (a decision superseded by a
  later one of the same line does not count);
- every decision on the decisions topic has exactly one record in the ledger; no journal
  entry was posted twice (per decision id, no more entries than the decision asks for);
- each line moved the bank account by its amount exactly once (none for a decision the
  ledger applies without posting: a reversal pair, a payment the books registered);
- the journal balances per currency; the interim account holds the sum of the lines whose
  final decision left them in suspense;
- the reconciler holds every line with its final decision, and its postings equal a recount
  from the ledger's bank-account lines; no line is outstanding.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from bankrec.contracts import DECISIONS, POSTINGS, STATEMENT_LINES
from bankrec.devstack.topics import _partition_ids, json_object

SUSPENSE_KINDS = frozenset({"suspense", "proposal"})  # as the reconciler counts them


async def _read_topic(bootstrap_servers: str, topic: str) -> list[dict[str, Any]]:
    """Every JSON envelope on the topic, from the beginning to its end right now."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,  # a reader only: commits nothing
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in await _partition_ids(bootstrap_servers, topic)
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    message = json_object(record.value)
                    if message is not None:
                        found.append(message)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


def read_topics(bootstrap_servers: str, topics: list[str]) -> dict[str, list[dict[str, Any]]]:
    async def read_all() -> dict[str, list[dict[str, Any]]]:
        return {topic: await _read_topic(bootstrap_servers, topic) for topic in topics}

    return asyncio.run(read_all())


def _rows(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        row_factory=dict_row,
        connect_timeout=10,
    ) as conn:
        return list(conn.execute(sql, params).fetchall())


@dataclass
class AuditFigures:
    """What a run left behind; ``problems`` lists every broken rule, one finding per line."""

    lines_in: int = 0
    line_messages: int = 0
    decisions_out: int = 0
    decision_messages: int = 0
    final_decisions: int = 0
    postings: int = 0
    posting_messages: int = 0
    lines_in_suspense: int = 0
    losses: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    def lost(self, finding: str) -> None:
        self.losses += 1
        self.problems.append(f"lost: {finding}")

    def doubled(self, finding: str) -> None:
        self.duplicates += 1
        self.problems.append(f"duplicated: {finding}")

    def wrong(self, finding: str) -> None:
        self.problems.append(finding)


def audit_run(
    *,
    bootstrap_servers: str,
    tenant_id: str,
    ledger_url: str,
    reconciler_url: str,
    expected_lines: int | None = None,
) -> AuditFigures:
    """Check every rule of the module docstring for one tenant."""
    figures = AuditFigures()
    topics = read_topics(bootstrap_servers, [STATEMENT_LINES.name, DECISIONS.name, POSTINGS.name])
    mine = {
        name: [m for m in found if m.get("tenant_id") == tenant_id]
        for name, found in topics.items()
    }

    lines: dict[str, dict[str, Any]] = {}
    for message in mine[STATEMENT_LINES.name]:
        lines[message["payload"]["line_id"]] = message["payload"]
    figures.line_messages = len(mine[STATEMENT_LINES.name])
    figures.lines_in = len(lines)
    if expected_lines is not None and len(lines) != expected_lines:
        figures.lost(
            f"{expected_lines - len(lines)} of {expected_lines} lines never reached the lines topic"
        )

    decisions: dict[str, dict[str, Any]] = {}
    for message in mine[DECISIONS.name]:
        decisions[message["payload"]["decision_id"]] = message["payload"]
    figures.decision_messages = len(mine[DECISIONS.name])
    figures.decisions_out = len(decisions)
    superseded = {
        d["supersedes_decision_id"] for d in decisions.values() if d.get("supersedes_decision_id")
    }
    finals: dict[str, list[str]] = defaultdict(list)
    for decision_id, decision in decisions.items():
        if decision_id not in superseded:
            finals[decision["line_id"]].append(decision_id)
    for line_id in lines:
        found = finals.get(line_id, [])
        if not found:
            figures.lost(f"line {line_id} has no final decision on {DECISIONS.name}")
        elif len(found) > 1:
            figures.doubled(f"line {line_id} has {len(found)} final decisions: {sorted(found)}")
    for line_id in finals.keys() - lines.keys():
        figures.wrong(
            f"decision(s) {finals[line_id]} for line {line_id} that is not on the lines topic"
        )
    final_of = {line_id: found[0] for line_id, found in finals.items() if len(found) == 1}
    figures.final_decisions = len(final_of)

    # the ledger: one record per decision, entries never doubled, every line on the bank once
    recorded = {
        row["decision_id"]: row
        for row in _rows(
            ledger_url,
            "SELECT decision_id, outcome, entry_id FROM decisions WHERE tenant_id = %s",
            tenant_id,
        )
    }
    for decision_id in decisions.keys() - recorded.keys():
        figures.lost(
            f"decision {decision_id} (line {decisions[decision_id]['line_id']}) was never applied by the ledger"
        )
    entries = _rows(
        ledger_url,
        "SELECT entry_id, source, source_ref FROM journal_entries WHERE tenant_id = %s",
        tenant_id,
    )
    figures.postings = len(entries)
    per_decision = Counter(e["source_ref"] for e in entries if e["source"] == "decision")
    for decision_id, count in per_decision.items():
        allowed = 1
        if decision_id in decisions and decisions[decision_id].get("supersedes_decision_id"):
            allowed = max(1, len(decisions[decision_id].get("allocations", [])))
        if count > allowed:
            figures.doubled(
                f"decision {decision_id} has {count} journal entries (at most {allowed})"
            )
    bank = {
        row["statement_line_id"]: Decimal(row["net"])
        for row in _rows(
            ledger_url,
            "SELECT statement_line_id, SUM(debit - credit) AS net FROM journal_lines "
            "WHERE tenant_id = %s AND account_role = 'bank' AND statement_line_id IS NOT NULL "
            "GROUP BY statement_line_id",
            tenant_id,
        )
    }
    suspense_total = through_interim = Decimal(0)
    for line_id, line in lines.items():
        amount = Decimal(line["amount"]["amount"])
        if line_id not in final_of or final_of[line_id] not in recorded:
            continue  # counted above
        decision_id = final_of[line_id]
        record = recorded[decision_id]
        if record["outcome"] == "refused":
            figures.lost(
                f"final decision {decision_id} of line {line_id} was refused by the ledger"
            )
            continue
        expected = Decimal(0) if record["outcome"] == "no_posting" else amount
        moved = bank.get(line_id, Decimal(0))
        if moved != expected:
            if expected != 0 and moved == 0:
                figures.lost(f"line {line_id} ({amount}) never reached the bank account")
            elif expected != 0 and moved == expected * 2:
                figures.doubled(f"line {line_id} ({amount}) was posted to the bank account twice")
            else:
                figures.wrong(f"line {line_id}: bank account moved {moved}, expected {expected}")
        kind = decisions[decision_id]["kind"]
        if kind in SUSPENSE_KINDS:
            figures.lines_in_suspense += 1
            suspense_total += amount
        elif kind == "reversal_pair" and record["outcome"] == "posted":
            # posted through the interim account: a pair cancels there once both are in
            through_interim += amount

    for row in _rows(
        ledger_url,
        "SELECT currency, SUM(debit) AS debit, SUM(credit) AS credit FROM journal_lines "
        "WHERE tenant_id = %s GROUP BY currency",
        tenant_id,
    ):
        if row["debit"] != row["credit"]:
            figures.wrong(
                f"journal unbalanced in {row['currency']}: debit {row['debit']}, credit {row['credit']}"
            )
    [interim] = _rows(
        ledger_url,
        "SELECT COALESCE(SUM(credit - debit), 0) AS net FROM journal_lines "
        "WHERE tenant_id = %s AND account_role = 'interim'",
        tenant_id,
    )
    if Decimal(interim["net"]) != suspense_total + through_interim:
        figures.wrong(
            f"interim account holds {interim['net']}, the {figures.lines_in_suspense} lines in "
            f"suspense sum to {suspense_total} (and reversal pairs posted through it to "
            f"{through_interim})"
        )

    posted = {m["payload"]["entry_id"] for m in mine[POSTINGS.name]}
    figures.posting_messages = len(mine[POSTINGS.name])
    for entry in entries:
        if entry["entry_id"] not in posted:
            figures.lost(f"journal entry {entry['entry_id']} never reached {POSTINGS.name}")

    _audit_reconciler(figures, reconciler_url, tenant_id, lines, final_of, decisions, ledger_url)
    return figures


def audit_matcher_index(
    *, bootstrap_servers: str, tenant_id: str, live_digest: Mapping[str, Any]
) -> list[str]:
    """The matcher's index by content (its ``GET /v1/tenants/{t}/index-digest``) against an
    index built from the latest state of each of the tenant's items on the compacted
    open-items topic, as the ledger published them: empty when they are equal.

    Counts alone miss an item with the wrong remaining amount or status, or filed under a
    wrong reference; the digest (``bankrec.matcher.domain.index_digest``) does not. The run
    must be quiet (every allocation the matcher made shown by the ledger's update). Items
    closed before the live digest's ``retired_before`` are retired from the built index too."""
    from bankrec.contracts import OPEN_ITEMS, OpenItem
    from bankrec.matcher.domain.index import OpenItemIndex
    from bankrec.matcher.domain.index_digest import index_digest, index_snapshot

    [found] = read_topics(bootstrap_servers, [OPEN_ITEMS.name]).values()
    expected = OpenItemIndex()
    for message in found:
        if message.get("tenant_id") == tenant_id and isinstance(message.get("payload"), dict):
            expected.apply(  # the newest version wins
                OpenItem.model_validate(message["payload"]),
                datetime.fromisoformat(message["occurred_at"]),
            )
    if live_digest.get("retired_before"):
        expected.retire_closed(datetime.fromisoformat(live_digest["retired_before"]))
    digest = index_digest(expected)
    if live_digest.get("digest") == digest:
        return []
    return [
        f"the matcher's index (digest {live_digest.get('digest')}, {live_digest.get('items')} "
        f"items, {live_digest.get('open')} open) is not the open-items topic's (digest "
        f"{digest}, {len(expected)} items, {expected.open_count} open): "
        f"{str(index_snapshot(expected))[:500]}"
    ]


def _audit_reconciler(
    figures: AuditFigures,
    reconciler_url: str,
    tenant_id: str,
    lines: dict[str, dict[str, Any]],
    final_of: dict[str, str],
    decisions: dict[str, dict[str, Any]],
    ledger_url: str,
) -> None:
    held = {
        row["line_id"]: row
        for row in _rows(
            reconciler_url,
            "SELECT line_id, decision_id, decision_kind FROM reconciler.period_lines "
            "WHERE tenant_id = %s",
            tenant_id,
        )
    }
    for line_id in lines.keys() - held.keys():
        figures.lost(f"line {line_id} never reached the reconciler")
    for line_id, row in held.items():
        final = final_of.get(line_id)
        if final is not None and row["decision_id"] != final:
            figures.wrong(
                f"the reconciler holds decision {row['decision_id']} for line {line_id}, "
                f"the final one is {final}"
            )
    recounted = {
        row["bank_account_id"]: Decimal(row["net"])
        for row in _rows(
            ledger_url,
            "SELECT bank_account_id, SUM(debit - credit) AS net FROM journal_lines "
            "WHERE tenant_id = %s AND account_role = 'bank' GROUP BY bank_account_id",
            tenant_id,
        )
    }
    counted = {
        row["account_id"]: (Decimal(row["net"]), int(row["parts"]))
        for row in _rows(
            reconciler_url,
            "SELECT p.account_id, COALESCE(SUM(pp.amount), 0) AS net, COUNT(pp.entry_id) AS parts "
            "FROM reconciler.periods p LEFT JOIN reconciler.period_postings pp "
            "ON pp.tenant_id = p.tenant_id AND pp.period_id = p.period_id "
            "AND pp.carried_from IS NULL WHERE p.tenant_id = %s GROUP BY p.account_id",
            tenant_id,
        )
    }
    for account_id, net in recounted.items():
        mine = counted.get(account_id, (Decimal(0), 0))[0]
        if mine != net:
            figures.wrong(
                f"account {account_id}: the reconciler's postings sum to {mine}, "
                f"the ledger's bank lines to {net}"
            )
