"""Webhooks of several tenants over real HTTP: each provider's request for tenant `acme` is
verified with acme's secret and applied to acme's journey and store, while the default
tenant's invoice with the very same id is left alone; a request signed with the default
tenant's secret but claiming acme's account changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.customer_links import page_secret, reply_id
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, session_scope
from starter.tenancy import forget_policies
from starter.webhook_tenants import twilio_tenant
from tests.webhooks.acme import (  # noqa: F401  (acme_fixture: the fixture acme)
    ACME_DOMAIN,
    ACME_INBOUND_TOKEN,
    ACME_NUMBER,
    ACME_SID,
    ACME_STRIPE_SECRET,
    ACME_TWILIO_TOKEN,
    Acme,
    acme_fixture,
    acme_sms,
    events_in,
    register_acme,
    twins,
)
from tests.webhooks.conftest import (
    INBOUND,
    INBOUND_PATH,
    PHONE,
    STRIPE_SECRET,
    Inbound,
    Journey,
    SendGridKeys,
    eventually,
    new_id,
    seed_attempt,
    settle,
    state_of,
    stripe_signature,
    today_in,
)
from tests.webhooks.payloads import sendgrid_event, stripe_event, stripe_invoice
from tests.webhooks.test_reply_to import reply
from workflows.journey import InvoiceJourney

SMS = "/v1/webhooks/twilio/sms"


# --- Twilio ----------------------------------------------------------------------------------


async def test_twilio_sms_for_acme_goes_to_acmes_journey(inbound: Inbound, acme: Acme) -> None:
    default, mine = await twins(inbound, acme)
    day = (today_in() + timedelta(days=5)).isoformat()
    form = acme_sms(f"LOVAR {day}")
    response = await inbound.twilio(SMS, form, token=ACME_TWILIO_TOKEN)
    assert response.status_code == 200, response.text
    assert (await eventually(mine, lambda s: s.phase == "promised")).phase == "promised"
    await settle()
    assert (await state_of(default)).phase == "scheduled"
    assert f"sms:{form['MessageSid']}" in events_in(acme.settings)
    assert f"sms:{form['MessageSid']}" not in events_in(inbound.settings)


async def test_twilio_signed_by_the_default_tenant_for_acmes_account_is_refused(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    day = (today_in() + timedelta(days=5)).isoformat()
    form = acme_sms(f"LOVAR {day}")
    response = await inbound.twilio(SMS, form)  # the default tenant's token
    assert response.status_code == 403
    assert "does not match" in response.json()["detail"]
    await settle()
    assert (await state_of(mine)).phase == "scheduled"
    assert (await state_of(default)).phase == "scheduled"
    assert f"sms:{form['MessageSid']}" not in events_in(acme.settings)


async def test_twilio_stop_for_acme_changes_acmes_customer_only(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    form = acme_sms("STOPP")
    response = await inbound.twilio(SMS, form, token=ACME_TWILIO_TOKEN)
    assert response.status_code == 200, response.text
    assert not sms_consent(acme.settings, mine.customer_id)
    assert sms_consent(inbound.settings, default.customer_id)
    state = await eventually(mine, lambda s: "sms" in s.channels_unavailable)
    assert "sms" in state.channels_unavailable
    await settle()
    assert "sms" not in (await state_of(default)).channels_unavailable


async def test_a_twilio_status_from_acmes_number_is_acmes(inbound: Inbound, acme: Acme) -> None:
    default, mine = await twins(inbound, acme)
    sid = new_id("SM")  # the same SID in both ledgers: only the tenant tells them apart
    for settings, journey in ((inbound.settings, default), (acme.settings, mine)):
        seed_attempt(settings, journey.invoice_id, "step-1-sms", "sms", "twilio", sid)
    status = "/v1/webhooks/twilio/status"
    form = {
        "MessageSid": sid,
        "AccountSid": ACME_SID,
        "From": ACME_NUMBER,
        "To": PHONE,
        "MessageStatus": "undelivered",
        "ErrorCode": "30005",
    }
    response = await inbound.twilio(status, form, token=ACME_TWILIO_TOKEN)
    assert response.status_code == 204, response.text
    assert failed(await eventually(mine, failed))
    await settle()
    assert not failed(await state_of(default))


async def test_twilio_for_no_tenants_account_is_refused(inbound: Inbound, acme: Acme) -> None:
    inbound.settings.twilio_account_sid = "AC" + "d" * 32  # the default tenant names its own
    form = acme_sms("LOVAR 2030-01-01", account="AC" + "e" * 32)
    response = await inbound.twilio(SMS, form)  # signed with the default tenant's token
    assert response.status_code == 403
    assert response.json()["detail"].startswith("AccountSid: no tenant has this Twilio account")
    assert f"sms:{form['MessageSid']}" not in events_in(inbound.settings)


def sms_consent(settings: Settings, customer_id: str) -> bool:
    with session_scope(settings.store_url) as s:
        row = s.get(CustomerRow, customer_id)
        assert row is not None
        return row.consent_sms


def test_which_tenant_a_twilio_request_is_for(settings: Settings) -> None:
    def tenant(name: str, sid: str | None, number: str | None) -> Settings:
        update = {"twilio_account_sid": sid, "twilio_from_number": number}
        return settings.model_copy(update=update).for_tenant(name)

    default = tenant("default", "AC1", "+461")
    shared = tenant("shared", "AC1", "+462")
    own = tenant("own", "AC2", "+463")
    tenants = [default, shared, own]
    assert twilio_tenant(tenants, "AC2", "+469") is own  # one tenant has the account
    assert twilio_tenant(tenants, "AC1", "+462") is shared  # a shared account: by number
    assert twilio_tenant(tenants, "AC1", "+461") is default
    assert twilio_tenant(tenants, "AC1", "+469") is None  # shared, and no one's number
    assert twilio_tenant(tenants, "AC9", "+461") is None  # no one's account
    unset = tenant("default", None, None)
    assert twilio_tenant([unset, own], "AC9", None) is unset  # as before tenants


# --- SendGrid --------------------------------------------------------------------------------


async def post_events(inbound: Inbound, keys: SendGridKeys, events: list[Any]) -> Any:
    payload, timestamp = json.dumps(events), str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": keys.sign(payload, timestamp),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return await inbound.http.post("/v1/webhooks/sendgrid/events", content=payload, headers=headers)


def bounce(journey: Journey, **fields: Any) -> dict[str, Any]:
    return sendgrid_event(
        "bounce",
        type="bounce",
        reason="550 no such user",
        invoice_id=journey.invoice_id,
        step_key="step-0-email",
        **fields,
    )


def failed(state: Any) -> bool:
    return any(h.kind == "delivery_failed" for h in state.history)


async def test_sendgrid_event_for_acme_goes_to_acmes_journey(inbound: Inbound, acme: Acme) -> None:
    default, mine = await twins(inbound, acme)
    event = bounce(mine, tenant="acme")
    response = await post_events(inbound, acme.keys, [event])
    assert response.status_code == 200, response.text
    assert response.json()["applied"] == 1
    assert failed(await eventually(mine, failed))
    await settle()
    assert not failed(await state_of(default))
    assert event["sg_event_id"] in events_in(acme.settings)
    assert event["sg_event_id"] not in events_in(inbound.settings)


async def test_sendgrid_events_naming_acme_signed_by_the_default_account_are_refused(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    ours, theirs = bounce(default), bounce(mine, tenant="acme")
    response = await post_events(inbound, inbound.sendgrid, [ours, theirs])
    assert response.status_code == 403
    assert "acme" in response.json()["detail"]
    await settle()
    assert not failed(await state_of(mine)) and not failed(await state_of(default))
    # acme's own account cannot speak for the default tenant either
    response = await post_events(inbound, acme.keys, [bounce(default, tenant="default")])
    assert response.status_code == 403


async def test_an_inbound_reply_to_acmes_address_goes_to_acmes_journey(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    rid = reply_id(page_secret(acme.settings), mine.invoice_id, "acme")
    assert rid.startswith("acme.")
    to = f"reply+{rid}@{ACME_DOMAIN}"
    refused = await inbound.http.post(INBOUND, files=reply(to))  # the default tenant's token
    assert refused.status_code == 403
    response = await inbound.http.post(
        f"{INBOUND_PATH}?token={ACME_INBOUND_TOKEN}", files=reply(to)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "applied", "invoices": [mine.invoice_id]}
    assert (await eventually(mine, lambda s: bool(s.open_tasks))).open_tasks
    await settle()
    assert (await state_of(default)).open_tasks == ()


# --- Stripe ----------------------------------------------------------------------------------


async def post_stripe(inbound: Inbound, event: dict[str, Any], secret: str) -> Any:
    payload = json.dumps(event)
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_signature(payload, secret),
    }
    return await inbound.http.post("/v1/webhooks/stripe", content=payload, headers=headers)


async def test_stripe_event_goes_to_the_tenant_whose_secret_signed_it(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    invoice = stripe_invoice(mine.invoice_id, customer=mine.customer_id)
    event = stripe_event("invoice.marked_uncollectible", invoice)
    response = await post_stripe(inbound, event, ACME_STRIPE_SECRET)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied", response.text
    state = await eventually(mine, lambda s: bool(s.open_tasks))
    assert any("uncollectible" in t for t in state.open_tasks)
    await settle()
    assert (await state_of(default)).open_tasks == ()
    assert event["id"] in events_in(acme.settings)
    assert event["id"] not in events_in(inbound.settings)

    # The same kind of event signed with the default tenant's secret is the default's.
    other = stripe_event("invoice.marked_uncollectible", invoice)
    response = await post_stripe(inbound, other, STRIPE_SECRET)
    assert response.json()["status"] == "applied", response.text
    assert (await eventually(default, lambda s: bool(s.open_tasks))).open_tasks
    assert len((await state_of(mine)).open_tasks) == 1
    # Signed with a secret no tenant has: refused.
    forged = await post_stripe(inbound, stripe_event("invoice.voided", invoice), "whsec_nobody")
    assert forged.status_code == 403


async def test_stripe_billing_for_acme_starts_and_ends_acmes_journey(
    inbound: Inbound, acme: Acme
) -> None:
    invoice = stripe_invoice(new_id("in"), customer=new_id("cus"))
    for secret in (STRIPE_SECRET, ACME_STRIPE_SECRET):  # the same invoice in both companies
        finalized = await post_stripe(inbound, stripe_event("invoice.finalized", invoice), secret)
        assert finalized.json()["status"] == "applied", finalized.text
    default = inbound.client.get_workflow_handle(
        workflow_id_for(invoice["id"]), result_type=JourneyState
    )
    mine = inbound.client.get_workflow_handle(
        workflow_id_for(invoice["id"], "acme"), result_type=JourneyState
    )
    assert (await mine.query(InvoiceJourney.state)).tenant == "acme"
    with session_scope(acme.settings.store_url) as s:
        assert s.get(InvoiceRow, invoice["id"]) is not None

    paid = {**invoice, "amount_paid": 125000, "status": "paid"}
    response = await post_stripe(inbound, stripe_event("invoice.paid", paid), ACME_STRIPE_SECRET)
    assert response.json()["status"] == "applied", response.text
    assert response.json()["detail"].startswith("applied"), response.text
    result = JourneyState.model_validate(await asyncio.wait_for(mine.result(), timeout=30))
    assert result.phase == "paid"
    assert (await default.query(InvoiceJourney.state)).phase == "scheduled"


async def test_stripe_for_a_tenant_whose_policy_file_is_unreadable_is_retried_later(
    inbound: Inbound, acme: Acme, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """503 names the file (Stripe retries), nothing is recorded; fixed, the retry applies."""
    good = Path(inbound.settings.policy_file).read_text(encoding="utf-8")
    policies = tmp_path / "acme-policies.yaml"
    policies.write_text(good, encoding="utf-8")
    register_acme(inbound, monkeypatch, acme.keys, policies=policies)
    policies.write_text("policies: [unclosed", encoding="utf-8")  # broken after registration
    forget_policies()
    invoice = stripe_invoice(new_id("in"), customer=new_id("cus"))
    event = stripe_event("invoice.finalized", invoice)
    refused = await post_stripe(inbound, event, ACME_STRIPE_SECRET)
    assert refused.status_code == 503, refused.text
    assert "policy file" in refused.json()["detail"] and str(policies) in refused.json()["detail"]
    assert event["id"] not in events_in(acme.settings)

    policies.write_text(good, encoding="utf-8")
    forget_policies()
    retried = await post_stripe(inbound, event, ACME_STRIPE_SECRET)
    assert retried.status_code == 200 and retried.json()["status"] == "applied", retried.text
    assert event["id"] in events_in(acme.settings)
