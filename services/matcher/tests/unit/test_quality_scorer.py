"""The quality benchmark's scorer and baseline: exact counts on hand-made cases, what counts
as a right automatic decision, the baseline is an amount-only matcher (a decoy fools it),
and the real engine is scored on a generated case (its figures are printed, never asserted:
the rules are changing)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bankrec.contracts import (
    Allocation,
    BankAccountRef,
    BankTransactionCode,
    Counterparty,
    DecisionKind,
    MatchDecision,
    Money,
    OpenItem,
    OpenItemKind,
    StatementLine,
    account_id_for,
)
from bankrec.matcher.cli import main
from bankrec.matcher.quality.baseline import BASELINE_RULE, ExactAmountBaseline
from bankrec.matcher.quality.generator import generate_case
from bankrec.matcher.quality.scorer import (
    Verdict,
    decide_all,
    render_report,
    score_case,
    score_decisions,
    verdict,
)
from bankrec.matcher.quality.truth import (
    GeneratedEntry,
    GeneratedStatement,
    LineTruth,
    Outcome,
    QualityCase,
    Scenario,
    TruthAllocation,
)

TENANT = "t-quality"
IBAN = "NO9386011117947"
ACCOUNT = BankAccountRef(account_id=account_id_for(TENANT, IBAN), iban=IBAN, currency="NOK")
DAY = date(2026, 11, 20)
CREDIT = BankTransactionCode(domain="PMNT", family="RCDT", sub_family="DMCT")
SEED = 4242


def invoice(item_id: str, amount: str, counterparty_id: str = "C-1") -> OpenItem:
    money = Money.of(amount, "NOK")
    return OpenItem(
        item_id=item_id,
        kind=OpenItemKind.INVOICE,
        counterparty_id=counterparty_id,
        document_no=item_id.removeprefix("INV-"),
        amount=money,
        remaining=money,
        posting_date=date(2026, 11, 1),
        due_date=DAY,
    )


def line(
    line_id: str, amount: str, text: str | None = None, name: str | None = None
) -> StatementLine:
    return StatementLine(
        line_id=line_id,
        statement_id="s-1",
        account=ACCOUNT,
        sequence=int(line_id.removeprefix("L")),
        amount=Money.of(amount, "NOK"),
        booking_date=DAY,
        bank_reference=f"REF-{line_id}",
        remittance_text=text,
        counterparty=Counterparty(name=name) if name else None,
    )


def pays(line_id: str, scenario: Scenario, *paid: tuple[str, str]) -> LineTruth:
    return LineTruth(
        line_id=line_id,
        bank_reference=f"REF-{line_id}",
        scenario=scenario,
        outcome=Outcome.ITEMS,
        allocations=tuple(TruthAllocation(item_id, Decimal(amount)) for item_id, amount in paid),
    )


def no_item(line_id: str, scenario: Scenario, outcome: Outcome) -> LineTruth:
    return LineTruth(
        line_id=line_id, bank_reference=f"REF-{line_id}", scenario=scenario, outcome=outcome
    )


def hand_made_case(
    items: list[OpenItem], lines: list[StatementLine], truths: list[LineTruth]
) -> QualityCase:
    entries = tuple(
        GeneratedEntry(
            ntry_ref=str(position),
            bank_reference=one.bank_reference or "",
            amount=one.amount.amount,
            booking_date=DAY,
            value_date=DAY,
            reversal=one.reversal,
            code=CREDIT,
            additional_info=None,
            with_details=True,
            lines=(one,),
        )
        for position, one in enumerate(lines, start=1)
    )
    return QualityCase(
        tenant_id=TENANT,
        seed=0,
        account=ACCOUNT,
        items=tuple(items),
        statements=(GeneratedStatement("s-1", DAY, Decimal(0), entries),),
        truths={truth.line_id: truth for truth in truths},
    )


def decision(
    of: StatementLine,
    kind: DecisionKind,
    *allocated: tuple[str, str],
    rule: str = "some_rule",
    paired_line_id: str | None = None,
) -> MatchDecision:
    return MatchDecision(
        decision_id=f"d-{of.line_id}",
        kind=kind,
        line_id=of.line_id,
        statement_id=of.statement_id,
        account=of.account,
        amount=of.amount,
        rule=rule,
        confidence=Decimal("0.9") if allocated else Decimal(0),
        allocations=[
            Allocation(item_id=item_id, amount=Money.of(amount, "NOK"))
            for item_id, amount in allocated
        ],
        paired_line_id=paired_line_id,
        explanation="hand-made",
    )


def test_the_scorer_counts_a_three_line_case_exactly() -> None:
    lines = [
        line("L1", "500.00", "Faktura 1"),
        line("L2", "300.00", "Faktura 2"),
        line("L3", "-25.00"),
    ]
    case = hand_made_case(
        [invoice("INV-1", "500.00"), invoice("INV-2", "300.00"), invoice("INV-3", "300.00", "C-9")],
        lines,
        [
            pays("L1", Scenario.INVOICE_TEXT, ("INV-1", "500.00")),
            pays("L2", Scenario.AMOUNT_DECOY, ("INV-2", "300.00")),
            no_item("L3", Scenario.BANK_FEE, Outcome.FEE),
        ],
    )
    decisions = [
        decision(lines[0], DecisionKind.MATCH, ("INV-1", "500.00")),
        decision(lines[1], DecisionKind.MATCH, ("INV-3", "300.00")),  # the decoy: wrong
        decision(lines[2], DecisionKind.SUSPENSE),
    ]

    score = score_decisions("engine", case, decisions)

    total = score.total
    assert (total.lines, total.payable, total.auto_confirmed) == (3, 2, 2)
    assert (total.correct, total.wrong, total.payable_matched) == (1, 1, 1)
    assert (total.proposal, total.suspense) == (0, 1)
    assert total.precision == 0.5
    assert total.auto_matched_share == 0.5
    assert score.by_scenario[Scenario.AMOUNT_DECOY].wrong == 1
    assert score.by_scenario[Scenario.INVOICE_TEXT].correct == 1
    assert score.by_scenario[Scenario.BANK_FEE].suspense == 1
    assert score.by_scenario[Scenario.KID_FULL].lines == 0
    assert dict(score.confirmed_kinds) == {"match": 2}
    [wrong] = score.wrong
    assert (wrong.line_id, wrong.bank_reference, wrong.line_text) == ("L2", "REF-L2", "Faktura 2")
    assert wrong.decided == (("INV-3", Decimal("300.00")),)
    assert wrong.truth == "INV-2 300.00"
    assert score.as_json()["precision"] == 0.5


def test_every_line_needs_exactly_one_decision() -> None:
    lines = [line("L1", "500.00")]
    case = hand_made_case([], lines, [no_item("L1", Scenario.UNKNOWN_PAYER, Outcome.SUSPENSE)])
    with pytest.raises(ValueError, match="exactly one decision"):
        score_decisions("engine", case, [])
    with pytest.raises(ValueError, match="exactly one decision"):
        score_decisions("engine", case, [decision(lines[0], DecisionKind.SUSPENSE)] * 2)


L = line("L1", "990.00")
ITEMS_TRUTH = pays("L1", Scenario.FEE_DEDUCTED, ("INV-1", "990.00"))
MISTYPED = LineTruth(
    "L1",
    "REF-L1",
    Scenario.MISTYPED_KID,
    Outcome.ITEMS,
    (TruthAllocation("INV-1", Decimal("990.00")),),
    reference_must_not_match=True,
)
REVERSAL = LineTruth("L1", "REF-L1", Scenario.REVERSAL, Outcome.REVERSAL, paired_line_id="L0")


@pytest.mark.parametrize(
    ("decided", "truth", "expected"),
    [
        (decision(L, DecisionKind.MATCH, ("INV-1", "990.00")), ITEMS_TRUTH, Verdict.CORRECT),
        (decision(L, DecisionKind.PARTIAL, ("INV-1", "990")), ITEMS_TRUTH, Verdict.CORRECT),
        (decision(L, DecisionKind.MATCH, ("INV-1", "900.00")), ITEMS_TRUTH, Verdict.WRONG),
        (decision(L, DecisionKind.ON_ACCOUNT), ITEMS_TRUTH, Verdict.WRONG),
        (decision(L, DecisionKind.PROPOSAL), ITEMS_TRUTH, Verdict.NOT_CONFIRMED),
        (decision(L, DecisionKind.SUSPENSE), ITEMS_TRUTH, Verdict.NOT_CONFIRMED),
        (
            decision(L, DecisionKind.MATCH, ("INV-1", "990.00"), rule="structured_reference"),
            MISTYPED,
            Verdict.WRONG,
        ),
        (
            decision(L, DecisionKind.MATCH, ("INV-1", "990.00"), rule="exact_amount"),
            MISTYPED,
            Verdict.CORRECT,
        ),
        (
            decision(L, DecisionKind.RULE_POSTING),
            no_item("L1", Scenario.BANK_FEE, Outcome.FEE),
            Verdict.CORRECT,
        ),
        (
            decision(L, DecisionKind.RULE_POSTING),
            no_item("L1", Scenario.INTEREST, Outcome.INTEREST),
            Verdict.CORRECT,
        ),
        (
            decision(L, DecisionKind.MATCH, ("INV-1", "990.00")),
            no_item("L1", Scenario.UNKNOWN_PAYER, Outcome.SUSPENSE),
            Verdict.WRONG,
        ),
        (
            decision(L, DecisionKind.ON_ACCOUNT),
            no_item("L1", Scenario.UNKNOWN_PAYER, Outcome.SUSPENSE),
            Verdict.WRONG,
        ),
        (decision(L, DecisionKind.REVERSAL_PAIR, paired_line_id="L0"), REVERSAL, Verdict.CORRECT),
        (decision(L, DecisionKind.REVERSAL_PAIR, paired_line_id="L7"), REVERSAL, Verdict.WRONG),
        (decision(L, DecisionKind.RULE_POSTING), REVERSAL, Verdict.WRONG),
    ],
)
def test_what_counts_as_a_right_automatic_decision(
    decided: MatchDecision, truth: LineTruth, expected: Verdict
) -> None:
    assert verdict(decided, truth) is expected


def test_the_baseline_takes_a_decoy_of_the_same_amount_from_another_customer() -> None:
    """The payer of invoice 1 (1,000.00) paid 990.00 after a bank fee; another customer
    owes exactly 990.00: an amount-only matcher confirms the wrong invoice."""
    lines = [line("L1", "990.00", "Faktura 1", "HANSEN BYGG AS")]
    case = hand_made_case(
        [invoice("INV-1", "1000.00", "C-1"), invoice("INV-2", "990.00", "C-2")],
        lines,
        [pays("L1", Scenario.FEE_DEDUCTED, ("INV-1", "990.00"))],
    )

    [decided] = decide_all(case, ExactAmountBaseline(TENANT, case.items))
    assert (decided.kind, decided.rule) == (DecisionKind.MATCH, BASELINE_RULE)
    assert [a.item_id for a in decided.allocations] == ["INV-2"]

    report = score_case(case)
    print(render_report(report))
    baseline = report.baseline
    assert (baseline.total.auto_confirmed, baseline.total.wrong, baseline.total.precision) == (
        1,
        1,
        0.0,
    )
    assert baseline.wrong[0].decided == (("INV-2", Decimal("990.00")),)


def test_the_baseline_confirms_only_a_single_candidate_and_pays_it_once() -> None:
    lines = [line("L1", "500.00"), line("L2", "500.00"), line("L3", "700.00"), line("L4", "700.00")]
    items = [invoice("INV-1", "500.00"), invoice("INV-2", "500.00"), invoice("INV-3", "700.00")]
    case = hand_made_case(
        items,
        lines,
        [
            pays("L1", Scenario.DUPLICATE_AMOUNTS, ("INV-1", "500.00")),
            pays("L2", Scenario.DUPLICATE_AMOUNTS, ("INV-2", "500.00")),
            pays("L3", Scenario.KID_FULL, ("INV-3", "700.00")),
            no_item("L4", Scenario.UNKNOWN_PAYER, Outcome.SUSPENSE),
        ],
    )
    decided = decide_all(case, ExactAmountBaseline(TENANT, items))
    assert [d.kind for d in decided] == [
        DecisionKind.SUSPENSE,  # two items of 500.00
        DecisionKind.SUSPENSE,
        DecisionKind.MATCH,
        DecisionKind.SUSPENSE,  # INV-3 is paid already
    ]
    assert decided[0].explanation == "2 open items with amount 500.00 NOK"


def test_the_real_engine_is_scored_on_a_generated_case() -> None:
    """Prints the engine's figures beside the baseline's; asserts only that every line was
    scored and that the decoys fool the baseline (the engine's figures are not thresholds)."""
    print(f"seed {SEED}")
    case = generate_case(300, SEED)
    report = score_case(case)
    print(render_report(report))

    for score in (report.engine, report.baseline):
        assert score.total.lines == 300
        assert sum(tally.lines for tally in score.by_scenario.values()) == 300
        assert score.total.correct + score.total.wrong == score.total.auto_confirmed
        assert score.total.payable == sum(t.matchable for t in case.truths.values())
    assert report.baseline.by_scenario[Scenario.AMOUNT_DECOY].wrong > 0
    assert report.baseline.total.proposal == 0
    assert json.loads(json.dumps(report.as_json()))["lines"] == 300


def test_the_quality_command_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = tmp_path / "quality.json"
    assert main(["quality", "--lines", "120", "--seed", str(SEED), "--json", str(figures)]) == 0
    printed = capsys.readouterr().out
    print(printed)
    assert "precision of auto-confirmed" in printed
    assert all(scenario.value in printed for scenario in Scenario)
    written = json.loads(figures.read_text())
    assert (written["lines"], written["seed"]) == (120, SEED)
    assert set(written["engine"]["by_scenario"]) == {scenario.value for scenario in Scenario}


def test_the_quality_command_refuses_a_case_too_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "--lines", "10"]) == 1
    assert "at least 100 lines" in capsys.readouterr().err
