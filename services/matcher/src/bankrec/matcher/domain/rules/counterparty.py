"""Rule: the payer's bank account or name identifies the counterparty (seed 004: the payer's
account number on the customer card).

The line's counterparty account (IBAN, or another account number) is looked up among the
items' ``counterparty_accounts``; when it is unknown, the payer's name among the items'
``counterparty_name`` (by name key and by words, never a scan; alike at the policy's
``name_similarity_threshold``). A counterparty is identified only when exactly one fits: an
account on several customers' cards, or a name alike to several, identifies nobody. Proves:

- ``match`` when the counterparty has exactly one open item whose remaining amount is the
  line amount (0.93 by account; 0.85 by name, a proposal at the default threshold: people
  and firms share names, and a stranger named like a customer who pays a common amount
  must not settle the customer's invoice);
- ``match`` with several allocations when the line pays all the counterparty's open items
  (2..20 of them) at once (0.9 by account, 0.8 by name).

Otherwise their open items are proposed, and a counterparty identified by account leaves a
fallback: ``on_account`` (0.8), money on the customer's (or supplier's) account to be
allocated later, as seed 004 asks. It is taken only when no rule proves anything and, at
the default threshold of 0.9, only as a proposal: posting on account moves the money off the
interim account onto a customer who may not be the payer (a shared family or group
account), so by default a person confirms it. A tenant that trusts its customer cards lowers
its threshold to 0.8. A name alone never leaves an on_account fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz, process

from bankrec.contracts import DecisionKind, Evidence, StatementLine
from bankrec.matcher.domain import scoring
from bankrec.matcher.domain.counterparties import (
    SHARED_WORDS_FOR_SUBSET,
    account_keys,
    name_key,
    name_similarity,
    name_words,
)
from bankrec.matcher.domain.index import IndexedItem, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, SIMILARITY_MAX, MatchingPolicy
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

NAME = "counterparty"
NAMES_PER_WORD_MAX = 30  # a word more names share is too common to find anyone by
BALANCE_ITEMS_MAX = 20  # "pays everything they owe" is checked up to this many items
ITEMS_PROPOSED_MAX = 5
BY_ACCOUNT = "account"
BY_NAME = "name"


@dataclass(frozen=True, slots=True)
class IdentifiedPayer:
    """Who paid, how we know (account or name), what was compared and how alike."""

    counterparty: str
    by: str
    line_field: str
    line_value: str
    key: str
    score: float = SIMILARITY_MAX

    @property
    def counterparty_id(self) -> str | None:
        return None if self.counterparty.startswith("item:") else self.counterparty


_PayerQuestion = tuple[str, StatementLine, OpenItemIndex, int, MatchingPolicy]
_PayerAnswer = tuple["IdentifiedPayer | None", Evidence | None]
_last_payer: tuple[_PayerQuestion, _PayerAnswer] | None = None


def _same_question(asked: _PayerQuestion, now: _PayerQuestion) -> bool:
    # the very objects (``is``): an equal but rebuilt line or policy is asked afresh
    return (
        asked[0] == now[0]
        and asked[1] is now[1]
        and asked[2] is now[2]
        and asked[3] == now[3]
        and asked[4] is now[4]
    )


@dataclass(frozen=True, slots=True)
class CounterpartyRule:
    name: str = NAME

    def evaluate(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy = DEFAULT_POLICY
    ) -> RuleOutcome:
        party = line.counterparty
        if party is None or not (party.account_number or party.name) or line.reversal:
            return NOTHING  # nothing to compare; a reversal is the reversal rule's
        identified, note = self.identify_payer(line, index, policy)
        if identified is None:
            return RuleOutcome(notes=(note,) if note else ())
        counterparty = identified.counterparty
        same_amount = fitting(line, index.open_of_counterparty_by_amount(counterparty, line.amount))
        if len(same_amount) == 1:
            return self._pays_one(line, identified, same_amount[0])
        if len(same_amount) > 1:
            return RuleOutcome(
                proposals=tuple(
                    proposal_of(
                        self.name,
                        entry,
                        scoring.COUNTERPARTY_AMBIGUOUS,
                        [self._identity(identified, entry), self._amount(line, entry)],
                    )
                    for entry in same_amount
                ),
                notes=(
                    self._note(
                        identified,
                        f"{self._who(identified)} has {len(same_amount)} open items with "
                        f"amount {shown(line.amount)}: {labels(same_amount)}",
                    ),
                ),
            )
        return self._pays_no_single_item(line, index, identified)

    def identify_payer(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy
    ) -> tuple[IdentifiedPayer | None, Evidence | None]:
        """Who paid the line (or why nobody is known). The ``counterparty_subset`` rule asks
        the same of the same line right after this rule did; the answer of the last line is
        kept while the line, the index (unchanged since) and the policy are the same."""
        global _last_payer
        key = (self.name, line, index, index.changes, policy)
        last = _last_payer
        if last is not None and _same_question(last[0], key):
            return last[1]
        found = self._identify(line, index, policy)
        _last_payer = (key, found)
        return found

    def _identify(
        self, line: StatementLine, index: OpenItemIndex, policy: MatchingPolicy
    ) -> tuple[IdentifiedPayer | None, Evidence | None]:
        party = line.counterparty
        assert party is not None
        account = party.account_number
        field = "counterparty.iban" if party.iban else "counterparty.other_account"
        owners: dict[str, str] = {}  # counterparty -> the account key it was found by
        for key in account_keys(account):
            for owner in index.counterparties_by_account(key):
                owners.setdefault(owner, key)
        if len(owners) == 1:
            [(owner, key)] = owners.items()
            return IdentifiedPayer(owner, BY_ACCOUNT, field, account or "", key), None
        by_name = self._by_name(party.name, index, policy)  # only when the account says nothing
        if len(owners) > 1:
            # a shared account: the name may say which of its owners paid
            named = {c: s for c, s in by_name.items() if c in owners}
            if len(named) == 1:
                [owner] = named
                return IdentifiedPayer(owner, BY_ACCOUNT, field, account or "", owners[owner]), None
            return None, Evidence(
                rule=self.name,
                field=field,
                line_value=account,
                item_field="counterparty_accounts",
                note=f"account {account} is on the cards of {len(owners)} counterparties: "
                f"{', '.join(sorted(owners)[:ITEMS_PROPOSED_MAX])}",
            )
        if len(by_name) == 1:
            [(owner, (key, score))] = by_name.items()
            return IdentifiedPayer(
                owner, BY_NAME, "counterparty.name", party.name or "", key, score
            ), None
        if len(by_name) > 1:
            return None, Evidence(
                rule=self.name,
                field="counterparty.name",
                line_value=party.name,
                item_field="counterparty_name",
                note=f"the name {party.name} is alike to {len(by_name)} counterparties: "
                f"{', '.join(sorted(by_name)[:ITEMS_PROPOSED_MAX])}",
            )
        shown_as = " / ".join(value for value in (party.name, account) if value)
        return None, Evidence(
            rule=self.name,
            field="counterparty",
            line_value=shown_as,
            note=f"no counterparty known as {shown_as}",
        )

    def _by_name(
        self, name: str | None, index: OpenItemIndex, policy: MatchingPolicy
    ) -> dict[str, tuple[str, float]]:
        """Counterparties whose name is alike (-> the name key and how alike); when one of
        them has the very name key and the others only alike ones, that one alone."""
        key = name_key(name)
        if key is None:
            return {}
        shared: dict[str, int] = {}  # name key -> how many of this name's words it has
        for word in name_words(key):
            if index.count_names_with_word(word) <= NAMES_PER_WORD_MAX:
                for other in index.names_with_word(word):
                    shared[other] = shared.get(other, 0) + 1
        shared.pop(key, None)
        scores: dict[str, float] = {}
        if index.counterparties_by_name(key):
            scores[key] = SIMILARITY_MAX
        threshold = policy.name_similarity_threshold
        # the sorted-words ratio for all of them in one call (rapidfuzz loops in C) ...
        for other, score, _ in process.extract(
            key, list(shared), scorer=fuzz.ratio, score_cutoff=threshold, limit=None
        ):
            scores[other] = score
        # ... the token-set ratio only for names sharing two words (see counterparties.py)
        for other, words in shared.items():
            if words >= SHARED_WORDS_FOR_SUBSET and other not in scores:
                score = name_similarity(key, other)
                if score >= threshold:
                    scores[other] = score
        found: dict[str, tuple[str, float]] = {}
        for other, score in scores.items():
            for owner in index.counterparties_by_name(other):
                if owner not in found or score > found[owner][1]:
                    found[owner] = (other, score)
        exact = [owner for owner, (_, score) in found.items() if score == SIMILARITY_MAX]
        if len(exact) == 1 and len(found) > 1:
            return {exact[0]: found[exact[0]]}
        return found

    def _pays_one(
        self, line: StatementLine, identified: IdentifiedPayer, entry: IndexedItem
    ) -> RuleOutcome:
        confidence = (
            scoring.COUNTERPARTY_ACCOUNT_AMOUNT
            if identified.by == BY_ACCOUNT
            else scoring.COUNTERPARTY_NAME_AMOUNT
        )
        return RuleOutcome(
            proof=Proof(
                kind=DecisionKind.MATCH,
                confidence=confidence,
                evidence=(
                    self._identity(identified, entry),
                    self._amount(line, entry, "their only open item with this remaining amount"),
                ),
                allocations=(allocation_to(entry, line.amount),),
                explanation=(
                    f"the payer's {identified.by} identifies {self._who(identified)}; "
                    f"{shown(line.amount)} equals the remaining amount of {entry.label}, "
                    "their only open item with that amount"
                ),
            )
        )

    def _pays_no_single_item(
        self, line: StatementLine, index: OpenItemIndex, identified: IdentifiedPayer
    ) -> RuleOutcome:
        counterparty = identified.counterparty
        count = index.count_open_of_counterparty(counterparty)
        entries = (
            fitting(line, index.open_of_counterparty(counterparty))
            if count <= BALANCE_ITEMS_MAX
            else []
        )
        total = sum((entry.remaining.amount for entry in entries), start=Decimal(0))
        if len(entries) > 1 and len(entries) == count and total == line.amount.amount:
            confidence = (
                scoring.COUNTERPARTY_ACCOUNT_BALANCE
                if identified.by == BY_ACCOUNT
                else scoring.COUNTERPARTY_NAME_BALANCE
            )
            return RuleOutcome(
                proof=Proof(
                    kind=DecisionKind.MATCH,
                    confidence=confidence,
                    evidence=(
                        self._identity(identified, entries[0]),
                        *(
                            self._amount(line, e, "paid in full, with all the others")
                            for e in entries
                        ),
                    ),
                    allocations=tuple(allocation_to(e, e.remaining) for e in entries),
                    explanation=(
                        f"the payer's {identified.by} identifies {self._who(identified)}; "
                        f"{shown(line.amount)} pays all their {len(entries)} open items: "
                        f"{labels(entries)}"
                    ),
                )
            )
        proposed = entries[:ITEMS_PROPOSED_MAX]
        note = self._note(
            identified,
            f"{self._who(identified)} (by {identified.by}) has no open item of "
            f"{shown(line.amount)}" + (f"; open: {labels(proposed)}" if proposed else ""),
        )
        fallback = None
        if identified.by == BY_ACCOUNT and identified.counterparty_id is not None:
            fallback = Proof(
                kind=DecisionKind.ON_ACCOUNT,
                confidence=scoring.ON_ACCOUNT_BY_ACCOUNT,
                evidence=(self._identity(identified, None),),
                allocations=(),
                explanation=(
                    f"the payer's account {identified.line_value} identifies "
                    f"{identified.counterparty_id}, but no open item of theirs has "
                    f"{shown(line.amount)}: on their account"
                ),
                counterparty_id=identified.counterparty_id,
            )
        return RuleOutcome(
            proposals=tuple(
                proposal_of(
                    self.name,
                    entry,
                    scoring.COUNTERPARTY_ITEM,
                    [self._identity(identified, entry), self._amount(line, entry)],
                )
                for entry in proposed
            ),
            notes=(note,),
            fallback=fallback,
        )

    @staticmethod
    def _who(identified: IdentifiedPayer) -> str:
        return identified.counterparty_id or "an item's counterparty"

    def _identity(self, identified: IdentifiedPayer, entry: IndexedItem | None) -> Evidence:
        if identified.by == BY_ACCOUNT:
            accounts = entry.item.counterparty_accounts if entry is not None else []
            value = next((a for a in accounts if identified.key in account_keys(a)), None)
            return Evidence(
                rule=self.name,
                field=identified.line_field,
                line_value=identified.line_value,
                item_field="counterparty_accounts",
                item_value=value or identified.key,
                note=f"the account of {self._who(identified)}",
            )
        return Evidence(
            rule=self.name,
            field=identified.line_field,
            line_value=identified.line_value,
            item_field="counterparty_name",
            item_value=entry.item.counterparty_name if entry is not None else identified.key,
            note=f"names alike ({identified.score:.0f}/100)",
        )

    def _amount(self, line: StatementLine, entry: IndexedItem, note: str | None = None) -> Evidence:
        same = line.amount.amount == entry.remaining.amount
        return amount_evidence(
            self.name, line, entry, note or ("equal" if same else "differs from the line amount")
        )

    def _note(self, identified: IdentifiedPayer, note: str) -> Evidence:
        return Evidence(
            rule=self.name,
            field=identified.line_field,
            line_value=identified.line_value,
            note=note,
        )
