"""The rebuild's storage side: what is derived from the topics is cleared, what people entered
is kept (see ``bankrec.reconciler.rebuild``).

Derived, in every period that is not released: the statements, the lines from the bank, every
line's decision, the postings (except the entries a release carried forward), the ledger's
refusal of an adjustment and its answer to a manual match request; and the inbox claims of
the consumers whose topics are re-read (their times kept in ``inbox_before_rebuild`` until the
rebuild has finished: they route the replay, see ``domain.replay``). Entered, kept: the periods themselves (number, status,
the balances entered by hand, the opening from the previous period), lines added or removed
by hand, the items' flags, the adjustments and manual match requests, the audit trail.
Released periods are immutable and kept whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    Table,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bankrec.contracts import PeriodStatus
from bankrec.reconciler.adapters.tables import (
    inbox,
    inbox_before_rebuild,
    period_adjustments,
    period_audit,
    period_lines,
    period_match_requests,
    period_postings,
    period_statements,
    periods,
)
from bankrec.reconciler.domain import AuditAction, LineOrigin
from bankrec.reconciler.domain.replay import ReplayRoutes, period_openings


async def clear_derived_state(
    sessions: async_sessionmaker[AsyncSession], consumers: Sequence[str]
) -> tuple[ReplayRoutes, frozenset[tuple[str, str]]]:
    """In one transaction: keep the consumers' inbox claims in ``inbox_before_rebuild``, read
    what routes the replay (release times, claim times), then clear the derived rows and the
    claims. A rebuild that did not finish left its kept claims: they stay as they are (the
    claims the unfinished replay made are added only for messages they do not hold), so the
    run again routes every message as the live service recorded it.

    Returns the routes and the (tenant, period id) of the periods that were balanced (a
    replay passes through differences that are not 0, which puts them on hold; the rebuild
    restores them where the difference is 0 again, as it was live).
    """
    unreleased = select(periods.c.tenant_id, periods.c.period_id).where(
        periods.c.status != PeriodStatus.RELEASED.value
    )

    def in_unreleased(table: Table) -> ColumnElement[bool]:
        return tuple_(table.c.tenant_id, table.c.period_id).in_(unreleased)

    async with sessions() as session, session.begin():
        await _keep_claims(session, consumers)
        routes = await _routes(session, consumers)
        balanced = frozenset(
            (row.tenant_id, row.period_id)
            for row in await session.execute(
                select(periods.c.tenant_id, periods.c.period_id).where(
                    periods.c.status == PeriodStatus.BALANCED.value
                )
            )
        )
        await session.execute(delete(period_statements).where(in_unreleased(period_statements)))
        await session.execute(
            delete(period_lines).where(
                in_unreleased(period_lines),
                or_(period_lines.c.origin.is_(None), period_lines.c.origin == LineOrigin.BANK),
            )
        )
        await session.execute(  # a line added by hand keeps itself, not its decision
            update(period_lines)
            .where(in_unreleased(period_lines))
            .values(
                decision_id=None,
                decision_kind=None,
                decided_at=None,
                decision_counterparty_id=None,
            )
        )
        await session.execute(
            delete(period_postings).where(
                in_unreleased(period_postings), period_postings.c.carried_from.is_(None)
            )
        )
        await session.execute(
            update(period_adjustments)
            .where(in_unreleased(period_adjustments))
            .values(refusal_code=None, refusal_reason=None, refused_at=None)
        )
        await session.execute(
            update(period_match_requests)
            .where(in_unreleased(period_match_requests))
            .values(
                outcome=None,
                entry_ids=[],
                refusal_code=None,
                refusal_reason=None,
                settled_at=None,
            )
        )
        # a new version, so no cached copy of a period (PeriodCache) is used again
        await session.execute(
            update(periods)
            .where(periods.c.status != PeriodStatus.RELEASED.value)
            .values(version=periods.c.version + 1)
        )
        await session.execute(delete(inbox).where(inbox.c.consumer.in_(list(consumers))))
    return routes, balanced


async def forget_kept_claims(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The rebuild has finished: its replay claimed every message again, with the times kept."""
    async with sessions() as session, session.begin():
        await session.execute(delete(inbox_before_rebuild))


async def _keep_claims(session: AsyncSession, consumers: Sequence[str]) -> None:
    kept = inbox_before_rebuild
    await session.execute(
        insert(kept).from_select(
            ["consumer", "message_id", "processed_at"],
            select(inbox.c.consumer, inbox.c.message_id, inbox.c.processed_at).where(
                inbox.c.consumer.in_(list(consumers)),
                ~exists().where(
                    kept.c.consumer == inbox.c.consumer, kept.c.message_id == inbox.c.message_id
                ),
            ),
        )
    )


async def _routes(session: AsyncSession, consumers: Sequence[str]) -> ReplayRoutes:
    last_period_no: dict[tuple[str, str], int] = {}
    released: set[tuple[str, str, int]] = set()
    for row in await session.execute(
        select(periods.c.tenant_id, periods.c.account_id, periods.c.period_no, periods.c.status)
    ):
        account = (row.tenant_id, row.account_id)
        last_period_no[account] = max(last_period_no.get(account, 0), row.period_no)
        if row.status == PeriodStatus.RELEASED.value:
            released.add((row.tenant_id, row.account_id, row.period_no))
    first_releases: dict[tuple[str, str], dict[int, datetime]] = defaultdict(dict)
    for release in await session.execute(
        select(
            periods.c.tenant_id,
            periods.c.account_id,
            periods.c.period_no,
            func.min(period_audit.c.at).label("first_release"),
        )
        .join(
            periods,
            (periods.c.tenant_id == period_audit.c.tenant_id)
            & (periods.c.period_id == period_audit.c.period_id),
        )
        .where(period_audit.c.action == AuditAction.RELEASED.value)
        .group_by(periods.c.tenant_id, periods.c.account_id, periods.c.period_no)
    ):
        first_releases[(release.tenant_id, release.account_id)][release.period_no] = (
            release.first_release
        )
    openings = {
        account: period_openings(first_releases[account], last)
        for account, last in last_period_no.items()
        if last > 1
    }
    claimed_at: dict[tuple[str, str], datetime] = {}
    # without a release every message goes to the current period; its claim, made again now,
    # is before any release to come, so a later rebuild routes it to this period too
    if any(openings.values()):
        kept = inbox_before_rebuild
        for claim in await session.execute(
            select(kept.c.consumer, kept.c.message_id, kept.c.processed_at).where(
                kept.c.consumer.in_(list(consumers))
            )
        ):
            at: datetime = claim.processed_at
            claimed_at[(claim.consumer, claim.message_id)] = (
                at.replace(tzinfo=UTC) if at.tzinfo is None else at
            )
    return ReplayRoutes(openings=openings, claimed_at=claimed_at, released=frozenset(released))


__all__ = ["clear_derived_state", "forget_kept_claims"]
