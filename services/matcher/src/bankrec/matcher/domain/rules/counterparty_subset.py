"""Rule: a known payer's line pays several of their open items at once without naming them
(1:N by amount): the line amount is the sum of the remaining amounts of a set of the
counterparty's open items.

The payer is identified exactly as the ``counterparty`` rule does it (their account number,
else a name alike at the policy's ``name_similarity_threshold``); a payer nobody knows is
never matched by amount. The candidates are that counterparty's open invoices or bills that
can take the line's money (its currency and sign, its bank account; registered payments and
journal lines are not paid by a customer), oldest due date first. The search is bounded:

- at most ``CANDIDATES_MAX`` (16) candidates; a counterparty with more is not searched (the
  note says so, nothing is proved or proposed): a sum over many items finds sets by chance;
- a meet-in-the-middle over the candidates: the sums of every subset of each half (at most
  2 x 2^8 = 512 sums) and one dictionary lookup per left sum, which covers all 2^16
  subsets; at most ``SUBSETS_KEPT_MAX`` fitting subsets are kept, the others only counted.

Proves ``match`` (one allocation per item, each its whole remaining) only when exactly one
set of their open items adds up to the line, and not a single item (that is the
``counterparty`` rule's). Amount-sum evidence is weaker than a reference, so by default it is
a proposal (``COUNTERPARTY_SUBSET`` 0.7, 0.6 by name), except when the set is the payer's
oldest items (every candidate left out is due later than every one paid, which includes
"all of them"): people pay their oldest invoices first, and a known account paying exactly
those is as strong as the ``counterparty`` rule's "their only item with the amount" (0.9 by
account, confirmed at the default threshold; 0.8 by name, a proposal). When several sets fit,
nothing is proved: the items of the best two (oldest first, fewest items) are proposed and
the note names both, so two different sets are never confirmed automatically. The engine's
holds and ambiguity guard apply as to every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bankrec.contracts import DecisionKind, Evidence, Proposal, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.index import REGISTERED_KINDS, IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.domain.rules import (
    NOTHING,
    Proof,
    RuleOutcome,
    allocation_to,
    amount_evidence,
    fitting,
    labels,
    proposal_of,
    shown,
)
from bankrec.matcher.domain.rules.counterparty import BY_ACCOUNT, CounterpartyRule, IdentifiedPayer

NAME = "counterparty_subset"
CANDIDATES_MAX = 16  # 2 x 2^8 partial sums cover every subset of this many items
# a counterparty with more open items (of any sign) than this is not even walked through
ITEMS_WALKED_MAX = 64
SUBSETS_KEPT_MAX = 64  # fitting subsets kept to rank; more are only counted
SUBSETS_PROPOSED_MAX = 2  # several fit: the items of the best ones are proposed
_NO_DATE = date.max  # an item without a due or posting date is treated as due last

_IDENTIFY = CounterpartyRule()  # the same identification, so both rules agree on who paid


@dataclass(frozen=True, slots=True)
class SubsetSearch:
    """What the bounded search found: the kept fitting subsets (as sorted candidate
    positions, best first) and how many fit in all."""

    subsets: tuple[tuple[int, ...], ...]
    count: int


def subsets_summing_to(amounts: Sequence[Decimal], target: Decimal) -> SubsetSearch:
    """Every non-empty subset of ``amounts`` (positions) whose sum is ``target``, by meet in
    the middle: 2^(n/2) sums per half, one lookup per left sum. At most
    ``SUBSETS_KEPT_MAX`` are kept (fewest items first, then the earliest positions); all
    are counted. ``amounts`` must hold at most ``CANDIDATES_MAX`` values."""
    if len(amounts) > CANDIDATES_MAX:
        raise ValueError(f"{len(amounts)} amounts, at most {CANDIDATES_MAX} are searched")
    middle = len(amounts) // 2
    left = _subset_sums(amounts[:middle], offset=0)
    right: dict[Decimal, list[tuple[int, ...]]] = {}
    for total, positions in _subset_sums(amounts[middle:], offset=middle):
        right.setdefault(total, []).append(positions)
    kept: list[tuple[int, ...]] = []
    count = 0
    for total, positions in left:
        partners = right.get(target - total)
        if not partners:
            continue
        for other in partners:
            if not positions and not other:
                continue  # the empty set pays nothing (the target is not zero)
            count += 1
            if len(kept) < SUBSETS_KEPT_MAX:
                kept.append(positions + other)
    kept.sort(key=lambda subset: (len(subset), subset))
    return SubsetSearch(subsets=tuple(kept), count=count)


def _subset_sums(amounts: Sequence[Decimal], offset: int) -> list[tuple[Decimal, tuple[int, ...]]]:
    """(sum, positions) of every subset of ``amounts``, the empty one included."""
    sums: list[tuple[Decimal, tuple[int, ...]]] = [(Decimal(0), ())]
    for position, amount in enumerate(amounts, start=offset):
        sums += [(total + amount, (*positions, position)) for total, positions in sums]
    return sums


def _two_or_more_may_add_up(amounts: Sequence[Decimal], target: Decimal) -> bool:
    """Whether a set of two or more of ``amounts`` (all of the target's sign, none zero) may
    add up to ``target``: only when it lies between the two smallest together and all of
    them together. Outside, ``subsets_summing_to`` finds nothing or single amounts only,
    which this rule leaves to the counterparty rule: the search is skipped."""
    sizes = sorted(abs(amount) for amount in amounts)
    return len(sizes) >= 2 and sizes[0] + sizes[1] <= abs(target) <= sum(sizes)


def due_key(entry: IndexedItem) -> date:
    """When the item fell (or falls) due: its due date, else its posting date."""
    return entry.item.due_date or entry.item.posting_date or _NO_DATE


def is_oldest(candidates: Sequence[IndexedItem], chosen: Sequence[IndexedItem]) -> bool:
    """Whether ``chosen`` are the payer's oldest items: every candidate left out is due
    strictly later than every chosen one (a tie in due dates leaves the order open)."""
    if any(due_key(entry) == _NO_DATE for entry in chosen):
        return False
    latest = max(due_key(entry) for entry in chosen)
    ids = {entry.item_id for entry in chosen}
    return all(due_key(e) > latest for e in candidates if e.item_id not in ids)


@dataclass(frozen=True, slots=True)
class CounterpartySubsetRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        party = line.counterparty
        if party is None or not (party.account_number or party.name) or line.reversal:
            return NOTHING  # nobody to look up; a reversal is the reversal rule's
        # the counterparty rule's own answer (kept from its run on this line): one way to
        # say who paid, worked out once
        identified, _ = _IDENTIFY.identify_payer(line, index, policy)
        if identified is None or identified.counterparty_id is None:
            return NOTHING  # the counterparty rule already said why nobody is known
        counterparty = identified.counterparty_id
        count = index.count_open_of_counterparty(counterparty)
        if count > ITEMS_WALKED_MAX:
            return self._bound_hit(self._identity(identified), counterparty, f"{count} open items")
        candidates = [
            entry
            for entry in fitting(line, index.open_of_counterparty(counterparty))
            if entry.item.kind not in REGISTERED_KINDS
        ]
        if len(candidates) < 2:
            return NOTHING  # one item or none: the counterparty rule's case
        if len(candidates) > CANDIDATES_MAX:
            return self._bound_hit(
                self._identity(identified),
                counterparty,
                f"{len(candidates)} open items that could take {shown(line.amount)}",
            )
        if not _two_or_more_may_add_up([e.left_amount for e in candidates], line.amount.amount):
            return NOTHING  # the search would find nothing or single items: see below
        candidates.sort(key=lambda entry: (due_key(entry), entry.item_id))
        search = subsets_summing_to([e.left_amount for e in candidates], line.amount.amount)
        if search.count == 0 or all(len(subset) == 1 for subset in search.subsets):
            return NOTHING  # nothing adds up, or single items: the counterparty rule's
        identity = self._identity(identified)
        found = [[candidates[p] for p in subset] for subset in search.subsets]
        if search.count == 1:
            return self._pays_set(line, identity, counterparty, identified.by, candidates, found[0])
        return self._several_sets(line, identity, counterparty, candidates, found, search.count)

    def _pays_set(
        self,
        line: StatementLine,
        identity: Evidence,
        counterparty: str,
        by: str,
        candidates: Sequence[IndexedItem],
        chosen: Sequence[IndexedItem],
    ) -> RuleOutcome:
        oldest = is_oldest(candidates, chosen)
        if by == BY_ACCOUNT:
            confidence = (
                scoring.COUNTERPARTY_SUBSET_OLDEST if oldest else scoring.COUNTERPARTY_SUBSET
            )
        else:
            confidence = (
                scoring.COUNTERPARTY_SUBSET_NAME_OLDEST
                if oldest
                else scoring.COUNTERPARTY_SUBSET_NAME
            )
        which = (
            f"all {len(candidates)} of their open items"
            if len(chosen) == len(candidates)
            else f"{len(chosen)} of their {len(candidates)} open items"
            + (", their oldest" if oldest else "")
        )
        note = "with the others, the only set of their open items adding up to the line"
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=confidence,
                evidence=(identity, *(self._amount(line, e, note) for e in chosen)),
                allocations=tuple(allocation_to(e, e.remaining) for e in chosen),
                explanation=(
                    f"the payer's {by} identifies {counterparty}; {shown(line.amount)} is the "
                    f"sum of the remaining amounts of {labels(chosen)} ({which}), the only set "
                    "of their open items that adds up to it"
                ),
            )
        )

    def _several_sets(
        self,
        line: StatementLine,
        identity: Evidence,
        counterparty: str,
        candidates: Sequence[IndexedItem],
        found: Sequence[Sequence[IndexedItem]],
        count: int,
    ) -> RuleOutcome:
        # the payer's oldest items first, then the fewest items, then the earliest positions
        ranked = sorted(found, key=lambda chosen: not is_oldest(candidates, chosen))
        best = ranked[:SUBSETS_PROPOSED_MAX]
        named = " and ".join(" + ".join(e.label for e in chosen) for chosen in best)
        proposals: dict[str, Proposal] = {}
        for chosen in best:
            together = " + ".join(e.label for e in chosen)
            for entry in chosen:
                proposals.setdefault(
                    entry.item_id,
                    proposal_of(
                        self.name,
                        entry,
                        scoring.COUNTERPARTY_SUBSET_AMBIGUOUS,
                        [identity, self._amount(line, entry, f"in the set {together}")],
                    ),
                )
        return RuleOutcome(
            proposals=tuple(proposals.values()),
            notes=(
                Evidence(
                    rule=self.name,
                    field=identity.field,
                    line_value=identity.line_value,
                    note=f"{count} sets of the open items of {counterparty} add up to "
                    f"{shown(line.amount)}, e.g. {named}: a person chooses",
                ),
            ),
        )

    def _identity(self, identified: IdentifiedPayer) -> Evidence:
        """Who paid, as evidence (built only for an outcome that says something)."""
        by_account = identified.by == BY_ACCOUNT
        return Evidence(
            rule=self.name,
            field=identified.line_field,
            line_value=identified.line_value,
            item_field="counterparty_accounts" if by_account else "counterparty_name",
            item_value=identified.key,
            note=f"the {identified.by} of {identified.counterparty_id}"
            + ("" if by_account else f" (names alike {identified.score:.0f}/100)"),
        )

    def _bound_hit(self, identity: Evidence, counterparty: str, how_many: str) -> RuleOutcome:
        return RuleOutcome(
            notes=(
                Evidence(
                    rule=self.name,
                    field=identity.field,
                    line_value=identity.line_value,
                    note=f"{counterparty} has {how_many}; sets adding up to the line are "
                    f"searched among at most {CANDIDATES_MAX}: not searched",
                ),
            )
        )

    def _amount(self, line: StatementLine, entry: IndexedItem, note: str) -> Evidence:
        return amount_evidence(self.name, line, entry, note)
