"""Stripe webhook: Stripe Billing as the billing system.

`POST /v1/webhooks/stripe` checks the `Stripe-Signature` header with the official library
(`stripe.Webhook.construct_event`, STRIPE_WEBHOOK_SECRET, Stripe's default 5-minute tolerance);
anything else is 403. Events are turned into the product's billing events by pure functions
(`map_event`) and applied through the same ingest as `POST /v1/events`, with the Stripe event
id as the product event id, so Stripe's retries and replays are idempotent:

| Stripe event | product event |
|---|---|
| `invoice.finalized` | `invoice.issued` (starts the journey) |
| `invoice.paid` | `invoice.payment_received` (`amount_paid`) |
| `invoice.voided` | `invoice.voided` |
| `invoice.marked_uncollectible` | an agent task on the journey (see below) |
| `customer.created`, `customer.updated` | `customer.updated` |

Decisions:

- `invoice.marked_uncollectible` is an agent task, not a cancel. In Stripe it is an
  accounting write-off: the company may still want the claim handed over to collection, or may
  have given up on it. A person decides (`cancel`, or let the journey go on to handover).
- Invoices Stripe charges automatically (`collection_method = charge_automatically`) have no
  due date and are Stripe's own dunning (Smart Retries): they start no journey, and their
  paid/voided events are ignored too, so nothing waits forever for an invoice that never comes.
  A finalized invoice with nothing due (`amount_due = 0`) is ignored as well.
- Amounts are in the currency's minor unit; zero-decimal currencies (JPY, KRW, ...) are not
  divided, three-decimal ones (KWD, ...) are divided by 1000.
- Dates are UTC dates of Stripe's Unix timestamps (`created` is the issue date).
- Customer details come from the invoice (`customer_name`, `customer_email`, `customer_phone`,
  `customer_address.country`); what Stripe does not know (consent per channel, time zone,
  language, fee agreement, customer since) comes from the customer we already store, else from
  the Stripe customer's metadata (`locale`, `timezone`, `consent_email`, `consent_sms`,
  `consent_call`, `fee_agreed`, `is_business`, `ocr` on the invoice), else the defaults (email
  consent only). A phone number that is not valid is left out rather than refusing the
  invoice.

An event that maps to nothing valid, or that ingest refuses, is kept as a dead letter
(source `stripe`) and answered 200, since Stripe retrying it cannot help; Temporal being
unreachable is a 503, which Stripe retries.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import stripe
from babel.core import get_global
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from temporalio.client import Client

from domain.models import AgentTask, Customer, workflow_id_for
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
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.stripe")

PROVIDER: Final = "stripe"
SIGNATURE_HEADER = "Stripe-Signature"

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])


class StripeMappingError(ValueError):
    """The Stripe object lacks something the product needs; the message names it."""


@dataclass(frozen=True)
class ProductEvent:
    """A product billing event (SPEC "Billing events") to apply through ingest."""

    event: dict[str, Any]


@dataclass(frozen=True)
class TaskForJourney:
    invoice_id: str
    summary: str


@dataclass(frozen=True)
class Ignored:
    reason: str


Mapped = ProductEvent | TaskForJourney | Ignored


# --- pure mapping ----------------------------------------------------------------------------


def minor_to_major(amount: object, currency: str, field: str) -> str:
    """Stripe's integer minor units as the product's decimal string in the major unit."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise StripeMappingError(f"{field}: expected an integer amount in minor units")
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        value = Decimal(amount)
    elif code in THREE_DECIMAL_CURRENCIES:
        value = Decimal(amount) / 1000
    else:
        value = Decimal(amount) / 100
    quantized = value.quantize(Decimal("0.01"))
    if quantized != value:
        raise StripeMappingError(f"{field}: {amount} {code} has more than two decimals")
    return format(quantized, "f")


