"""``bankrec-matcher run``: a statement file and an open-items CSV, read by ingest's and the
ledger's own commands, through the same engine, one JSON decision per line; matching
settings from TOML checked against the policy's fields; errors name the file.

The run starts ``bankrec-ingest`` and ``bankrec-ledger`` as child processes (some seconds of
imports each), so only three tests run them; formats other than camt go through the same
``bankrec-ingest parse`` and are not repeated here.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bankrec.contracts import (
    BankAccountRef,
    DecisionKind,
    MatchDecision,
    Money,
    StatementLine,
)
from bankrec.matcher import offline
from bankrec.matcher.cli import main
from bankrec.matcher.domain.policy import MatchingPolicy
from bankrec.matcher.offline import (
    MATCHING_SETTINGS,
    MatchingSettingsError,
    decision_record,
    matching_policy,
    matching_settings,
    read_matching_settings,
)
from bankrec.matcher.quality.generator import generate_case
from bankrec.matcher.quality.open_item_csv import COLUMNS
from bankrec.matcher.quality.scorer import EngineDecider, decide_all

SEED = 7788
RECORD_KEYS = {
    "bank_reference",
    "line_id",
    "decision",
    "item_ids",
    "rule",
    "confidence",
    "explanation",
}
FI_SAMPLE = "moov-io+iso20022/test/testdata/FI_camt_053_sample.xml.xml"
FI_BANK_REFERENCES = [
    "091029ACCTSTMTARCH01",
    "091029ACCTSTMTARCH02",
    "091029ARCH03001",
    "091029ARCH03002",
    "091029ARCH03003",
    "091029ACCTSTMTARCH04",
    "091029ACCTSTMTARCH21",
    "091029ACCTSTMTARCH05",
    "091029ACCTSTMTARCH06",
    "091029ACCTSTMTARCH07",
    "091029ACCTSTMTARCH08",
    "091029ARCH09001",
    "091029ARCH09001",
]
FI_ITEMS_CSV = (
    ",".join(COLUMNS[:13])
    + "\nBILL-1,bill,S-1,Supplier Oy,,B-1,,,,-1000.12,EUR,2009-10-01,2009-10-29"
    + "\nINV-US20291092,invoice,C-1,Customer GmbH,,US20291092,,,,2120.00,EUR,2009-10-01,2009-10-29"
    + "\nINV-7,invoice,C-2,Kunde AB,,7,,,,500.00,EUR,2009-10-01,2009-10-29\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[dict], str]:
    before = capsys.readouterr()
    code = main(["run", *(str(arg) for arg in args)])
    captured = capsys.readouterr()
    print(before.out, end="")  # what the test printed (its seed) stays in its report
    return code, [json.loads(text) for text in captured.out.splitlines()], captured.err


def test_a_corpus_camt053_gets_one_decision_per_line(
    corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.csv"
    items.write_text(FI_ITEMS_CSV, encoding="utf-8")

    code, records, err = run(capsys, "--statement", corpus_dir / FI_SAMPLE, "--open-items", items)

    assert code == 0, err
    assert [record["bank_reference"] for record in records] == FI_BANK_REFERENCES
    assert len({record["line_id"] for record in records}) == len(FI_BANK_REFERENCES)
    for record in records:
        assert set(record) >= RECORD_KEYS
        assert DecisionKind(record["decision"])
        assert set(record["item_ids"]) <= {"BILL-1", "INV-US20291092", "INV-7"}
        assert Decimal(record["confidence"]) <= 1
        assert record["explanation"]
    print("\n".join(json.dumps(record)[:200] for record in records))


def _decisions_by_bank_reference(records: list[dict]) -> dict[str, tuple[object, ...]]:
    found = {}
    for record in records:
        reference = record["bank_reference"]
        key = reference[0] if isinstance(reference, list) else reference
        found[key] = (
            record["decision"],
            record["item_ids"],
            record["rule"],
            record["confidence"],
            [a["amount"] for a in record["allocations"]],
        )
    return found


def _expected(decisions: list[MatchDecision], lines: list[StatementLine]) -> dict:
    return {
        line.bank_reference: (
            decision.kind.value,
            [a.item_id for a in decision.allocations],
            decision.rule,
            format(decision.confidence, "f"),
            [format(a.amount.amount, "f") for a in decision.allocations],
        )
        for line, decision in zip(lines, decisions, strict=True)
    }


def test_a_generated_statement_gets_the_same_decisions_offline_as_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    print(f"seed {SEED}")
    lines = 150
    assert (
        main(["quality", "--lines", str(lines), "--seed", str(SEED), "--write-dir", str(tmp_path)])
        == 0
    )
    capsys.readouterr()
    assert {p.name for p in tmp_path.iterdir()} == {"statement.xml", "open_items.csv", "truth.json"}
    case = generate_case(lines, SEED)
    in_process = decide_all(case, EngineDecider(case.tenant_id, case.items))

    code, records, err = run(
        capsys,
        "--statement",
        tmp_path / "statement.xml",
        "--open-items",
        tmp_path / "open_items.csv",
    )

    assert code == 0, err
    assert err == ""  # ingest and the ledger read both files without a single note
    # a reversal pair inside the file is one record covering both of its lines
    assert sum(record["covers_lines"] for record in records) == lines
    reversed_references = {
        record["bank_reference"][1] for record in records if record["decision"] == "reversal_pair"
    }
    assert reversed_references
    kept = [
        (line, decision)
        for line, decision in zip(case.lines, in_process, strict=True)
        if line.bank_reference not in reversed_references
    ]
    assert _decisions_by_bank_reference(records) == _expected(
        [d for _, d in kept], [line for line, _ in kept]
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert [
        entry["bank_reference"]
        for entry in truth["lines"]
        if entry["bank_reference"] not in reversed_references
    ] == [
        record["bank_reference"][0]
        if isinstance(record["bank_reference"], list)
        else record["bank_reference"]
        for record in records
    ]


def test_the_settings_reach_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files as the services read them (shown equal above), the run with settings gives
    what the engine gives in process under the same policy."""
    print(f"seed {SEED}")
    case = generate_case(150, SEED)
    monkeypatch.setattr(offline, "read_files", lambda *_args: (list(case.lines), case.items))
    settings = tmp_path / "settings.toml"
    settings.write_text("auto_confirm = false\ndate_tolerance_days = 2\n", encoding="utf-8")
    policy = MatchingPolicy(auto_confirm=False, date_tolerance_days=2)
    held = decide_all(case, EngineDecider(case.tenant_id, case.items, policy=policy))

    code, records, err = run(
        capsys, "--statement", "s.xml", "--open-items", "i.csv", "--settings", settings
    )

    assert code == 0, err
    assert _decisions_by_bank_reference(records) == _expected(held, list(case.lines))
    assert not any(record["allocations"] for record in records)
    assert [record["line_id"] for record in records] == [line.line_id for line in case.lines]


