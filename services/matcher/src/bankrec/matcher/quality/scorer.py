"""Scoring a matcher against a generated case's truth: how much it confirms automatically,
and how much of that is right.

``score_case`` runs the real ``MatchEngine`` exactly as the service does (one
``OpenItemIndex`` filled with the case's items, every line in booking order through
``decide``, which reserves what it allocates) and the exact-amount baseline over the same
case, and scores both.

An **auto-confirmed** decision is one of kind match, partial, on_account, rule_posting or
reversal_pair (a proposal or suspense waits for a person). It is **correct** when it does
what the truth says: for a line that pays items, a match or partial allocating exactly the
truth's items and amounts (and, for a mistyped KID, not by the ``structured_reference``
rule); for a fee or interest line, a rule posting without allocations; for a reversal, a
reversal pair (with the truth's other line, when the decision names one); never for an
unknown payer. The earlier line of a reversal pair is decided before its reversal arrives
(suspense, as the service does); it counts as confirmed correctly when a confirmed
``reversal_pair`` decision names it with its truth's other line. **Precision** is correct /
auto-confirmed; the **auto-matched share** is the matchable lines (truth names items, or
one line of a reversal pair) confirmed correctly / all matchable lines.

The generated tenant sets ``QUALITY_POLICY`` (an amount tolerance of 50 NOK, its largest
deducted fee, so a fee-deducted payment settles its invoice) and its posting rules for the
bank's fee and interest lines, unless a policy is given.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from bankrec.contracts import DecisionKind, MatchDecision, OpenItem, PostingRule, StatementLine
from bankrec.matcher.domain import MatchEngine, OpenItemIndex
from bankrec.matcher.domain.policy import DEFAULT_POLICY, MatchingPolicy
from bankrec.matcher.quality.baseline import ExactAmountBaseline
from bankrec.matcher.quality.truth import LineTruth, Outcome, QualityCase, Scenario

AUTO_CONFIRMED_KINDS = frozenset(
    {
        DecisionKind.MATCH,
        DecisionKind.PARTIAL,
        DecisionKind.ON_ACCOUNT,
        DecisionKind.RULE_POSTING,
        DecisionKind.REVERSAL_PAIR,
    }
)
QUALITY_POLICY = MatchingPolicy(amount_tolerance=Decimal(50))
REFERENCE_RULE = "structured_reference"  # the rule a mistyped KID must never match by
WRONG_SHOWN_MAX = 20
ENGINE = "engine"
BASELINE = "exact-amount baseline"


class Verdict(StrEnum):
    CORRECT = "correct"
    WRONG = "wrong"
    NOT_CONFIRMED = "not_confirmed"


class LineDecider(Protocol):
    """Decides one line after another, keeping its own state (what it has allocated)."""

    def decide(self, line: StatementLine) -> MatchDecision: ...


class EngineDecider:
    """The real engine over one index holding the tenant's open items."""

    def __init__(
        self,
        tenant_id: str,
        items: Iterable[OpenItem],
        engine: MatchEngine | None = None,
        policy: MatchingPolicy | None = None,
        posting_rules: Iterable[PostingRule] = (),
    ) -> None:
        self.tenant_id = tenant_id
        self.engine = engine or MatchEngine()
        self.policy = policy or DEFAULT_POLICY
        self.index = OpenItemIndex()
        for item in items:
            self.index.apply(item)
        for rule in posting_rules:
            self.index.posting_rules.apply(rule)

    def decide(self, line: StatementLine) -> MatchDecision:
        return self.engine.decide(self.tenant_id, line, self.index, self.policy)


def allocated(decision: MatchDecision) -> dict[str, Decimal]:
    """Item id -> amount the decision allocates to it."""
    found: dict[str, Decimal] = defaultdict(Decimal)
    for allocation in decision.allocations:
        found[allocation.item_id] += allocation.amount.amount
    return dict(found)


