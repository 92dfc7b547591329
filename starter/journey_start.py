"""Starting one invoice's journey: its input, the start call, and what the event answers.

Shared by the one-event path (`starter/ingest.py`) and the batch path
(`starter/issue_batch.py`), so that both start the same journey and answer the same words.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal

from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain.journey_config import JourneyConfig, config_of, resolve
from domain.models import (
    ConfigRef,
    JourneyByRef,
    JourneyClock,
    JourneyInput,
    JourneyStart,
    Policy,
    workflow_id_for,
)
from domain.policies import PolicyFile
from domain.segmentation import (
    PastInvoice,
    choose_segment,
    customer_lifetime_value,
    handover_needs_approval,
)
from domain.tenants import DEFAULT_TENANT
from infra.journey_configs import config_body, store_config
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
        tenant=settings.tenant,
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


STORED_FOR_SECONDS = 300.0
_STORED: dict[tuple[str, str], float] = {}
"""(store, digest) of the configurations this process stored, and when: one look at the store
per version every few minutes instead of one per start (ingest's cost per invoice). Looked
at again after `STORED_FOR_SECONDS`, so that a store restored from a backup under a running
API gets its rows back soon rather than never."""


_REFS: dict[tuple[int, ...], tuple[tuple[object, ...], JourneyConfig, ConfigRef]] = {}


def _config_ref(journey: JourneyInput) -> tuple[JourneyConfig, ConfigRef]:
    """The configuration and its digest, computed once per set of objects: journeys of a
    segment hold the very same (interned) policy, holidays, hours and rates, and the digest
    costs about 0.5 ms, a fifth of what ingest spends per invoice."""
    parts = (journey.policy, journey.holidays, journey.opening_hours, journey.reference_rates)
    key = tuple(id(part) for part in parts)
    hit = _REFS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], parts, strict=True)):
        return hit[1], hit[2]
    config = config_of(journey)
    ref = config.ref()
    if len(_REFS) >= 64:
        _REFS.clear()
    _REFS[key] = (parts, config, ref)  # the parts are kept: their ids are not reused
    return config, ref


async def start_input(settings: Settings, journey: JourneyInput) -> JourneyInput | JourneyByRef:
    """What the journey is started with: its configuration by reference (stored first, so
    that the journey finds it; once per version and process), unless the setting says by
    value (`domain.journey_config`)."""
    if not settings.journey_config_by_reference:
        return journey
    if journey.config is None:
        config, ref = _config_ref(journey)
        # In the control store, whatever the tenant: the worker reads them there.
        url = settings.control_store_url
        key, now = (url, ref.digest), time.monotonic()
        if now - _STORED.get(key, -STORED_FOR_SECONDS) >= STORED_FOR_SECONDS:
            body = config.canonical_json()
            await asyncio.to_thread(store_config, url, ref.digest, ref.name, body)
            _STORED[key] = now
        journey = journey.model_copy(update={"config": ref})
    return journey.by_reference()


async def resolved(settings: Settings, start: JourneyStart) -> JourneyInput:
    """A journey's input with its configuration, read from the store if it was referenced
    (what the Web UI's details and a reopened journey's new run are made from)."""
    if isinstance(start, JourneyInput):
        return start
    assert isinstance(start, JourneyByRef), "a journey's input is one of the two forms"
    body = await asyncio.to_thread(config_body, settings.control_store_url, start.config.digest)
    if body is None:
        raise LookupError(f"journey configuration {start.config.version} is not in the store")
    return resolve(start, JourneyConfig.model_validate_json(body))


def tenant_priority(tenant: str) -> Priority:
    """Each tenant is a fairness key of the journeys' task queue: with fairness on in the
    server (`matching.enableFairness`), one tenant's burst of new journeys is interleaved
    with the others' due steps instead of queued ahead of them (README, "Tenants"). The
    journey's activities inherit it."""
    return Priority(fairness_key=tenant)


async def start_journey(client: Client, settings: Settings, journey: JourneyInput) -> bool:
    """Start the journey; False when it ran and closed already (its id may not be reused).
    An open journey of the same id is used as it is (idempotent by workflow id)."""
    start = await start_input(settings, journey)
    if isinstance(start, JourneyByRef):
        journey = journey.model_copy(update={"config": start.config})  # details name it
    try:
        await client.start_workflow(
            InvoiceJourney.run,
            start,
            id=workflow_id_for(journey.invoice.id, journey.tenant),
            task_queue=settings.temporal_task_queue,
            priority=tenant_priority(journey.tenant),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=static_summary(journey),
            static_details=static_details(journey),
            search_attributes=search_attributes(journey),
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def started_outcome(
    event: InvoiceIssued, segment: str, reason: str, tenant: str = DEFAULT_TENANT
) -> EventOutcome:
    """The answer to an issued invoice whose journey was started."""
    inv, cust = event.data.invoice, event.data.customer
    return EventOutcome(
        event_id=event.id,
        type=event.type,
        status="started",
        detail=f"journey started on the {segment} policy: {reason}",
        invoice_id=inv.id,
        customer_id=cust.id,
        workflow_id=workflow_id_for(inv.id, tenant),
        segment=segment,
    )


def issued_outcome(
    event: InvoiceIssued,
    started: bool,
    segment: str,
    reason: str,
    tenant: str = DEFAULT_TENANT,
) -> EventOutcome:
    inv, cust = event.data.invoice, event.data.customer
    workflow_id = workflow_id_for(inv.id, tenant)
    if started:
        metrics.JOURNEYS_STARTED.labels(segment, tenant).inc()
        return started_outcome(event, segment, reason, tenant)
    return EventOutcome(
        event_id=event.id,
        type=event.type,
        status="already_started",
        detail="a journey for this invoice already exists; nothing new was started",
        invoice_id=inv.id,
        customer_id=cust.id,
        workflow_id=workflow_id,
    )
