"""Billing events: what the billing system tells us, and how each one reaches its journey.

The contract (SPEC, "Billing events") is that an event is accepted whole or refused with a
message naming the field and the problem, that it is idempotent by its `id`, that nothing is
half-applied, and that a payment arriving before its invoice is kept, never dropped.

How that is kept:

- Parsing happens before anything is touched. `parse_event` turns any input into one of the
  event models or raises `EventRejected` with `path.to.field: problem`.
- Temporal first, store second. Starting a journey is idempotent through its workflow id, and
  the journey ignores a signal whose `event_id` it has already applied. So if the process dies
  between the two, a retry of the same event redoes the Temporal part harmlessly and then
  records it. The `JourneyEventRow` (unique `event_id`) is written last and is what makes a
  replay a no-op that answers exactly what the first delivery answered.
- A payment, credit or void for an invoice we do not know yet is stored as `pending` and is
  signalled right after that invoice's `invoice.issued` has started its journey.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import holidays
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from structlog.contextvars import bound_contextvars
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.models import (
    Customer,
    Invoice,
    InvoiceCredited,
    InvoiceVoided,
    JourneyClock,
    JourneyInput,
    PaymentReceived,
    PaymentReversed,
    Policy,
    PositiveMoney,
    valid_phone,
    workflow_id_for,
)
from domain.policies import PolicyFile, format_validation_error
from domain.segmentation import (
    PastInvoice,
    choose_segment,
    customer_lifetime_value,
    handover_needs_approval,
)
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, JourneyEventRow, session_scope
from workflows.describe import search_attributes, static_details, static_summary
from workflows.journey import InvoiceJourney

log = get_logger("starter.events")

ClockFactory = Callable[[Invoice], JourneyClock]
"""Chooses the journey clock per invoice; the demo compresses days, production uses none."""


class EventRejected(ValueError):
    """The event cannot be accepted as sent; the message names the field and the problem."""


class EventConflict(Exception):
    """An event id we already accepted came again with different content."""


class JourneyMissing(Exception):
    """The invoice is known but Temporal has no journey for it (e.g. a reset dev server)."""


# --- the events ------------------------------------------------------------------------------

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_or_datetime_to_date(value: object) -> object:
    """Billing systems send `paid_at` as a date or a timestamp; the journey needs the date."""
    if isinstance(value, str) and "T" in value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return value  # let pydantic name the problem
    return value


def _date_to_midnight_utc(value: object) -> object:
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
BillingEvent = Annotated[
    InvoiceIssued
    | InvoicePaymentReceived
    | InvoicePaymentReversed
    | InvoiceCreditedEvent
    | InvoiceVoidedEvent
    | CustomerUpdated
    | CustomerChurned,
    Field(discriminator="type"),
]
EVENT_TYPES: dict[str, type[_Event]] = {
    "invoice.issued": InvoiceIssued,
    "invoice.payment_received": InvoicePaymentReceived,
    "invoice.payment_reversed": InvoicePaymentReversed,
    "invoice.credited": InvoiceCreditedEvent,
    "invoice.voided": InvoiceVoidedEvent,
    "customer.updated": CustomerUpdated,
    "customer.churned": CustomerChurned,
}
AnyEvent = (
    InvoiceIssued
    | InvoicePaymentReceived
    | InvoicePaymentReversed
    | InvoiceCreditedEvent
    | InvoiceVoidedEvent
    | CustomerUpdated
    | CustomerChurned
)


def parse_event(raw: object, prefix: str = "") -> AnyEvent:
    """One event from decoded JSON, or `EventRejected` naming each bad field.

    The type is checked by hand first so that an unknown type gets one clear line instead of
    pydantic's union diagnostics, and field paths come out as `data.invoice.amount_due`.
    """
    where = prefix or "(root)"
    if not isinstance(raw, dict):
        raise EventRejected(f"{where}: an event must be a JSON object, not {_json_kind(raw)}")
    kind = raw.get("type")
    type_path = f"{prefix}.type" if prefix else "type"
    if kind is None:
        raise EventRejected(f"{type_path}: Field required")
    model = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise EventRejected(
            f"{type_path}: unknown event type {json.dumps(kind)}; expected one of: "
            + ", ".join(EVENT_TYPES)
        )
    try:
        event = model.model_validate(raw)
    except ValidationError as err:
        raise EventRejected(format_validation_error(err, prefix)) from None
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


# --- store access (sync; run in a thread) ---------------------------------------------------


def _find_event(url: str, event_id: str) -> JourneyEventRow | None:
    with session_scope(url) as s:
        return s.exec(select(JourneyEventRow).where(JourneyEventRow.event_id == event_id)).first()


def _find_events(url: str, event_ids: Sequence[str]) -> list[JourneyEventRow]:
    if not event_ids:
        return []
    with session_scope(url) as s:
        rows = s.exec(
            select(JourneyEventRow).where(col(JourneyEventRow.event_id).in_(list(event_ids)))
        )
        return list(rows.all())


def _invoice_known(url: str, invoice_id: str) -> bool:
    with session_scope(url) as s:
        return s.get(InvoiceRow, invoice_id) is not None


def _history(url: str, customer_id: str, exclude_invoice: str) -> list[PastInvoice]:
    """The customer's earlier invoices, with the date each was paid in full if it was.

    The paid date is the latest `paid_at` among the invoice's payment events when we have
    them (what the billing system says), else the day its journey closed.
    """
    with session_scope(url) as s:
        rows = s.exec(
            select(InvoiceRow).where(
                InvoiceRow.customer_id == customer_id, InvoiceRow.id != exclude_invoice
            )
        ).all()
        paid_dates: dict[str, date] = {}
        ids = [r.id for r in rows if r.status == "paid"]
        if ids:
            payments = s.exec(
                select(JourneyEventRow).where(
                    col(JourneyEventRow.invoice_id).in_(ids),
                    JourneyEventRow.type == "invoice.payment_received",
                )
            ).all()
            for p in payments:
                paid = date.fromisoformat(json.loads(p.payload)["data"]["paid_at"])
                paid_dates[p.invoice_id] = max(paid, paid_dates.get(p.invoice_id, paid))
    history = []
    for r in rows:
        paid_on = None
        if r.status == "paid":
            paid_on = paid_dates.get(r.id) or (r.closed_at.date() if r.closed_at else None)
        history.append(
            PastInvoice(
                invoice_id=r.id,
                issued_at=r.issued_at,
                due_date=r.due_date,
                status=r.status,
                paid_on=paid_on,
                amount=r.amount_due,
                currency=r.currency,
            )
        )
    return history


def _customer_values(c: Customer) -> dict[str, Any]:
    return {
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "locale": c.locale,
        "timezone": c.timezone,
        "customer_since": c.customer_since,
        "consent_email": c.consent.email,
        "consent_sms": c.consent.sms,
        "consent_call": c.consent.call,
        "fee_agreed": c.fee_agreed,
        "is_business": c.is_business,
        "vulnerable": c.vulnerable,
    }


def _upsert_customer(s: Any, c: Customer) -> None:
    row = s.get(CustomerRow, c.id)
    values = _customer_values(c)
    if row is None:
        s.add(CustomerRow(id=c.id, **values))
        return
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = datetime.now(UTC)
    s.add(row)


def _event_row(event: AnyEvent, outcome: EventOutcome, status: str) -> JourneyEventRow:
    return JourneyEventRow(
        event_id=event.id,
        invoice_id=event.invoice_id or "",
        type=event.type,
        occurred_at=event.occurred_at,
        payload=canonical_payload(event),
        status=status,
        result=outcome.model_dump_json(),
    )


def _record_issued(
    url: str, event: InvoiceIssued, outcome: EventOutcome, segment: str, reason: str
) -> None:
    inv = event.data.invoice
    with session_scope(url) as s:
        _upsert_customer(s, event.data.customer)
        if s.get(InvoiceRow, inv.id) is None:
            s.add(
                InvoiceRow(
                    id=inv.id,
                    number=inv.number,
                    customer_id=inv.customer_id,
                    currency=inv.currency,
                    amount_due=inv.amount_due,
                    issued_at=inv.issued_at,
                    due_date=inv.due_date,
                    ocr=inv.ocr,
                    payment_url=inv.payment_url,
                    segment=segment,
                    segment_reason=reason,
                    workflow_id=workflow_id_for(inv.id),
                    balance=inv.amount_due,
                )
            )
        s.add(_event_row(event, outcome, "applied"))


def _record_event(url: str, event: AnyEvent, outcome: EventOutcome, status: str) -> None:
    with session_scope(url) as s:
        s.add(_event_row(event, outcome, status))


def _record_customer_event(url: str, event: AnyEvent, outcome: EventOutcome) -> None:
    with session_scope(url) as s:
        if isinstance(event, CustomerUpdated):
            _upsert_customer(s, event.data.customer)
        elif isinstance(event, CustomerChurned):
            row = s.get(CustomerRow, event.data.customer_id)
            if row is None:
                # Churn of a customer we have not seen yet is kept, not dropped: the row is
                # filled in by the customer's first invoice.issued or customer.updated.
                row = CustomerRow(id=event.data.customer_id, name=event.data.customer_id)
            row.churned_at = event.data.churned_at
            row.updated_at = datetime.now(UTC)
            s.add(row)
        s.add(_event_row(event, outcome, "applied"))


def _pending_for(url: str, invoice_id: str) -> list[JourneyEventRow]:
    with session_scope(url) as s:
        rows = s.exec(
            select(JourneyEventRow)
            .where(JourneyEventRow.invoice_id == invoice_id, JourneyEventRow.status == "pending")
            .order_by(col(JourneyEventRow.id))
        )
        return list(rows.all())


def _mark_applied(url: str, row_id: int, status: str) -> None:
    with session_scope(url) as s:
        row = s.get(JourneyEventRow, row_id)
        if row is not None and row.status == "pending":
            row.status = status
            s.add(row)


# --- policies, holidays, clocks -------------------------------------------------------------


def journey_horizon(invoice: Invoice, policy: Policy) -> date:
    """The last day a journey could still act: the final step plus its handover wait."""
    days = policy.steps[-1].offset_days + (policy.handover_after_days or 0)
    return invoice.due_date + timedelta(days=max(days, 0))


def public_holidays(country: str, invoice: Invoice, policy: Policy) -> tuple[date, ...]:
    """Days customer service is closed, from the issue year through at least the next year.

    Computed here rather than in the workflow so the journey replays identically even when the
    `holidays` package is upgraded. De facto holidays (Christmas Eve, Midsummer Eve, ...) are
    included where the package knows them: customer service is closed then too.
    """
    first = invoice.issued_at.year
    last = max(first + 1, journey_horizon(invoice, policy).year)
    return _holiday_table(country, first, last)


@functools.lru_cache(maxsize=64)
def _holiday_table(country: str, first: int, last: int) -> tuple[date, ...]:
    """Building a country's calendar takes about 5 ms; a batch of invoices shares a few."""
    cls = holidays.country_holidays(country, years=first)
    supported = getattr(type(cls), "supported_categories", ("public",))
    categories = tuple(c for c in ("public", "de_facto") if c in supported)
    days = holidays.country_holidays(country, years=range(first, last + 1), categories=categories)
    return tuple(sorted(days.keys()))


