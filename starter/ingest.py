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
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy.exc import IntegrityError
from structlog.contextvars import bound_contextvars
from temporalio.client import Client

from domain.erasure import same_event_content
from domain.messages import CustomerChanged
from domain.models import workflow_id_for
from domain.policies import PolicyFile
from domain.segmentation import choose_segment
from infra.logging import get_logger
from infra.settings import Settings
from infra.store import JourneyEventRow
from starter.event_schema import (
    AnyEvent,
    CustomerChurned,
    CustomerUpdated,
    EventConflict,
    EventOutcome,
    InvoiceChange,
    InvoiceIssued,
    InvoicePaymentReversed,
    OutcomeStatus,
    canonical_payload,
    parse_event,
)
from starter.event_store import (
    find_event,
    find_events,
    history_of,
    invoice_known,
    mark_applied,
    open_invoices_of,
    pending_for,
    record_customer_event,
    record_event,
    record_issued,
)
from starter.issue_batch import start_issued
from starter.journey_calendar import ClockFactory
from starter.journey_signals import reopen, signal_change, tell_customer_journeys
from starter.journey_start import issued_outcome, plan_journey, start_journey

log = get_logger("starter.ingest")


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
        """Apply a parsed batch, all or nothing as far as conflicts go: they are checked
        first, so that none is applied then. Outcomes come back in the batch's order; the
        first error (after every other event had its turn) is raised."""
        conflicts = await check_conflicts(self.settings, events)
        if conflicts:
            raise EventConflict(_conflict_message(conflicts[0]))
        results = await self.settle(events, concurrency)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, EventOutcome)]

    async def settle(
        self, events: Sequence[AnyEvent], concurrency: int = INGEST_CONCURRENCY
    ) -> list[EventOutcome | BaseException]:
        """Apply a parsed batch and answer each event with its outcome or its error (the
        import names each failed line). Events that must keep their order (see
        `ordering_key`) go one after another, other groups up to `concurrency` at a time; a
        new invoice alone in its group takes the batch path (`starter/issue_batch.py`):
        one store query per question and many journey starts in flight."""
        stored = await stored_payloads(self.settings, events)
        conflicts = set(_conflicts(events, stored))
        groups: dict[str, list[AnyEvent]] = defaultdict(list)
        owners = invoice_owners(events)
        for event in events:
            groups[ordering_key(event, owners)].append(event)
        fresh = [
            g[0]
            for g in groups.values()
            if len(g) == 1 and isinstance(g[0], InvoiceIssued) and g[0].id not in stored
        ]
        results: dict[str, EventOutcome | BaseException] = {
            event_id: EventConflict(_conflict_message(event_id)) for event_id in conflicts
        }
        limit = asyncio.Semaphore(concurrency)

        async def apply_in_order(group: list[AnyEvent]) -> None:
            async with limit:
                for event in group:
                    if event.id in results:
                        continue
                    try:
                        results[event.id] = await apply_event(
                            self.client, self.settings, self.policies, event, clock=self.clock
                        )
                    except Exception as err:  # answered for this event; the group goes on
                        results[event.id] = err

        async def new_invoices() -> None:
            done, pending, again = await start_issued(
                self.client, self.settings, self.policies, fresh, self.clock
            )
            results.update(done)
            for invoice_id in pending:
                await _drain_pending(self.client, self.settings, invoice_id)
            await asyncio.gather(*(apply_in_order([e]) for e in again))

        fast = {e.id for e in fresh}
        slow = [g for g in groups.values() if not (len(g) == 1 and g[0].id in fast)]
        await asyncio.gather(new_invoices(), *(apply_in_order(g) for g in slow))
        return [results[event.id] for event in events]


async def stored_payloads(settings: Settings, events: Sequence[AnyEvent]) -> dict[str, str]:
    """Event id -> the payload recorded for it, for the events of a batch already accepted."""
    rows = await asyncio.to_thread(find_events, settings.store_url, sorted({e.id for e in events}))
    return {r.event_id: r.payload for r in rows}


async def check_conflicts(settings: Settings, events: Sequence[AnyEvent]) -> list[str]:
    """The ids, in batch order, of events already accepted with different content."""
    return _conflicts(events, await stored_payloads(settings, events))


def _conflicts(events: Sequence[AnyEvent], stored: Mapping[str, str]) -> list[str]:
    return [
        event.id
        for event in events
        if event.id in stored and not same_event_content(stored[event.id], canonical_payload(event))
    ]


