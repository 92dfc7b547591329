"""Billing events as the billing system sends them, and what accepting one answered.

Parsing happens before anything is touched: `parse_event` turns any input into one of the
event models or raises `EventRejected` with `path.to.field: problem` (SPEC, "Billing events");
the tag check and field paths are the shared `TaggedUnion` parser's, as for agent actions.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from domain.models import Customer, Invoice, valid_phone
from domain.values import PositiveMoney
from starter.tagged_union import TaggedUnion


class EventRejected(ValueError):
    """The event cannot be accepted as sent; the message names the field and the problem."""


class EventConflict(Exception):
    """An event id we already accepted came again with different content."""


# --- the events ------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _no_number(value: object) -> None:
    """pydantic would read a number as Unix seconds: `0` would become 1970-01-01, silently
    (found by tests/fuzz). Billing systems send ISO 8601 text; a number is refused by name."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an ISO 8601 date or date-time text, not a number")


def _date_or_datetime_to_date(value: object) -> object:
    """Billing systems send `paid_at` as a date or a timestamp; the journey needs the date."""
    _no_number(value)
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return value  # let pydantic name the problem
    return value


def _date_to_midnight_utc(value: object) -> object:
    _no_number(value)
    if isinstance(value, str) and _DATE_ONLY.match(value):
        return f"{value}T00:00:00Z"
    return value


