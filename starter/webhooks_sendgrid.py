"""SendGrid webhooks: delivery events (signed) and inbound replies (Inbound Parse).

`POST /v1/webhooks/sendgrid/events` is SendGrid's signed Event Webhook: a JSON array of events,
signed with ECDSA P-256 over `timestamp + body`, checked with SendGrid's own `EventWebhook`
helper and the verification key from SENDGRID_WEBHOOK_PUBLIC_KEY. A missing or wrong signature
is 403 and nothing is applied. Each event is applied once by its `sg_event_id`:

- `bounce` (type `bounce`) and `dropped`: the address is bad; `delivery_failed(email,
  permanent=True)`, so the step is re-sent on the next channel and later steps skip email.
- `bounce` of type `blocked` (the receiving server refused this time): `delivery_failed(email,
  permanent=False)`, the step falls back, later steps may use email again.
- `unsubscribe`, `group_unsubscribe` and `spamreport`: the customer does not want our email;
  email consent is withdrawn for every customer with that address (and the one whose invoice
  the email was about) and their running journeys get `consent_changed(email, False)`, the
  mechanism Twilio's STOP uses for SMS (`starter.consent`). `group_resubscribe` gives it back.
- anything else (processed, delivered, deferred, open, click, ...): recorded, not applied.

The journey comes from the `invoice_id`/`step_key` custom args every email carries
(activities/sendgrid_sender.py), else from the ledger by the message id.

`POST /v1/webhooks/sendgrid/inbound` is Inbound Parse (multipart form: from, to, subject,
text, ...). SendGrid does not sign it, so the URL must carry `?token=<SENDGRID_INBOUND_TOKEN>`
(configure the full URL in SendGrid); otherwise 403. Without SENDGRID_INBOUND_TOKEN every
request is refused, as the signed webhooks refuse everything without their keys: anyone could
otherwise put words in a customer's mouth on a journey's agent task list. The reply is matched to
invoices by, in order: the `reply+<opaque id>@<SENDGRID_INBOUND_DOMAIN>` recipient every
reminder email carries as its reply-to (`infra.customer_links.reply_address`: the page link's
id, no personal data, not the invoice id), an open invoice's number in the subject, the
sender's address (all of that customer's open invoices). Each matched journey
gets `agent_task(source="email reply", summary=subject + first 500 characters)`; a reply
that matches nothing is a dead letter.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from email.utils import getaddresses, parseaddr
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sendgrid.helpers.eventwebhook import EventWebhookHeader
from temporalio.client import Client

from domain.messages import AgentTask, ConsentChange, DeliveryFailure
from infra import customer_links
from infra.logging import get_logger
from infra.settings import Settings
from starter.consent import change_consent
from starter.deadletters import record_async
from starter.routing import (
    ClientDep,
    Form,
    SettingsDep,
    Target,
    attempt_by_provider_id,
    customers_by_email,
    open_targets_by_id,
    open_targets_by_number,
    open_targets_for_customers,
    read_form,
    remember,
    seen,
    signal_journey,
    target_for_invoice,
)
from starter.sendgrid_tenants import (
    event_tenant,
    event_tenants,
    inbound_tenant,
    token_holders,
    verify_events,
)
from starter.webhook_tenants import every_tenant_async
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.sendgrid")

PROVIDER: Final = "sendgrid"
INBOUND: Final = "sendgrid-inbound"
SUMMARY_TEXT_CHARS = 500
MAX_EVENTS_BYTES = 8 * 1024 * 1024

SIGNATURE = EventWebhookHeader.SIGNATURE
TIMESTAMP = EventWebhookHeader.TIMESTAMP

_REPLY_ADDRESS = re.compile(r"^reply\+(?P<id>[^@]+)@", re.IGNORECASE)
_TOKEN = re.compile(r"[\w-]+")


# --- mapping (pure) --------------------------------------------------------------------------

FailureKind = Literal["permanent", "temporary"]

CONSENT_EVENTS: dict[str, bool] = {
    "unsubscribe": False,
    "group_unsubscribe": False,
    "spamreport": False,
    "group_resubscribe": True,
}
"""SendGrid events that are the customer's word on email: consent withdrawn or given back."""


def failure_kind(event: dict[str, Any]) -> FailureKind | None:
    """Whether a SendGrid event says the email did not arrive, and how final that is."""
    kind = event.get("event")
    if kind == "dropped":
        return "permanent"
    if kind == "bounce":
        return "temporary" if event.get("type") == "blocked" else "permanent"
    return None


def message_id_candidates(sg_message_id: str) -> list[str]:
    """The X-Message-Id we stored is a prefix of the event's `sg_message_id`
    (`<x-message-id>.filter...`); every dot-separated prefix is a candidate."""
    parts = sg_message_id.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def failure_reason(event: dict[str, Any]) -> str:
    kind = str(event.get("event"))
    detail = event.get("reason") or event.get("response") or ""
    bounce_type = event.get("type")
    label = f"{kind} ({bounce_type})" if kind == "bounce" and bounce_type else kind
    return f"SendGrid {label}" + (f": {detail}" if detail else "")


