"""Every billing event type over real HTTP, and each kind of bad event refused by name."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select
from temporalio.service import RPCError, RPCStatusCode

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.store import CustomerRow, DeadLetterRow, JourneyEventRow, session_scope
from tests.starter.conftest import Stack, customer, issued, new_id, payment


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "type": kind, "occurred_at": "2026-11-25T09:00:00Z", "data": data}


def rows(stack: Stack, table: Any) -> list[Any]:
    with session_scope(stack.settings.store_url) as s:
        return list(s.exec(select(table)).all())


async def test_every_event_type_is_applied(stack: Stack) -> None:
    first = issued()
    invoice_id = first["data"]["invoice"]["id"]
    customer_id = first["data"]["customer"]["id"]
    second = issued(customer_id=customer_id)
    other_invoice = second["data"]["invoice"]["id"]
    batch = [
        first,
        payment(invoice_id, "250.00"),
        event("invoice.credited", {"invoice_id": invoice_id, "amount": "1000.00"}),
        second,
        event("invoice.voided", {"invoice_id": other_invoice}),
        event("customer.updated", {"customer": customer(customer_id, name="Berit Ek")}),
        event(
            "customer.churned", {"customer_id": customer_id, "churned_at": "2026-11-25T10:00:00Z"}
        ),
    ]
    response = await stack.http.post("/v1/events", json=batch)
    assert response.status_code == 202, response.text
    statuses = [o["status"] for o in response.json()["outcomes"]]
    assert statuses == [
        "started",
        "applied",
        "applied",
        "started",
        "applied",
        "customer_updated",
        "customer_churned",
    ]
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    credited = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=30))
    assert credited.phase == "credited" and str(credited.paid) == "250.00"
    voided = stack.client.get_workflow_handle(workflow_id_for(other_invoice))
    assert JourneyState.model_validate(await voided.result()).phase == "voided"
    [row] = [r for r in rows(stack, CustomerRow) if r.id == customer_id]
    assert row.name == "Berit Ek" and row.churned_at is not None


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        target: Any = body
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


_DELETE = object()
BAD_EVENTS = {
    "missing field": (_set(["data", "invoice", "due_date"], _DELETE), "data.invoice.due_date"),
    "negative amount": (
        _set(["data", "invoice", "amount_due"], "-5.00"),
        "data.invoice.amount_due",
    ),
    "unknown currency": (_set(["data", "invoice", "currency"], "XYZ"), "data.invoice.currency"),
    "malformed date": (
        _set(["data", "invoice", "issued_at"], "2026-13-45"),
        "data.invoice.issued_at",
    ),
    "wrong type": (_set(["data", "customer", "fee_agreed"], "maybe"), "data.customer.fee_agreed"),
    "unknown event type": (_set(["type"], "invoice.exploded"), "type"),
}


@pytest.mark.parametrize("kind", list(BAD_EVENTS))
async def test_a_bad_event_is_refused_by_field_kept_as_a_dead_letter_and_applies_nothing(
    stack: Stack, kind: str
) -> None:
    change, field = BAD_EVENTS[kind]
    body = copy.deepcopy(issued())
    change(body)
    response = await stack.http.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}:"), detail
    [dead] = rows(stack, DeadLetterRow)
    assert dead.source == "billing-event" and field in dead.reason
    assert rows(stack, JourneyEventRow) == []
    invoice_id = body["data"]["invoice"]["id"]
    with pytest.raises(RPCError) as missing:  # no journey was started
        await stack.client.get_workflow_handle(workflow_id_for(invoice_id)).describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_a_large_batch_applies_concurrently_and_answers_in_its_own_order(
    stack: Stack,
) -> None:
    batch: list[dict[str, Any]] = []
    for _ in range(40):
        invoice = issued()
        batch += [invoice, payment(invoice["data"]["invoice"]["id"], "1250.00")]
    response = await stack.http.post("/v1/events", json=batch)
    assert response.status_code == 202, response.text
    outcomes = response.json()["outcomes"]
    assert [o["event_id"] for o in outcomes] == [e["id"] for e in batch]
    # Each payment applied after its own invoice: none waited as pending.
    assert [o["status"] for o in outcomes] == ["started", "applied"] * 40


async def test_a_batch_of_new_invoices_drains_pending_events_and_replays_identically(
    stack: Stack,
) -> None:
    batch = [issued() for _ in range(6)]
    early = batch[2]["data"]["invoice"]["id"]
    first = await stack.http.post("/v1/events", json=payment(early, "1250.00"))
    assert [o["status"] for o in first.json()["outcomes"]] == ["pending"]

    response = await stack.http.post("/v1/events", json=batch)
    assert response.status_code == 202, response.text
    outcomes = response.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["started"] * 6
    assert [o["event_id"] for o in outcomes] == [e["id"] for e in batch]
    handle = stack.client.get_workflow_handle(workflow_id_for(early))
    paid = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=30))
    assert paid.phase == "paid"
    recorded = [r for r in rows(stack, JourneyEventRow) if r.type == "invoice.issued"]
    assert sorted(r.event_id for r in recorded) == sorted(e["id"] for e in batch)

    # The same array again: each event answers what it answered, nothing is recorded twice.
    again = await stack.http.post("/v1/events", json=batch)
    assert again.json()["outcomes"] == outcomes
    assert len(rows(stack, JourneyEventRow)) == len(recorded) + 1