def compressed_clock(seconds_per_day: int, now: datetime | None = None) -> ClockFactory:
    """Day 0 of each journey (its issue date) starts now; every later day `seconds_per_day` on."""
    origin = now or datetime.now(UTC)

    def factory(invoice: Invoice) -> JourneyClock:
        return JourneyClock(
            seconds_per_day=seconds_per_day, origin=origin, origin_date=invoice.issued_at
        )

    return factory


def day_at(clock: JourneyClock, day: date, hour: float = 0) -> datetime:
    """The real instant a journey date starts on the clock (for scheduling demo events)."""
    if clock.origin is None or clock.origin_date is None:
        return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=hour)
    offset = (day - clock.origin_date).days + hour / 24
    return clock.origin + timedelta(seconds=offset * clock.seconds_per_day)


# --- applying --------------------------------------------------------------------------------


INGEST_CONCURRENCY = 16
"""Invoices applied at once by one batch or import: enough to hide round trips to Temporal
and the store, few enough not to swamp a small server."""


def ordering_key(event: AnyEvent, owners: Mapping[str, str] | None = None) -> str:
    """Events that must apply in the order they came share a key: all of a customer's (its
    invoices and updates), and an invoice's changes with the customer whose invoice.issued
    is in the same batch (`owners`: invoice id -> customer id); else all of an invoice's."""
    if event.customer_id is not None:
        return f"customer:{event.customer_id}"
    owner = (owners or {}).get(event.invoice_id or "")
    return f"customer:{owner}" if owner else f"invoice:{event.invoice_id}"


