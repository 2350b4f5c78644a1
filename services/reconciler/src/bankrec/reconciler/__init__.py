"""bankrec reconciler: one reconciliation period per bank account, its figures and report.

Consumes statements, statement lines, match decisions and postings; publishes period events;
serves the figures and the period workflow (flags, adjustments, release/void, diagnosis,
reports) over HTTP. ``create_app`` builds the service; the domain is pure.
"""

from bankrec.reconciler.bootstrap import create_app
from bankrec.reconciler.domain import (
    PeriodFigures,
    ReconciliationPeriod,
    figures,
    render_report,
)
from bankrec.reconciler.errors import (
    AccountNotFoundError,
    AmountPrecisionError,
    CurrencyMismatchError,
    ReconcilerError,
)
from bankrec.reconciler.period_workflow import PeriodWorkflow
from bankrec.reconciler.settings import ReconcilerSettings
from bankrec.reconciler.use_cases import Outcome, Reconciler

__all__ = [
    "AccountNotFoundError",
    "AmountPrecisionError",
    "CurrencyMismatchError",
    "Outcome",
    "PeriodFigures",
    "PeriodWorkflow",
    "Reconciler",
    "ReconcilerError",
    "ReconcilerSettings",
    "ReconciliationPeriod",
    "create_app",
    "figures",
    "render_report",
]
