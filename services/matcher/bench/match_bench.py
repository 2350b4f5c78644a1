"""Speed of the matcher offline: statement lines per second through ``MatchEngine.decide``
against an index of a million open items, beside a naive scan in the same run.

    make bench-match
    uv run python services/matcher/bench/match_bench.py [--items 1000000] [--lines 20000]
        [--naive-lines 200] [--seed 1] [--no-gc-freeze]

Issue 5's targets, both in one run: at least 20,000 lines/s against a million open items,
and at least 30 times the naive scan. The output says whether this run met them.

The quality benchmark's generator makes the tenant: ``--lines`` statement lines (its
scenario mix) and open items up to ``--items`` (its item factory: the items the lines pay,
then unpaid invoices and bills). Then, in this one process:

- **index build**: every item applied to one ``OpenItemIndex`` (what the service does at
  start-up from the open-items topic), timed apart from the matching; then
  ``gc.freeze()``: the million items and the index live as long as the process, so the
  cyclic garbage collector is told not to walk them again (a service does the same once its
  index has caught up; ``--no-gc-freeze`` measures without it);
- **engine**: every line, in booking order, through ``MatchEngine().decide`` against that
  index (allocations reserved as in the service), timed as a whole, CPU and wall; the
  garbage collector's passes during the loop are counted and timed;
- **naive scan**: for each line, one pass over every open item comparing the structured
  reference, the remaining amount and whether the document number occurs in the remittance
  text; the only item found by the first of those that finds exactly one is the match (the
  obvious O(items) implementation, without reservations). A pass over a million items takes
  a good part of a second, so it runs on ``--naive-lines`` lines spread evenly over the
  statement, and its lines per second are from that sample (the output says so).

The machine's load average (1 minute) before and after the engine's loop is printed and
written too: on a shared machine it says how much the wall clock was stretched.

Rates are from this process's CPU time (the machines are shared: another process on the
same core stretches the wall clock, not this process's CPU time); the wall-clock rates are
printed and written beside, and the targets are judged on both. Prints the figures and the
ratio engine / naive, the generation and index build times and rate, the engine's slowest
scenarios (milliseconds per line, from the generator's truth) and the peak resident memory
(``ru_maxrss``: the items, the index and everything else this process holds); writes them
as JSON to ``var/bench/match.json``. A command, not a test: it never fails on a figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bankrec.contracts import OpenItem, OpenItemStatus, StatementLine
from bankrec.matcher.domain import MatchEngine, OpenItemIndex
from bankrec.matcher.quality.generator import generate_case

REPO_ROOT = Path(__file__).resolve().parents[3]
OUTPUT = REPO_ROOT / "var" / "bench" / "match.json"
OPEN = frozenset({OpenItemStatus.OPEN, OpenItemStatus.PARTLY_PAID})
LINES_PER_SECOND_MIN = 20_000  # issue 5: offline, against a million open items
RATIO_TO_NAIVE_MIN = 30  # issue 5: engine / naive scan, in the same run


class Phase:
    """Wall and CPU seconds of a ``with`` block (CPU time: this process's own, so a busy
    shared machine slows the wall clock but hardly the figures)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Phase:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu

    def as_json(self) -> dict[str, float]:
        return {"cpu_seconds": round(self.cpu, 3), "wall_seconds": round(self.wall, 3)}


