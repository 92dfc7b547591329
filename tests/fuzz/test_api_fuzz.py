"""Billing events and agent actions from a hostile or broken client: never a 5xx, every
refusal names the problem, and a refusal leaves the store (and the journey) as they were."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given

from domain.state import JourneyState
from starter.actions import get_state
from tests.fuzz.conftest import FUZZ, Fuzz, check_answer, store_snapshot
from tests.fuzz.strategies import hostile
from tests.starter.conftest import issued, payment, voided

# Fuzzing does not depend on which store runs under it: once, in the SQLite pass.
pytestmark = pytest.mark.store_independent

ISSUED = issued("inv_fuzzbase", event_id="evt_fuzzbase", customer_id="cus_fuzzbase")
EVENTS: list[Any] = [
    ISSUED,
    payment("inv_fuzzbase", "100.00", event_id="evt_fuzzpay"),
    voided("inv_fuzzbase"),
    {
        "id": "evt_fuzzcredit",
        "type": "invoice.credited",
        "occurred_at": "2026-11-20T09:00:00Z",
        "data": {"invoice_id": "inv_fuzzbase", "amount": "10.00"},
    },
    {
        "id": "evt_fuzzchurn",
        "type": "customer.churned",
        "occurred_at": "2026-11-20T09:00:00Z",
        "data": {"customer_id": "cus_fuzzbase"},
    },
    [ISSUED, payment("inv_fuzzbase", "1.00", event_id="evt_fuzzpay2")],
]

ACTIONS: list[dict[str, Any]] = [
    {"action": "pause", "agent": "ada", "until": "2027-03-01"},
    {"action": "resume", "agent": "ada"},
    {"action": "extend", "agent": "ada", "due_date": "2027-03-01", "note": "asked nicely"},
    {"action": "set-promise", "agent": "ada", "promise_date": "2027-02-01"},
    {"action": "resolve-dispute", "agent": "ada", "outcome": "resume"},
    {"action": "approve-plan", "agent": "ada", "installments": 3, "interval_days": 30},
    {"action": "reject-plan", "agent": "ada"},
    {"action": "waive-fee", "agent": "ada"},
    {"action": "block-handover", "agent": "ada"},
    {"action": "add-note", "agent": "ada", "note": "called, no answer"},
]


@FUZZ
@given(body=hostile(*EVENTS))
def test_hostile_billing_events(fuzz: Fuzz, body: Any) -> None:
    before = store_snapshot(fuzz.settings.store_url)
    answer = fuzz.post_json("/v1/events", body)
    check_answer(answer, before, fuzz.settings.store_url)
    assert answer.status_code in (202, 409, 422), answer.text


def _state(fuzz: Fuzz, invoice_id: str) -> JourneyState:
    state: JourneyState = fuzz.api.call(get_state(fuzz.api.client, invoice_id))
    return state


@FUZZ
@given(body=hostile(*ACTIONS), target=hostile("running", "inv_nowhere", "../x", "a" * 300))
def test_hostile_agent_actions(fuzz: Fuzz, running_invoice: str, body: Any, target: Any) -> None:
    invoice_id = running_invoice if target == "running" else str(target)
    path = "/v1/invoices/{}/actions"
    before = store_snapshot(fuzz.settings.store_url)
    state_before = _state(fuzz, running_invoice)
    answer = fuzz.http.post(path.format(quote(invoice_id, safe="") or "%20"), json=body)
    check_answer(answer, before, fuzz.settings.store_url)
    if answer.status_code >= 400:
        assert _state(fuzz, running_invoice) == state_before, answer.text