# --- signed event webhook --------------------------------------------------------------------


class EventsHandled(BaseModel):
    received: int
    applied: int
    duplicates: int
    ignored: int
    dead_letters: int


router = APIRouter(prefix="/v1/webhooks/sendgrid", tags=["webhooks"])


@router.post("/events", responses={403: {}, 503: {}})
async def events(request: Request, settings: SettingsDep, client: ClientDep) -> EventsHandled:
    """SendGrid's signed Event Webhook (any tenant's account)."""
    body = await request.body()
    if len(body) > MAX_EVENTS_BYTES:
        raise HTTPException(status_code=413, detail="body: larger than 8 MB")
    tenants = await every_tenant_async(settings)
    verified = verify_events(
        tenants, body, request.headers.get(SIGNATURE), request.headers.get(TIMESTAMP)
    )
    try:
        batch = json.loads(body)
    except ValueError:
        raise HTTPException(status_code=400, detail="(root): not valid JSON") from None
    if not isinstance(batch, list):
        raise HTTPException(status_code=400, detail="(root): expected a JSON array of events")
    named = await asyncio.to_thread(event_tenants, settings, verified, batch)
    counts = {"applied": 0, "duplicates": 0, "ignored": 0, "dead_letters": 0}
    for event in batch:
        counts[await _handle_event(named[event_tenant(event)], client, event)] += 1
    return EventsHandled(received=len(batch), **counts)


async def _handle_event(settings: Settings, client: Client, event: object) -> str:
    """One event, in its tenant's store and journey (`settings` are that tenant's)."""
    if not isinstance(event, dict) or not isinstance(event.get("sg_event_id"), str):
        await record_async(settings, "sendgrid-events", event, "event without sg_event_id")
        return "dead_letters"
    event_id: str = event["sg_event_id"]
    if await seen(settings, PROVIDER, event_id):
        return "duplicates"
    if (granted := CONSENT_EVENTS.get(str(event.get("event")))) is not None:
        return await _consent_event(settings, client, event, event_id, granted)
    kind = failure_kind(event)
    if kind is None:
        await remember(settings, PROVIDER, event_id, f"ignored: {event.get('event')}")
        return "ignored"
    invoice_id, step_key = event.get("invoice_id"), event.get("step_key")
    if not (isinstance(invoice_id, str) and isinstance(step_key, str)):
        attempt = await asyncio.to_thread(
            attempt_by_provider_id,
            settings.store_url,
            message_id_candidates(str(event.get("sg_message_id") or "")),
            PROVIDER,
        )
        invoice_id = attempt.invoice_id if attempt else None
        step_key = attempt.step_key if attempt else None
    if not invoice_id or not step_key:
        await record_async(
            settings, "sendgrid-events", event, "no invoice_id/step_key and no ledger match"
        )
        await remember(settings, PROVIDER, event_id, "dead letter: no journey")
        return "dead_letters"
    failure = DeliveryFailure(
        event_id=f"sendgrid:{event_id}",
        step_key=step_key,
        channel="email",
        reason=failure_reason(event)[:500],
        permanent=kind == "permanent",
    )
    result = await signal_journey(
        client, invoice_id, InvoiceJourney.delivery_failed, failure, settings.tenant
    )
    log.info(
        "email delivery failure reported",
        invoice_id=invoice_id,
        step_key=step_key,
        tenant=settings.tenant,
        sendgrid_event=event.get("event"),
        permanent=failure.permanent,
        result=result,
    )
    await remember(settings, PROVIDER, event_id, f"{result}: {failure.reason}")
    return "applied" if result == "applied" else "ignored"


async def _consent_event(
    settings: Settings, client: Client, event: dict[str, Any], event_id: str, granted: bool
) -> str:
    """Unsubscribe, spam report or resubscribe: the customers with that address, and the one
    whose invoice the email was about (its custom args), change their email consent."""
    url = settings.store_url
    customers = await asyncio.to_thread(customers_by_email, url, str(event.get("email") or ""))
    ids = {c.id for c in customers}
    invoice_id = event.get("invoice_id")
    if isinstance(invoice_id, str) and (
        owner := await asyncio.to_thread(target_for_invoice, url, invoice_id)
    ):
        ids.add(owner.customer_id)
    kind = str(event.get("event"))
    if not ids:
        await record_async(settings, "sendgrid-events", event, f"{kind}: no customer found")
        await remember(settings, PROVIDER, event_id, "dead letter: no customer")
        return "dead_letters"
    change = ConsentChange(
        event_id=f"sendgrid:{event_id}", channel="email", granted=granted, source=f"SendGrid {kind}"
    )
    targets = await change_consent(settings, client, sorted(ids), change)
    log.info("email consent changed", sendgrid_event=kind, granted=granted, journeys=len(targets))
    await remember(
        settings, PROVIDER, event_id, f"email consent {'given' if granted else 'withdrawn'}"
    )
    return "applied"


# --- inbound parse ---------------------------------------------------------------------------


