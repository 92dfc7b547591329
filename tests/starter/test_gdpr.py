"""`journeys gdpr erase`: a customer's personal data leaves the store and their running
journey, the accounting record stays, and the command's own log names no data.

The journey runs on the real worker and dev server behind the real API; the command runs
as a user runs it, as its own process (its JSON log lines are read from its stderr).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlmodel import SQLModel, select
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowExecutionStatus
from typer.testing import CliRunner

from domain.erasure import ERASED
from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.erasure import ERASURE_EVENT
from infra.store import (
    CustomerRow,
    DeadLetterRow,
    HandoverRow,
    InvoiceRow,
    JourneyEventRow,
    JourneyOutcomeRow,
    OutboxMessageRow,
    WebhookEventRow,
    session_scope,
)
from infra.store_page import CsatRatingRow, CustomerPageLinkRow
from journeys import cli
from tests.histories import save_history
from tests.starter.conftest import Stack, issued, new_id
from tests.starter.test_customer_updates import updated
from tests.test_cli import _env, _journeys
from tests.workflows.journey_driver import JourneyDriver
from workflows.journey import InvoiceJourney

NAME = "Gunilla Raderström"
EMAIL = "gunilla.raderstrom@example.net"
NEW_EMAIL = "g.raderstrom@example.org"
PHONE = "+46709998877"
ADDRESS = ["Raderingsgatan 7", "111 22 Stockholm"]
SECRETS = (
    NAME,
    EMAIL,
    NEW_EMAIL,
    PHONE,
    PHONE.lstrip("+"),
    "070-999 88 77",
    "0709998877",
    "+46 70 999 88 77",
    *ADDRESS,
)


def store_text(url: str) -> str:
    """Every row of every table, as text: what a grep of a database dump would see."""
    with session_scope(url) as s:
        return "\n".join(
            repr(row)
            for table in SQLModel.metadata.sorted_tables
            for row in s.connection().execute(table.select())
        )


def found(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def _add_raw_rows(url: str, invoice_id: str, customer_id: str) -> None:
    """What providers and the customer leave besides the journey: a dead letter (an inbound
    email that matched nothing), a webhook's stored answer, a rating with a comment, and a
    handover's evidence from an earlier invoice."""
    with session_scope(url) as s:
        s.add(
            DeadLetterRow(
                source="sendgrid-inbound",
                payload=json.dumps({"from": f"{NAME} <{NEW_EMAIL}>", "text": "betalat!"}),
                reason="matches no journey",
            )
        )
        s.add(
            WebhookEventRow(
                provider="twilio", event_id=new_id("SM"), outcome="STOP from 070-999 88 77"
            )
        )
        s.add(
            CsatRatingRow(
                workflow_id=workflow_id_for(invoice_id),
                invoice_id=invoice_id,
                rating=4,
                comment=f"Tack! /{NAME.split()[0]} Raderström, {PHONE}",
                phase="scheduled",
            )
        )
        s.add(
            HandoverRow(
                invoice_id=invoice_id,
                customer_id=customer_id,
                currency="SEK",
                balance=Decimal("1250.00"),
                fees=Decimal("60.00"),
                evidence=json.dumps(
                    {"invoice_id": invoice_id, "debtor": {"name": NAME, "email": EMAIL}}
                ),
                delivered_to="store",
                reference="AG-1",
            )
        )


