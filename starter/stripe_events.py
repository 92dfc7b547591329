"""Stripe events as what the product should do with them: pure functions, one a Stripe kind.

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
  `customer_address.country`) or the customer object, merged as `stripe_customers` says;
  `ocr` comes from the invoice's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from domain.models import Customer
from starter.stripe_customers import build_customer

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
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


# --- reading Stripe's fields -----------------------------------------------------------------


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


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _object(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else None


def event_customer_id(event: Mapping[str, Any]) -> str:
    """The Stripe customer an event is about, or "" when it names none."""
    obj = _object(event)
    if obj is None:
        return ""
    if str(event.get("type", "")).startswith("customer."):
        return str(obj.get("id") or "")
    try:
        return _customer_id(obj)
    except StripeMappingError:
        return ""


# --- one function a Stripe event kind --------------------------------------------------------


@dataclass(frozen=True)
class StripeEvent:
    """What every mapping needs: the event's own fields, and the customer we already store
    for its Stripe customer (None when none)."""

    id: str
    kind: str
    occurred_at: str
    obj: Mapping[str, Any]
    known: Customer | None

    def product(self, kind: str, data: dict[str, Any]) -> ProductEvent:
        """The product event, with the Stripe event's id (so Stripe's retries are replays)."""
        return ProductEvent(
            {"id": self.id, "type": kind, "occurred_at": self.occurred_at, "data": data}
        )


def map_event(event: Mapping[str, Any], known: Customer | None = None) -> Mapped:
    """A Stripe event (decoded JSON) as what the product should do with it.

    `known` is the customer we already store for the event's Stripe customer, if any.
    Raises `StripeMappingError` naming the field when a needed field is missing or wrong."""
    event_id = _required(event, "id", "(root)")
    kind = _required(event, "type", "(root)")
    obj = _object(event)
    if obj is None:
        raise StripeMappingError("data.object: missing")
    occurred_at = unix_instant(event.get("created"), "created")
    stripe_event = StripeEvent(event_id, kind, occurred_at, obj, known)
    if kind.startswith("invoice."):
        return _invoice_event(stripe_event)
    if (mapper := CUSTOMER_EVENTS.get(kind)) is not None:
        return mapper(stripe_event)
    return Ignored(f"{kind} is not used by journeys")


def _invoice_event(event: StripeEvent) -> Mapped:
    """What every invoice event is checked for first, then its own mapping."""
    invoice_id = _required(event.obj, "id", "data.object")
    if event.obj.get("collection_method") == "charge_automatically":
        return Ignored("charged automatically: Stripe's own dunning, no journey")
    mapper = INVOICE_EVENTS.get(event.kind)
    if mapper is None:
        return Ignored(f"{event.kind} is not used by journeys")
    return mapper(event, invoice_id)


def _invoice_finalized(event: StripeEvent, invoice_id: str) -> Mapped:
    invoice = event.obj
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
        known=event.known,
    )
    number = _required(invoice, "number", "data.object")
    issued_at = unix_date(invoice.get("created"), "data.object.created")
    due_date = unix_date(invoice.get("due_date"), "data.object.due_date")
    product_invoice = {
        "id": invoice_id,
        "number": number,
        "customer_id": customer_id,
        "currency": currency,
        "amount_due": amount_due,
        "issued_at": issued_at.isoformat(),
        "due_date": due_date.isoformat(),
        "ocr": _str(_metadata(invoice), "ocr"),
        "payment_url": _str(invoice, "hosted_invoice_url"),
    }
    return event.product("invoice.issued", {"invoice": product_invoice, "customer": customer})


def _invoice_paid(event: StripeEvent, invoice_id: str) -> Mapped:
    invoice = event.obj
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
        else event.occurred_at[:10]
    )
    amount = minor_to_major(paid, currency, field)
    return event.product(
        "invoice.payment_received",
        {"invoice_id": invoice_id, "amount": amount, "paid_at": paid_at},
    )


def _invoice_voided(event: StripeEvent, invoice_id: str) -> Mapped:
    return event.product("invoice.voided", {"invoice_id": invoice_id})


def _invoice_uncollectible(event: StripeEvent, invoice_id: str) -> Mapped:
    number = _str(event.obj, "number") or invoice_id
    return TaskForJourney(
        invoice_id,
        f"Stripe marked invoice {number} uncollectible (written off in billing): cancel the "
        "journey, or let it go on to handover",
    )


def _customer_changed(event: StripeEvent) -> Mapped:
    obj = event.obj
    since = obj.get("created")
    customer = build_customer(
        customer_id=_required(obj, "id", "data.object"),
        name=_str(obj, "name"),
        email=_str(obj, "email"),
        phone=_str(obj, "phone"),
        country=_country(obj, "address"),
        metadata=_metadata(obj),
        preferred_locales=obj.get("preferred_locales"),
        customer_since=unix_date(since, "data.object.created") if since else None,
        known=event.known,
    )
    return event.product("customer.updated", {"customer": customer})


INVOICE_EVENTS: dict[str, Callable[[StripeEvent, str], Mapped]] = {
    "invoice.finalized": _invoice_finalized,
    "invoice.paid": _invoice_paid,
    "invoice.voided": _invoice_voided,
    "invoice.marked_uncollectible": _invoice_uncollectible,
}
"""Invoice events journeys use, each given the invoice's id; any other is ignored."""

CUSTOMER_EVENTS: dict[str, Callable[[StripeEvent], Mapped]] = {
    "customer.created": _customer_changed,
    "customer.updated": _customer_changed,
}
"""Customer events journeys use; any other kind of event is ignored."""