def invoice_owners(events: Sequence[AnyEvent]) -> dict[str, str]:
    """Invoice id -> customer id for the invoices issued in a batch."""
    return {e.invoice_id: e.customer_id for e in events if isinstance(e, InvoiceIssued)}


class Ingest:
    """Everything applying events needs, built once per process (API, CLI, demo)."""

    def __init__(
        self,
        client: Client,
        settings: Settings,
        policies: PolicyFile,
        clock: ClockFactory | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.policies = policies
        self.clock = clock

    async def __call__(
        self, events: Sequence[AnyEvent], concurrency: int = INGEST_CONCURRENCY
    ) -> list[EventOutcome]:
        """Apply a parsed batch: events that must keep their order (see `ordering_key`) one
        after another, the rest up to `concurrency` at a time, so a batch of 500 invoices
        does not wait on 500 round trips in a row. Conflicts are checked first so that none
        is applied then. Outcomes come back in the batch's order."""
        await check_conflicts(self.settings, events)
        groups: dict[str, list[AnyEvent]] = defaultdict(list)
        owners = invoice_owners(events)
        for event in events:
            groups[ordering_key(event, owners)].append(event)
        outcomes: dict[str, EventOutcome] = {}
        limit = asyncio.Semaphore(concurrency)

        async def apply_in_order(group: list[AnyEvent]) -> None:
            async with limit:
                for event in group:
                    if event.id not in outcomes:
                        outcomes[event.id] = await apply_event(
                            self.client, self.settings, self.policies, event, clock=self.clock
                        )

        await asyncio.gather(*(apply_in_order(g) for g in groups.values()))
        return [outcomes[event.id] for event in events]


async def check_conflicts(settings: Settings, events: Sequence[AnyEvent]) -> None:
    rows = await asyncio.to_thread(_find_events, settings.store_url, sorted({e.id for e in events}))
    stored = {r.event_id: r.payload for r in rows}
    for event in events:
        if event.id in stored and stored[event.id] != canonical_payload(event):
            raise EventConflict(_conflict_message(event.id))


def _conflict_message(event_id: str) -> str:
    return (
        f"id: event {event_id!r} was already accepted with different content; "
        "an event id may not be reused"
    )


def _replay(row: JourneyEventRow, event: AnyEvent) -> EventOutcome:
    if row.payload != canonical_payload(event):
        raise EventConflict(_conflict_message(event.id))
    assert row.result is not None
    return EventOutcome.model_validate_json(row.result)


async def apply_event(
    client: Client,
    settings: Settings,
    policies: PolicyFile,
    event: AnyEvent,
    *,
    clock: ClockFactory | None = None,
) -> EventOutcome:
    """Apply one parsed event, exactly once however often it is delivered."""
    if event.invoice_id is None:
        return await _apply_event(client, settings, policies, event, clock)
    # Scoped, not bound for good: a batch or the demo applies many invoices in one task.
    with bound_contextvars(
        invoice_id=event.invoice_id, workflow_id=workflow_id_for(event.invoice_id)
    ):
        return await _apply_event(client, settings, policies, event, clock)


async def _apply_event(
    client: Client,
    settings: Settings,
    policies: PolicyFile,
    event: AnyEvent,
    clock: ClockFactory | None,
) -> EventOutcome:
    url = settings.store_url
    for attempt in range(2):
        existing = await asyncio.to_thread(_find_event, url, event.id)
        if existing is not None:
            outcome = _replay(existing, event)
            log.info("event replayed", event_id=event.id, type=event.type, status=outcome.status)
            if isinstance(event, InvoiceIssued):
                # Heal a crash between recording the invoice and signalling its pending events.
                await _drain_pending(client, settings, event.invoice_id)
            return outcome
        try:
            if isinstance(event, InvoiceIssued):
                outcome = await _apply_issued(client, settings, policies, event, clock)
            elif isinstance(event, InvoiceChange):
                outcome = await _apply_invoice_change(client, settings, event)
            else:
                outcome = await _apply_customer_event(settings, event)
        except IntegrityError:
            # Another delivery of this event (or another invoice.issued for the same invoice)
            # recorded first. The Temporal side is idempotent, so look again: the second pass
            # answers what the first delivery answered, or finds the journey already started.
            if attempt:
                raise
            continue
        log.info("event applied", event_id=event.id, type=event.type, status=outcome.status)
        return outcome
    raise AssertionError("unreachable")


async def _apply_issued(
    client: Client,
    settings: Settings,
    policies: PolicyFile,
    event: InvoiceIssued,
    clock: ClockFactory | None,
) -> EventOutcome:
    url = settings.store_url
    inv, cust = event.data.invoice, event.data.customer
    workflow_id = workflow_id_for(inv.id)
    known = await asyncio.to_thread(_invoice_known, url, inv.id)
    history = await asyncio.to_thread(_history, url, cust.id, inv.id)
    rules = policies.segmentation
    segment, reason = choose_segment(cust, history, rules, as_of=inv.issued_at)
    value = customer_lifetime_value(cust, history, rules, as_of=inv.issued_at)
    policy = policies.segments.get(segment) or policies.segments["standard"]
    journey = JourneyInput(
        invoice=inv,
        customer=cust,
        segment=segment,
        segment_reason=reason,
        policy=policy,
        clock=clock(inv) if clock else JourneyClock(),
        holidays=public_holidays(policies.jurisdiction, inv, policy),
        handover_requires_approval=handover_needs_approval(segment, value, rules),
        jurisdiction=policies.jurisdiction,
        opening_hours=policies.opening_hours,
        service_phone=settings.customer_service_phone,
        reference_rates=policies.reference_rates,
        local_channels=settings.local_channels(),
    )
    started = not known
    try:
        await client.start_workflow(
            InvoiceJourney.run,
            journey,
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=static_summary(journey),
            static_details=static_details(journey),
            search_attributes=search_attributes(journey),
        )
    except WorkflowAlreadyStartedError:
        # The journey ran and closed already (its id may not be reused): nothing new starts.
        started = False
    if started:
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="started",
            detail=f"journey started on the {segment} policy: {reason}",
            invoice_id=inv.id,
            customer_id=cust.id,
            workflow_id=workflow_id,
            segment=segment,
        )
    else:
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="already_started",
            detail="a journey for this invoice already exists; nothing new was started",
            invoice_id=inv.id,
            customer_id=cust.id,
            workflow_id=workflow_id,
        )
    await asyncio.to_thread(_record_issued, url, event, outcome, segment, reason)
    await _drain_pending(client, settings, inv.id)
    return outcome


