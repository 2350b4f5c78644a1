"""The period's report as a small fixed-width text table (``report.txt``, the demo, the CLI)."""

from __future__ import annotations

from decimal import Decimal

from bankrec.contracts import Money, currency_exponent, mask_account_number
from bankrec.reconciler.domain.period import ReconciliationPeriod, figures

LABEL_WIDTH = 17
VALUE_WIDTH_MIN = 24
NOT_KNOWN = "-"


def amount_text(money: Money) -> str:
    """The amount as a decimal string with at least the currency's minor-unit digits.

    Exact: digits are only ever added, never rounded away; zero is never negative.
    """
    amount = money.amount
    if amount == 0:
        amount = abs(amount)
    exponent = currency_exponent(money.currency)
    places = amount.as_tuple().exponent
    if isinstance(places, int) and places > -exponent:
        amount = amount.quantize(Decimal(1).scaleb(-exponent))
    return format(amount, "f")


def money_text(money: Money | None) -> str:
    """``"1234.50 NOK"``, or ``-`` when the amount is not known."""
    return NOT_KNOWN if money is None else f"{amount_text(money)} {money.currency}"


def masked_account(period: ReconciliationPeriod) -> str | None:
    """The account number showing its last four characters only; None while not known."""
    return mask_account_number(period.account_number) if period.account_number else None


def render_report(period: ReconciliationPeriod) -> str:
    """A two-column table, one figure per row, values right-aligned; ends with a newline."""
    result = figures(period)
    statement_ids = list(result.statement_ids) or [NOT_KNOWN]
    rows: list[tuple[str, str]] = [
        ("account", masked_account(period) or NOT_KNOWN),
        ("statement id(s)", statement_ids[0]),
        *(("", statement_id) for statement_id in statement_ids[1:]),
        ("lines", str(result.lines)),
        ("matched", str(result.matched)),
        ("in suspense", str(result.in_suspense)),
        ("reconciled total", money_text(result.reconciled_total)),
        ("opening", money_text(result.opening_balance)),
        ("statement balance", money_text(result.statement_balance)),
        ("difference", money_text(result.difference)),
        ("status", period.status.value),
    ]
    title = ("period", period.period_id)
    width = max(VALUE_WIDTH_MIN, *(len(value) for _, value in [title, *rows]))
    rule = f"+{'-' * (LABEL_WIDTH + 2)}+{'-' * (width + 2)}+"

    def row(label: str, value: str) -> str:
        return f"| {label:<{LABEL_WIDTH}} | {value:>{width}} |"

    return "\n".join([rule, row(*title), rule, *(row(*r) for r in rows), rule]) + "\n"