PaidAt = Annotated[date, BeforeValidator(_date_or_datetime_to_date)]
Instant = Annotated[AwareDatetime, BeforeValidator(_date_to_midnight_utc)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvoiceIssuedData(_Strict):
    invoice: Invoice
    customer: Customer

    @model_validator(mode="after")
    def _same_customer(self) -> InvoiceIssuedData:
        if self.invoice.customer_id != self.customer.id:
            raise ValueError(
                f"invoice.customer_id '{self.invoice.customer_id}' does not match "
                f"customer.id '{self.customer.id}'"
            )
        return self


class _InvoiceRef(_Strict):
    invoice_id: str = Field(min_length=1)


class PaymentReceivedData(_InvoiceRef):
    amount: PositiveMoney
    paid_at: PaidAt


class PaymentReversedData(_InvoiceRef):
    amount: PositiveMoney
    reversed_at: PaidAt


class InvoiceCreditedData(_InvoiceRef):
    amount: PositiveMoney


class InvoiceVoidedData(_InvoiceRef):
    """A void needs nothing but the invoice it voids."""


class CustomerUpdatedData(_Strict):
    customer: Customer


class CustomerChurnedData(_Strict):
    customer_id: str = Field(min_length=1)
    churned_at: Instant


class _Event(_Strict):
    id: str = Field(min_length=1, max_length=200)
    occurred_at: Instant

    @property
    def invoice_id(self) -> str | None:
        return None

    @property
    def customer_id(self) -> str | None:
        return None


class InvoiceIssued(_Event):
    type: Literal["invoice.issued"]
    data: InvoiceIssuedData

    @property
    def invoice_id(self) -> str:
        return self.data.invoice.id

    @property
    def customer_id(self) -> str:
        return self.data.customer.id


class _InvoiceEvent(_Event):
    """An event about one existing invoice: its data names the invoice."""

    data: _InvoiceRef

    @property
    def invoice_id(self) -> str:
        return self.data.invoice_id


class InvoicePaymentReceived(_InvoiceEvent):
    type: Literal["invoice.payment_received"]
    data: PaymentReceivedData


class InvoicePaymentReversed(_InvoiceEvent):
    type: Literal["invoice.payment_reversed"]
    data: PaymentReversedData


class InvoiceCreditedEvent(_InvoiceEvent):
    type: Literal["invoice.credited"]
    data: InvoiceCreditedData


class InvoiceVoidedEvent(_InvoiceEvent):
    type: Literal["invoice.voided"]
    data: InvoiceVoidedData


class CustomerUpdated(_Event):
    type: Literal["customer.updated"]
    data: CustomerUpdatedData

    @property
    def customer_id(self) -> str:
        return self.data.customer.id


class CustomerChurned(_Event):
    type: Literal["customer.churned"]
    data: CustomerChurnedData

    @property
    def customer_id(self) -> str:
        return self.data.customer_id


InvoiceChange = (
    InvoicePaymentReceived | InvoicePaymentReversed | InvoiceCreditedEvent | InvoiceVoidedEvent
)
AnyEvent = (
    InvoiceIssued
    | InvoicePaymentReceived
    | InvoicePaymentReversed
    | InvoiceCreditedEvent
    | InvoiceVoidedEvent
    | CustomerUpdated
    | CustomerChurned
)
BillingEvent = Annotated[AnyEvent, Field(discriminator="type")]
EVENTS = TaggedUnion(
    BillingEvent, _Event, noun="an event", unknown="unknown event type", rejected=EventRejected
)


def parse_event(raw: object, prefix: str = "") -> AnyEvent:
    """One event from decoded JSON, or `EventRejected` naming each bad field.

    A batch element that is no object says what it is instead (`[2]: ..., not a number`), so
    a sender sees which element it serialised wrongly. Field paths come out as
    `data.invoice.amount_due`.
    """
    if not isinstance(raw, dict):
        raise EventRejected(
            f"{prefix or '(root)'}: an event must be a JSON object, not {_json_kind(raw)}"
        )
    event = EVENTS.parse(raw, prefix)
    assert isinstance(event, AnyEvent)
    _check_phone(event, prefix)
    return event


def _check_phone(event: AnyEvent, prefix: str) -> None:
    """The full phone check the model leaves to ingest (journeys decode the model, and must
    not load phonenumbers' metadata then): the number must exist in its plan."""
    if not isinstance(event, InvoiceIssued | CustomerUpdated):
        return
    phone = event.data.customer.phone
    if phone is None:
        return
    try:
        valid_phone(phone)
    except ValueError as err:
        path = f"{prefix}.data.customer.phone" if prefix else "data.customer.phone"
        raise EventRejected(f"{path}: {err}") from None


def parse_events(payload: object) -> list[AnyEvent]:
    """One event or a JSON array of them; any bad element refuses the whole batch.

    Every problem of every element is reported at once (prefixed `[index]`), so a sender can
    fix a batch in one round trip. The same id twice in one batch is fine when both copies are
    identical (it is applied once) and refused when they differ.
    """
    if not isinstance(payload, list):
        return [parse_event(payload)]
    if not payload:
        raise EventRejected("(root): the array holds no events")
    events: list[AnyEvent] = []
    problems: list[str] = []
    for index, raw in enumerate(payload):
        try:
            events.append(parse_event(raw, prefix=f"[{index}]"))
        except EventRejected as err:
            problems.append(str(err))
    if problems:
        raise EventRejected("; ".join(problems))
    seen: dict[str, str] = {}
    for index, event in enumerate(events):
        body = canonical_payload(event)
        if seen.setdefault(event.id, body) != body:
            raise EventRejected(
                f"[{index}].id: event id {event.id!r} appears twice in this batch with "
                "different content"
            )
    return events


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def canonical_payload(event: AnyEvent) -> str:
    """The normalised event as stored: equal content gives equal text (phones in E.164, ...)."""
    return event.model_dump_json()


# --- outcomes --------------------------------------------------------------------------------

OutcomeStatus = Literal[
    "started",  # invoice.issued: the journey was started
    "already_started",  # invoice.issued: a journey for the invoice exists; nothing new started
    "applied",  # payment / credit / void signalled to the running journey
    "pending",  # payment / credit / void for an invoice we do not know yet: kept for later
    "journey_closed",  # the journey had already ended; the event is recorded, not applied
    "reopened",  # a payment of a paid invoice was reversed: a new journey run started
    "customer_updated",
    "customer_churned",
]


class EventOutcome(BaseModel):
    """What accepting one event did. A replay of the event answers exactly this again."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    status: OutcomeStatus
    detail: str
    invoice_id: str | None = None
    customer_id: str | None = None
    workflow_id: str | None = None
    segment: str | None = None