async def _apply_invoice_change(
    client: Client, settings: Settings, event: InvoiceChange
) -> EventOutcome:
    url = settings.store_url
    invoice_id = event.invoice_id
    if not await asyncio.to_thread(_invoice_known, url, invoice_id):
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="pending",
            detail=f"invoice {invoice_id!r} is not known yet; the event is kept and applied "
            "when its invoice.issued arrives",
            invoice_id=invoice_id,
            workflow_id=workflow_id_for(invoice_id),
        )
        await asyncio.to_thread(_record_event, url, event, outcome, "pending")
        # The invoice may have been recorded between our look-up and our insert, after its
        # own drain had run: look again so the event cannot be stranded.
        if await asyncio.to_thread(_invoice_known, url, invoice_id):
            await _drain_pending(client, settings, invoice_id)
        return outcome
    status: OutcomeStatus
    status, detail = await _signal(client, event)
    if status == "journey_closed" and isinstance(event, InvoicePaymentReversed):
        status, detail = await _reopen(client, settings, event)
    outcome = EventOutcome(
        event_id=event.id,
        type=event.type,
        status=status,
        detail=detail,
        invoice_id=invoice_id,
        workflow_id=workflow_id_for(invoice_id),
    )
    await asyncio.to_thread(_record_event, url, event, outcome, "applied")
    return outcome


