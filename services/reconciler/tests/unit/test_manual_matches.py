"""Manual matching from a period over HTTP, on the in-memory adapter: the command sent to the
ledger with the request, the ledger's answer reflected back (done or refused), and every
refusal with its status code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from reconciler_factories import Messages

from bankrec.contracts import (
    MATCH_REQUESTS,
    DecisionKind,
    ManualMatchCommand,
    ManualMatchKind,
    ManualMatchOutcome,
    ManualMatchSettled,
    PeriodStatus,
)
from bankrec.reconciler.adapters import MemoryStore
from bankrec.reconciler.api_periods import install_period_api
from bankrec.reconciler.domain import request_match
from bankrec.reconciler.errors import AccountNotFoundError, PeriodReleasedError, ReconcilerError
from bankrec.reconciler.use_cases import Outcome, Reconciler

ACTOR = "kari.nordmann"
SETTLED_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Api:
    http: httpx.AsyncClient
    reconciler: Reconciler
    store: MemoryStore
    make: Messages

    def commands(self) -> list[ManualMatchCommand]:
        return [
            m.envelope.payload
            for m in self.store.outbox
            if m.topic is MATCH_REQUESTS and isinstance(m.envelope.payload, ManualMatchCommand)
        ]

    def path(self, suffix: str = "") -> str:
        make = self.make
        return f"/v1/tenants/{make.tenant_id}/accounts/{make.account_id}/periods/current{suffix}"

    async def settle(
        self,
        command: ManualMatchCommand,
        outcome: ManualMatchOutcome = ManualMatchOutcome.APPLIED,
        *,
        reason_code: str | None = None,
    ) -> Outcome:
        """The ledger's answer to a command, as it comes back on the match-outcomes topic."""
        settled = ManualMatchSettled(
            request_id=command.request_id,
            kind=command.kind,
            period_id=command.period_id,
            bank_account_id=command.bank_account_id,
            statement_line_id=command.statement_line_id,
            outcome=outcome,
            entry_ids=("je-alloc-1",) if outcome is ManualMatchOutcome.APPLIED else (),
            reason_code=reason_code,
            reason=f"refused: {reason_code}" if reason_code else None,
            settled_at=SETTLED_AT,
        )
        return await self.reconciler.record_match_outcome(self.make.envelope(settled))


async def _reconciler_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReconcilerError)
    status = 404 if isinstance(exc, AccountNotFoundError) else 422
    return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=status)


@pytest.fixture
async def api(messages: Messages) -> AsyncIterator[Api]:
    store = MemoryStore()
    reconciler = Reconciler(store.units_of_work())
    app = FastAPI()
    install_period_api(app, reconciler)
    app.add_exception_handler(ReconcilerError, _reconciler_error)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reconciler") as http:
        yield Api(http, reconciler, store, messages)


async def statement_with_lines(api: Api) -> None:
    """A statement with a line in suspense (posted on the interim account), a line the
    matcher matched, and a line not decided yet."""
    make, record = api.make, api.reconciler
    await record.record_statement(make.envelope(make.header(opening="1000.00", closing="1950.00")))
    for line_id, amount in (("l-susp", "500.00"), ("l-match", "300.00"), ("l-new", "150.00")):
        await record.record_line(make.envelope(make.line(line_id, amount)))
    await record.record_decision(
        make.envelope(make.decision("l-susp", "500.00", DecisionKind.SUSPENSE))
    )
    await record.record_posting(make.envelope(make.posting("l-susp", "500.00")))
    await record.record_decision(make.envelope(make.decision("l-match", "300.00")))
    await record.record_posting(make.envelope(make.posting("l-match", "300.00")))


def match_body(line_id: str = "l-susp", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "actor": ACTOR,
        "reason": "customer paid two invoices in one",
        "line_id": line_id,
        "items": [
            {"item_id": "INV-1", "amount": "200.00"},
            {"item_id": "INV-2", "amount": "300.00"},
        ],
    }
    return {**body, **changes}


