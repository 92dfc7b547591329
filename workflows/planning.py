"""Deterministic planning of a journey: which step is next, and when.

Pure functions over plain data, no I/O and no clock of their own (the workflow passes in
`workflow.now()`), so they are unit-tested directly and replay identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from domain.journey_config import version_of
from domain.models import JourneyInput
from domain.postal import add_postal_days
from domain.state import CLOSED_PHASES, HistoryEntry, JourneyState, NextStep, Phase
from workflows.channels import (
    LETTER_PATCH,
    channel_unavailable,
    first_open_channel,
    letter_would_help,
    pick_channel,
    unavailable_channels,
)
from workflows.journey_time import (
    calendar_zone,
    contact_slot,
    contact_zones,
    customer_today,
    day_instant,
    journey_days,
    journey_today,
    known_zone,
)
from workflows.ledger import Holds, Ledger, Revisions, dump_ledger, hold_phase, load_ledger
from workflows.money import fee_for_step, interest_due, interest_unknown_from, plan_fee
from workflows.requests import journey_ids

__all__ = [
    # what the workflow reaches through `planning` (workflows.journey)
    "Decision",
    "LETTER_PATCH",
    "Ledger",
    "Revisions",
    "channel_unavailable",
    "first_open_channel",
    "decide",
    "dump_ledger",
    "fee_for_step",
    "interest_due",
    "letter_would_help",
    "lift_expired_hold",
    "load_ledger",
    "pick_channel",
    "release_holds",
    "snapshot",
    # planning's own
    "CONTACT_REQUEST_PAUSE_DAYS",
    "MAX_PROMISE_DAYS",
    "ActionKind",
    "Holds",
    "customer_today",
    "days_to_shift",
    "handover_at",
    "hold_ends_at",
    "installment_kept",
    "installment_schedule",
    "is_closed",
    "plan_decision",
    "plan_fee",
    "planned_at",
    "step_at",
]

MAX_PROMISE_DAYS = 30
"""How far ahead a promise to pay may reach before it needs a payment plan instead."""
CONTACT_REQUEST_PAUSE_DAYS = 3
"""A customer who asks to be called gets this long for customer service to call back."""


def hold_ends_at(inp: JourneyInput, ledger: Ledger) -> datetime | None:
    """When the active hold lifts by itself, or None if only a person can lift it."""
    holds = ledger.holds
    if holds.dispute_open or holds.plan is not None:
        return None
    tz = calendar_zone(inp, ledger)
    ends: list[datetime] = []
    if holds.paused:
        if holds.paused_until is None:
            return None
        ends.append(day_instant(holds.paused_until, 0, inp.clock, tz))
    if holds.promise_date is not None:
        # A payment made on the promised day needs a day to reach us.
        next_day = holds.promise_date + timedelta(days=1)
        ends.append(day_instant(next_day, inp.policy.send_hour, inp.clock, tz))
    return max(ends) if ends else None


def planned_at(inp: JourneyInput, ledger: Ledger, index: int, extra_days: int = 0) -> datetime:
    """Step `index`'s planned instant before the contact windows: its day (due date, offset,
    pauses in whole calendar days) at the send hour in the customer's zone."""
    step = inp.policy.steps[index]
    day = ledger.due_date + timedelta(days=step.offset_days + ledger.delay_days + extra_days)
    local = day_instant(day, inp.policy.send_hour, inp.clock, calendar_zone(inp, ledger))
    return local + ledger.delay


def step_at(inp: JourneyInput, ledger: Ledger, index: int) -> datetime:
    """When step `index` goes out: its planned day and hour, moved to the next moment customer
    service is open (for a call, open for at least 30 more minutes), never on a holiday, and
    inside the jurisdiction's contact hours in the customer's zone."""
    planned = planned_at(inp, ledger, index)
    if ledger.letter_posted_at is not None:
        planned = max(planned, after_postal_days(inp, ledger, ledger.letter_posted_at))
    return contact_slot(inp, ledger, planned, inp.policy.steps[index].channel)