def _conflict_message(event_id: str) -> str:
    return (
        f"id: event {event_id!r} was already accepted with different content; "
        "an event id may not be reused"
    )


def _replay(row: JourneyEventRow, event: AnyEvent) -> EventOutcome:
    if not same_event_content(row.payload, canonical_payload(event)):
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
        invoice_id=event.invoice_id, workflow_id=workflow_id_for(event.invoice_id, settings.tenant)
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
        existing = await asyncio.to_thread(find_event, url, event.id)
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
                outcome = await _apply_customer_event(client, settings, policies, event)
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
    known = await asyncio.to_thread(invoice_known, url, inv.id)
    history = await asyncio.to_thread(history_of, url, cust.id, inv.id)
    planned = plan_journey(settings, policies, event, history, clock)
    started = await start_journey(client, settings, planned.journey) and not known
    outcome = issued_outcome(event, started, planned.segment, planned.reason)
    await asyncio.to_thread(record_issued, url, event, outcome, planned.segment, planned.reason)
    await _drain_pending(client, settings, inv.id)
    return outcome


async def _apply_invoice_change(
    client: Client, settings: Settings, event: InvoiceChange
) -> EventOutcome:
    url = settings.store_url
    invoice_id = event.invoice_id
    if not await asyncio.to_thread(invoice_known, url, invoice_id):
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="pending",
            detail=f"invoice {invoice_id!r} is not known yet; the event is kept and applied "
            "when its invoice.issued arrives",
            invoice_id=invoice_id,
            workflow_id=workflow_id_for(invoice_id, settings.tenant),
        )
        await asyncio.to_thread(record_event, url, event, outcome, "pending")
        # The invoice may have been recorded between our look-up and our insert, after its
        # own drain had run: look again so the event cannot be stranded.
        if await asyncio.to_thread(invoice_known, url, invoice_id):
            await _drain_pending(client, settings, invoice_id)
        return outcome
    status: OutcomeStatus
    status, detail = await signal_change(client, event, settings.tenant)
    if status == "journey_closed" and isinstance(event, InvoicePaymentReversed):
        status, detail = await reopen(client, settings, event)
    outcome = EventOutcome(
        event_id=event.id,
        type=event.type,
        status=status,
        detail=detail,
        invoice_id=invoice_id,
        workflow_id=workflow_id_for(invoice_id, settings.tenant),
    )
    await asyncio.to_thread(record_event, url, event, outcome, "applied")
    return outcome


async def _drain_pending(client: Client, settings: Settings, invoice_id: str) -> None:
    """Signal the events that waited for this invoice, oldest first, and mark them applied."""
    url = settings.store_url
    for row in await asyncio.to_thread(pending_for, url, invoice_id):
        event = parse_event(json.loads(row.payload))
        assert isinstance(event, InvoiceChange)
        status, _ = await signal_change(client, event, settings.tenant)
        assert row.id is not None
        await asyncio.to_thread(mark_applied, url, row.id, status)
        log.info("pending event applied", event_id=event.id, type=event.type, status=status)


async def _apply_customer_event(
    client: Client,
    settings: Settings,
    policies: PolicyFile,
    event: CustomerUpdated | CustomerChurned,
) -> EventOutcome:
    if isinstance(event, CustomerUpdated):
        told = await _tell_journeys(client, settings, policies, event)
        outcome = EventOutcome(
            event_id=event.id,
            type=event.type,
            status="customer_updated",
            detail=f"customer record updated; {told} running journey(s) told: contact details, "
            "locale, time zone, consent and business flag apply from their next step, a new "
            "segment from the next invoice",
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
    await asyncio.to_thread(record_customer_event, settings.store_url, event, outcome)
    return outcome


async def _tell_journeys(
    client: Client, settings: Settings, policies: PolicyFile, event: CustomerUpdated
) -> int:
    """The new record to every running journey of the customer, with the segment it gives
    now (recorded there, applied to the next invoice). The record was checked whole when the
    event was parsed, so no journey sees a half-valid one; Temporal first, store second."""
    url, cust = settings.store_url, event.data.customer
    invoice_ids = await asyncio.to_thread(open_invoices_of, url, cust.id)
    if not invoice_ids:
        return 0
    history = await asyncio.to_thread(history_of, url, cust.id, "")
    as_of = event.occurred_at.date()
    segment, reason = choose_segment(cust, history, policies.segmentation, as_of=as_of)
    change = CustomerChanged(
        event_id=event.id, customer=cust, segment=segment, segment_reason=reason[:500]
    )
    return await tell_customer_journeys(client, invoice_ids, change, settings.tenant)