def verdict(
    decision: MatchDecision, truth: LineTruth, paired_by: MatchDecision | None = None
) -> Verdict:
    """Whether an auto-confirmed decision does what the truth says (module docstring);
    ``paired_by``: the confirmed reversal pair naming this line, if one does."""
    if (
        paired_by is not None
        and truth.outcome is Outcome.REVERSAL
        and truth.paired_line_id == paired_by.line_id
    ):
        return Verdict.CORRECT
    if decision.kind not in AUTO_CONFIRMED_KINDS:
        return Verdict.NOT_CONFIRMED
    decided = allocated(decision)
    if truth.outcome is Outcome.ITEMS:
        right = (
            decision.kind in (DecisionKind.MATCH, DecisionKind.PARTIAL)
            and decided == truth.allocated()
            and not (truth.reference_must_not_match and decision.rule == REFERENCE_RULE)
        )
    elif truth.outcome in (Outcome.FEE, Outcome.INTEREST):
        right = decision.kind is DecisionKind.RULE_POSTING and not decided
    elif truth.outcome is Outcome.REVERSAL:
        right = (
            decision.kind is DecisionKind.REVERSAL_PAIR
            and not decided
            and decision.paired_line_id in (None, truth.paired_line_id)
        )
    else:
        right = False
    return Verdict.CORRECT if right else Verdict.WRONG


@dataclass(slots=True)
class Tally:
    """Counts over a set of lines."""

    lines: int = 0
    payable: int = 0
    auto_confirmed: int = 0
    correct: int = 0
    wrong: int = 0
    payable_matched: int = 0  # payable lines confirmed correctly
    proposal: int = 0
    suspense: int = 0

    def add(self, decision: MatchDecision, truth: LineTruth, found: Verdict) -> None:
        self.lines += 1
        self.payable += truth.matchable
        if found is not Verdict.NOT_CONFIRMED:
            self.auto_confirmed += 1
        self.correct += found is Verdict.CORRECT
        self.wrong += found is Verdict.WRONG
        self.payable_matched += truth.matchable and found is Verdict.CORRECT
        self.proposal += decision.kind is DecisionKind.PROPOSAL
        self.suspense += decision.kind is DecisionKind.SUSPENSE

    @property
    def precision(self) -> float | None:
        """Correct / auto-confirmed (None when nothing was confirmed)."""
        return self.correct / self.auto_confirmed if self.auto_confirmed else None

    @property
    def auto_matched_share(self) -> float | None:
        """Payable lines confirmed correctly / payable lines (None without payable lines)."""
        return self.payable_matched / self.payable if self.payable else None

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "payable_lines": self.payable,
            "auto_confirmed": self.auto_confirmed,
            "correct": self.correct,
            "wrong": self.wrong,
            "payable_auto_matched": self.payable_matched,
            "precision": _rounded(self.precision),
            "auto_matched_share": _rounded(self.auto_matched_share),
            "proposal": self.proposal,
            "suspense": self.suspense,
        }


@dataclass(frozen=True, slots=True)
class WrongConfirmation:
    """An auto-confirmed decision the truth disagrees with."""

    line_id: str
    bank_reference: str
    scenario: Scenario
    amount: str
    line_text: str
    rule: str
    kind: str
    decided: tuple[tuple[str, Decimal], ...]
    truth: str

    def as_json(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "bank_reference": self.bank_reference,
            "scenario": self.scenario.value,
            "amount": self.amount,
            "line_text": self.line_text,
            "rule": self.rule,
            "decision": self.kind,
            "decided": [{"item_id": i, "amount": format(a, "f")} for i, a in self.decided],
            "truth": self.truth,
        }


@dataclass(slots=True)
class MatcherScore:
    """How one matcher did on a case."""

    name: str
    total: Tally = field(default_factory=Tally)
    by_scenario: dict[Scenario, Tally] = field(default_factory=dict)
    confirmed_kinds: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)  # auto-confirmed decisions per rule
    wrong: list[WrongConfirmation] = field(default_factory=list)  # the first few

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.total.as_json(),
            "auto_confirmed_by_kind": dict(sorted(self.confirmed_kinds.items())),
            "auto_confirmed_by_rule": dict(sorted(self.rules.items())),
            "by_scenario": {s.value: tally.as_json() for s, tally in self.by_scenario.items()},
            "wrong_shown": [wrong.as_json() for wrong in self.wrong],
        }