def unix_date(value: object, field: str) -> date:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StripeMappingError(f"{field}: expected a Unix timestamp")
    return datetime.fromtimestamp(value, UTC).date()


def unix_instant(value: object, field: str) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StripeMappingError(f"{field}: expected a Unix timestamp")
    return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _required(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(obj, key)
    if value is None:
        raise StripeMappingError(f"{where}.{key}: missing")
    return value


def _customer_id(invoice: Mapping[str, Any]) -> str:
    customer = invoice.get("customer")
    if isinstance(customer, dict):  # expanded
        customer = customer.get("id")
    if not isinstance(customer, str) or not customer:
        raise StripeMappingError("data.object.customer: missing")
    return customer


def _country(obj: Mapping[str, Any], key: str) -> str | None:
    address = obj.get(key)
    if isinstance(address, dict):
        country = address.get("country")
        if isinstance(country, str) and len(country) == 2:
            return country.upper()
    return None


def normalise_phone(raw: str | None, country: str | None) -> str | None:
    """E.164, or None when Stripe's free-text phone is not a valid number."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _valid_timezone(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def country_timezone(country: str | None) -> str | None:
    """The country's time zone if it has exactly one (Sweden yes, the United States no)."""
    if not country:
        return None
    zones = get_global("territory_zones").get(country, ())
    return _valid_timezone(zones[0]) if len(zones) == 1 else None


def _locale(
    metadata: Mapping[str, Any], preferred: object, country: str | None
) -> Literal["sv", "en"] | None:
    candidates: list[object] = [metadata.get("locale")]
    if isinstance(preferred, list):
        candidates += preferred
    for candidate in candidates:
        if isinstance(candidate, str) and candidate[:2].lower() in ("sv", "en"):
            return "sv" if candidate[:2].lower() == "sv" else "en"
    if country is not None:
        return "sv" if country == "SE" else "en"
    return None


def _flag(metadata: Mapping[str, Any], key: str) -> bool | None:
    value = metadata.get(key)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0"):
        return False
    return None


def build_customer(
    *,
    customer_id: str,
    name: str | None,
    email: str | None,
    phone: str | None,
    country: str | None,
    metadata: Mapping[str, Any],
    preferred_locales: object = None,
    customer_since: date | None = None,
    known: Customer | None = None,
) -> dict[str, Any]:
    """The product customer: Stripe's contact details over what we know over the defaults."""
    base: dict[str, Any] = known.model_dump(mode="json") if known else {"id": customer_id}
    base["id"] = customer_id
    if email and not _EMAIL.match(email):
        email = None  # Stripe accepts free text; the product needs an address
    base["name"] = name or (known.name if known else None) or email or customer_id
    if email:
        base["email"] = email
    e164 = normalise_phone(phone, country)
    if e164:
        base["phone"] = e164
    if locale := _locale(metadata, preferred_locales, None if known else country):
        base["locale"] = locale
    if tz := _valid_timezone(metadata.get("timezone")) or (
        None if known else country_timezone(country)
    ):
        base["timezone"] = tz
    consent = dict(base.get("consent") or {})
    for channel in ("email", "sms", "call"):
        if (flag := _flag(metadata, f"consent_{channel}")) is not None:
            consent[channel] = flag
    if consent:
        base["consent"] = consent
    for key in ("fee_agreed", "is_business"):
        if (flag := _flag(metadata, key)) is not None:
            base[key] = flag
    if customer_since and not base.get("customer_since"):
        base["customer_since"] = customer_since.isoformat()
    return base


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _charged_automatically(invoice: Mapping[str, Any]) -> bool:
    return invoice.get("collection_method") == "charge_automatically"


def map_event(event: Mapping[str, Any], known: Customer | None = None) -> Mapped:
    """A Stripe event (decoded JSON) as what the product should do with it.

    `known` is the customer we already store for the event's Stripe customer, if any.
    Raises `StripeMappingError` naming the field when a needed field is missing or wrong."""
    event_id = _required(event, "id", "(root)")
    kind = _required(event, "type", "(root)")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise StripeMappingError("data.object: missing")
    occurred_at = unix_instant(event.get("created"), "created")
    if kind.startswith("invoice."):
        return _map_invoice_event(event_id, kind, occurred_at, obj, known)
    if kind in ("customer.created", "customer.updated"):
        customer_id = _required(obj, "id", "data.object")
        country = _country(obj, "address")
        since = obj.get("created")
        customer = build_customer(
            customer_id=customer_id,
            name=_str(obj, "name"),
            email=_str(obj, "email"),
            phone=_str(obj, "phone"),
            country=country,
            metadata=_metadata(obj),
            preferred_locales=obj.get("preferred_locales"),
            customer_since=unix_date(since, "data.object.created") if since else None,
            known=known,
        )
        return ProductEvent(
            {
                "id": event_id,
                "type": "customer.updated",
                "occurred_at": occurred_at,
                "data": {"customer": customer},
            }
        )
    return Ignored(f"{kind} is not used by journeys")


def _map_invoice_event(
    event_id: str,
    kind: str,
    occurred_at: str,
    invoice: Mapping[str, Any],
    known: Customer | None,
) -> Mapped:
    invoice_id = _required(invoice, "id", "data.object")
    if _charged_automatically(invoice):
        return Ignored("charged automatically: Stripe's own dunning, no journey")
    if kind == "invoice.finalized":
        currency = _required(invoice, "currency", "data.object").upper()
        amount_due = minor_to_major(invoice.get("amount_due"), currency, "data.object.amount_due")
        if Decimal(amount_due) <= 0:
            return Ignored("nothing is due on this invoice")
        if invoice.get("due_date") is None:
            raise StripeMappingError("data.object.due_date: missing (send_invoice needs one)")
        customer_id = _customer_id(invoice)
        customer = build_customer(
            customer_id=customer_id,
            name=_str(invoice, "customer_name"),
            email=_str(invoice, "customer_email"),
            phone=_str(invoice, "customer_phone"),
            country=_country(invoice, "customer_address"),
            metadata={},
            known=known,
        )
        return ProductEvent(
            {
                "id": event_id,
                "type": "invoice.issued",
                "occurred_at": occurred_at,
                "data": {
                    "invoice": {
                        "id": invoice_id,
                        "number": _required(invoice, "number", "data.object"),
                        "customer_id": customer_id,
                        "currency": currency,
                        "amount_due": amount_due,
                        "issued_at": unix_date(
                            invoice.get("created"), "data.object.created"
                        ).isoformat(),
                        "due_date": unix_date(
                            invoice.get("due_date"), "data.object.due_date"
                        ).isoformat(),
                        "ocr": _str(_metadata(invoice), "ocr"),
                        "payment_url": _str(invoice, "hosted_invoice_url"),
                    },
                    "customer": customer,
                },
            }
        )
    if kind == "invoice.paid":
        currency = _required(invoice, "currency", "data.object")
        paid = invoice.get("amount_paid")
        field = "data.object.amount_paid"
        if not isinstance(paid, int) or paid <= 0:
            # Marked paid out of band: Stripe reports nothing received; it is settled in full.
            paid, field = invoice.get("amount_due"), "data.object.amount_due"
        transitions = invoice.get("status_transitions")
        paid_at_unix = transitions.get("paid_at") if isinstance(transitions, dict) else None
        paid_at = (
            unix_date(paid_at_unix, "data.object.status_transitions.paid_at").isoformat()
            if paid_at_unix
            else occurred_at[:10]
        )
        return ProductEvent(
            {
                "id": event_id,
                "type": "invoice.payment_received",
                "occurred_at": occurred_at,
                "data": {
                    "invoice_id": invoice_id,
                    "amount": minor_to_major(paid, currency, field),
                    "paid_at": paid_at,
                },
            }
        )
    if kind == "invoice.voided":
        return ProductEvent(
            {
                "id": event_id,
                "type": "invoice.voided",
                "occurred_at": occurred_at,
                "data": {"invoice_id": invoice_id},
            }
        )
    if kind == "invoice.marked_uncollectible":
        number = _str(invoice, "number") or invoice_id
        return TaskForJourney(
            invoice_id,
            f"Stripe marked invoice {number} uncollectible (written off in billing): cancel the "
            "journey, or let it go on to handover",
        )
    return Ignored(f"{kind} is not used by journeys")


# --- the route -------------------------------------------------------------------------------


class StripeHandled(BaseModel):
    status: Literal["applied", "ignored", "dead_letter", "duplicate"]
    detail: str


router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def verify(settings: Settings, payload: bytes, signature: str | None) -> None:
    secret = settings.stripe_webhook_secret
    if not secret:
        log.error("Stripe webhook refused: STRIPE_WEBHOOK_SECRET is not set")
        raise HTTPException(
            status_code=403,
            detail=f"{SIGNATURE_HEADER}: cannot be checked without STRIPE_WEBHOOK_SECRET",
        )
    if not signature:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: missing")
    try:
        stripe.Webhook.construct_event(payload.decode("utf-8"), signature, secret)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as err:
        log.warning("Stripe webhook with a bad signature refused", error=str(err))
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: does not match") from None
    except ValueError:  # signed, but not JSON
        raise HTTPException(status_code=400, detail="(root): not valid JSON") from None


@router.post("/stripe", responses={403: {}, 503: {}})
async def stripe_webhook(
    request: Request, settings: SettingsDep, client: ClientDep, ingest: IngestDep
) -> StripeHandled:
    """Stripe Billing events, applied as the product's billing events."""
    payload = await request.body()
    verify(settings, payload, request.headers.get(SIGNATURE_HEADER))
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise HTTPException(status_code=400, detail="id: missing")
    event_id: str = event["id"]
    if done := await seen(settings, PROVIDER, event_id):
        return StripeHandled(status="duplicate", detail=done.outcome)
    known = customer_from_row(
        await asyncio.to_thread(customer_by_id, settings.store_url, _event_customer(event))
    )
    try:
        mapped = map_event(event, known)
        handled = await _apply(client, ingest, event_id, mapped)
    except (StripeMappingError, EventRejected, EventConflict, JourneyMissing) as err:
        reason = f"{event.get('type')}: {err}"
        await record_async(settings, PROVIDER, payload, reason)
        handled = StripeHandled(status="dead_letter", detail=reason)
    log.info("stripe event", event_id=event_id, type=event.get("type"), status=handled.status)
    await remember(settings, PROVIDER, event_id, handled.detail)
    return handled


def _event_customer(event: Mapping[str, Any]) -> str:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return ""
    if str(event.get("type", "")).startswith("customer."):
        return str(obj.get("id") or "")
    try:
        return _customer_id(obj)
    except StripeMappingError:
        return ""


async def _apply(client: Client, ingest: Ingest, event_id: str, mapped: Mapped) -> StripeHandled:
    if isinstance(mapped, Ignored):
        return StripeHandled(status="ignored", detail=mapped.reason)
    if isinstance(mapped, TaskForJourney):
        task = AgentTask(event_id=f"stripe:{event_id}", source="stripe", summary=mapped.summary)
        result = await signal_journey(client, mapped.invoice_id, InvoiceJourney.agent_task, task)
        if result == "no_journey":
            detail = f"no running journey {workflow_id_for(mapped.invoice_id)}; nothing to do"
            return StripeHandled(status="ignored", detail=detail)
        return StripeHandled(status="applied", detail=f"agent task: {mapped.summary}")
    [outcome] = await ingest([parse_event(mapped.event)])
    return StripeHandled(status="applied", detail=f"{outcome.status}: {outcome.detail}")
