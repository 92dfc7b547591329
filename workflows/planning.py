"""Deterministic planning of a journey: which step is next, and when.

Pure functions over plain data, no I/O and no clock of their own (the workflow passes in
`workflow.now()`), so they are unit-tested directly and replay identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from domain.interest import MissingReferenceRateError, late_interest
from domain.jurisdiction import FeeDecision, call_allowed, lawful_fee, pack_for
from domain.models import (
    CLOSED_PHASES,
    Channel,
    Customer,
    HistoryEntry,
    JourneyClock,
    JourneyInput,
    JourneyState,
    NextStep,
    Phase,
    Step,
)
from domain.windows import CALL_MIN_OPEN, NoContactSlotError, next_contact_slot

MAX_PROMISE_DAYS = 30
"""How far ahead a promise to pay may reach before it needs a payment plan instead."""
CONTACT_REQUEST_PAUSE_DAYS = 3
"""A customer who asks to be called gets this long for customer service to call back."""


# --- journey time ----------------------------------------------------------------------------


def journey_days(n: float, clock: JourneyClock) -> timedelta:
    """Length of `n` journey days: real days, or seconds each on the demo's compressed clock."""
    return timedelta(seconds=n * clock.seconds_per_day)


def day_instant(day: date, hour: float, clock: JourneyClock, tz_name: str) -> datetime:
    """The UTC instant of `hour` o'clock on journey day `day` in the customer's time zone."""
    if clock.origin is not None and clock.origin_date is not None:
        offset = (day - clock.origin_date).days + hour / 24
        return clock.origin + journey_days(offset, clock)
    whole = int(hour)
    minutes = round((hour - whole) * 60)
    local = datetime.combine(day, time(whole, minutes), tzinfo=ZoneInfo(tz_name))
    return local.astimezone(UTC)


