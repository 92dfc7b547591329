"""Telling a running journey about a change to its invoice, or starting it again.

Signals are idempotent on the journey side (it ignores an `event_id` it has applied), so a
retried delivery may signal again harmlessly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from domain.messages import (
    CustomerChanged,
    InvoiceCredited,
    InvoiceVoided,
    PaymentReceived,
    PaymentReversed,
)
from domain.models import JourneyByRef, JourneyStart, workflow_id_for
from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from starter.event_schema import (
    InvoiceChange,
    InvoiceCreditedEvent,
    InvoicePaymentReceived,
    InvoicePaymentReversed,
    InvoiceVoidedEvent,
    OutcomeStatus,
)
from starter.event_store import mark_reopened
from starter.journey_start import resolved, start_input
from workflows.describe import search_attributes, static_details, static_summary
from workflows.journey import InvoiceJourney


class JourneyMissing(Exception):
    """The invoice is known but Temporal has no journey for it (e.g. a reset dev server)."""


Signal = tuple[Any, Any, str]
"""What one billing event tells a journey: the workflow's signal method, its argument, and
the outcome's detail for the event log."""


def _payment(e: InvoicePaymentReceived) -> Signal:
    paid = PaymentReceived(event_id=e.id, amount=e.data.amount, paid_at=e.data.paid_at)
    return InvoiceJourney.payment_received, paid, f"payment of {e.data.amount} signalled"


def _reversal(e: InvoicePaymentReversed) -> Signal:
    back = PaymentReversed(event_id=e.id, amount=e.data.amount, reversed_at=e.data.reversed_at)
    return (
        InvoiceJourney.payment_reversed,
        back,
        f"reversal of a {e.data.amount} payment signalled",
    )


def _credit(e: InvoiceCreditedEvent) -> Signal:
    credit = InvoiceCredited(event_id=e.id, amount=e.data.amount)
    return InvoiceJourney.invoice_credited, credit, f"credit of {e.data.amount} signalled"


def _void(e: InvoiceVoidedEvent) -> Signal:
    return InvoiceJourney.invoice_voided, InvoiceVoided(event_id=e.id), "void signalled"


SIGNAL_FOR_EVENT: dict[type[Any], Callable[[Any], Signal]] = {
    InvoicePaymentReceived: _payment,
    InvoicePaymentReversed: _reversal,
    InvoiceCreditedEvent: _credit,
    InvoiceVoidedEvent: _void,
}
"""Each kind of invoice change and the signal it becomes: one row per event type, so a new
event type is one function and one row, not another branch."""


async def signal_change(
    client: Client, event: InvoiceChange, tenant: str = DEFAULT_TENANT
) -> tuple[Literal["applied", "journey_closed"], str]:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(
        workflow_id_for(event.invoice_id, tenant)
    )
    method, argument, detail = SIGNAL_FOR_EVENT[type(event)](event)
    try:
        await handle.signal(method, argument)
        return "applied", f"{detail} to the journey"
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    closed = await _closed_status(handle)
    if closed is None:
        raise JourneyMissing(
            f"invoice {event.invoice_id!r} is known but Temporal has no journey for it"
        )
    return "journey_closed", f"the journey had already ended ({closed}); event recorded only"


async def tell_customer_journeys(
    client: Client, invoice_ids: list[str], change: CustomerChanged, tenant: str = DEFAULT_TENANT
) -> int:
    """Signal `customer_updated` to each of the customer's running journeys; how many heard
    it (a journey that ended meanwhile answers NOT_FOUND and is skipped)."""
    told = 0
    for invoice_id in invoice_ids:
        handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(
            workflow_id_for(invoice_id, tenant)
        )
        try:
            await handle.signal(InvoiceJourney.customer_updated, change)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            continue
        told += 1
    return told


REOPEN_DUE_DAYS = 10
"""A reopened invoice is due this many days after the reversal: the customer gets a fair
chance to pay again before the first reminder of the new run."""


async def reopen(
    client: Client, settings: Settings, event: InvoicePaymentReversed
) -> tuple[OutcomeStatus, str]:
    """A payment of a paid invoice came back: the journey starts again as a new run of the
    same workflow id, on the same policy, for what is owed again."""
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(
        workflow_id_for(event.invoice_id, settings.tenant)
    )
    final = await handle.query(InvoiceJourney.state)
    if final.phase != "paid":
        return "journey_closed", (
            f"the journey had already ended ({final.phase}); a reversed payment does not "
            "reopen it; event recorded only"
        )
    history = await handle.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [started] = await client.data_converter.decode(payloads, [JourneyStart])
    previous = await resolved(settings, started)
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
    start = await start_input(settings, journey)
    if isinstance(start, JourneyByRef):
        journey = journey.model_copy(update={"config": start.config})
    await client.start_workflow(
        InvoiceJourney.run,
        start,
        id=handle.id,
        task_queue=settings.temporal_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        static_summary=static_summary(journey) + " (reopened)",
        static_details=static_details(journey),
        search_attributes=search_attributes(journey),
    )
    await asyncio.to_thread(mark_reopened, settings.store_url, event.invoice_id)
    return "reopened", (
        f"a payment of {owed} was reversed after the journey ended paid: a new run started, "
        f"due {invoice.due_date}"
    )


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
