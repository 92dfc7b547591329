"""Billing events for a tenant over real HTTP (`POST /v1/events?tenant=acme`): the batch path,
changes, pending events and customer updates all reach the tenant's own journeys and store,
with the tenant's own policy file; the default tenant's invoice of the same id is never
touched. And every log line of such a request names the tenant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from domain.tenants import workflow_id_for
from infra.settings import Settings
from infra.store import InvoiceRow, JourneyEventRow, session_scope
from tests.starter.conftest import Stack, issued, payment
from tests.starter.test_customer_updates import updated
from tests.starter.test_personal_data import json_logs
from tests.tenants import add_tenant, policy_file_with
from workflows.journey import InvoiceJourney

ACME = "acme"


async def post(stack: Stack, body: Any, tenant: str | None = ACME) -> list[dict[str, Any]]:
    params = {"tenant": tenant} if tenant else {}
    answer = await stack.http.post("/v1/events", json=body, params=params)
    assert answer.status_code == 202, answer.text
    outcomes: list[dict[str, Any]] = answer.json()["outcomes"]
    return outcomes


async def history_kinds(stack: Stack, invoice_id: str, tenant: str) -> list[str]:
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id, tenant))
    state = await handle.query(InvoiceJourney.state)
    return [h.kind for h in state.history]


async def test_a_tenants_events_use_its_store_its_policies_and_its_journeys(
    stack: Stack, settings: Settings, tmp_path: Path
) -> None:
    own_policies = policy_file_with(
        settings.policy_file, tmp_path, new_max_years=100, loyal_min_years=100
    )
    acme = add_tenant(settings, ACME, policies=own_policies)
    batch = [issued(), issued(), issued()]
    shared = batch[0]
    [default_outcome] = await post(stack, shared, None)
    outcomes = await post(stack, batch)  # an array of new invoices: the batch path
    ids = [e["data"]["invoice"]["id"] for e in batch]
    assert [o["workflow_id"] for o in outcomes] == [f"acme:invoice-{i}" for i in ids]
    assert {o["status"] for o in outcomes} == {"started"}
    # The tenant's policy file: every customer is new there, not by the deployment's.
    assert {o["segment"] for o in outcomes} == {"new"}
    assert default_outcome["segment"] != "new"
    with session_scope(acme.store_url) as s:
        assert all(s.get(InvoiceRow, i) is not None for i in ids)
    with session_scope(settings.store_url) as s:
        assert [i for i in ids if s.get(InvoiceRow, i) is not None] == [ids[0]]

    shared_id, customer_id = ids[0], shared["data"]["customer"]["id"]
    [paid] = await post(stack, payment(shared_id, "100.00"))
    assert (paid["status"], paid["workflow_id"]) == ("applied", f"acme:invoice-{shared_id}")
    early = payment("inv_not_yet", "50.00")  # before its invoice: kept, then applied
    [pending] = await post(stack, early)
    assert (pending["status"], pending["workflow_id"]) == ("pending", "acme:invoice-inv_not_yet")
    await post(stack, issued("inv_not_yet", customer_id=customer_id))
    change = updated(customer_id, email="berit.ek@example.org", customer_since="2026-06-01")
    [told] = await post(stack, change)
    assert "2 running journey(s) told" in told["detail"], told

    assert (await history_kinds(stack, shared_id, ACME)).count("payment") == 1
    assert "payment" in await history_kinds(stack, "inv_not_yet", ACME)
    assert "customer" in await history_kinds(stack, shared_id, ACME)
    untouched = await history_kinds(stack, shared_id, "default")
    assert "payment" not in untouched and "customer" not in untouched, untouched
    with session_scope(settings.store_url) as s:
        assert s.get(InvoiceRow, "inv_not_yet") is None
        events = len(s.exec(select(JourneyEventRow)).all())
    assert events == 1, "only the default tenant's own invoice.issued is in its store"


async def test_a_tenants_request_logs_name_the_tenant(
    stack: Stack, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    add_tenant(settings, ACME)
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    with json_logs():
        await post(stack, event)
        await post(stack, payment(invoice_id, "10.00"))
        action = await stack.http.post(
            f"/v1/invoices/{invoice_id}/actions",
            params={"tenant": ACME},
            json={"action": "pause", "agent": "log-test"},
        )
        assert action.status_code == 200, action.text
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "{" in line[:1]]
    ours = [line for line in lines if line.get("invoice_id") == invoice_id]
    events = {line["event"] for line in ours}
    assert {"event applied", "agent action applied"} <= events, events
    for line in ours:
        assert line.get("tenant") == ACME, line
        assert line["workflow_id"] == f"acme:invoice-{invoice_id}", line
