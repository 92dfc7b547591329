"""A reversed payment: owed again on a running journey, a new run for a paid one."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.models import workflow_id_for
from domain.state import JourneyState
from tests.starter.conftest import Stack, issued, new_id, payment


def reversal(invoice_id: str, amount: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or new_id("evt"),
        "type": "invoice.payment_reversed",
        "occurred_at": "2026-11-25T09:00:00Z",
        "data": {"invoice_id": invoice_id, "amount": amount, "reversed_at": "2026-11-25"},
    }


async def state(stack: Stack, invoice_id: str) -> JourneyState:
    response = await stack.http.get(f"/v1/invoices/{invoice_id}/journey")
    assert response.status_code == 200, response.text
    return JourneyState.model_validate(response.json())


async def test_a_reversed_payment_on_a_running_journey_is_owed_again(stack: Stack) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    partial = payment(invoice_id, "500.00")
    await stack.http.post("/v1/events", json=[event, partial])
    response = await stack.http.post("/v1/events", json=reversal(invoice_id, "500.00"))
    assert [o["status"] for o in response.json()["outcomes"]] == ["applied"]
    for _ in range(100):
        current = await state(stack, invoice_id)
        if "reversed" in " ".join(h.detail for h in current.history):
            break
        await asyncio.sleep(0.05)
    assert current.paid == 0 and str(current.balance) == "1250.00"


async def test_a_paid_invoice_whose_payment_is_reversed_reopens_as_a_new_run(
    stack: Stack,
) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    await stack.http.post("/v1/events", json=[event, payment(invoice_id)])
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    first = await asyncio.wait_for(handle.result(), timeout=30)
    assert JourneyState.model_validate(first).phase == "paid"
    first_run = (await handle.describe()).run_id

    back = reversal(invoice_id, "1250.00")
    response = await stack.http.post("/v1/events", json=back)
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "reopened", outcome
    reopened = await state(stack, invoice_id)
    assert reopened.phase == "scheduled" and str(reopened.balance) == "1250.00"
    latest = await stack.client.get_workflow_handle(handle.id).describe()
    assert latest.run_id != first_run  # a new run of the same journey id
    assert latest.status is not None and latest.status.name == "RUNNING"

    # Delivered again, the same reversal answers the same and starts nothing more.
    again = await stack.http.post("/v1/events", json=back)
    assert again.json()["outcomes"] == [outcome]
