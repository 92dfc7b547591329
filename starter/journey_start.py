"""Starting one invoice's journey: its input, the start call, and what the event answers.

Shared by the one-event path (`starter/ingest.py`) and the batch path
(`starter/issue_batch.py`), so that both start the same journey and answer the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.models import JourneyClock, JourneyInput, Policy, workflow_id_for
from domain.policies import PolicyFile
from domain.segmentation import (
    PastInvoice,
    choose_segment,
    customer_lifetime_value,
    handover_needs_approval,
)
from infra.settings import Settings
from starter import metrics
from starter.event_schema import EventOutcome, InvoiceIssued
from starter.journey_calendar import ClockFactory, public_holidays
from workflows.describe import search_attributes, static_details, static_summary
from workflows.journey import InvoiceJourney


@dataclass(frozen=True)
class PlannedJourney:
    """A journey's input and the segment it was put in (and why), before it is started."""

    journey: JourneyInput
    segment: str
    reason: str


def journey_input(
    settings: Settings,
    policies: PolicyFile,
    event: InvoiceIssued,
    segment: str,
    reason: str,
    policy: Policy,
    value: dict[str, Decimal],
    clock: JourneyClock,
) -> JourneyInput:
    """The input of an issued invoice's journey once its segment is chosen: one place, so that
    ingest and `journeys simulate` start the very same journey."""
    inv, cust = event.data.invoice, event.data.customer
    rules = policies.segmentation
    return JourneyInput(
        invoice=inv,
        customer=cust,
        segment=segment,
        segment_reason=reason,
        policy=policy,
        clock=clock,
        holidays=public_holidays(policies.jurisdiction, inv, policy),
        handover_requires_approval=handover_needs_approval(segment, value, rules),
        jurisdiction=policies.jurisdiction,
        opening_hours=policies.opening_hours,
        service_phone=settings.customer_service_phone,
        reference_rates=policies.reference_rates,
        local_channels=settings.local_channels(),
    )


def plan_journey(
    settings: Settings,
    policies: PolicyFile,
    event: InvoiceIssued,
    history: list[PastInvoice],
    clock: ClockFactory | None,
) -> PlannedJourney:
    inv, cust = event.data.invoice, event.data.customer
    rules = policies.segmentation
    segment, reason = choose_segment(cust, history, rules, as_of=inv.issued_at)
    value = customer_lifetime_value(cust, history, rules, as_of=inv.issued_at)
    policy = policies.segments.get(segment) or policies.segments["standard"]
    journey_clock = clock(inv) if clock else JourneyClock()
    journey = journey_input(
        settings, policies, event, segment, reason, policy, value, journey_clock
    )
    return PlannedJourney(journey, segment, reason)


async def start_journey(client: Client, settings: Settings, journey: JourneyInput) -> bool:
    """Start the journey; False when it ran and closed already (its id may not be reused).
    An open journey of the same id is used as it is (idempotent by workflow id)."""
    try:
        await client.start_workflow(
            InvoiceJourney.run,
            journey,
            id=workflow_id_for(journey.invoice.id),
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=static_summary(journey),
            static_details=static_details(journey),
            search_attributes=search_attributes(journey),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def started_outcome(event: InvoiceIssued, segment: str, reason: str) -> EventOutcome:
    """The answer to an issued invoice whose journey was started."""
    inv, cust = event.data.invoice, event.data.customer
    return EventOutcome(
        event_id=event.id,
        type=event.type,
        status="started",
        detail=f"journey started on the {segment} policy: {reason}",
        invoice_id=inv.id,
        customer_id=cust.id,
        workflow_id=workflow_id_for(inv.id),
        segment=segment,
    )


def issued_outcome(event: InvoiceIssued, started: bool, segment: str, reason: str) -> EventOutcome:
    inv, cust = event.data.invoice, event.data.customer
    workflow_id = workflow_id_for(inv.id)
    if started:
        metrics.JOURNEYS_STARTED.labels(segment).inc()
        return started_outcome(event, segment, reason)
    return EventOutcome(
        event_id=event.id,
        type=event.type,
        status="already_started",
        detail="a journey for this invoice already exists; nothing new was started",
        invoice_id=inv.id,
        customer_id=cust.id,
        workflow_id=workflow_id,
    )
