"""The pure parts of ``make bench`` (bankrec.devstack.bench): percentiles, the table and its
verdicts against the issue's targets, the generated statements (read back by ingest's own
parser), the webhook signature (checked by ingest's own verifier) and the plot."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bankrec.devstack.bench import (
    Row,
    TenantTraffic,
    busy,
    cpu_ms_per_line,
    cpu_of_processes,
    cpu_per_line_text,
    cpu_seconds,
    latency_by_stage,
    latency_summary,
    percentile,
    plot,
    posts_nothing,
    rows_from,
    signature,
    small_statement,
    table,
)


def figures(bulk_rate: float, raw: float, p99: float, rate: float = 100.0) -> dict[str, Any]:
    return {
        "date": "2026-11-23",
        "machine": {"cpus": 2, "load_average_start": [4.0, 4.0, 4.0]},
        "bulk": {"lines": 100_000, "lines_per_s": bulk_rate, "raw_hop_lines_per_s": raw},
        "latency": {
            "rate_lines_per_s": rate,
            "probes": 60,
            "probes_posted": 60,
            "webhook_to_posting": {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": p99},
            "raw_hop": {"p50_ms": 2.0, "p95_ms": 3.0, "p99_ms": 4.0},
        },
        "matcher_on_kafka": {"lines": 1000, "lines_per_s": 500.0, "raw_hop_lines_per_s": raw},
        "stages": {
            "parse": {"size_mb": 20.0, "parser_mb_per_s": 12.0, "baseline_mb_per_s": 30.0},
            "match": {"open_items": 200_000, "lines_per_s": 3000.0, "naive_lines_per_s": 2.0},
            "apply": {
                "decisions": 1000,
                "ledger_decisions_per_s": 70.0,
                "core_decisions_per_s": 190.0,
                "batched_decisions_per_s": 600.0,
                "core_batched_decisions_per_s": 1200.0,
            },
        },
    }


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    summary = latency_summary([5.0, 1.0, 3.0])
    assert summary["count"] == 3
    assert summary["p50_ms"] == 3.0
    assert summary["max_ms"] == 5.0


def test_a_probes_time_is_split_by_the_topics_it_reached() -> None:
    traffic = TenantTraffic(
        lines_by_correlation={"a": 10.010, "b": 20.050, "c": 30.010},
        decided_by_correlation={"a": 10.030, "b": 20.060},
        by_correlation={"a": 10.100, "b": 20.200},
    )
    stages = latency_by_stage(traffic, {"a": 10.0, "b": 20.0, "c": 30.0})
    # "c" never posted: it is left out of every stage, not counted with a part missing
    assert {name: figures["count"] for name, figures in stages.items()} == {
        "ingest": 2,
        "matcher": 2,
        "ledger": 2,
    }
    assert stages["ingest"]["max_ms"] == pytest.approx(50.0)
    assert stages["matcher"]["p50_ms"] == pytest.approx(15.0)
    assert stages["ledger"]["max_ms"] == pytest.approx(140.0)


def test_a_service_is_busy_above_a_tenth_of_a_core() -> None:
    before = {"ledger": 10.0, "matcher": 5.0, "reconciler": 1.0}
    after = {"ledger": 10.1, "matcher": 5.5, "reconciler": 1.19}
    assert busy(before, after, 2.0) == ["matcher"]  # 0.25 of a core; the others 0.05, 0.095
    assert cpu_seconds(os.getpid()) > 0


def test_the_targets_are_met_only_when_every_part_is() -> None:
    met = {row.measure: row.verdict for row in rows_from(figures(12_000, 40_000, 45.0))}
    assert met["end-to-end bulk, 100,000 lines"] == "ok"
    assert met["latency p99 at 100 lines/s"] == "ok"
    assert met["latency p50 at 100 lines/s"] == ""  # no target of its own
    # fast enough in lines/s but below a quarter of the raw hop
    slow = {row.measure: row.verdict for row in rows_from(figures(12_000, 60_000, 51.0))}
    assert slow["end-to-end bulk, 100,000 lines"] == "below"
    assert slow["latency p99 at 100 lines/s"] == "below"
    # a p99 under target at a lower rate than the target's does not count
    easy = {row.measure: row.verdict for row in rows_from(figures(1, 2, 5.0, rate=10))}
    assert easy["latency p99 at 10 lines/s"] == "below"
    # a probe that never got its posting fails the p99 however fast the others were
    lost = figures(12_000, 40_000, 5.0)
    lost["latency"]["probes_posted"] = 59
    assert {r.measure: r.verdict for r in rows_from(lost)}["latency p99 at 100 lines/s"] == "below"


def test_the_table_puts_each_figure_beside_its_baseline() -> None:
    text = table(rows_from(figures(12_000, 40_000, 45.0)), {"ledger": 151.2, "matcher": 88.0})
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["measure", "bankrec", "baseline"]
    bulk = next(line for line in lines if line.startswith("end-to-end bulk"))
    assert "12,000 lines/s" in bulk
    assert "40,000 lines/s" in bulk
    assert "0.30x" in bulk
    assert bulk.rstrip().endswith("ok")
    apply = next(line for line in lines if line.startswith("apply (ledger)"))
    assert "600 decisions/s" in apply  # the batched path, what the consumer runs
    assert "0.50x" in apply
    assert "SQLAlchemy Core, same rows" in apply
    assert any(line.startswith("peak RSS ledger") and "151 MB" in line for line in lines)
    assert Row("x", 1.0, 0.0, "u", "b").verdict == ""


def test_the_generated_statements_read_back_through_ingest() -> None:
    from bankrec.ingest.domain import parse_statement_file

    body = small_statement("run1", 3, 10, "NO9386011117947")
    result = parse_statement_file(body, tenant_id="bench")
    [statement] = result.statements
    assert len(statement.lines) == 10
    assert sum((line.amount.amount for line in statement.lines), Decimal(0)) > 0
    assert not [d for d in result.diagnostics if "balance" in str(d).lower()]
    # another file of the same run: new lines (ingest would publish them), not re-sent ones
    other = parse_statement_file(small_statement("run1", 4, 10, "NO9386011117947"), tenant_id="b")
    ids = {line.line_id for line in statement.lines}
    assert ids.isdisjoint({line.line_id for line in other.statements[0].lines})
    assert result.file_sha256 == hashlib.sha256(body).hexdigest()  # the latency probes' key


def test_the_webhook_signature_is_the_one_ingest_checks() -> None:
    from bankrec.ingest.domain.credentials import verify_webhook

    body, moment, secret = b"<Document/>", str(int(time.time())), "s3cret"
    signed = signature(secret, moment, body)
    expected = hmac.new(secret.encode(), moment.encode() + b"." + body, hashlib.sha256)
    verify_webhook(
        secret=secret,
        timestamp=moment,
        signature=signed,
        signed_body="sha256=" + expected.hexdigest(),
        now=datetime.now(UTC),
    )


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "docs" / "bench.png"
    plot(figures(12_000, 40_000, 45.0), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_decisions_the_ledger_applies_without_a_posting_are_known() -> None:
    """The bulk run waits for a posting of every line but these (a registered payment's bank
    line clears a payment already on the bank GL account)."""

    def decision(kind: str, *allocations: tuple[str, str], differences: int = 0) -> dict[str, Any]:
        return {
            "kind": kind,
            "amount": {"amount": "100.00", "currency": "NOK"},
            "allocations": [
                {"item_id": f"I-{n}", "item_kind": item_kind, "amount": {"amount": amount}}
                for n, (item_kind, amount) in enumerate(allocations)
            ],
            "differences": [{"role": "fees"}] * differences,
        }

    assert posts_nothing(decision("reversal_pair"))
    assert posts_nothing(decision("match", ("payment", "100.00")))
    assert posts_nothing(decision("match", ("journal", "60.00"), ("payment", "40.00")))
    assert not posts_nothing(decision("match", ("invoice", "100.00")))
    assert not posts_nothing(decision("match", ("payment", "60.00")))  # the rest to interim
    assert not posts_nothing(decision("match", ("payment", "90.00"), differences=1))
    assert not posts_nothing(decision("suspense"))


def test_cpu_per_line_is_each_process_share_between_two_samples_and_their_total() -> None:
    before = {"matcher": 10.0, "postgresql": 100.0, "bench": 1.0}
    after = {"matcher": 12.0, "postgresql": 101.5, "bench": 1.5, "ledger": 3.0}
    per_line = cpu_ms_per_line(before, after, 1_000)
    # a process first seen in the second sample counts nothing (its start is unknown)
    assert per_line == {
        "matcher": 2.0,
        "postgresql": 1.5,
        "bench": 0.5,
        "ledger": 0.0,
        "total": 4.0,
    }
    text = cpu_per_line_text(per_line)
    assert "matcher 2.00" in text
    assert "total 4.00" in text
    assert f"{(os.cpu_count() or 1) * 250:,} lines/s" in text


def test_cpu_of_processes_reads_this_process_and_the_servers_it_finds() -> None:
    first = cpu_of_processes({"self": os.getpid()})
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU
        pass
    second = cpu_of_processes({"self": os.getpid()})
    assert {"self", "bench", "postgresql", "kafka broker"} <= set(second)
    assert second["self"] >= first["self"]
    assert second["bench"] > first["bench"]
    assert all(seconds >= 0 for seconds in second.values())
