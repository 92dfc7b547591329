"""The HTTP API over real HTTP, with a real worker: what a billing system and an agent see."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.store import (
    CustomerRow,
    DeadLetterRow,
    InvoiceRow,
    JourneyEventRow,
    OutboxMessageRow,
    session_scope,
)
from starter.api import create_app
from tests.starter.conftest import Stack, issued, new_id, payment, voided


def _rows(stack: Stack, table: Any) -> list[Any]:
    with session_scope(stack.settings.store_url) as s:
        return list(s.exec(select(table)).all())


async def _journey_exists(stack: Stack, invoice_id: str) -> bool:
    try:
        await stack.client.get_workflow_handle(workflow_id_for(invoice_id)).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND
        return False
    return True


async def _result(stack: Stack, invoice_id: str) -> JourneyState:
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    result = await asyncio.wait_for(handle.result(), timeout=30)
    return JourneyState.model_validate(result)


async def test_an_issued_invoice_starts_its_journey(stack: Stack) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    response = await stack.http.post("/v1/events", json=event)
    assert response.status_code == 202, response.text
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "started"
    assert outcome["segment"] == "loyal"  # customer since 2020, no late payment on record
    assert outcome["workflow_id"] == f"invoice-{invoice_id}"

    # In the moment the journey reads its configuration (a local activity at its start) it
    # answers "scheduled" with the policy's name and version and no step planned yet.
    for _ in range(100):
        journey = await stack.http.get(f"/v1/invoices/{invoice_id}/journey")
        assert journey.status_code == 200, journey.text
        state = journey.json()
        assert state["invoice_id"] == invoice_id
        assert state["segment"] == "loyal"
        assert state["balance"] == "1250.00"
        assert state["phase"] == "scheduled"
        assert state["policy_name"] == "loyal" and len(state["config_digest"]) == 64
        if state["next_step"] is not None:
            break
        await asyncio.sleep(0.05)
    assert state["next_step"]["channel"] == "email"

    [invoice] = _rows(stack, InvoiceRow)
    assert (invoice.id, invoice.segment, invoice.status) == (invoice_id, "loyal", "open")
    assert invoice.segment_reason and "2020-03-01" in invoice.segment_reason
    assert [c.id for c in _rows(stack, CustomerRow)] == [event["data"]["customer"]["id"]]
    desc = await stack.client.get_workflow_handle(workflow_id_for(invoice_id)).describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING


async def test_a_replayed_event_answers_the_same_and_starts_nothing(stack: Stack) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    first = await stack.http.post("/v1/events", json=event)
    again = await stack.http.post("/v1/events", json=event)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert len(_rows(stack, JourneyEventRow)) == 1

    # A new event id for the same invoice is recorded but starts no second journey.
    second = issued(invoice_id, customer_id=event["data"]["customer"]["id"])
    response = await stack.http.post("/v1/events", json=second)
    assert response.json()["outcomes"][0]["status"] == "already_started"
    runs = [
        w
        async for w in stack.client.list_workflows(f"WorkflowId = '{workflow_id_for(invoice_id)}'")
    ]
    assert len(runs) == 1

    # The same id with different content is a mistake the sender must hear about.
    changed = {**event, "occurred_at": "2026-11-03T09:00:00Z"}
    conflict = await stack.http.post("/v1/events", json=changed)
    assert conflict.status_code == 409
    assert event["id"] in conflict.json()["detail"]


async def test_a_payment_before_its_invoice_is_kept_and_applied_when_it_arrives(
    stack: Stack,
) -> None:
    event = issued(amount="800.00")
    invoice_id = event["data"]["invoice"]["id"]
    early = payment(invoice_id, amount="800.00")
    response = await stack.http.post("/v1/events", json=early)
    assert response.status_code == 202
    assert response.json()["outcomes"][0]["status"] == "pending"
    [row] = _rows(stack, JourneyEventRow)
    assert row.status == "pending"
    assert not await _journey_exists(stack, invoice_id)

    response = await stack.http.post("/v1/events", json=event)
    assert response.json()["outcomes"][0]["status"] == "started"
    final = await _result(stack, invoice_id)
    assert final.phase == "paid"
    assert str(final.balance) == "0.00" or final.balance == 0
    statuses = {r.event_id: r.status for r in _rows(stack, JourneyEventRow)}
    assert statuses[early["id"]] == "applied"
    # Replaying the payment now changes nothing and answers what it answered first.
    replay = await stack.http.post("/v1/events", json=early)
    assert replay.json()["outcomes"][0]["status"] == "pending"


async def test_a_bad_event_is_refused_naming_the_field_and_nothing_is_applied(
    stack: Stack,
) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    event["data"]["invoice"]["amount_due"] = 1250.0
    response = await stack.http.post("/v1/events", json=event)
    assert response.status_code == 422
    assert response.json() == {
        "detail": "data.invoice.amount_due: must be a decimal string with at most two "
        'decimals, like "1250.00"'
    }

    good = issued()
    batch = [good, payment(good["data"]["invoice"]["id"], amount="-3")]
    response = await stack.http.post("/v1/events", json=batch)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("[1].data.amount: must be greater than zero")

    not_json = await stack.http.post(
        "/v1/events", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert "not valid JSON" in not_json.json()["detail"]

    assert _rows(stack, JourneyEventRow) == []
    assert _rows(stack, InvoiceRow) == []
    # Refused events are kept for operations to see, with the reason the sender got (a body
    # that is not JSON at all is refused before anyone is known to have sent it: not kept).
    reasons = [d.reason for d in _rows(stack, DeadLetterRow) if d.source == "billing-event"]
    assert len(reasons) == 2
    assert reasons[0].startswith("data.invoice.amount_due: must be a decimal string")
    assert not await _journey_exists(stack, invoice_id)
    assert not await _journey_exists(stack, good["data"]["invoice"]["id"])


async def test_an_event_for_an_ended_journey_is_recorded_not_failed(stack: Stack) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    response = await stack.http.post("/v1/events", json=[event, voided(invoice_id)])
    assert [o["status"] for o in response.json()["outcomes"]] == ["started", "applied"]
    assert (await _result(stack, invoice_id)).phase == "voided"

    late = payment(invoice_id)
    response = await stack.http.post("/v1/events", json=late)
    assert response.status_code == 202
    [outcome] = response.json()["outcomes"]
    assert outcome["status"] == "journey_closed"
    assert "completed" in outcome["detail"]

    # The ended journey still answers its state.
    journey = await stack.http.get(f"/v1/invoices/{invoice_id}/journey")
    assert journey.json()["phase"] == "voided"


async def test_agent_actions_change_the_journey_or_say_why_not(stack: Stack) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    await stack.http.post("/v1/events", json=event)
    url = f"/v1/invoices/{invoice_id}/actions"

    paused = await stack.http.post(url, json={"action": "pause", "agent": "a1", "note": "call"})
    assert paused.status_code == 200, paused.text
    assert paused.json()["phase"] == "paused"

    again = await stack.http.post(url, json={"action": "pause", "agent": "a1"})
    assert again.status_code == 409
    assert again.json()["detail"] == "pause refused: the journey is already paused"

    malformed = await stack.http.post(url, json={"action": "extend", "agent": "a1"})
    assert malformed.status_code == 422
    assert malformed.json()["detail"] == "due_date: Field required"
    unknown = await stack.http.post(url, json={"action": "forgive", "agent": "a1"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith('action: unknown action "forgive"')

    resumed = await stack.http.post(url, json={"action": "resume", "agent": "a1"})
    assert resumed.json()["phase"] == "scheduled"

    missing = await stack.http.post(
        f"/v1/invoices/{new_id('inv')}/actions", json={"action": "resume", "agent": "a1"}
    )
    assert missing.status_code == 404


async def test_an_unknown_journey_is_a_clear_404(stack: Stack) -> None:
    invoice_id = new_id("inv")
    response = await stack.http.get(f"/v1/invoices/{invoice_id}/journey")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no journey for invoice '{invoice_id}'"}


async def test_health_docs_and_the_dev_inbox(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).json() == {"status": "ok"}
    root = await stack.http.get("/")
    assert root.status_code in (302, 307) and root.headers["location"] == "/docs"
    docs = (await stack.http.get("/openapi.json")).json()
    body = docs["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert "anyOf" in body["schema"] or "oneOf" in body["schema"]
    assert "InvoiceIssued" in docs["components"]["schemas"]

    with session_scope(stack.settings.store_url) as s:
        s.add(
            OutboxMessageRow(
                invoice_id="inv_<b>",
                step_key="step-0-email",
                channel="email",
                to_address="berit@example.se",
                subject="Påminnelse",
                body="<script>alert(1)</script> Betala 1250.00 SEK",
            )
        )
    page = await stack.http.get("/dev/inbox")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Betala 1250.00 SEK" in page.text
    assert "<script>" not in page.text
    assert "Påminnelse" in page.text


async def test_a_configured_api_key_guards_events_actions_and_reads(stack: Stack) -> None:
    settings = stack.settings.model_copy(update={"api_key": "s3cret"})
    app = create_app(settings, client=stack.client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        invoice_id = new_id("inv")
        url = f"/v1/invoices/{invoice_id}/actions"
        body = {"action": "resume", "agent": "a1"}
        refused = await http.post(url, json=body)
        assert refused.status_code == 401
        assert refused.json()["detail"].startswith("Authorization: an API key is needed")
        wrong = await http.post(url, json=body, headers={"X-API-Key": "guess"})
        assert wrong.status_code == 401
        assert (await http.post("/v1/events", json=issued())).status_code == 401
        assert (await http.get(f"/v1/invoices/{invoice_id}/journey")).status_code == 401
        key = {"X-API-Key": "s3cret"}
        allowed = await http.post(url, json=body, headers=key)
        assert allowed.status_code == 404  # past the key check; there is no such journey
        bearer = {"Authorization": "Bearer s3cret"}
        assert (
            await http.get(f"/v1/invoices/{invoice_id}/journey", headers=bearer)
        ).status_code == 404
    assert (await stack.http.get("/healthz")).status_code == 200


@pytest.mark.parametrize("days", [40])
async def test_a_journey_moves_on_when_its_clock_does(stack: Stack, days: int) -> None:
    """Sanity check that the started journey is the lead's real workflow on our policy."""
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    await stack.http.post("/v1/events", json=event)
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    await stack.env.fast_forward(handle, timedelta(days=days))
    for _ in range(100):
        state = (await stack.http.get(f"/v1/invoices/{invoice_id}/journey")).json()
        if any(h["kind"] == "step" for h in state["history"]):
            break
        await asyncio.sleep(0.1)
    assert any(h["kind"] == "step" for h in state["history"]), state


async def test_metrics_count_events_refusals_and_actions(stack: Stack) -> None:
    event = issued()
    await stack.http.post("/v1/events", json=event)
    await stack.http.post("/v1/events", json={"id": "x", "type": "invoice.issued"})
    invoice_id = event["data"]["invoice"]["id"]
    await stack.http.post(
        f"/v1/invoices/{invoice_id}/actions", json={"action": "resume", "agent": "a1"}
    )
    body = (await stack.http.get("/metrics")).text
    assert (
        'journeys_billing_events_total{status="started",tenant="default",type="invoice.issued"}'
        in body
    )
    assert 'journeys_billing_events_refused_total{tenant="default"}' in body
    assert 'journeys_agent_actions_total{action="resume",result="refused",tenant="default"}' in body
