"""Stripe webhook: Stripe Billing as the billing system.

`POST /v1/webhooks/stripe` checks the `Stripe-Signature` header with the official library
(`stripe.Webhook.construct_event`, STRIPE_WEBHOOK_SECRET, Stripe's default 5-minute tolerance);
anything else is 403. Events are turned into the product's billing events by pure functions
(`stripe_events.map_event`, which lists what each Stripe event becomes) and applied through the
same ingest as `POST /v1/events`, with the Stripe event id as the product event id, so Stripe's
retries and replays are idempotent.

An event that maps to nothing valid, or that ingest refuses, is kept as a dead letter
(source `stripe`) and answered 200, since Stripe retrying it cannot help; Temporal being
unreachable, or the signing tenant's policy file unreadable, is a 503, which Stripe retries.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final, Literal

import stripe
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from temporalio.client import Client

from domain.messages import AgentTask
from domain.models import workflow_id_for
from infra.logging import get_logger
from infra.settings import Settings
from starter.deadletters import record_async
from starter.event_schema import EventConflict, EventRejected, parse_event
from starter.ingest import Ingest
from starter.journey_signals import JourneyMissing
from starter.routing import (
    ClientDep,
    IngestDep,
    SettingsDep,
    customer_by_id,
    customer_from_row,
    remember,
    seen,
    signal_journey,
)
from starter.stripe_events import (
    Ignored,
    Mapped,
    StripeMappingError,
    TaskForJourney,
    event_customer_id,
    map_event,
)
from starter.tenancy import TenantRefused, tenant_policies
from starter.webhook_signing import signing_secret
from starter.webhook_tenants import every_tenant_async, first_verified
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.stripe")

PROVIDER: Final = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"


class StripeHandled(BaseModel):
    status: Literal["applied", "ignored", "dead_letter", "duplicate"]
    detail: str


router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def signed_with(secret: str, payload: bytes, signature: str) -> bool:
    """Whether Stripe signed exactly this payload with `secret`, recently."""
    try:
        # Only the signature: `Webhook.construct_event` would also build a Stripe object from
        # the payload and crash on signed JSON that is not an object (found by tests/fuzz).
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return False  # not this tenant's secret (the caller tries the next)
    return True


def verify(tenants: list[Settings], payload: bytes, signature: str | None) -> Settings:
    """The tenant whose STRIPE_WEBHOOK_SECRET signed the payload; 403 when none did."""
    if not any(t.stripe_webhook_secret for t in tenants):
        signing_secret(None, "STRIPE_WEBHOOK_SECRET", SIGNATURE_HEADER, "Stripe webhook")
    if not signature:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: missing")
    found = first_verified(
        tenants,
        lambda t: t.stripe_webhook_secret,
        lambda secret: signed_with(secret, payload, signature),
    )
    if found is None:
        log.warning("Stripe webhook with a bad signature refused")
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: does not match")
    return found


def tenant_ingest(ingest: Ingest, settings: Settings) -> Ingest:
    """The process's ingest, as the tenant's: its store, its journeys, its policies. A
    tenant whose policy file cannot be read is a 503 naming the file (Stripe retries it, and
    the event applies once the file is fixed), not a 500 and not a dead letter."""
    if settings.tenant == ingest.settings.tenant:
        return ingest
    try:
        policies = tenant_policies(settings, ingest.policies)
    except TenantRefused as err:
        log.error("stripe event refused", tenant=settings.tenant, error=err.problem)
        raise HTTPException(status_code=err.status, detail=err.problem) from None
    return ingest.for_tenant(settings, policies)


@router.post("/stripe", responses={403: {}, 503: {}})
async def stripe_webhook(
    request: Request, settings: SettingsDep, client: ClientDep, ingest: IngestDep
) -> StripeHandled:
    """Stripe Billing events, applied as the product's billing events (of the tenant whose
    Stripe account signed them)."""
    payload = await request.body()
    tenants = await every_tenant_async(settings)
    settings = verify(tenants, payload, request.headers.get(SIGNATURE_HEADER))
    ingest = tenant_ingest(ingest, settings)
    try:
        event = json.loads(payload)
    except ValueError:  # signed, but not JSON
        raise HTTPException(status_code=400, detail="(root): not valid JSON") from None
    if not isinstance(event, dict):
        raise HTTPException(status_code=400, detail="(root): not a JSON object")
    if not isinstance(event.get("id"), str):
        raise HTTPException(status_code=400, detail="id: missing")
    event_id: str = event["id"]
    if done := await seen(settings, PROVIDER, event_id):
        return StripeHandled(status="duplicate", detail=done.outcome)
    known = customer_from_row(
        await asyncio.to_thread(customer_by_id, settings.store_url, event_customer_id(event))
    )
    try:
        mapped = map_event(event, known)
        handled = await _apply(client, ingest, event_id, mapped, settings.tenant)
    except (StripeMappingError, EventRejected, EventConflict, JourneyMissing) as err:
        reason = f"{event.get('type')}: {err}"
        await record_async(settings, PROVIDER, payload, reason)
        handled = StripeHandled(status="dead_letter", detail=reason)
    log.info(
        "stripe event",
        event_id=event_id,
        type=event.get("type"),
        status=handled.status,
        tenant=settings.tenant,
    )
    await remember(settings, PROVIDER, event_id, handled.detail)
    return handled


async def _apply(
    client: Client, ingest: Ingest, event_id: str, mapped: Mapped, tenant: str
) -> StripeHandled:
    if isinstance(mapped, Ignored):
        return StripeHandled(status="ignored", detail=mapped.reason)
    if isinstance(mapped, TaskForJourney):
        task = AgentTask(event_id=f"stripe:{event_id}", source="stripe", summary=mapped.summary)
        result = await signal_journey(
            client, mapped.invoice_id, InvoiceJourney.agent_task, task, tenant
        )
        if result == "no_journey":
            wid = workflow_id_for(mapped.invoice_id, tenant)
            detail = f"no running journey {wid}; nothing to do"
            return StripeHandled(status="ignored", detail=detail)
        return StripeHandled(status="applied", detail=f"agent task: {mapped.summary}")
    [outcome] = await ingest([parse_event(mapped.event)])
    return StripeHandled(status="applied", detail=f"{outcome.status}: {outcome.detail}")
