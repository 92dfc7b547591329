"""Stripe webhook: the mapping as pure functions, and the route over real HTTP."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select
from temporalio.service import RPCError, RPCStatusCode

from domain.models import Consent, Customer, workflow_id_for
from domain.state import JourneyState
from infra.store import CustomerRow, DeadLetterRow, InvoiceRow, session_scope
from starter.event_schema import parse_event
from starter.stripe_events import (
    Ignored,
    ProductEvent,
    StripeMappingError,
    TaskForJourney,
    map_event,
    minor_to_major,
)
from tests.webhooks.conftest import Inbound, new_id, stripe_signature
from tests.webhooks.payloads import stripe_event, stripe_invoice, unix
from workflows.journey import InvoiceJourney

# --- mapping (pure) --------------------------------------------------------------------------


def test_finalized_becomes_invoice_issued() -> None:
    mapped = map_event(stripe_event("invoice.finalized", stripe_invoice(), "evt_fin"))
    assert isinstance(mapped, ProductEvent)
    event = mapped.event
    assert event["id"] == "evt_fin" and event["type"] == "invoice.issued"
    assert event["occurred_at"] == "2026-11-18T11:06:40Z"
    invoice, customer = event["data"]["invoice"], event["data"]["customer"]
    assert invoice == {
        "id": "in_1",
        "number": "ABCD-0001",
        "customer_id": "cus_stripe_1",
        "currency": "SEK",
        "amount_due": "1250.00",
        "issued_at": date.today().isoformat(),
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
        "ocr": "10014",
        "payment_url": "https://invoice.stripe.com/i/acct_1/test",
    }
    assert customer["phone"] == "+46701234567"  # national format, normalised with the country
    assert (customer["locale"], customer["timezone"]) == ("sv", "Europe/Stockholm")
    assert parse_event(event).type == "invoice.issued"  # valid by the product's own rules


def test_a_us_customer_without_a_zone_has_an_unknown_zone() -> None:
    """The United States span several zones: the customer's stays unknown (None), so the
    journey keeps to hours that suit every US zone, rather than being taken for Stockholm."""
    invoice = stripe_invoice(customer_address={"country": "US"}, customer_phone=None)
    mapped = map_event(stripe_event("invoice.finalized", invoice))
    assert isinstance(mapped, ProductEvent)
    customer = mapped.event["data"]["customer"]
    assert customer.get("timezone") is None
    assert parse_event(mapped.event).data.customer.timezone is None  # type: ignore[union-attr]


def test_a_zone_stored_as_the_old_stockholm_default_is_dropped_for_another_country() -> None:
    guessed = Customer(id="cus_stripe_1", name="Ann", timezone="Europe/Stockholm")
    us = stripe_invoice(customer_address={"country": "US"}, customer_phone=None)
    mapped = map_event(stripe_event("invoice.finalized", us), guessed)
    assert isinstance(mapped, ProductEvent)
    assert mapped.event["data"]["customer"]["timezone"] is None
    swedish = map_event(stripe_event("invoice.finalized", stripe_invoice()), guessed)
    assert isinstance(swedish, ProductEvent)
    assert swedish.event["data"]["customer"]["timezone"] == "Europe/Stockholm"


def test_what_we_know_about_a_customer_is_kept() -> None:
    known = Customer(
        id="cus_stripe_1",
        name="Berit A",
        locale="en",
        timezone="Europe/London",
        consent=Consent(email=True, sms=True, call=False),
        fee_agreed=True,
    )
    invoice = stripe_invoice(customer_phone="not a phone", customer_email="nope")
    mapped = map_event(stripe_event("invoice.finalized", invoice), known)
    assert isinstance(mapped, ProductEvent)
    customer = mapped.event["data"]["customer"]
    assert customer["consent"] == {"email": True, "sms": True, "call": False}
    assert (customer["locale"], customer["timezone"], customer["fee_agreed"]) == (
        "en",
        "Europe/London",
        True,
    )
    assert customer["name"] == "Berit Andersson"  # Stripe's contact details win
    assert customer.get("phone") is None and customer.get("email") is None  # invalid: left out


def test_paid_voided_and_uncollectible() -> None:
    paid_at = unix(date(2026, 12, 1))
    paid = map_event(
        stripe_event(
            "invoice.paid",
            stripe_invoice(amount_paid=125000, status_transitions={"paid_at": paid_at}),
            "evt_paid",
        )
    )
    assert isinstance(paid, ProductEvent)
    assert paid.event["type"] == "invoice.payment_received"
    assert paid.event["data"] == {
        "invoice_id": "in_1",
        "amount": "1250.00",
        "paid_at": "2026-12-01",
    }

    out_of_band = map_event(stripe_event("invoice.paid", stripe_invoice(amount_paid=0)))
    assert isinstance(out_of_band, ProductEvent)
    assert out_of_band.event["data"]["amount"] == "1250.00"

    voided = map_event(stripe_event("invoice.voided", stripe_invoice()))
    assert isinstance(voided, ProductEvent)
    assert voided.event["data"] == {"invoice_id": "in_1"}

    written_off = map_event(stripe_event("invoice.marked_uncollectible", stripe_invoice()))
    assert isinstance(written_off, TaskForJourney)
    assert written_off.invoice_id == "in_1" and "uncollectible" in written_off.summary


def test_customer_updated() -> None:
    customer = {
        "id": "cus_stripe_1",
        "object": "customer",
        "name": None,
        "email": "anna@example.com",
        "phone": "+1 415 555 2671",
        "address": {"country": "US"},
        "preferred_locales": ["en-US"],
        "created": unix(date(2021, 5, 4)),
        "metadata": {"consent_sms": "true", "timezone": "America/New_York", "is_business": "yes"},
    }
    mapped = map_event(stripe_event("customer.updated", customer))
    assert isinstance(mapped, ProductEvent)
    assert mapped.event["type"] == "customer.updated"
    c = mapped.event["data"]["customer"]
    assert (c["name"], c["email"], c["phone"]) == (
        "anna@example.com",
        "anna@example.com",
        "+14155552671",
    )
    assert (c["locale"], c["timezone"], c["customer_since"]) == (
        "en",
        "America/New_York",
        "2021-05-04",
    )
    assert c["consent"] == {"sms": True} and c["is_business"] is True
    assert parse_event(mapped.event).type == "customer.updated"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (125000, "sek", "1250.00"),
        (1, "eur", "0.01"),
        (5000, "jpy", "5000.00"),
        (1230, "kwd", "1.23"),
    ],
)
def test_minor_units(amount: int, currency: str, expected: str) -> None:
    assert minor_to_major(amount, currency, "amount") == expected


def test_what_is_ignored_and_what_is_refused() -> None:
    auto = stripe_invoice(collection_method="charge_automatically", due_date=None)
    assert isinstance(map_event(stripe_event("invoice.finalized", auto)), Ignored)
    assert isinstance(map_event(stripe_event("invoice.paid", auto)), Ignored)
    assert isinstance(
        map_event(stripe_event("invoice.finalized", stripe_invoice(amount_due=0))), Ignored
    )
    assert isinstance(map_event(stripe_event("charge.succeeded", {"id": "ch_1"})), Ignored)
    with pytest.raises(StripeMappingError, match=r"data\.object\.amount_due"):
        map_event(stripe_event("invoice.finalized", stripe_invoice(amount_due="12.50")))
    with pytest.raises(StripeMappingError, match=r"data\.object\.number: missing"):
        map_event(stripe_event("invoice.finalized", stripe_invoice(number=None)))


# --- the route ---------------------------------------------------------------------------------


async def test_finalized_starts_a_journey_and_paid_ends_it(inbound: Inbound) -> None:
    invoice_id = new_id("in")
    invoice = stripe_invoice(invoice_id, customer=new_id("cus"))
    finalized = stripe_event("invoice.finalized", invoice)
    response = await inbound.stripe(finalized)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"
    assert response.json()["detail"].startswith("started")
    replay = await inbound.stripe(finalized)
    assert replay.json()["status"] == "duplicate"

    handle = inbound.client.get_workflow_handle(workflow_id_for(invoice_id))
    state = await handle.query(InvoiceJourney.state)
    assert (state.phase, state.balance, state.currency) == ("scheduled", Decimal("1250"), "SEK")
    with session_scope(inbound.settings.store_url) as s:
        row = s.get(InvoiceRow, invoice_id)
        assert row is not None and row.number == "ABCD-0001"
        customer = s.get(CustomerRow, invoice["customer"])
        assert customer is not None and customer.phone == "+46701234567"

    paid = stripe_event("invoice.paid", {**invoice, "amount_paid": 125000, "status": "paid"})
    response = await inbound.stripe(paid)
    assert response.json()["status"] == "applied", response.text
    result = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=30))
    assert result.phase == "paid"


async def test_a_forged_or_stale_signature_changes_nothing(inbound: Inbound) -> None:
    invoice_id = new_id("in")
    event = stripe_event("invoice.finalized", stripe_invoice(invoice_id))
    payload = json.dumps(event)
    forged = await inbound.stripe(event, signature=stripe_signature(payload, secret="whsec_other"))
    stale = await inbound.stripe(
        event, signature=stripe_signature(payload, at=int(time.time()) - 3600)
    )
    missing = await inbound.stripe(event, signature=None)
    assert (forged.status_code, stale.status_code, missing.status_code) == (403, 403, 403)
    with session_scope(inbound.settings.store_url) as s:
        assert s.get(InvoiceRow, invoice_id) is None
    with pytest.raises(RPCError) as raised:
        await inbound.client.get_workflow_handle(workflow_id_for(invoice_id)).describe()
    assert raised.value.status == RPCStatusCode.NOT_FOUND


async def test_an_event_the_product_refuses_is_a_dead_letter(inbound: Inbound) -> None:
    bad = stripe_invoice(new_id("in"), currency="xyz")
    response = await inbound.stripe(stripe_event("invoice.finalized", bad))
    assert response.status_code == 200
    assert response.json()["status"] == "dead_letter"
    with session_scope(inbound.settings.store_url) as s:
        [letter] = s.exec(select(DeadLetterRow)).all()
    assert letter.source == "stripe"
    assert "data.invoice.currency" in letter.reason and "XYZ" in letter.reason


async def test_uncollectible_leaves_a_task_for_an_agent(inbound: Inbound) -> None:
    invoice = stripe_invoice(new_id("in"), customer=new_id("cus"))
    await inbound.stripe(stripe_event("invoice.finalized", invoice))
    written_off = copy.deepcopy(invoice)
    response = await inbound.stripe(stripe_event("invoice.marked_uncollectible", written_off))
    assert response.json()["status"] == "applied", response.text
    handle = inbound.client.get_workflow_handle(workflow_id_for(invoice["id"]))
    for _ in range(50):
        state = await handle.query(InvoiceJourney.state)
        if state.open_tasks:
            break
        await asyncio.sleep(0.1)
    assert any("uncollectible" in t for t in state.open_tasks)
    assert state.phase == "scheduled"  # not cancelled: a person decides
