"""Plain words for ops: what a journey is about to do, as shown in the Temporal Web UI."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from domain.journey_config import version_of
from domain.models import JourneyInput
from infra.temporal import (
    AMOUNT_DUE,
    CUSTOMER_ID,
    INVOICE_ID,
    JOURNEY_PHASE,
    NEXT_ACTION_AT,
    SEGMENT,
    TENANT,
)
from workflows.journey_time import calendar_zone, contact_zones, known_zone
from workflows.ledger import Ledger
from workflows.planning import Decision

CHANNEL_WORDS = {"email": "email", "sms": "SMS", "call": "phone call", "letter": "letter"}


def search_attributes(inp: JourneyInput) -> TypedSearchAttributes:
    """What a journey is found by from its start; the starter sets them, continue-as-new
    carries them over, and the journey itself upserts only its phase and next action."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(INVOICE_ID, inp.invoice.id),
            SearchAttributePair(CUSTOMER_ID, inp.customer.id),
            SearchAttributePair(SEGMENT, inp.segment),
            SearchAttributePair(AMOUNT_DUE, float(inp.invoice.amount_due)),
            SearchAttributePair(TENANT, inp.tenant),
        ]
    )


def step_label(inp: JourneyInput, index: int) -> str:
    step = inp.policy.steps[index]
    kind = "final notice" if step.final_notice else f"{CHANNEL_WORDS[step.channel]} reminder"
    return f"step {index + 1}/{len(inp.policy.steps)}: {kind} ({step.template})"


def _when(inp: JourneyInput, ledger: Ledger, at: datetime) -> str:
    if inp.clock.compressed:
        return f"{at:%Y-%m-%d %H:%M:%S} UTC (demo clock)"
    zone = calendar_zone(inp, ledger)
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%Y-%m-%d %H:%M} {zone}"


def zone_line(inp: JourneyInput, ledger: Ledger) -> str:
    """Says plainly when the customer's zone is unknown, and which clocks contacts keep to."""
    zone = known_zone(inp, ledger)
    if zone is not None:
        return f"Customer's time zone: {zone}"
    zones = contact_zones(inp, ledger)
    return "Customer's time zone: **unknown**; contacts only at times that suit " + (
        f"every one of {', '.join(zones)}" if len(zones) > 1 else f"{zones[0]} (the company's)"
    )


def current_details(inp: JourneyInput, ledger: Ledger, decision: Decision) -> str:
    money = f"{ledger.balance:.2f} {inp.invoice.currency}"
    if decision.kind == "step" and decision.step_index is not None and decision.at:
        next_line = (
            f"Next: {step_label(inp, decision.step_index)} at {_when(inp, ledger, decision.at)}"
        )
    elif decision.kind == "handover" and decision.at:
        next_line = (
            f"Next: hand over to collection at {_when(inp, ledger, decision.at)} if still unpaid"
        )
    elif decision.kind == "release_hold" and decision.at:
        next_line = (
            f"Waiting ({decision.phase}) until {_when(inp, ledger, decision.at)}, then resumes"
        )
    elif decision.phase == "awaiting_agent":
        next_line = "Waiting for an agent: no automatic step is left"
    elif ledger.closed is not None:
        next_line = f"Closed: {ledger.closed}"
    else:
        next_line = f"Waiting for an agent ({decision.phase.replace('_', ' ')})"
    return (
        f"**{next_line}**\n\n"
        f"Phase: {decision.phase} · Balance: {money} · Fees: {ledger.fees:.2f} · "
        f"Steps sent: {ledger.steps_sent}/{len(inp.policy.steps)} · Due: {ledger.due_date}\n\n"
        f"{zone_line(inp, ledger)}\n\n"
        f"{policy_line(inp)}"
    )


def policy_line(inp: JourneyInput) -> str:
    """Which policy and which version of the configuration the journey runs: the version is
    the start of the digest it is stored under (table journey_configs)."""
    version = version_of(inp)
    how = "stored" if inp.config is not None else "carried in the journey's input"
    return f"Policy **{version.name}**, version `{version.version}` ({how})"


def publish(
    inp: JourneyInput, ledger: Ledger, decision: Decision, published: tuple[object, ...]
) -> tuple[object, ...]:
    """Keep the journey's search attributes and current details in step with the plan, writing
    them only when they change (`published` is what was written last; the new one is
    returned) so that history stays small. Workflow code: call it from the journey only."""
    now_published = (decision.phase, decision.at, ledger.balance, len(ledger.history))
    if now_published == published:
        return published
    if now_published[:2] != published[:2]:
        workflow.upsert_search_attributes(
            [
                JOURNEY_PHASE.value_set(decision.phase),
                NEXT_ACTION_AT.value_set(decision.at)
                if decision.at is not None
                else NEXT_ACTION_AT.value_unset(),
            ]
        )
    workflow.set_current_details(current_details(inp, ledger, decision))
    return now_published


def static_summary(inp: JourneyInput) -> str:
    """One line for the Web UI's list: which invoice, how much, which path. No personal data."""
    i = inp.invoice
    return f"Invoice {i.number} · {i.amount_due:.2f} {i.currency} · {inp.segment} journey"


def static_details(inp: JourneyInput) -> str:
    """The journey's plan, fixed at start, for whoever opens it in the Web UI."""
    i, p = inp.invoice, inp.policy
    lines = [
        f"**Invoice {i.number}** ({i.id}) for customer {inp.customer.id}",
        f"Amount {i.amount_due:.2f} {i.currency}, issued {i.issued_at}, due {i.due_date}",
        f"Segment **{inp.segment}**" + (f": {inp.segment_reason}" if inp.segment_reason else ""),
        f"Customer's time zone: {inp.customer.timezone or '**unknown**'}",
        "",
        policy_line(inp) + ":",
    ]
    for n, step in enumerate(p.steps):
        fee = f", {step.fee_kind.replace('_', ' ')} fee {step.fee:.2f}" if step.fee else ""
        kind = "final notice" if step.final_notice else CHANNEL_WORDS[step.channel]
        lines.append(f"{n + 1}. day {step.offset_days:+d}: {kind} `{step.template}`{fee}")
    if p.handover_after_days is not None:
        approval = " after an agent approves" if inp.handover_requires_approval else ""
        lines.append(f"Handover {p.handover_after_days} days after the final notice{approval}")
    else:
        lines.append("No automatic handover")
    return "\n".join(lines)
