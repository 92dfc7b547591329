"""The inbound surface's test stack: the webhook, auth and dead-letter routers on a FastAPI app
served by uvicorn on a free loopback port (real HTTP), a real worker on the shared Temporal
test server, and requests signed the way Twilio, SendGrid and Stripe sign them.

The app fills `app.state` the way `starter.api.create_app` does (settings, client, ingest), so
the routers meet the same dependencies they will have in the product.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from twilio.request_validator import RequestValidator

from domain.models import JourneyInput, workflow_id_for
from domain.state import JourneyState
from infra.policy_file import load_policies
from infra.settings import Settings
from infra.store import ContactAttemptRow, CustomerRow, InvoiceRow, session_scope
from starter import (
    auth,
    deadletters,
    webhooks_sendgrid,
    webhooks_stripe,
    webhooks_twilio_sms,
    webhooks_twilio_status,
    webhooks_twilio_voice,
)
from starter.ingest import Ingest
from starter.routing import local_today
from tests.api_server import serving
from tests.factories import journey_input
from worker import build_worker
from workflows.journey import InvoiceJourney

PUBLIC_BASE = "https://journeys.example"
TWILIO_TOKEN = "twilio-test-auth-token"
STRIPE_SECRET = "whsec_test_secret"
INBOUND_TOKEN = "sendgrid-inbound-test-token"
INBOUND_PATH = "/v1/webhooks/sendgrid/inbound"
INBOUND = f"{INBOUND_PATH}?token={INBOUND_TOKEN}"
"""Inbound Parse as SendGrid is configured to call it: with SENDGRID_INBOUND_TOKEN."""
BOOTSTRAP_KEY = "bootstrap-test-key"
PHONE = "+46701234567"
EMAIL = "berit@example.se"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# --- signing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendGridKeys:
    private: ec.EllipticCurvePrivateKey
    public_b64: str
    """As SendGrid shows the verification key: base64 of the DER SubjectPublicKeyInfo."""

    def sign(self, payload: str, timestamp: str) -> str:
        signature = self.private.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()


@pytest.fixture(scope="session")
def sendgrid_keys() -> SendGridKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SendGridKeys(private, base64.b64encode(der).decode())


def twilio_signature(path: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(PUBLIC_BASE + path, params)
    return signature


def stripe_signature(payload: str, secret: str = STRIPE_SECRET, at: int | None = None) -> str:
    t = at if at is not None else int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


# --- the stack -------------------------------------------------------------------------------


@dataclass
class Inbound:
    http: httpx.AsyncClient
    client: Client
    settings: Settings
    sendgrid: SendGridKeys

    async def twilio(
        self,
        path: str,
        params: dict[str, str],
        *,
        signature: str | None = "",
        token: str = TWILIO_TOKEN,
    ) -> httpx.Response:
        """POST a form to a Twilio webhook, signed with the account's `token` (a tenant's own,
        or the default's) unless `signature` is given (None: none)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        sig = twilio_signature(path, params, token) if signature == "" else signature
        if sig is not None:
            headers["X-Twilio-Signature"] = sig
        return await self.http.post(path, content=urlencode(params), headers=headers)

    async def sendgrid_events(
        self, events: list[dict[str, Any]], *, forge: bool = False, sign: bool = True
    ) -> httpx.Response:
        payload = json.dumps(events)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json"}
        if sign:
            signature = self.sendgrid.sign(payload, timestamp)
            if forge:  # signed, then changed on the way
                payload = payload.replace("bounce", "delivered")
            headers["X-Twilio-Email-Event-Webhook-Signature"] = signature
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
        return await self.http.post(
            "/v1/webhooks/sendgrid/events", content=payload, headers=headers
        )

    async def stripe(self, event: dict[str, Any], *, signature: str | None = "") -> httpx.Response:
        payload = json.dumps(event)
        headers = {"Content-Type": "application/json"}
        sig = stripe_signature(payload) if signature == "" else signature
        if sig is not None:
            headers["Stripe-Signature"] = sig
        return await self.http.post("/v1/webhooks/stripe", content=payload, headers=headers)