def after_postal_days(inp: JourneyInput, ledger: Ledger, posted_at: datetime) -> datetime:
    """The earliest next contact after a letter: Swedish law counts a posted reminder as
    received, and the post takes `postal_days_after_letter` postal days (weekdays that are
    not public holidays) to carry it, so the customer gets that long before anything else."""
    zone = calendar_zone(inp, ledger)
    posted = journey_today(posted_at, inp.clock, zone)
    arrives = add_postal_days(posted, inp.policy.postal_days_after_letter, inp.holidays)
    return day_instant(arrives, inp.policy.send_hour, inp.clock, zone)


def handover_at(inp: JourneyInput, ledger: Ledger) -> datetime | None:
    """When handover may happen: the final notice's waiting time after it was sent."""
    if ledger.final_notice_at is None or inp.policy.handover_after_days is None:
        return None
    start = ledger.final_notice_at
    if ledger.letter_posted_at is not None and ledger.letter_posted_at >= start:
        start = max(start, after_postal_days(inp, ledger, ledger.letter_posted_at))
    at = start + journey_days(inp.policy.handover_after_days, inp.clock)
    if ledger.handover_not_before is not None:
        at = max(at, ledger.handover_not_before)
    return at


# --- deciding what is next -------------------------------------------------------------------

ActionKind = Literal[
    "step",
    "fallback",
    "release_hold",
    "handover",
    "installment_reminder",
    "installment_check",
    "wait",
]


@dataclass(frozen=True)
class Decision:
    """The one thing the journey does next, and when (None: only a signal can move it)."""

    kind: ActionKind
    phase: Phase
    at: datetime | None
    step_index: int | None = None


def decide(inp: JourneyInput, ledger: Ledger) -> Decision:
    if ledger.closed is not None:
        return Decision("wait", ledger.closed, None)
    held = hold_phase(ledger.holds)
    if held == "plan_active":
        return plan_decision(inp, ledger)
    if held is not None:
        ends = hold_ends_at(inp, ledger)
        return Decision("release_hold" if ends else "wait", held, ends)
    if ledger.fallbacks:
        index, since = ledger.fallbacks[0]
        if ledger.revisions.windowed_contacts:
            since = contact_slot(inp, ledger, since, inp.policy.steps[index].channel)
        return Decision("fallback", "scheduled", since, index)
    if ledger.next_index < len(inp.policy.steps):
        return Decision(
            "step", "scheduled", step_at(inp, ledger, ledger.next_index), ledger.next_index
        )
    at = handover_at(inp, ledger)
    if at is not None:
        if ledger.handover_approval == "blocked":
            return Decision("wait", "handover_blocked", None)
        if inp.handover_requires_approval and ledger.handover_approval != "approved":
            return Decision("wait", "awaiting_handover_approval", None)
        return Decision("handover", "awaiting_handover", at)
    return Decision("wait", "awaiting_agent", None)


# --- payment plans ---------------------------------------------------------------------------


