"""A decision's fingerprint stays what it was when contract fields are added: a decision
re-sent across an upgrade must not turn into an idempotency conflict."""

from __future__ import annotations

from datetime import date

from bankrec.contracts import Allocation, BankAccountRef, DecisionKind, MatchDecision, Money
from bankrec.ledger.domain import Chart, new_open_item, parse_draft, post_decision
from bankrec.ledger.use_cases import decision_fingerprint

# computed with the contracts before posting_rule_id/_version and item_version existed
FINGERPRINT_BEFORE_ADDITIONS = "68c21cb8f15e1dd1c78383388984f4611bd523d6cfd61f2bd070b488339dff49"
ENTRY_FINGERPRINT_BEFORE_ADDITIONS = (
    "4acf6d92fb336750757df2d68fd44a6fa14125dc04a26a5af3206054a153e313"
)


def decision(**fields: object) -> MatchDecision:
    allocation = {"item_id": "INV-1", "amount": Money.of("100.00", "NOK")}
    allocation.update(fields.pop("allocation", {}))  # type: ignore[arg-type]
    return MatchDecision(
        decision_id="dec-1",
        kind=DecisionKind.MATCH,
        line_id="line-1",
        statement_id="s-1",
        account=BankAccountRef(account_id="acc-1", currency="NOK"),
        amount=Money.of("100.00", "NOK"),
        booking_date=date(2026, 11, 20),
        rule="structured_reference",
        confidence="1",
        allocations=[Allocation.model_validate(allocation)],
        explanation="x",
        **fields,  # type: ignore[arg-type]
    )


def test_unset_added_fields_leave_the_fingerprint_as_it_was() -> None:
    assert decision_fingerprint(decision()) == FINGERPRINT_BEFORE_ADDITIONS


def test_set_added_fields_change_the_fingerprint() -> None:
    assert decision_fingerprint(decision(posting_rule_id="r-1", posting_rule_version=1)) != (
        FINGERPRINT_BEFORE_ADDITIONS
    )
    assert decision_fingerprint(decision(allocation={"item_version": 1})) != (
        FINGERPRINT_BEFORE_ADDITIONS
    )


def test_an_entry_fingerprint_is_unchanged_by_the_added_fields() -> None:
    chart, _link = Chart.default().with_bank_account("acc-1", "NOK")
    item = new_open_item(
        parse_draft({"item_id": "INV-1", "kind": "invoice", "amount": "100.00", "currency": "NOK"})
    )
    posting = post_decision("t-1", decision(), {"INV-1": item}, chart, posted_on=date(2026, 12, 1))
    assert posting.entry is not None
    assert posting.entry.fingerprint == ENTRY_FINGERPRINT_BEFORE_ADDITIONS
