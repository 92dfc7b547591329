"""`customer.updated` over real HTTP: checked whole, then told to every running journey of
the customer (found in the store), and the new segment kept for the next invoice."""

from __future__ import annotations

from typing import Any

from domain.models import workflow_id_for
from domain.state import JourneyState
from tests.starter.conftest import Stack, customer, issued, new_id
from workflows.journey import InvoiceJourney


def updated(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "type": "customer.updated",
        "occurred_at": "2026-11-25T09:00:00Z",
        "data": {"customer": customer(customer_id, **fields)},
    }


async def _state(stack: Stack, invoice_id: str) -> JourneyState:
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    return JourneyState.model_validate(await handle.query(InvoiceJourney.state))


async def test_update_reaches_every_running_journey_of_the_customer(stack: Stack) -> None:
    first, second, other = issued(), issued(), issued()
    cus = first["data"]["customer"]["id"]
    second["data"]["invoice"]["customer_id"] = second["data"]["customer"]["id"] = cus
    response = await stack.http.post("/v1/events", json=[first, second, other])
    assert response.status_code == 202, response.text

    change = updated(cus, email="berit.ek@example.org", customer_since="2026-06-01")
    response = await stack.http.post("/v1/events", json=change)
    assert response.status_code == 202, response.text
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "customer_updated"
    assert "2 running journey(s) told" in outcome["detail"]

    for inv in (first, second):
        state = await _state(stack, inv["data"]["invoice"]["id"])
        kinds = [h.kind for h in state.history]
        assert "customer" in kinds, state.history
        # a customer of half a year would now be `new`: recorded, not applied
        assert (state.segment, state.next_segment) == ("loyal", "new")
        assert any(h.kind == "segment" and "new" in h.detail for h in state.history)
    untouched = await _state(stack, other["data"]["invoice"]["id"])
    assert [h.kind for h in untouched.history if h.kind == "customer"] == []


async def test_a_bad_update_reaches_no_journey(stack: Stack) -> None:
    first = issued()
    cus = first["data"]["customer"]["id"]
    assert (await stack.http.post("/v1/events", json=first)).status_code == 202
    bad = updated(cus, email="berit.ek@example.org", phone="+4670")
    response = await stack.http.post("/v1/events", json=bad)
    assert response.status_code == 422
    assert "data.customer.phone" in response.json()["detail"]
    state = await _state(stack, first["data"]["invoice"]["id"])
    assert all(h.kind != "customer" for h in state.history)