async def _signal(
    client: Client, event: InvoiceChange
) -> tuple[Literal["applied", "journey_closed"], str]:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id_for(event.invoice_id))
    try:
        if isinstance(event, InvoicePaymentReceived):
            await handle.signal(
                InvoiceJourney.payment_received,
                PaymentReceived(
                    event_id=event.id, amount=event.data.amount, paid_at=event.data.paid_at
                ),
            )
            return "applied", f"payment of {event.data.amount} signalled to the journey"
        if isinstance(event, InvoicePaymentReversed):
            await handle.signal(
                InvoiceJourney.payment_reversed,
                PaymentReversed(
                    event_id=event.id, amount=event.data.amount, reversed_at=event.data.reversed_at
                ),
            )
            return "applied", f"reversal of a {event.data.amount} payment signalled to the journey"
        if isinstance(event, InvoiceCreditedEvent):
            await handle.signal(
                InvoiceJourney.invoice_credited,
                InvoiceCredited(event_id=event.id, amount=event.data.amount),
            )
            return "applied", f"credit of {event.data.amount} signalled to the journey"
        await handle.signal(InvoiceJourney.invoice_voided, InvoiceVoided(event_id=event.id))
        return "applied", "void signalled to the journey"
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    closed = await _closed_status(handle)
    if closed is None:
        raise JourneyMissing(
            f"invoice {event.invoice_id!r} is known but Temporal has no journey for it"
        )
    return "journey_closed", f"the journey had already ended ({closed}); event recorded only"