def journey_today(now: datetime, clock: JourneyClock, tz_name: str) -> date:
    """The customer's calendar date at `now` (on the demo clock, the compressed date)."""
    if clock.origin is not None and clock.origin_date is not None:
        elapsed = (now - clock.origin).total_seconds() / clock.seconds_per_day
        return clock.origin_date + timedelta(days=int(elapsed // 1))
    return now.astimezone(ZoneInfo(tz_name)).date()


# --- the journey's own state -----------------------------------------------------------------


@dataclass
class Holds:
    """What keeps the journey from contacting the customer right now."""

    paused: bool = False
    paused_until: date | None = None
    promise_date: date | None = None
    dispute_open: bool = False
    plan: Literal["requested", "active"] | None = None


@dataclass
class Ledger:
    """The mutable state of one journey, owned by the workflow and changed by its handlers."""

    due_date: date
    amount_due: Decimal
    paid: Decimal = Decimal("0")
    credited: Decimal = Decimal("0")
    fees: Decimal = Decimal("0")
    next_index: int = 0
    steps_sent: int = 0
    delay: timedelta = timedelta(0)
    """How far pauses have pushed the remaining steps back."""
    final_notice_at: datetime | None = None
    handover_not_before: datetime | None = None
    holds: Holds = field(default_factory=Holds)
    closed: Phase | None = None
    resolved_at_step: int | None = None
    applied_events: set[str] = field(default_factory=set)
    history: list[HistoryEntry] = field(default_factory=list)
    consent: dict[Channel, bool] = field(default_factory=dict)
    """Consent changes since the journey started; the input's snapshot holds the rest."""
    bad_channels: set[Channel] = field(default_factory=set)
    """Channels whose address is known bad (hard bounce, invalid or opted-out number)."""
    tried: dict[int, set[Channel]] = field(default_factory=dict)
    """Per step, the channels already used, so a fallback never repeats one."""
    fallbacks: list[tuple[int, datetime]] = field(default_factory=list)
    """Steps to deliver again on another channel, and since when."""
    handover_approval: Literal["required", "approved", "blocked"] | None = None
    open_tasks: list[str] = field(default_factory=list)
    plan: list[tuple[date, Decimal]] = field(default_factory=list)
    """An approved payment plan's installments (due date, amount)."""
    plan_next: int = 0
    plan_reminded: int = -1
    vulnerable: bool = False
    """An agent marked the customer vulnerable during the journey (see `customer`)."""
    call_attempts: list[datetime] = field(default_factory=list)
    """When calls were placed: the US pack allows at most 7 in 7 days."""
    last_conversation: datetime | None = None
    """When the customer last spoke with customer service (no US call within 7 days)."""
    fee_kinds: list[str] = field(default_factory=list)
    """Kinds of fee already charged (a reminder fee is charged once per invoice)."""
    plan_paid_before: Decimal = Decimal("0")
    """Payments and credits before the plan began: installments count what came after."""

    @property
    def balance(self) -> Decimal:
        return max(Decimal("0"), self.amount_due + self.fees - self.paid - self.credited)


_LEDGER = TypeAdapter(Ledger)


def dump_ledger(ledger: Ledger) -> dict[str, Any]:
    """The ledger as JSON-ready data, carried into the next run on continue-as-new."""
    data: dict[str, Any] = _LEDGER.dump_python(ledger, mode="json")
    return data


def load_ledger(data: dict[str, Any]) -> Ledger:
    return _LEDGER.validate_python(data)


def hold_phase(holds: Holds) -> Phase | None:
    """The hold that explains the journey's state, strongest first."""
    if holds.dispute_open:
        return "disputed"
    if holds.plan == "requested":
        return "plan_requested"
    if holds.plan == "active":
        return "plan_active"
    if holds.paused:
        return "paused"
    if holds.promise_date is not None:
        return "promised"
    return None


def hold_ends_at(inp: JourneyInput, holds: Holds) -> datetime | None:
    """When the active hold lifts by itself, or None if only a person can lift it."""
    if holds.dispute_open or holds.plan is not None:
        return None
    tz = inp.customer.timezone
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


def step_at(inp: JourneyInput, ledger: Ledger, index: int) -> datetime:
    """When step `index` goes out: its planned day and hour, moved to the next moment customer
    service is open (for a call, open for at least 30 more minutes), never on a holiday, and
    inside the jurisdiction's contact hours in the customer's zone."""
    step = inp.policy.steps[index]
    day = ledger.due_date + timedelta(days=step.offset_days)
    planned = day_instant(day, inp.policy.send_hour, inp.clock, inp.customer.timezone)
    return contact_slot(inp, planned + ledger.delay, step.channel)


def contact_slot(inp: JourneyInput, planned: datetime, channel: Channel) -> datetime:
    # The demo's compressed clock has no hours of the day to respect.
    if inp.opening_hours is None or inp.clock.compressed:
        return planned
    pack = pack_for(inp.jurisdiction)
    try:
        return next_contact_slot(
            planned,
            inp.opening_hours,
            inp.customer.timezone,
            frozenset(inp.holidays),
            min_open=CALL_MIN_OPEN if channel == "call" else timedelta(0),
            jurisdiction_hours=pack.contact_hours,
        )
    except NoContactSlotError:
        # Hours that never allow this contact are refused when the policy file loads; a
        # journey started before must not fail its workflow task forever: keep the plan.
        return planned


def handover_at(inp: JourneyInput, ledger: Ledger) -> datetime | None:
    """When handover may happen: the final notice's waiting time after it was sent."""
    if ledger.final_notice_at is None or inp.policy.handover_after_days is None:
        return None
    at = ledger.final_notice_at + journey_days(inp.policy.handover_after_days, inp.clock)
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
        ends = hold_ends_at(inp, ledger.holds)
        return Decision("release_hold" if ends else "wait", held, ends)
    if ledger.fallbacks:
        index, since = ledger.fallbacks[0]
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
    tz, hour, policy = inp.customer.timezone, inp.policy.send_hour, inp.policy
    if ledger.plan_reminded < ledger.plan_next:
        remind_day = due - timedelta(days=policy.installment_reminder_days)
        at = day_instant(remind_day, hour, inp.clock, tz)
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
    if ledger.next_index < len(inp.policy.steps):
        late_by = not_before - step_at(inp, ledger, ledger.next_index)
        if late_by > timedelta(0):
            ledger.delay += late_by
    else:
        ledger.handover_not_before = not_before


# --- channels --------------------------------------------------------------------------------

FALLBACK_ORDER: dict[Channel, tuple[Channel, ...]] = {
    "email": ("email", "sms"),
    "sms": ("sms", "email"),
    "call": ("call", "sms", "email"),
}
"""Where a step goes when its own channel cannot be used: never from a message up to a call."""


def customer(inp: JourneyInput, ledger: Ledger) -> Customer:
    """The customer as the journey knows them now: the start snapshot plus what agents said."""
    if ledger.vulnerable and not inp.customer.vulnerable:
        return inp.customer.model_copy(update={"vulnerable": True})
    return inp.customer


def channel_unavailable(
    inp: JourneyInput, ledger: Ledger, channel: Channel, now: datetime | None = None
) -> str | None:
    """Why `channel` cannot reach this customer now, or None if it can."""
    c = customer(inp, ledger)
    if not ledger.consent.get(channel, getattr(c.consent, channel)):
        return f"no consent for {channel}"
    if (c.email if channel == "email" else c.phone) is None:
        return "no email address" if channel == "email" else "no phone number"
    if channel in ledger.bad_channels:
        return f"{channel} address known bad"
    if channel == "call" and c.vulnerable:
        return "no automated calls to a vulnerable customer"
    if channel == "call" and now is not None:
        allowed, earliest = call_allowed(
            ledger.call_attempts, ledger.last_conversation, now, pack_for(inp.jurisdiction)
        )
        if not allowed:
            return f"call limit reached until {earliest:%Y-%m-%d %H:%M} UTC"
    return None


def pick_channel(
    inp: JourneyInput, ledger: Ledger, index: int, now: datetime | None = None
) -> tuple[Channel | None, list[str]]:
    """The first usable channel for step `index`, and why each channel before it was not."""
    preferred = inp.policy.steps[index].channel
    reasons: list[str] = []
    for channel in FALLBACK_ORDER[preferred]:
        if channel in ledger.tried.get(index, set()):
            continue
        why = channel_unavailable(inp, ledger, channel, now)
        if why is None:
            return channel, reasons
        reasons.append(why)
    return None, reasons


def unavailable_channels(inp: JourneyInput, ledger: Ledger) -> tuple[Channel, ...]:
    channels: tuple[Channel, ...] = ("email", "sms", "call")
    return tuple(c for c in channels if channel_unavailable(inp, ledger, c))


# --- money -----------------------------------------------------------------------------------


def interest_due(inp: JourneyInput, ledger: Ledger, now: datetime) -> Decimal:
    """Statutory late-payment interest on what is unpaid of the invoice itself (fees carry
    none), from the original due date until today; zero where no rate table is configured."""
    if not inp.reference_rates:
        return Decimal("0")
    today = journey_today(now, inp.clock, inp.customer.timezone)
    principal = max(Decimal("0"), inp.invoice.amount_due - ledger.paid - ledger.credited)
    if today <= inp.invoice.due_date or principal == 0:
        return Decimal("0")
    try:
        return late_interest(principal, inp.invoice.due_date, today, inp.reference_rates)
    except MissingReferenceRateError:
        return Decimal("0")  # a rate not configured yet: show none rather than a guess


def fee_for_step(inp: JourneyInput, ledger: Ledger, step: Step, channel: Channel) -> FeeDecision:
    """The fee this step may lawfully charge: capped, once per kind, only where agreed, never
    to a vulnerable customer (domain.jurisdiction has the rules and their sources)."""
    return lawful_fee(
        step.fee,
        customer(inp, ledger),
        ledger.fee_kinds,
        pack_for(inp.jurisdiction),
        currency=inp.invoice.currency,
        channel=channel,
    )


# --- the state the `state` query returns -----------------------------------------------------


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
    return JourneyState(
        invoice_id=inp.invoice.id,
        workflow_id=workflow_id,
        phase=decision.phase,
        segment=inp.segment,
        currency=inp.invoice.currency,
        amount_due=inp.invoice.amount_due,
        paid=ledger.paid,
        credited=ledger.credited,
        fees=ledger.fees,
        balance=ledger.balance,
        interest=interest_due(inp, ledger, now) if now is not None else Decimal("0"),
        due_date=ledger.due_date,
        next_step=next_step,
        handover_at=decision.at if decision.kind == "handover" else None,
        paused_until=ledger.holds.paused_until,
        promise_date=ledger.holds.promise_date,
        handover_approval=ledger.handover_approval
        or ("required" if inp.handover_requires_approval else None),
        open_tasks=tuple(ledger.open_tasks),
        channels_unavailable=unavailable_channels(inp, ledger),
        history=tuple(ledger.history),
    )


def is_closed(phase: str) -> bool:
    return phase in CLOSED_PHASES
