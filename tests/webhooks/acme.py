"""Tenant `acme` for the webhook tests: its own Twilio account and number, SendGrid keys and
inbound domain, Stripe secret; and its journey beside the default tenant's twin (the same
invoice, customer, phone and email), so that a test can show which of the two a webhook
reached. Import `acme_fixture` (the fixture `acme`) into the test module that uses it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from domain.models import JourneyInput, workflow_id_for
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, WebhookEventRow, session_scope
from infra.tenants import forget_cached
from tests.factories import journey_input
from tests.tenants import add_tenant
from tests.webhooks.conftest import PHONE, Inbound, Journey, SendGridKeys, new_id, start_input
from workflows.journey import InvoiceJourney

ACME_SID = "AC" + "a" * 32
ACME_NUMBER = "+46700000999"
ACME_TWILIO_TOKEN = "acme-twilio-token"
ACME_STRIPE_SECRET = "whsec_acme_secret"
ACME_INBOUND_TOKEN = "acme-inbound-token"
ACME_DOMAIN = "in.acme.example"


@dataclass(frozen=True)
class Acme:
    settings: Settings
    keys: SendGridKeys


def register_acme(
    inbound: Inbound,
    monkeypatch: pytest.MonkeyPatch,
    keys: SendGridKeys,
    *,
    policies: Path | None = None,
    **settings: str,
) -> Settings:
    """Acme registered (again: its store emptied) with its accounts and these `settings`."""
    return add_tenant(
        inbound.settings,
        "acme",
        settings={
            "twilio_account_sid": ACME_SID,
            "twilio_from_number": ACME_NUMBER,
            "sendgrid_webhook_public_key": keys.public_b64,
            "sendgrid_inbound_domain": ACME_DOMAIN,
            **settings,
        },
        secrets={
            "twilio_auth_token": ACME_TWILIO_TOKEN,
            "stripe_webhook_secret": ACME_STRIPE_SECRET,
            "sendgrid_inbound_token": ACME_INBOUND_TOKEN,
        },
        monkeypatch=monkeypatch,
        policies=policies,
    )


@pytest.fixture(name="acme")
def acme_fixture(inbound: Inbound, monkeypatch: pytest.MonkeyPatch) -> Iterator[Acme]:
    """Fixture `acme` (import `acme_fixture` into a test module): acme, registered."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys = SendGridKeys(private, base64.b64encode(der).decode())
    yield Acme(register_acme(inbound, monkeypatch, keys), keys)
    forget_cached()


async def start_tenant(inbound: Inbound, settings: Settings, inp: JourneyInput) -> Journey:
    """`inp`'s journey as the tenant's: its rows in the tenant's store, its workflow id."""
    inp = inp.model_copy(update={"tenant": settings.tenant})
    with session_scope(settings.store_url) as s:
        s.add(CustomerRow.from_customer(inp.customer))
        s.add(InvoiceRow.from_invoice(inp.invoice, segment=inp.segment, segment_reason="test"))
    handle = await inbound.client.start_workflow(
        InvoiceJourney.run,
        inp,
        id=workflow_id_for(inp.invoice.id, settings.tenant),
        task_queue=inbound.settings.temporal_task_queue,
    )
    return Journey(inp.invoice.id, inp.customer.id, inp.invoice.number, handle)


async def twins(inbound: Inbound, acme: Acme | Settings) -> tuple[Journey, Journey]:
    """The same invoice (id, customer, phone, email) for the default tenant and for acme."""
    settings = acme.settings if isinstance(acme, Acme) else acme
    inp = journey_input(new_id("inv"), phone=PHONE)
    return await start_input(inbound, inp), await start_tenant(inbound, settings, inp)


def acme_sms(body: str, account: str = ACME_SID) -> dict[str, str]:
    return {
        "MessageSid": new_id("SM"),
        "AccountSid": account,
        "From": PHONE,
        "To": ACME_NUMBER,
        "Body": body,
    }


def events_in(settings: Settings) -> list[str]:
    with session_scope(settings.store_url) as s:
        return [r.event_id for r in s.exec(select(WebhookEventRow)).all()]