REOPEN_DUE_DAYS = 10
"""A reopened invoice is due this many days after the reversal: the customer gets a fair
chance to pay again before the first reminder of the new run."""


async def _reopen(
    client: Client, settings: Settings, event: InvoicePaymentReversed
) -> tuple[OutcomeStatus, str]:
    """A payment of a paid invoice came back: the journey starts again as a new run of the
    same workflow id, on the same policy, for what is owed again."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id_for(event.invoice_id))
    final = await handle.query(InvoiceJourney.state)
    if final.phase != "paid":
        return "journey_closed", (
            f"the journey had already ended ({final.phase}); a reversed payment does not "
            "reopen it; event recorded only"
        )
    history = await handle.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [previous] = await client.data_converter.decode(payloads, [JourneyInput])
    assert isinstance(previous, JourneyInput)
    owed = min(event.data.amount, final.paid)
    day = event.data.reversed_at
    invoice = previous.invoice.model_copy(
        update={
            "amount_due": owed,
            "issued_at": day,
            "due_date": day + timedelta(days=REOPEN_DUE_DAYS),
        }
    )
    journey = previous.model_copy(
        update={
            "invoice": invoice,
            "carried": None,
            "local_channels": settings.local_channels(),
            "segment_reason": f"reopened: a payment of {owed} was reversed on {day}",
        }
    )
    await client.start_workflow(
        InvoiceJourney.run,
        journey,
        id=handle.id,
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        static_summary=static_summary(journey) + " (reopened)",
        static_details=static_details(journey),
        search_attributes=search_attributes(journey),
    )
    await asyncio.to_thread(_mark_reopened, settings.store_url, event.invoice_id)
    return "reopened", (
        f"a payment of {owed} was reversed after the journey ended paid: a new run started, "
        f"due {invoice.due_date}"
    )


def _mark_reopened(url: str, invoice_id: str) -> None:
    with session_scope(url) as s:
        row = s.get(InvoiceRow, invoice_id)
        if row is not None:
            row.status, row.closed_at = "open", None
            s.add(row)


async def _closed_status(handle: WorkflowHandle[Any, Any]) -> str | None:
    """How a journey ended, or None if Temporal does not know it at all."""
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    status = desc.status
    if status is None or status == WorkflowExecutionStatus.RUNNING:
        return "running"
    return status.name.lower()


async def _drain_pending(client: Client, settings: Settings, invoice_id: str) -> None:
    """Signal the events that waited for this invoice, oldest first, and mark them applied."""
    url = settings.store_url
    for row in await asyncio.to_thread(_pending_for, url, invoice_id):
        event = parse_event(json.loads(row.payload))
        assert isinstance(event, InvoiceChange)
        status, _ = await _signal(client, event)
        assert row.id is not None
        await asyncio.to_thread(_mark_applied, url, row.id, status)
        log.info("pending event applied", event_id=event.id, type=event.type, status=status)


async def _apply_customer_event(
    settings: Settings, event: CustomerUpdated | CustomerChurned
) -> EventOutcome:
    if isinstance(event, CustomerUpdated):
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="customer_updated",
            detail="customer record updated; running journeys keep the snapshot they started with",
            customer_id=event.customer_id,
        )
    else:
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="customer_churned",
            detail=f"customer marked as churned at {event.data.churned_at.isoformat()}",
            customer_id=event.customer_id,
        )
    await asyncio.to_thread(_record_customer_event, settings.store_url, event, outcome)
    return outcome
