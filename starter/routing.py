"""Shared plumbing of the inbound surface (webhooks, API keys, dead letters).

- FastAPI dependencies for the settings, the Temporal client and the billing-event ingest.
  They read `request.app.state`, exactly as `starter/api.py` fills it (`create_app` sets
  `settings`; its lifespan sets `client` and `ingest`), so these routers work on that app and
  on any app that fills the same three attributes (tests).
- Form bodies (Twilio's urlencoded posts, SendGrid Inbound Parse's multipart posts) parsed with
  the standard library, keeping repeated keys, which Twilio's signature covers.
- Look-ups from what a provider tells us to the journeys it concerns: a phone number or an
  email address to the customer's open invoices, a Twilio SID or SendGrid message id to the
  contact attempt (the ledger's `provider_id`).
- The webhook de-duplication record (`WebhookEventRow`) and signalling a journey that may have
  ended in the meantime.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.parser import BytesParser
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from domain.models import Customer, workflow_id_for
from domain.tenants import DEFAULT_TENANT
from domain.values import Locale
from infra.settings import Settings
from infra.store import (
    ContactAttemptRow,
    CustomerRow,
    InvoiceRow,
    WebhookEventRow,
    session_scope,
)
from starter.ingest import Ingest
from workflows.journey import InvoiceJourney

# --- dependencies ----------------------------------------------------------------------------


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def app_ingest(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


SettingsDep = Annotated[Settings, Depends(app_settings)]
ClientDep = Annotated[Client, Depends(app_client)]
IngestDep = Annotated[Ingest, Depends(app_ingest)]


# --- form bodies -----------------------------------------------------------------------------

MAX_FORM_BYTES = 32 * 1024 * 1024
"""SendGrid Inbound Parse posts up to 30 MB (attachments included); anything larger is refused."""


class Form:
    """An ordered multi-dict of form fields. `getall` lets Twilio's `RequestValidator` sign
    repeated keys the way Twilio does."""

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self.items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.items if k == name), default)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for key, _ in self.items:
            seen.setdefault(key, None)
        return iter(seen)

    def __contains__(self, name: object) -> bool:
        return any(k == name for k, _ in self.items)

    def first_values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in self.items:
            out.setdefault(key, value)
        return out


class FormError(ValueError):
    pass


def parse_form(body: bytes, content_type: str) -> Form:
    """A urlencoded or multipart/form-data body; file parts (attachments) are skipped."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FormError("the form body is not UTF-8") from None
        return Form(parse_qsl(text, keep_blank_values=True))
    if kind == "multipart/form-data":
        return _parse_multipart(body, content_type)
    raise FormError(f"expected a form body, not {kind or 'no content type'}")