async def test_a_match_is_sent_to_the_ledger_and_reflected_back_when_applied(api: Api) -> None:
    await statement_with_lines(api)
    before = (await api.http.get(api.path())).json()
    assert (before["matched"], before["in_suspense"], before["difference"]) == (1, 1, "150.00")

    asked = await api.http.post(
        api.path("/matches"), json=match_body(), headers={"X-Correlation-Id": "corr-match"}
    )

    assert asked.status_code == 202, asked.text
    (request,) = asked.json()["period"]["match_requests"]
    assert (request["state"], request["kind"], request["line_id"]) == (
        "requested",
        "match",
        "l-susp",
    )
    assert request["items"] == [
        {"item_id": "INV-1", "amount": "200.00"},
        {"item_id": "INV-2", "amount": "300.00"},
    ]
    (command,) = api.commands()
    assert command.kind is ManualMatchKind.MATCH
    assert command.decision_id == "dec-l-susp-suspense"
    assert command.undoes_request_id is None
    assert [(a.item_id, str(a.amount.amount)) for a in command.allocations] == [
        ("INV-1", "200.00"),
        ("INV-2", "300.00"),
    ]
    assert (command.requested_by, command.reason) == (ACTOR, "customer paid two invoices in one")
    staged = next(m for m in api.store.outbox if m.topic is MATCH_REQUESTS)
    assert staged.key == f"{api.make.tenant_id}:{api.make.account_id}"
    assert staged.envelope.correlation_id == "corr-match"

    assert await api.settle(command) is Outcome.APPLIED
    after = (await api.http.get(api.path())).json()
    assert after["match_requests"][0]["state"] == "done"
    assert after["match_requests"][0]["entry_ids"] == ["je-alloc-1"]
    # the line's amount was on the bank account already: only the counts move
    assert (after["matched"], after["in_suspense"], after["difference"]) == (2, 0, "150.00")
    assert await api.settle(command) is Outcome.UNCHANGED  # answered again: nothing new


async def test_a_refused_match_shows_why_and_the_line_can_be_matched_again(api: Api) -> None:
    await statement_with_lines(api)
    await api.http.post(api.path("/matches"), json=match_body())
    (command,) = api.commands()

    await api.settle(command, ManualMatchOutcome.REFUSED, reason_code="over_allocation")

    period = (await api.http.get(api.path())).json()
    (request,) = period["match_requests"]
    assert (request["state"], request["refusal_code"]) == ("refused", "over_allocation")
    assert request["refusal_reason"] == "refused: over_allocation"
    assert (period["matched"], period["in_suspense"]) == (1, 1)
    again = await api.http.post(
        api.path("/matches"), json=match_body(items=[{"item_id": "INV-1", "amount": "200.00"}])
    )
    assert again.status_code == 202, again.text
    assert len(api.commands()) == 2


async def test_the_same_request_again_sends_nothing_and_other_content_is_a_conflict(
    api: Api,
) -> None:
    await statement_with_lines(api)
    first = await api.http.post(api.path("/matches"), json=match_body(request_id="m-1"))
    again = await api.http.post(api.path("/matches"), json=match_body(request_id="m-1"))
    other = await api.http.post(
        api.path("/matches"),
        json=match_body(request_id="m-1", items=[{"item_id": "INV-9", "amount": "500.00"}]),
    )

    assert (first.status_code, again.status_code) == (202, 202)
    assert len(api.commands()) == 1
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "match_request_conflict"