@dataclass(frozen=True, slots=True)
class QualityReport:
    """The engine's and the baseline's scores on one case."""

    lines: int
    open_items: int
    seed: int
    tenant_id: str
    rules: tuple[str, ...]
    engine: MatcherScore
    baseline: MatcherScore

    def as_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "open_items": self.open_items,
            "seed": self.seed,
            "tenant_id": self.tenant_id,
            "rules": list(self.rules),
            "engine": self.engine.as_json(),
            "baseline": self.baseline.as_json(),
        }


def decide_all(case: QualityCase, decider: LineDecider) -> list[MatchDecision]:
    """Every line of the case, in booking order, through ``decider``."""
    return [decider.decide(line) for line in case.iter_lines()]


def score_decisions(
    name: str, case: QualityCase, decisions: Sequence[MatchDecision]
) -> MatcherScore:
    """Score one decision per line (in any order) against the case's truth."""
    lines = {line.line_id: line for line in case.iter_lines()}
    decided = {decision.line_id for decision in decisions}
    if len(decided) != len(decisions) or decided != set(lines):
        raise ValueError(f"{name}: expected exactly one decision for each of {len(lines)} lines")
    score = MatcherScore(name=name, by_scenario={scenario: Tally() for scenario in Scenario})
    paired_by = {
        decision.paired_line_id: decision
        for decision in decisions
        if decision.kind is DecisionKind.REVERSAL_PAIR and decision.paired_line_id
    }
    for decision in decisions:
        truth = case.truths[decision.line_id]
        found = verdict(decision, truth, paired_by.get(decision.line_id))
        score.total.add(decision, truth, found)
        score.by_scenario[truth.scenario].add(decision, truth, found)
        if found is not Verdict.NOT_CONFIRMED:
            score.confirmed_kinds[decision.kind.value] += 1
            score.rules[decision.rule] += 1
        if found is Verdict.WRONG and len(score.wrong) < WRONG_SHOWN_MAX:
            score.wrong.append(_wrong(lines[decision.line_id], decision, truth))
    return score


def score_case(
    case: QualityCase, engine: MatchEngine | None = None, policy: MatchingPolicy | None = None
) -> QualityReport:
    """The engine's and the exact-amount baseline's scores on the case."""
    engine = engine or MatchEngine()
    decider = EngineDecider(
        case.tenant_id, case.items, engine, policy or QUALITY_POLICY, case.posting_rules
    )
    engine_decisions = decide_all(case, decider)
    baseline_decisions = decide_all(case, ExactAmountBaseline(case.tenant_id, case.items))
    return QualityReport(
        lines=len(engine_decisions),
        open_items=len(case.items),
        seed=case.seed,
        tenant_id=case.tenant_id,
        rules=engine.rule_names,
        engine=score_decisions(ENGINE, case, engine_decisions),
        baseline=score_decisions(BASELINE, case, baseline_decisions),
    )


def line_text(line: StatementLine) -> str:
    """What a person sees of a line: reference, payer, texts."""
    parts: list[str] = []
    if line.reversal:
        parts.append("REVERSAL")
    if line.structured_reference is not None:
        reference = line.structured_reference
        parts.append(f"{reference.kind.value.upper()} {reference.value}")
    if line.counterparty is not None and line.counterparty.name:
        parts.append(line.counterparty.name)
    if line.remittance_text:
        parts.append(line.remittance_text)
    if line.referred_documents:
        parts.append("documents " + ", ".join(line.referred_documents))
    if line.end_to_end_id:
        parts.append(f"end-to-end {line.end_to_end_id}")
    if line.additional_info and not parts:
        parts.append(line.additional_info)
    return " | ".join(parts)


def _truth_text(truth: LineTruth) -> str:
    if truth.outcome is Outcome.ITEMS:
        paid = ", ".join(f"{a.item_id} {format(a.amount, 'f')}" for a in truth.allocations)
        return paid + (" (not by the mistyped KID)" if truth.reference_must_not_match else "")
    if truth.outcome is Outcome.REVERSAL:
        return f"reversal pair with {truth.paired_line_id}"
    return f"no item ({truth.outcome.value})"


