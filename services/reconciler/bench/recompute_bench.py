"""Recomputing a period's difference after one new decision: incremental vs a full recount.

A period of 10,000 statement lines, each posted by the ledger (bank side), with its running
sums counted once. Then, per decision: ``apply_decision`` (which updates the running sums for
the one line it touches) + ``figures``, timed; beside it, ``recount`` (every figure counted
from every fact) on the same period. Figures must agree every time. Prints both and writes
var/bench/reconcile.json.

    uv run python services/reconciler/bench/recompute_bench.py [--lines 10000] [--decisions 500]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bankrec.contracts import (
    AccountRole,
    Balance,
    BankAccountRef,
    DecisionKind,
    EntrySource,
    JournalEntryPosted,
    MatchDecision,
    Money,
    PostingLine,
    StatementHeader,
    StatementLine,
)
from bankrec.reconciler.domain import (
    BankPosting,
    PeriodLine,
    ReconciliationPeriod,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    figures,
    open_period,
)
from bankrec.reconciler.domain.period import recount, running_figures

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "var" / "bench" / "reconcile.json"
TENANT = "bench"
ACCOUNT = BankAccountRef(account_id="acc-bench", iban="NO9386011117947", currency="NOK")
DAY = date(2026, 11, 15)
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def nok(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="NOK")


def line(line_id: str) -> StatementLine:
    return StatementLine(
        line_id=line_id,
        statement_id="stmt-1",
        account=ACCOUNT,
        sequence=0,
        amount=nok("1.00"),
        booking_date=DAY,
    )


def posting(line_id: str) -> JournalEntryPosted:
    return JournalEntryPosted(
        entry_id=f"je-{line_id}",
        idempotency_key=f"je-{line_id}",
        posting_date=DAY,
        source=EntrySource.DECISION,
        source_ref=f"dec-{line_id}",
        description="bench",
        lines=[
            PostingLine(
                account_code="1920",
                account_role=AccountRole.BANK,
                debit=Decimal("1.00"),
                credit=Decimal(0),
                currency="NOK",
                bank_account_id=ACCOUNT.account_id,
                statement_line_id=line_id,
            ),
            PostingLine(
                account_code="1500",
                account_role=AccountRole.RECEIVABLE,
                debit=Decimal(0),
                credit=Decimal("1.00"),
                currency="NOK",
            ),
        ],
    )


def decision(line_id: str, number: int) -> MatchDecision:
    return MatchDecision(
        decision_id=f"dec-{line_id}-{number}",
        kind=DecisionKind.SUSPENSE if number % 2 else DecisionKind.MATCH,
        line_id=line_id,
        statement_id="stmt-1",
        account=ACCOUNT,
        amount=nok("1.00"),
        booking_date=DAY,
        rule="bench",
        confidence=Decimal(1),
        explanation="bench",
    )


def large_period(lines: int) -> ReconciliationPeriod:
    empty = open_period(TENANT, ACCOUNT.account_id, "NOK")
    known: dict[str, PeriodLine] = {}
    posted: dict[str, BankPosting] = {}
    for i in range(lines):
        known.update(apply_line(empty, line(f"l{i}")).lines)
        posted.update(apply_posting(empty, posting(f"l{i}")).postings)
    header = StatementHeader(
        statement_id="stmt-1",
        source_format="camt.053.001.02",
        account=ACCOUNT,
        opening_booked=Balance(amount=nok("0.00"), date=date(2026, 11, 1)),
        closing_booked=Balance(amount=nok(f"{lines}.00"), date=date(2026, 11, 30)),
        entry_count=lines,
        line_count=lines,
        sum_credits=Decimal(lines),
        sum_debits=Decimal(0),
        file_sha256="0" * 64,
    )
    period = replace(apply_statement(empty, header), lines=known, postings=posted)
    return replace(period, running=running_figures(period))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=500)
    args = parser.parse_args()
    period = large_period(args.lines)
    incremental: list[float] = []
    full: list[float] = []
    for number in range(args.decisions):
        chosen = decision(f"l{(number * 7919) % args.lines}", number)
        started = time.perf_counter()
        period = apply_decision(period, chosen, AT + timedelta(seconds=number))
        difference = figures(period).difference
        incremental.append(time.perf_counter() - started)
        started = time.perf_counter()
        counted = recount(period)
        full.append(time.perf_counter() - started)
        assert counted.difference == difference
    assert figures(period) == recount(period)

    def summary(seconds: list[float]) -> dict[str, float]:
        ordered = sorted(seconds)
        return {
            "median_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 3),
            "max_ms": round(ordered[-1] * 1000, 3),
        }

    inc, rec = summary(incremental), summary(full)
    speedup = round(statistics.median(full) / statistics.median(incremental), 1)
    result = {
        "lines": args.lines,
        "decisions": args.decisions,
        "incremental_per_decision": inc,
        "full_recount": rec,
        "speedup_median": speedup,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"period of {args.lines} lines, {args.decisions} decisions, one at a time")
    for name, row in (("incremental (apply_decision + figures)", inc), ("full recount", rec)):
        print(
            f"  {name:<40} median {row['median_ms']} ms, p95 {row['p95_ms']} ms, "
            f"max {row['max_ms']} ms"
        )
    print(f"  speedup (median): {speedup}x; written to {OUT}")


if __name__ == "__main__":
    main()