def installment_schedule(
    balance: Decimal, count: int, first_due: date, interval_days: int
) -> list[tuple[date, Decimal]]:
    """Equal installments in whole öre/cents; the last one takes the rounding remainder."""
    each = (balance / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    amounts = [each] * (count - 1) + [balance - each * (count - 1)]
    return [(first_due + timedelta(days=interval_days * n), a) for n, a in enumerate(amounts)]


def plan_decision(inp: JourneyInput, ledger: Ledger) -> Decision:
    """While a plan runs: remind before each installment, then check it after its grace."""
    if ledger.plan_next >= len(ledger.plan):
        return Decision("wait", "plan_active", None)
    due, _ = ledger.plan[ledger.plan_next]
    tz, hour, policy = calendar_zone(inp, ledger), inp.policy.send_hour, inp.policy
    if ledger.plan_reminded < ledger.plan_next:
        remind_day = due - timedelta(days=policy.installment_reminder_days)
        at = day_instant(remind_day, hour, inp.clock, tz)
        if ledger.revisions.windowed_contacts:
            at = contact_slot(inp, ledger, at, "email")
        return Decision("installment_reminder", "plan_active", at, ledger.plan_next)
    check_day = due + timedelta(days=policy.installment_grace_days)
    at = day_instant(check_day, hour, inp.clock, tz)
    return Decision("installment_check", "plan_active", at, ledger.plan_next)


def installment_kept(ledger: Ledger, index: int) -> bool:
    """Has everything due up to and including installment `index` been paid since approval?"""
    paid_since = ledger.paid + ledger.credited - ledger.plan_paid_before
    return paid_since >= sum(amount for _, amount in ledger.plan[: index + 1])


def release_holds(inp: JourneyInput, ledger: Ledger, now: datetime) -> None:
    """Lift every hold and push the remaining plan back, so that the customer is not hit by
    all the steps that fell due during the pause at once: the next one comes after a grace
    period and the rest keep their spacing."""
    ledger.holds = Holds()
    not_before = now + journey_days(inp.policy.resume_grace_days, inp.clock)
    if ledger.next_index >= len(inp.policy.steps):
        ledger.handover_not_before = not_before
    elif ledger.revisions.calendar_shifts:
        ledger.delay_days += days_to_shift(inp, ledger, ledger.next_index, not_before)
    else:
        late_by = not_before - step_at(inp, ledger, ledger.next_index)
        if late_by > timedelta(0):
            ledger.delay += late_by


def lift_expired_hold(inp: JourneyInput, ledger: Ledger, now: datetime) -> None:
    """A promise or pause ran out: the journey resumes, and its history says why."""
    holds = ledger.holds
    if holds.promise_date is not None:
        detail = f"promise to pay by {holds.promise_date} not kept; journey resumes"
    else:
        detail = f"pause until {holds.paused_until} ended; journey resumes"
    release_holds(inp, ledger, now)
    ledger.history.append(HistoryEntry(at=now, kind="resume", detail=detail))


def days_to_shift(inp: JourneyInput, ledger: Ledger, index: int, not_before: datetime) -> int:
    """The fewest whole days in the customer's calendar that bring step `index`'s planned
    instant to `not_before` or later. Whole days, not hours: a step planned for 09:00 stays at
    09:00 local time across a daylight-saving change (the windows then move it if needed)."""
    if planned_at(inp, ledger, index) >= not_before:
        return 0
    zone = calendar_zone(inp, ledger)
    gap = journey_today(not_before, inp.clock, zone) - journey_today(
        planned_at(inp, ledger, index), inp.clock, zone
    )
    days = max(0, gap.days - 1)
    while planned_at(inp, ledger, index, days) < not_before:
        days += 1
    return days


# --- the state the `state` query returns -----------------------------------------------------


def ledger_figures(ledger: Ledger) -> dict[str, Any]:
    """The ledger's share of what the `state` query answers, with or without the policy."""
    return {
        "paid": ledger.paid,
        "credited": ledger.credited,
        "fees": ledger.fees,
        "balance": ledger.balance,
        "due_date": ledger.due_date,
        "history": tuple(ledger.history),
    }


def snapshot(
    inp: JourneyInput, ledger: Ledger, workflow_id: str, now: datetime | None = None
) -> JourneyState:
    decision = decide(inp, ledger)
    next_step = None
    if decision.kind == "step" and decision.step_index is not None and decision.at is not None:
        step = inp.policy.steps[decision.step_index]
        next_step = NextStep(
            index=decision.step_index,
            channel=step.channel,
            template=step.template,
            at=decision.at,
            final_notice=step.final_notice,
        )
    version = version_of(inp)
    return JourneyState(
        **journey_ids(inp, workflow_id),
        phase=decision.phase,
        segment=inp.segment,
        next_segment=ledger.next_segment,
        currency=inp.invoice.currency,
        amount_due=inp.invoice.amount_due,
        **ledger_figures(ledger),
        interest=interest_due(inp, ledger, now) if now is not None else Decimal("0"),
        interest_unknown_from=interest_unknown_from(inp, ledger, now) if now else None,
        next_step=next_step,
        handover_at=decision.at if decision.kind == "handover" else None,
        paused_until=ledger.holds.paused_until,
        promise_date=ledger.holds.promise_date,
        handover_approval=ledger.handover_approval
        or ("required" if inp.handover_requires_approval else None),
        open_tasks=tuple(ledger.open_tasks),
        channels_unavailable=unavailable_channels(inp, ledger),
        customer_timezone=known_zone(inp, ledger),
        contact_zones=contact_zones(inp, ledger),
        policy_name=version.name,
        config_digest=version.digest,
    )


def is_closed(phase: str) -> bool:
    return phase in CLOSED_PHASES