def _wrong(line: StatementLine, decision: MatchDecision, truth: LineTruth) -> WrongConfirmation:
    return WrongConfirmation(
        line_id=line.line_id,
        bank_reference=truth.bank_reference,
        scenario=truth.scenario,
        amount=str(line.amount),
        line_text=line_text(line),
        rule=decision.rule,
        kind=decision.kind.value,
        decided=tuple(sorted(allocated(decision).items())),
        truth=_truth_text(truth),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def render_report(report: QualityReport) -> str:
    """The report as the table ``bankrec-matcher quality`` prints."""
    engine, baseline = report.engine, report.baseline
    rows: list[tuple[str, str, str]] = [
        ("lines", str(engine.total.lines), str(baseline.total.lines)),
        ("payable lines (truth names items)", str(engine.total.payable), str(baseline.total.payable)),
        ("auto-confirmed", str(engine.total.auto_confirmed), str(baseline.total.auto_confirmed)),
        ("  correct", str(engine.total.correct), str(baseline.total.correct)),
        ("  wrong", str(engine.total.wrong), str(baseline.total.wrong)),
        ("precision of auto-confirmed", _percent(engine.total.precision), _percent(baseline.total.precision)),
        ("auto-matched share of payable lines", _percent(engine.total.auto_matched_share), _percent(baseline.total.auto_matched_share)),
        ("proposal", str(engine.total.proposal), str(baseline.total.proposal)),
        ("suspense", str(engine.total.suspense), str(baseline.total.suspense)),
    ]  # fmt: skip
    out = [
        f"Matching quality: {report.lines} lines, {report.open_items} open items "
        f"(seed {report.seed}, tenant {report.tenant_id})",
        f"engine rules: {', '.join(report.rules)}",
        "",
        f"{'':38}{ENGINE:>12}  {BASELINE:>22}",
    ]
    out.extend(f"{label:38}{left:>12}  {right:>22}" for label, left, right in rows)
    out.append(f"{'auto-confirmed by kind':38}{_counts(engine.confirmed_kinds)}")
    out.append(f"{'auto-confirmed by rule':38}{_counts(engine.rules)}")
    out += [
        "",
        "Per scenario (engine | baseline): auto = auto-confirmed, ok = correct, prec = precision,"
        " share = payable lines matched correctly",
        f"{'scenario':20}{'lines':>6}{'payable':>8} |{'auto':>6}{'ok':>6}{'wrong':>6}"
        f"{'prop':>6}{'susp':>6}{'prec':>9}{'share':>9} |{'auto':>6}{'wrong':>6}{'share':>9}",
    ]
    for scenario, mine in engine.by_scenario.items():
        theirs = baseline.by_scenario[scenario]
        out.append(
            f"{scenario.value:20}{mine.lines:>6}{mine.payable:>8} |{mine.auto_confirmed:>6}"
            f"{mine.correct:>6}{mine.wrong:>6}{mine.proposal:>6}{mine.suspense:>6}"
            f"{_percent(mine.precision):>9}{_percent(mine.auto_matched_share):>9} |"
            f"{theirs.auto_confirmed:>6}{theirs.wrong:>6}{_percent(theirs.auto_matched_share):>9}"
        )
    for score in (engine, baseline):
        out += ["", _wrong_heading(score)]
        out.extend(_wrong_line(wrong) for wrong in score.wrong)
    return "\n".join(out)


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "-"


def _wrong_heading(score: MatcherScore) -> str:
    if not score.total.wrong:
        return f"Wrong auto-confirmations of the {score.name}: none"
    return (
        f"Wrong auto-confirmations of the {score.name} "
        f"(first {len(score.wrong)} of {score.total.wrong}):"
    )


def _wrong_line(wrong: WrongConfirmation) -> str:
    decided = ", ".join(f"{item} {format(amount, 'f')}" for item, amount in wrong.decided)
    return (
        f"  {wrong.line_id} [{wrong.scenario.value}] {wrong.amount} {wrong.line_text!r}\n"
        f"      decided {wrong.kind} by {wrong.rule}: {decided or 'no item'}; truth: {wrong.truth}"
    )
