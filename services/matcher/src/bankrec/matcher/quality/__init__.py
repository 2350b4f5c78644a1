"""The matcher's quality benchmark: generated statements with ground truth, and a scorer.

``generate_case`` builds a tenant's open items and statement lines with the truth of every
line; ``score_case`` runs the real ``MatchEngine`` (and the exact-amount baseline) over it
and counts what was confirmed automatically, and how much of that was right;
``statement_xml`` and ``open_items_csv`` write the case as the files the real services read.
"""

from bankrec.matcher.quality.baseline import ExactAmountBaseline
from bankrec.matcher.quality.camt_writer import statement_xml
from bankrec.matcher.quality.generator import SCENARIO_SHARES, generate_case
from bankrec.matcher.quality.item_factory import ItemFactory
from bankrec.matcher.quality.open_item_csv import open_items_csv
from bankrec.matcher.quality.scorer import QualityReport, render_report, score_case
from bankrec.matcher.quality.truth import LineTruth, Outcome, QualityCase, Scenario

__all__ = [
    "SCENARIO_SHARES",
    "ExactAmountBaseline",
    "ItemFactory",
    "LineTruth",
    "Outcome",
    "QualityCase",
    "QualityReport",
    "Scenario",
    "generate_case",
    "open_items_csv",
    "render_report",
    "score_case",
    "statement_xml",
]