async def test_erase_anonymises_the_store_and_closes_the_running_journey(
    stack: Stack, tmp_path: Path
) -> None:
    event = issued(name=NAME, email=EMAIL, phone=PHONE, postal_address=ADDRESS)
    invoice_id = event["data"]["invoice"]["id"]
    customer_id = event["data"]["customer"]["id"]
    assert (await stack.http.post("/v1/events", json=event)).status_code == 202
    moved = updated(customer_id, name=NAME, email=NEW_EMAIL, phone=PHONE, postal_address=ADDRESS)
    assert (await stack.http.post("/v1/events", json=moved)).status_code == 202

    driver = JourneyDriver(stack.env, stack.settings)
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id), result_type=JourneyState)
    before = await driver.through_step(handle, 0)
    assert [h.outcome for h in before.history if h.kind == "step"] == ["sent"]
    _add_raw_rows(stack.settings.store_url, invoice_id, customer_id)
    url = stack.settings.store_url
    assert set(found(store_text(url))) >= {NAME, EMAIL, NEW_EMAIL, PHONE, *ADDRESS}
    with session_scope(url) as s:
        sent_before = len(s.exec(select(OutboxMessageRow)).all())

    env = _env(stack.settings, stack.env)
    status, out, err = await _journeys(env, tmp_path, "gdpr", "erase", customer_id, "--yes")
    assert status == 0, (out, err)
    assert f"customer {customer_id} erased: 1 running journey(s) told" in out
    [line] = [json.loads(x) for x in err.splitlines() if '"customer erased"' in x]
    assert line["customer_id"] == customer_id and line["journeys_told"] == 1
    assert line["rows_changed"] >= 8 and line["rows_outbox"] == 1
    assert found(out + err) == []

    # The journey: closed as erased at once, nothing personal in its state or Web UI details.
    result = await handle.result()
    assert result.phase == "erased" and result.balance == Decimal("1250.00")
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert found(result.model_dump_json()) == []
    assert any(h.kind == "erasure" for h in result.history)
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "Closed: erased" in metadata.current_details
    assert found(str(metadata)) == []

    # The store: no personal data anywhere, no contact since, the accounting record kept.
    assert found(store_text(url)) == []
    with session_scope(url) as s:
        assert len(s.exec(select(OutboxMessageRow)).all()) == sent_before
        customer = s.get(CustomerRow, customer_id)
        assert customer is not None and (customer.name, customer.email, customer.phone) == (
            ERASED,
            None,
            None,
        )
        invoice = s.get(InvoiceRow, invoice_id)
        assert invoice is not None
        assert (invoice.amount_due, invoice.currency, invoice.status, invoice.balance) == (
            Decimal("1250.00"),
            "SEK",
            "erased",
            Decimal("1250.00"),
        )
        outcome = s.get(JourneyOutcomeRow, invoice_id)
        assert outcome is not None and (outcome.outcome, outcome.contacts_email) == ("erased", 1)
        handover = s.exec(select(HandoverRow)).one()
        assert (handover.balance, handover.reference) == (Decimal("1250.00"), "AG-1")
        assert json.loads(handover.evidence)["debtor"]["name"] == ERASED
        issued_row = s.exec(
            select(JourneyEventRow).where(JourneyEventRow.event_id == event["id"])
        ).one()
        data = json.loads(issued_row.payload)["data"]
        assert data["customer"]["name"] == ERASED and data["customer"]["email"] is None
        assert data["invoice"]["amount_due"] == "1250.00"
        [record] = s.exec(select(JourneyEventRow).where(JourneyEventRow.type == ERASURE_EVENT))
        assert json.loads(record.payload)["rows_changed"]["journey_events"] == 2
        rating = s.exec(select(CsatRatingRow)).one()
        assert (rating.rating, rating.comment) == (4, None)
        link = s.exec(
            select(CustomerPageLinkRow).where(CustomerPageLinkRow.invoice_id == invoice_id)
        ).one()
        assert link.revoked_at is not None
        letter = s.exec(select(DeadLetterRow)).one()
        assert ERASED in letter.payload
    await save_history(handle, "gdpr_erased")

    # The billing system sends the old event again: answered as before, nothing restored.
    replay = await stack.http.post("/v1/events", json=event)
    assert replay.status_code == 202, replay.text
    assert replay.json()["outcomes"][0]["status"] == "started"
    assert found(store_text(url)) == []

    # Again: harmless, and it says so.
    status, out, err = await _journeys(env, tmp_path, "gdpr", "erase", customer_id, "--yes")
    assert status == 0, (out, err)
    assert "0 running journey(s) told" in out and "none (already erased)" in out

    status, out, err = await _journeys(env, tmp_path, "gdpr", "erase", "cus_nobody", "--yes")
    assert status == 1
    assert "error: no customer 'cus_nobody' in the store" in err


async def test_the_journey_forgets_what_its_history_and_tasks_held(stack: Stack) -> None:
    """An agent's note naming the customer is in the journey's history: erased with the rest;
    an agent action after the erasure is refused (the journey is closed)."""
    event = issued(name=NAME, email=EMAIL, phone=PHONE)
    invoice_id = event["data"]["invoice"]["id"]
    customer_id = event["data"]["customer"]["id"]
    assert (await stack.http.post("/v1/events", json=event)).status_code == 202
    note = {"action": "add-note", "agent": "a1", "note": f"{NAME} called from {PHONE}"}
    response = await stack.http.post(f"/v1/invoices/{invoice_id}/actions", json=note)
    assert response.status_code == 200, response.text
    assert found(response.text) != []

    from starter.gdpr import erase_customer_data

    report = await erase_customer_data(stack.settings, stack.client, customer_id)
    assert report.journeys_told == [invoice_id] and report.journeys_open == []
    handle = stack.client.get_workflow_handle(workflow_id_for(invoice_id))
    state = JourneyState.model_validate(await handle.query(InvoiceJourney.state))
    assert state.phase == "erased" and found(state.model_dump_json()) == []
    refused = await stack.http.post(
        f"/v1/invoices/{invoice_id}/actions", json={"action": "pause", "agent": "a1"}
    )
    assert refused.status_code == 409, refused.text
    assert state.history[-1].kind == "erasure"
    assert "note added" in " ".join(h.detail for h in state.history)


def test_erase_asks_before_it_erases(runner: CliRunner) -> None:
    result = runner.invoke(cli.app, ["gdpr", "erase", "cus_someone"], input="n\n")
    assert result.exit_code == 1
    assert "Erase the personal data of customer cus_someone?" in result.output
    assert "nothing erased" in result.output