def inbound_app(settings: Settings, client: Client) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.client = client
    app.state.ingest = Ingest(client, settings, load_policies(settings.policy_file))
    for module in (
        webhooks_twilio_sms,
        webhooks_twilio_voice,
        webhooks_twilio_status,
        webhooks_sendgrid,
        webhooks_stripe,
        auth,
        deadletters,
    ):
        app.include_router(module.router)
    return app


def webhook_secrets(sendgrid: SendGridKeys) -> dict[str, Any]:
    """The settings every webhook checks its requests with, the values the tests sign with (and
    the bootstrap API key): the update that turns test settings into a stack that accepts
    signed requests."""
    return {
        "public_base_url": PUBLIC_BASE,
        "twilio_auth_token": TWILIO_TOKEN,
        "sendgrid_webhook_public_key": sendgrid.public_b64,
        "stripe_webhook_secret": STRIPE_SECRET,
        "sendgrid_inbound_token": INBOUND_TOKEN,
        "api_key": BOOTSTRAP_KEY,
    }


@pytest.fixture
def inbound_settings(settings: Settings, sendgrid_keys: SendGridKeys) -> Settings:
    return settings.model_copy(update=webhook_secrets(sendgrid_keys))


@pytest.fixture
async def inbound(
    temporal_env: WorkflowEnvironment, inbound_settings: Settings, sendgrid_keys: SendGridKeys
) -> AsyncIterator[Inbound]:
    """uvicorn in this event loop (real sockets, real HTTP), next to a worker."""
    settings = inbound_settings
    app = inbound_app(settings, temporal_env.client)
    async with (
        serving(app) as base_url,
        build_worker(temporal_env.client, settings),
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Inbound(http, temporal_env.client, settings, sendgrid_keys)


# --- journeys and the store ------------------------------------------------------------------


@dataclass(frozen=True)
class Journey:
    invoice_id: str
    customer_id: str
    number: str
    handle: WorkflowHandle[InvoiceJourney, JourneyState]


async def start_journey(
    inbound: Inbound, *, locale: str = "sv", phone: str = PHONE, email: str = EMAIL
) -> Journey:
    """A running journey for a fresh invoice, and the store rows the webhooks look up."""
    inp = journey_input(new_id("inv"), locale=locale, phone=phone, email=email)
    return await start_input(inbound, inp)


async def start_input(
    inbound: Inbound, inp: JourneyInput, settings: Settings | None = None
) -> Journey:
    """Start the journey of `inp` (on `settings`' store and queue, the inbound's by default)
    and write the store rows the webhooks look up."""
    settings = settings or inbound.settings
    customer, invoice = inp.customer, inp.invoice
    with session_scope(settings.store_url) as s:
        if s.get(CustomerRow, customer.id) is None:
            s.add(CustomerRow.from_customer(customer))
        s.add(InvoiceRow.from_invoice(invoice, segment=inp.segment, segment_reason="test"))
    handle = await inbound.client.start_workflow(
        InvoiceJourney.run,
        inp,
        id=workflow_id_for(invoice.id),
        task_queue=settings.temporal_task_queue,
    )
    return Journey(invoice.id, customer.id, invoice.number, handle)


def seed_attempt(
    settings: Settings,
    invoice_id: str,
    step_key: str,
    channel: str,
    provider: str,
    provider_id: str,
) -> None:
    """A ledger row as the send activities leave it after a successful send."""
    with session_scope(settings.store_url) as s:
        s.add(
            ContactAttemptRow(
                invoice_id=invoice_id,
                step_key=step_key,
                channel=channel,
                template="reminder",
                status="sent",
                provider=provider,
                provider_id=provider_id,
                attempts=1,
            )
        )


async def state_of(journey: Journey) -> JourneyState:
    return await journey.handle.query(InvoiceJourney.state)


async def eventually(
    journey: Journey, check: Callable[[JourneyState], bool], timeout: float = 10
) -> JourneyState:
    """The journey's state once `check` holds (signals are applied asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await state_of(journey)
        if check(state) or asyncio.get_running_loop().time() > deadline:
            return state
        await asyncio.sleep(0.1)


async def settle() -> None:
    """Long enough for a signal that was (wrongly) sent to reach a journey."""
    await asyncio.sleep(0.5)


def today_in(timezone: str = "Europe/Stockholm") -> date:
    return local_today(timezone)