class CollectorPasses:
    """How often and how long the cyclic garbage collector ran while installed (per
    generation), by the CPU time between its start and stop callbacks."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.cpu = [0.0, 0.0, 0.0]
        self._began = 0.0

    def __enter__(self) -> CollectorPasses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
            return
        generation = info["generation"]
        self.passes[generation] += 1
        self.cpu[generation] += time.process_time() - self._began

    def as_json(self) -> dict[str, object]:
        return {
            "passes_by_generation": self.passes,
            "cpu_seconds": round(sum(self.cpu), 3),
        }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_decide(line: StatementLine, items: Sequence[OpenItem]) -> str | None:
    """The item id a one-pass scan of every open item finds for the line, or None."""
    reference = None
    if line.structured_reference is not None:
        reference = "".join(line.structured_reference.value.split()).upper()
    text = line.remittance_text or ""
    amount, currency = line.amount.amount, line.amount.currency
    by_reference: list[str] = []
    by_document: list[str] = []
    by_amount: list[str] = []
    for item in items:
        if item.status not in OPEN:
            continue
        if reference is not None and item.reference == reference:
            by_reference.append(item.item_id)
        if text and item.document_no and item.document_no in text:
            by_document.append(item.item_id)
        if item.remaining.amount == amount and item.remaining.currency == currency:
            by_amount.append(item.item_id)
    for found in (by_reference, by_document, by_amount):
        if len(found) == 1:
            return found[0]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="open items in the index")
    parser.add_argument("--lines", type=int, default=20_000, help="statement lines to decide")
    parser.add_argument("--naive-lines", type=int, default=200, help="lines the naive scan runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave the items and the index to the cyclic garbage collector",
    )
    args = parser.parse_args(argv)

    print(f"generating {args.lines} lines and {args.items} open items (seed {args.seed}) ...")
    with Phase() as generating:
        case = generate_case(args.lines, args.seed, open_items=args.items)
        items = list(case.items)
        lines = list(case.iter_lines())
    rss_generated = peak_rss_mb()

    with Phase() as indexing:
        index = OpenItemIndex()
        for item in items:
            index.apply(item)
    rss_indexed = peak_rss_mb()
    if args.gc_freeze:
        gc.collect()
        gc.freeze()

    engine = MatchEngine()
    decide, tenant_id, clock = engine.decide, case.tenant_id, time.perf_counter
    load_before = os.getloadavg()  # other processes on the machine: what the wall clock meets
    decided: list[str] = [""] * len(lines)
    seconds: list[float] = [0.0] * len(lines)
    # the loop does nothing but decide and note the kind and time; the rest is counted after
    with CollectorPasses() as collecting, Phase() as matching:
        for position, line in enumerate(lines):
            began = clock()
            decided[position] = decide(tenant_id, line, index).kind
            seconds[position] = clock() - began
    load_after = os.getloadavg()
    kinds = Counter(str(kind) for kind in decided)
    scenario_seconds: dict[str, float] = defaultdict(float)
    scenario_lines: Counter[str] = Counter()
    for line, spent in zip(lines, seconds, strict=True):
        scenario = case.truths[line.line_id].scenario.value
        scenario_seconds[scenario] += spent
        scenario_lines[scenario] += 1

    step = max(1, len(lines) // max(1, args.naive_lines))
    sample = lines[::step][: args.naive_lines]
    found = 0
    with Phase() as scanning:
        for line in sample:
            found += naive_decide(line, items) is not None

    engine_rate = len(lines) / matching.cpu
    naive_rate = len(sample) / scanning.cpu
    engine_wall_rate = len(lines) / matching.wall
    naive_wall_rate = len(sample) / scanning.wall
    ratio, wall_ratio = engine_rate / naive_rate, engine_wall_rate / naive_wall_rate
    met = {
        "lines_per_second": engine_rate >= LINES_PER_SECOND_MIN,
        "lines_per_wall_second": engine_wall_rate >= LINES_PER_SECOND_MIN,
        "ratio_to_naive": ratio >= RATIO_TO_NAIVE_MIN,
        "wall_ratio_to_naive": wall_ratio >= RATIO_TO_NAIVE_MIN,
    }
    full_size = len(items) >= 1_000_000
    slowest = sorted(scenario_seconds, key=lambda s: -scenario_seconds[s] / scenario_lines[s])
    per_scenario = {
        scenario: {
            "lines": scenario_lines[scenario],
            "ms_per_line": round(1000 * scenario_seconds[scenario] / scenario_lines[scenario], 2),
            "share_of_engine_time": round(scenario_seconds[scenario] / matching.wall, 3),
        }
        for scenario in slowest
    }
    figures: dict[str, Any] = {
        "open_items": len(items),
        "lines": len(lines),
        "seed": args.seed,
        "rules": list(engine.rule_names),
        "rates_from": "CPU time of this process (the machine may be shared); wall time beside",
        "generate": generating.as_json(),
        "index_build": {
            **indexing.as_json(),
            "items_per_second": round(len(items) / indexing.cpu),
            "items_per_wall_second": round(len(items) / indexing.wall),
        },
        "gc_freeze_after_index_build": args.gc_freeze,
        "engine": {
            **matching.as_json(),
            "lines": len(lines),
            "lines_per_second": round(engine_rate, 1),
            "lines_per_wall_second": round(engine_wall_rate, 1),
            "garbage_collector": collecting.as_json(),
            "decisions_by_kind": dict(sorted(kinds.items())),
            "by_scenario": per_scenario,
        },
        "naive_scan": {
            **scanning.as_json(),
            "lines": len(sample),
            "sampled": f"every {step}th line of {len(lines)} (a sample: a pass over every item "
            "per line is too slow for all of them)",
            "lines_per_second": round(naive_rate, 2),
            "lines_per_wall_second": round(naive_wall_rate, 2),
            "lines_with_an_item": found,
        },
        "engine_to_naive_ratio": round(ratio, 1),
        "engine_to_naive_wall_ratio": round(wall_ratio, 1),
        "targets": {
            "lines_per_second_min": LINES_PER_SECOND_MIN,
            "ratio_to_naive_min": RATIO_TO_NAIVE_MIN,
            "met": met,
            "both_met": full_size and met["lines_per_second"] and met["ratio_to_naive"],
            "both_met_by_wall_clock": full_size
            and met["lines_per_wall_second"]
            and met["wall_ratio_to_naive"],
        },
        "peak_rss_mb": {
            "after_generation": round(rss_generated),
            "after_index_build": round(rss_indexed),
            "at_end": round(peak_rss_mb()),
        },
        "load_average_1_5_15_min": {
            "before_engine": [round(load, 2) for load in load_before],
            "after_engine": [round(load, 2) for load in load_after],
            "cpus": os.cpu_count(),
        },
        "python": sys.version.split()[0],
        "machine": platform.platform(),
    }
    verdict = "met" if figures["targets"]["both_met"] else "NOT met"
    wall_verdict = "met" if figures["targets"]["both_met_by_wall_clock"] else "NOT met"
    print(
        f"open items            {len(items):>12,}\n"
        f"statement lines       {len(lines):>12,}\n"
        f"generation            {generating.cpu:>12.1f} s CPU ({generating.wall:.1f} s wall)\n"
        f"index build           {indexing.cpu:>12.1f} s CPU ({indexing.wall:.1f} s wall; "
        f"{len(items) / indexing.cpu:,.0f} items/s)\n"
        f"engine                {engine_rate:>12,.1f} lines/s "
        f"({len(lines):,} lines in {matching.cpu:.2f} s CPU; by the wall clock "
        f"{engine_wall_rate:,.0f} lines/s, {matching.wall:.2f} s)\n"
        f"machine load          {load_before[0]:>12.2f} before the engine, "
        f"{load_after[0]:.2f} after (1-minute load average; {os.cpu_count()} CPUs)\n"
        f"garbage collector     {sum(collecting.passes):>12,} passes "
        f"{collecting.passes} in the loop, {sum(collecting.cpu):.2f} s CPU "
        f"(gc.freeze after the build: {'yes' if args.gc_freeze else 'no'})\n"
        f"naive scan            {naive_rate:>12,.2f} lines/s "
        f"(a sample of {len(sample)} lines, every {step}th, in {scanning.cpu:.1f} s CPU, "
        f"{scanning.wall:.1f} s wall)\n"
        f"engine / naive        {ratio:>12,.0f} x (by the wall clock {wall_ratio:,.0f} x)\n"
        f"targets               {LINES_PER_SECOND_MIN:,} lines/s against 1,000,000 items and "
        f"{RATIO_TO_NAIVE_MIN} x the naive scan: {verdict} (by the wall clock: {wall_verdict})"
        + ("" if full_size else "; fewer than a million items: not a run for the targets")
        + "\n"
        f"peak RSS              {peak_rss_mb():>12,.0f} MB "
        f"({rss_generated:,.0f} MB after generation, {rss_indexed:,.0f} MB after the index)\n"
        f"decisions by kind     {dict(sorted(kinds.items()))}\n"
        "slowest scenarios     "
        + ", ".join(
            f"{name} {figures['engine']['by_scenario'][name]['ms_per_line']} ms/line "
            f"({100 * figures['engine']['by_scenario'][name]['share_of_engine_time']:.0f}% of "
            "the engine's time)"
            for name in slowest[:3]
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