async def test_removing_a_manual_match_takes_its_allocations_back(api: Api) -> None:
    await statement_with_lines(api)
    await api.http.post(api.path("/matches"), json=match_body())
    (match,) = api.commands()
    await api.settle(match)

    removed = await api.http.request(
        "DELETE",
        api.path("/matches/l-susp"),
        json={"actor": ACTOR, "reason": "wrong customer"},
    )

    assert removed.status_code == 202, removed.text
    unmatch = api.commands()[-1]
    assert unmatch.kind is ManualMatchKind.UNMATCH
    assert (unmatch.undoes_request_id, unmatch.decision_id) == (
        match.request_id,
        "dec-l-susp-suspense",
    )
    await api.settle(unmatch)
    period = (await api.http.get(api.path())).json()
    assert (period["matched"], period["in_suspense"]) == (1, 1)
    assert [r["state"] for r in period["match_requests"]] == ["done", "done"]
    # back in suspense: it can be matched again, on the matcher's decision
    await api.http.post(api.path("/matches"), json=match_body())
    assert api.commands()[-1].decision_id == "dec-l-susp-suspense"


async def test_removing_the_matchers_match_unmatches_its_decision(api: Api) -> None:
    await statement_with_lines(api)

    removed = await api.http.request(
        "DELETE", api.path("/matches/l-match"), json={"actor": ACTOR, "reason": "wrong invoice"}
    )

    assert removed.status_code == 202, removed.text
    (unmatch,) = api.commands()
    assert (unmatch.decision_id, unmatch.undoes_request_id) == ("dec-l-match-match", None)
    await api.settle(unmatch)
    period = (await api.http.get(api.path())).json()
    assert (period["matched"], period["in_suspense"]) == (0, 2)
    audit = (await api.http.get(api.path("/report"))).json()["audit"]
    assert [(a["action"], a["actor"], a["reason"], a["subject_id"]) for a in audit] == [
        ("unmatch_requested", ACTOR, "wrong invoice", "l-match")
    ]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "code"),
    [
        ("POST", "/matches", match_body("l-gone"), 404, "item_not_found"),
        ("POST", "/matches", match_body("l-new"), 409, "line_not_decided"),
        ("POST", "/matches", match_body("l-match"), 409, "line_matched"),
        ("DELETE", "/matches/l-susp", {"actor": ACTOR, "reason": "x"}, 409, "line_not_matched"),
        ("DELETE", "/matches/l-new", {"actor": ACTOR, "reason": "x"}, 409, "line_not_decided"),
        (
            "POST",
            "/matches",
            match_body(items=[{"item_id": "INV-1", "amount": "-500.00"}]),
            422,
            "invalid_command",
        ),
        (
            "POST",
            "/matches",
            match_body(items=[{"item_id": "INV-1", "amount": "500.01"}]),
            422,
            "invalid_command",
        ),
        (
            "POST",
            "/matches",
            match_body(
                items=[
                    {"item_id": "INV-1", "amount": "100.00"},
                    {"item_id": "INV-1", "amount": "100.00"},
                ]
            ),
            422,
            "invalid_command",
        ),
        ("POST", "/matches", match_body(reason=" "), 422, "invalid_command"),
    ],
)
async def test_refusals(
    api: Api, method: str, suffix: str, body: dict[str, object], status: int, code: str
) -> None:
    await statement_with_lines(api)

    refused = await api.http.request(method, api.path(suffix), json=body)

    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    assert api.commands() == []


async def test_a_line_with_a_request_waiting_takes_no_other(api: Api) -> None:
    await statement_with_lines(api)
    await api.http.post(api.path("/matches"), json=match_body())

    second = await api.http.request(
        "DELETE", api.path("/matches/l-susp"), json={"actor": ACTOR, "reason": "changed my mind"}
    )

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "match_request_pending"
    assert "waiting for the ledger" in second.json()["error"]["message"]


async def test_a_released_period_takes_no_match(api: Api) -> None:
    await statement_with_lines(api)
    period = await api.reconciler.period(api.make.tenant_id, api.make.account_id)
    released = replace(period, status=PeriodStatus.RELEASED, sequence_no=1)

    with pytest.raises(PeriodReleasedError, match="void it first"):
        request_match(
            released,
            request_id="m-1",
            line_id="l-susp",
            allocations=[("INV-1", api.make.money("500.00"))],
            actor=ACTOR,
            reason="late",
            at=SETTLED_AT,
        )