def test_errors_name_the_file_and_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.csv"
    items.write_text(
        ",".join(COLUMNS[:13]) + "\nINV-1,invoice,C-1,,,1,,,,abc,NOK,,\n", encoding="utf-8"
    )
    missing = tmp_path / "nowhere.xml"

    code, records, err = run(capsys, "--statement", missing, "--open-items", items)

    assert (code, records) == (1, [])
    assert f"bankrec-ledger: {items}: row 2: amount: 'abc' is not a decimal number" in err
    assert f"bankrec-ingest: cannot read {missing}" in err
    assert (
        f"bankrec-matcher: open items {items}: bankrec-ledger open-items failed with exit code 1"
        f" (its messages are above); statement {missing}: bankrec-ingest parse failed" in err
    )

    settings = tmp_path / "settings.toml"
    settings.write_text("date_tolerance = 3\n", encoding="utf-8")
    code, records, err = run(
        capsys, "--statement", missing, "--open-items", items, "--settings", settings
    )
    assert (code, records) == (1, [])
    assert f"settings {settings}: unknown key(s) date_tolerance; the keys are" in err


def test_the_settings_are_the_fields_of_the_matching_policy() -> None:
    assert set(MATCHING_SETTINGS) == set(MatchingPolicy.__dataclass_fields__)


