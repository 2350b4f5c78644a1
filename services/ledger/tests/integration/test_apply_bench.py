"""``make bench-ledger`` keeps working: a small run on PostgreSQL writes the same rows on
every path (one decision per transaction, a batch per transaction, Core inserts).

The benchmark is a command, not a timed test; this only checks that it runs and that the
baseline inserted exactly the rows the ledger wrote (seven per decision: inbox claim,
decision record, journal entry, two journal lines, and two outbox rows for a match or a
suspense posting and one outbox row for a suspense line), plus the tenant's chart and the bank
account's link, which the first decision creates.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "apply_bench.py"

pytestmark = pytest.mark.integration


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ledger_apply_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_applies_decisions_and_replays_the_same_rows(
    postgres_admin_url: str,
) -> None:
    bench = _bench()
    bench.BATCH_SIZE = 8  # three batches, the last one short
    figures = bench.run(20, postgres_admin_url)

    assert figures["decisions"] == 20
    assert figures["batch_size"] == 8
    assert 7.0 < figures["rows_inserted_per_decision"] < 7.0 + 12 / 20
    assert figures["same_rows"] is True  # the batched path wrote what one by one wrote
    for path in ("ledger", "batched", "core", "core_batched"):
        assert figures[f"{path}_decisions_per_s"] > 0
    assert figures["database"].startswith("PostgreSQL")