def _parse_multipart(body: bytes, content_type: str) -> Form:
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormError("multipart/form-data body without parts")
    raw: list[tuple[str, bytes, str | None]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        raw.append((name, data, part.get_content_charset()))
    # Inbound Parse says which charset each field is in, in a `charsets` JSON field.
    charsets: dict[str, str] = {}
    for name, data, _ in raw:
        if name == "charsets":
            try:
                decoded = json.loads(data.decode("utf-8", "replace"))
            except ValueError:
                decoded = {}
            if isinstance(decoded, dict):
                charsets = {str(k): str(v) for k, v in decoded.items()}
    items: list[tuple[str, str]] = []
    for name, data, charset in raw:
        encoding = charset or charsets.get(name) or "utf-8"
        try:
            items.append((name, data.decode(encoding, "replace")))
        except LookupError:  # an unknown charset name
            items.append((name, data.decode("utf-8", "replace")))
    return Form(items)


async def read_form(request: Request) -> Form:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise HTTPException(status_code=413, detail="body: larger than 32 MB")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(status_code=413, detail="body: larger than 32 MB")
    try:
        return parse_form(body, request.headers.get("content-type", ""))
    except FormError as err:
        raise HTTPException(status_code=415, detail=f"body: {err}") from None


def public_url(request: Request, settings: Settings) -> str:
    """The URL the provider called, as it signed it: behind a proxy the request's own URL is
    not what the provider saw, so PUBLIC_BASE_URL replaces scheme, host and any path prefix."""
    if not settings.public_base_url:
        return str(request.url)
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url


# --- look-ups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerInfo:
    id: str
    name: str
    locale: Locale
    timezone: str


@dataclass(frozen=True)
class Target:
    """An open invoice whose journey a webhook may talk to."""

    invoice_id: str
    invoice_number: str
    customer_id: str
    locale: Locale
    timezone: str


def _locale(value: str | None) -> Locale:
    return "en" if value == "en" else "sv"


def _info(row: CustomerRow) -> CustomerInfo:
    return CustomerInfo(row.id, row.name, _locale(row.locale), row.timezone)


def customers_by_phone(url: str, phone: str | None) -> list[CustomerInfo]:
    if not phone:
        return []
    with session_scope(url) as s:
        rows = s.exec(select(CustomerRow).where(CustomerRow.phone == phone.strip())).all()
        return [_info(r) for r in rows]


def customers_by_email(url: str, address: str | None) -> list[CustomerInfo]:
    if not address:
        return []
    with session_scope(url) as s:
        rows = s.exec(
            select(CustomerRow).where(func.lower(col(CustomerRow.email)) == address.strip().lower())
        ).all()
        return [_info(r) for r in rows]


def customer_by_id(url: str, customer_id: str) -> CustomerRow | None:
    with session_scope(url) as s:
        return s.get(CustomerRow, customer_id)


def _targets(url: str, condition: Any) -> list[Target]:
    with session_scope(url) as s:
        rows = s.exec(
            select(InvoiceRow, CustomerRow)
            .join(CustomerRow, col(CustomerRow.id) == col(InvoiceRow.customer_id))
            .where(InvoiceRow.status == "open", condition)
            .order_by(col(InvoiceRow.due_date), col(InvoiceRow.id))
        ).all()
        return [
            Target(inv.id, inv.number, inv.customer_id, _locale(cus.locale), cus.timezone)
            for inv, cus in rows
        ]


def open_targets_for_customers(url: str, customer_ids: Sequence[str]) -> list[Target]:
    if not customer_ids:
        return []
    return _targets(url, col(InvoiceRow.customer_id).in_(list(customer_ids)))


def open_targets_by_id(url: str, invoice_ids: Sequence[str]) -> list[Target]:
    if not invoice_ids:
        return []
    return _targets(url, col(InvoiceRow.id).in_(list(invoice_ids)))


def open_targets_by_number(url: str, numbers: Sequence[str]) -> list[Target]:
    if not numbers:
        return []
    return _targets(url, col(InvoiceRow.number).in_(list(numbers)))


def target_for_invoice(url: str, invoice_id: str) -> Target | None:
    """The invoice whatever its status: a provider event may concern a journey that ended."""
    with session_scope(url) as s:
        inv = s.get(InvoiceRow, invoice_id)
        if inv is None:
            return None
        cus = s.get(CustomerRow, inv.customer_id)
        return Target(
            inv.id,
            inv.number,
            inv.customer_id,
            _locale(cus.locale if cus else None),
            cus.timezone if cus else "Europe/Stockholm",
        )


def attempt_by_provider_id(
    url: str, provider_ids: Sequence[str], provider: str | None = None
) -> ContactAttemptRow | None:
    """The ledger row that recorded one of these provider ids (a Twilio SID, a SendGrid
    X-Message-Id), newest first."""
    ids = [p for p in provider_ids if p]
    if not ids:
        return None
    with session_scope(url) as s:
        statement = select(ContactAttemptRow).where(col(ContactAttemptRow.provider_id).in_(ids))
        if provider is not None:
            statement = statement.where(ContactAttemptRow.provider == provider)
        statement = statement.order_by(col(ContactAttemptRow.id).desc())
        return s.exec(statement).first()


def customer_from_row(row: CustomerRow | None) -> Customer | None:
    """The stored customer as the product model, or None if it is not (or no longer) valid."""
    if row is None:
        return None
    try:
        return Customer.model_validate(
            {
                "id": row.id,
                "name": row.name,
                "email": row.email,
                "phone": row.phone,
                "locale": row.locale,
                "timezone": row.timezone or None,  # "" is stored for an unknown zone
                "customer_since": row.customer_since,
                "consent": {
                    "email": row.consent_email,
                    "sms": row.consent_sms,
                    "call": row.consent_call,
                },
                "fee_agreed": row.fee_agreed,
                "is_business": row.is_business,
                "vulnerable": row.vulnerable,
            }
        )
    except ValidationError:
        return None


def local_today(timezone: str) -> date:
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/Stockholm")
    return datetime.now(zone).date()


# --- de-duplication --------------------------------------------------------------------------


def seen_webhook(url: str, provider: str, event_id: str) -> WebhookEventRow | None:
    with session_scope(url) as s:
        return s.exec(
            select(WebhookEventRow).where(
                WebhookEventRow.provider == provider, WebhookEventRow.event_id == event_id
            )
        ).first()


def remember_webhook(url: str, provider: str, event_id: str, outcome: str) -> None:
    """Recorded after the event was applied; a concurrent duplicate that recorded first wins
    (the journey de-duplicated the signal by its event id either way)."""
    try:
        with session_scope(url) as s:
            s.add(WebhookEventRow(provider=provider, event_id=event_id, outcome=outcome))
    except IntegrityError:
        pass


async def seen(settings: Settings, provider: str, event_id: str) -> WebhookEventRow | None:
    return await asyncio.to_thread(seen_webhook, settings.store_url, provider, event_id)


async def remember(settings: Settings, provider: str, event_id: str, outcome: str) -> None:
    await asyncio.to_thread(remember_webhook, settings.store_url, provider, event_id, outcome)


# --- talking to journeys ---------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)
SignalOutcome = Literal["applied", "no_journey"]


async def signal_journey(
    client: Client,
    invoice_id: str,
    signal: Callable[[InvoiceJourney, M], None],
    arg: M,
    tenant: str = DEFAULT_TENANT,
) -> SignalOutcome:
    """Signal the invoice's journey (the tenant's: invoice ids repeat across tenants);
    "no_journey" when it has ended or never started (Temporal answers NOT_FOUND for both).
    Other Temporal errors propagate (the caller answers 503)."""
    handle: WorkflowHandle[InvoiceJourney, Any] = client.get_workflow_handle_for(
        InvoiceJourney.run, workflow_id_for(invoice_id, tenant)
    )
    try:
        await handle.signal(signal, arg)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return "no_journey"
        raise
    return "applied"