def test_settings_are_read_exactly_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        "auto_confirm = true\nauto_confirm_threshold = 0.85\ndate_tolerance_days = 3\n"
        'amount_tolerance = "0.50"\nname_similarity_threshold = 80\n',
        encoding="utf-8",
    )
    settings = read_matching_settings(path)
    assert settings == {
        "auto_confirm": True,
        "auto_confirm_threshold": Decimal("0.85"),
        "date_tolerance_days": 3,
        "amount_tolerance": Decimal("0.50"),
        "name_similarity_threshold": 80,
    }
    assert isinstance(settings["auto_confirm_threshold"], Decimal)  # never a binary float
    policy = matching_policy(settings, source=str(path))
    assert (policy.auto_confirm_threshold, policy.date_tolerance_days) == (Decimal("0.85"), 3)
    assert policy.text_similarity_threshold == MatchingPolicy().text_similarity_threshold


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"auto_confirm": "yes"}, "auto_confirm = 'yes' is not true or false"),
        ({"date_tolerance_days": 2.5}, "date_tolerance_days = Decimal('2.5') is not an integer"),
        ({"date_tolerance_days": True}, "date_tolerance_days = True is not an integer"),
        ({"amount_tolerance": "ten"}, "amount_tolerance = 'ten' is not a decimal"),
        ({"tolerance": 1, "zz": 2}, "unknown key(s) tolerance, zz; the keys are auto_confirm,"),
    ],
)
def test_a_bad_setting_is_refused_with_what_it_takes(document: dict, message: str) -> None:
    parsed = {
        key: Decimal(str(value)) if isinstance(value, float) else value
        for key, value in document.items()
    }
    with pytest.raises(MatchingSettingsError, match=r"^settings s\.toml: ") as refused:
        matching_settings(parsed, source="s.toml")
    assert message in refused.value.message


def test_a_setting_the_policy_cannot_take_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("auto_confirm_threshold = 1.5\n", encoding="utf-8")
    with pytest.raises(MatchingSettingsError, match=r"auto_confirm_threshold 1\.5 must be between"):
        matching_policy(read_matching_settings(path), source=str(path))
    path.write_text("auto_confirm = [\n", encoding="utf-8")
    with pytest.raises(MatchingSettingsError, match="is not valid TOML"):
        read_matching_settings(path)


def test_a_reversal_pair_shows_both_bank_references() -> None:
    account = BankAccountRef(account_id="acc-1", currency="NOK")

    def line(line_id: str, amount: str, reference: str) -> StatementLine:
        return StatementLine(
            line_id=line_id,
            statement_id="s-1",
            account=account,
            sequence=0,
            amount=Money.of(amount, "NOK"),
            bank_reference=reference,
            booking_date=date(2026, 11, 20),
            reversal=amount.startswith("-"),
        )

    original, reversal = line("l-1", "100.00", "REF-1"), line("l-2", "-100.00", "REF-2")
    decided = MatchDecision(
        decision_id="d-2",
        kind=DecisionKind.REVERSAL_PAIR,
        line_id="l-2",
        statement_id="s-1",
        account=account,
        amount=reversal.amount,
        rule="reversal_pair",
        confidence=Decimal("1"),
        paired_line_id="l-1",
        explanation="reverses l-1",
    )
    record = decision_record(decided, reversal, original)
    assert record["bank_reference"] == ["REF-2", "REF-1"]
    assert (record["decision"], record["item_ids"], record["paired_line_id"]) == (
        "reversal_pair",
        [],
        "l-1",
    )
