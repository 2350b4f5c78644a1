"""The text report and the amount formatting shared with the JSON API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from reconciler_factories import Messages

from bankrec.contracts import DecisionKind, Money
from bankrec.reconciler.domain import (
    amount_text,
    apply_decision,
    apply_line,
    apply_posting,
    apply_statement,
    open_period,
    render_report,
)

TENANT = "t-report"


def test_report_is_a_fixed_width_table_of_the_figures() -> None:
    make = Messages.for_tenant(TENANT, iban="NO93 8601 1117 947")
    period = open_period(TENANT, make.account_id, "NOK")
    period = apply_statement(period, make.header("stmt-2026-11", opening="1000.00", closing="900"))
    period = apply_statement(
        period,
        make.header("stmt-2026-10", opening="800.00", closing=None, opening_date=date(2026, 10, 1)),
    )
    period = apply_line(period, make.line("l1", "-100.00"))
    period = apply_line(period, make.line("l2", "50.00"))
    period = apply_decision(period, make.decision("l1", "-100.00"), make.at(1))
    period = apply_decision(period, make.decision("l2", "50.00", DecisionKind.SUSPENSE), make.at(1))
    period = apply_posting(period, make.posting("l1", "-100.00"))

    text = render_report(period)

    assert make.account_id == "acc-c051989e3d1556ef89d1"
    assert text == (
        "+-------------------+-----------------------------+\n"
        "| period            | acc-c051989e3d1556ef89d1-p1 |\n"
        "+-------------------+-----------------------------+\n"
        "| account           |             ***********7947 |\n"
        "| statement id(s)   |                stmt-2026-10 |\n"
        "|                   |                stmt-2026-11 |\n"
        "| lines             |                           2 |\n"
        "| matched           |                           1 |\n"
        "| in suspense       |                           1 |\n"
        "| reconciled total  |                 -100.00 NOK |\n"
        "| opening           |                  800.00 NOK |\n"
        "| statement balance |                  900.00 NOK |\n"
        "| difference        |                  200.00 NOK |\n"
        "| status            |                     on_hold |\n"
        "+-------------------+-----------------------------+\n"
    )
    assert make.iban.replace(" ", "") not in text


def test_report_of_an_empty_period_shows_unknown_figures_as_dashes() -> None:
    period = open_period(TENANT, "acc-1", "JPY")
    lines = render_report(period).splitlines()
    widths = {len(line) for line in lines}
    assert len(widths) == 1, "every row has the same width"
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines if "|" in line}
    assert rows["account"] == "-"
    assert rows["statement id(s)"] == "-"
    assert rows["opening"] == "0 JPY"
    assert rows["statement balance"] == "-"
    assert rows["difference"] == "-"


def test_amount_text_pads_to_minor_units_and_never_rounds() -> None:
    assert amount_text(Money.of("12.5", "NOK")) == "12.50"
    assert amount_text(Money.of("12", "EUR")) == "12.00"
    assert amount_text(Money.of("12.345", "NOK")) == "12.345"
    assert amount_text(Money.of("-0.00", "NOK")) == "0.00"
    assert amount_text(Money.of("1.5", "KWD")) == "1.500"
    assert amount_text(Money.of("1000", "JPY")) == "1000"
    assert amount_text(Money(amount=Decimal("1E+3"), currency="NOK")) == "1000.00"