def _addresses(form: Form) -> list[str]:
    """Every recipient: the `to`/`cc` headers and the SMTP envelope."""
    values = form.getall("to") + form.getall("cc")
    envelope = form.get("envelope")
    if envelope:
        try:
            parsed = json.loads(envelope)
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict) and isinstance(parsed.get("to"), list):
            values += [str(v) for v in parsed["to"]]
    return [addr for _, addr in getaddresses(values) if addr]


def reply_ids(addresses: list[str]) -> list[str]:
    """The opaque ids of the `reply+<id>@...` recipients."""
    ids = []
    for address in addresses:
        if m := _REPLY_ADDRESS.match(address):
            ids.append(m.group("id"))
    return ids


def invoices_of_replies(settings: Settings, rids: list[str]) -> list[str]:
    """The invoices the reply ids name; none when no page secret can be had (the reply is
    then matched by subject and sender, as before reply addresses existed)."""
    try:
        found = [customer_links.invoice_of_reply(settings, rid) for rid in rids]
    except (OSError, ValueError) as err:
        log.warning("reply addresses not checked", error=str(err))
        return []
    return [invoice_id for invoice_id in found if invoice_id is not None]


def subject_tokens(subject: str) -> list[str]:
    """Words of the subject that could be an invoice number (`Re: Påminnelse: faktura 1001`)."""
    return sorted({t for t in _TOKEN.findall(subject) if any(c.isdigit() for c in t)})


def _message_key(form: Form) -> str:
    """Inbound Parse has no event id: the email's Message-ID, else a digest of its content."""
    headers = form.get("headers") or ""
    for line in headers.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "message-id" and value.strip():
            return value.strip()
    digest = hashlib.sha256()
    for field in ("from", "to", "subject", "text"):
        digest.update((form.get(field) or "").encode("utf-8", "replace") + b"\0")
    return "sha256:" + digest.hexdigest()


def _text(form: Form) -> str:
    text = form.get("text")
    if text:
        return text
    html = form.get("html") or ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def _match(settings: Settings, form: Form, sender: str) -> tuple[list[Target], str]:
    url = settings.store_url
    rids = reply_ids(_addresses(form))
    ids = await asyncio.to_thread(invoices_of_replies, settings, rids) if rids else []
    if ids and (found := await asyncio.to_thread(open_targets_by_id, url, ids)):
        return found, "reply address"
    customers = await asyncio.to_thread(customers_by_email, url, sender)
    tokens = subject_tokens(form.get("subject") or "")
    if tokens and (found := await asyncio.to_thread(open_targets_by_number, url, tokens)):
        own = [t for t in found if t.customer_id in {c.id for c in customers}]
        return (own or found), "invoice number in the subject"
    if customers:
        found = await asyncio.to_thread(open_targets_for_customers, url, [c.id for c in customers])
        if found:
            return found, "sender's address"
    return [], ""


class InboundHandled(BaseModel):
    status: Literal["applied", "duplicate", "dead_letter"]
    invoices: list[str] = []


@router.post("/inbound", responses={403: {}, 503: {}})
async def inbound(
    request: Request,
    settings: SettingsDep,
    client: ClientDep,
    token: Annotated[str | None, Query(description="SENDGRID_INBOUND_TOKEN")] = None,
) -> InboundHandled:
    """An email a customer sent (a reply to a reminder), via SendGrid Inbound Parse; in the
    tenant its reply address names (else the tenant whose token the URL carries)."""
    tenants = await every_tenant_async(settings)
    holders = token_holders(tenants, token)
    form = await read_form(request)
    settings = inbound_tenant(holders, reply_ids(_addresses(form)))
    key = _message_key(form)
    if await seen(settings, INBOUND, key):
        return InboundHandled(status="duplicate")
    sender = parseaddr(form.get("from") or "")[1]
    subject = (form.get("subject") or "").strip()
    text = _text(form)
    targets, how = await _match(settings, form, sender)
    if not targets:
        payload = {k: v[:20_000] for k, v in form.first_values().items()}
        await record_async(
            settings,
            INBOUND,
            payload,
            f"email from {sender or 'unknown sender'} matches no open "
            "invoice (reply address, subject, sender)",
        )
        await remember(settings, INBOUND, key, "dead letter")
        return InboundHandled(status="dead_letter")
    body = " ".join(text.split())[:SUMMARY_TEXT_CHARS]
    summary = f"{subject or '(no subject)'}: {body or '(empty)'}"
    task = AgentTask(event_id=f"email:{key}"[:200], source="email reply", summary=summary[:2000])
    for t in targets:
        await signal_journey(client, t.invoice_id, InvoiceJourney.agent_task, task, settings.tenant)
    log.info(
        "email reply to agent task", matched_by=how, journeys=len(targets), tenant=settings.tenant
    )
    invoices = [t.invoice_id for t in targets]
    await remember(settings, INBOUND, key, f"applied to {', '.join(invoices)} by {how}")
    return InboundHandled(status="applied", invoices=invoices)
