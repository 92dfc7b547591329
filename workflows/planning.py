"""Deterministic planning of a journey: which step is next, and when.

Pure functions over plain data, no I/O and no clock of their own (the workflow passes in
`workflow.now()`), so they are unit-tested directly and replay identically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from domain.contact_rules import call_allowed
from domain.fees import FeeDecision, lawful_fee
from domain.interest import MissingReferenceRateError, late_interest
from domain.jurisdiction import pack_for
from domain.models import Customer, JourneyClock, JourneyInput, Step
from domain.opening_hours import WEEKDAYS, OpeningHours, OpeningInterval
from domain.state import CLOSED_PHASES, HistoryEntry, JourneyState, NextStep, Phase
from domain.values import Channel
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


# --- which rules this run follows --------------------------------------------------------------

LAW_CLOCK_PATCH = "law-clock-rules"
"""One patch for the four law-and-clock fixes of one release (issue 15): one marker in each
new history instead of four, and one deprecation later; `Revisions` keeps them apart."""


@dataclass
class Revisions:
    """Which behaviour changes this run follows, decided once per run by `workflow.patched`
    (`from_patches`), so that histories of older code replay as they ran.
    The defaults are today's rules: pure callers and new journeys get them."""

    unknown_zone: bool = True
    """A customer of unknown zone stays unknown up to the window check (before: Stockholm)."""
    calendar_shifts: bool = True
    """Pauses move steps by whole days in the customer's calendar (before: by hours)."""
    lawful_plan_fee: bool = True
    """The payment-plan fee goes through `lawful_fee` (before: only agreement and vulnerable)."""
    windowed_contacts: bool = True
    """Fallbacks and installment reminders wait for a contact slot too, and the
    jurisdiction's hours apply even without opening hours (before: they went at once)."""

    @classmethod
    def from_patches(cls, patched: Callable[[str], bool]) -> Revisions:
        new = patched(LAW_CLOCK_PATCH)
        return cls(
            unknown_zone=new, calendar_shifts=new, lawful_plan_fee=new, windowed_contacts=new
        )


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
    """How far pauses pushed the remaining steps back, in hours (runs before
    `Revisions.calendar_shifts`; kept so that their journeys go on as planned)."""
    delay_days: int = 0
    """How many calendar days pauses pushed the remaining steps back: a step keeps its local
    send hour across a daylight-saving change."""
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
    revisions: Revisions = field(default_factory=Revisions)
    """Set by the workflow when its run starts; see `Revisions`."""

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


# --- the customer's time zone ----------------------------------------------------------------

LEGACY_ZONE = "Europe/Stockholm"
"""What an unknown zone used to be taken for (runs before `Revisions.unknown_zone`)."""


def company_zone(inp: JourneyInput) -> str:
    """Customer service's zone, or the jurisdiction's home zone when it has set no hours."""
    if inp.opening_hours is not None:
        return inp.opening_hours.timezone
    return pack_for(inp.jurisdiction).home_zone


def known_zone(inp: JourneyInput, ledger: Ledger) -> str | None:
    """The customer's zone as the contact windows see it: None when unknown."""
    if inp.customer.timezone is None and not ledger.revisions.unknown_zone:
        return LEGACY_ZONE
    return inp.customer.timezone


def calendar_zone(inp: JourneyInput, ledger: Ledger) -> str:
    """The zone the customer's days are counted in (send hour, today, pause ends). An unknown
    zone is counted in the company's: the windows still keep every contact lawful."""
    return known_zone(inp, ledger) or company_zone(inp)


def contact_zones(inp: JourneyInput, ledger: Ledger) -> tuple[str, ...]:
    """Whose wall clock a contact must suit: the customer's zone; when it is unknown, every
    zone the jurisdiction says they could be in (US) or else the company's own (SE)."""
    zone = known_zone(inp, ledger)
    if zone is not None:
        return (zone,)
    pack = pack_for(inp.jurisdiction)
    if pack.contact_hours is not None:
        return pack.unknown_tz_zones
    return (company_zone(inp),)


def customer_today(inp: JourneyInput, ledger: Ledger, now: datetime) -> date:
    """The customer's calendar date at `now`."""
    return journey_today(now, inp.clock, calendar_zone(inp, ledger))


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
    return contact_slot(
        inp, ledger, planned_at(inp, ledger, index), inp.policy.steps[index].channel
    )


_ALWAYS_OPEN = OpeningHours(
    timezone="UTC", weekly={day: (OpeningInterval(start=0, end=1440),) for day in WEEKDAYS}
)


def contact_slot(
    inp: JourneyInput, ledger: Ledger, planned: datetime, channel: Channel
) -> datetime:
    """The first instant at or after `planned` at which a contact may go out: customer service
    open (a call with 30 minutes left), no holiday, and the jurisdiction's hours in every zone
    of `contact_zones`."""
    # The demo's compressed clock has no hours of the day to respect.
    if inp.clock.compressed:
        return planned
    pack = pack_for(inp.jurisdiction)
    hours = inp.opening_hours
    if hours is None:
        if not ledger.revisions.windowed_contacts or pack.contact_hours is None:
            return planned
        hours = _ALWAYS_OPEN
    zone = known_zone(inp, ledger)
    min_open = CALL_MIN_OPEN if channel == "call" else timedelta(0)
    try:
        return next_contact_slot(
            planned,
            hours,
            zone,
            frozenset(inp.holidays),
            min_open=min_open,
            jurisdiction_hours=pack.contact_hours,
            unknown_tz_zones=pack.unknown_tz_zones or (company_zone(inp),),
        )
    except NoContactSlotError:
        pass
    # Hours that never allow this contact: the law still does. Without a law on hours, or on a
    # run before the windows applied everywhere, keep the plan rather than fail the workflow
    # task forever.
    if ledger.revisions.windowed_contacts and pack.contact_hours is not None:
        try:
            return next_contact_slot(
                planned,
                _ALWAYS_OPEN,
                zone,
                frozenset(inp.holidays),
                jurisdiction_hours=pack.contact_hours,
                unknown_tz_zones=pack.unknown_tz_zones,
            )
        except NoContactSlotError:
            pass
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
    today_ = customer_today(inp, ledger, now)
    principal = max(Decimal("0"), inp.invoice.amount_due - ledger.paid - ledger.credited)
    if today_ <= inp.invoice.due_date or principal == 0:
        return Decimal("0")
    try:
        return late_interest(principal, inp.invoice.due_date, today_, inp.reference_rates)
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
        kind=step.fee_kind,
        currency=inp.invoice.currency,
        channel=channel,
    )


def plan_fee(inp: JourneyInput, ledger: Ledger) -> FeeDecision:
    """The payment-plan fee an approval may charge: only where the customer agreed to fees (the
    company's rule, stricter than Swedish law), then capped, in the pack's currency, once per
    invoice and never to a vulnerable customer, by the same `lawful_fee` as every step."""
    c = customer(inp, ledger)
    if inp.policy.plan_fee and not c.fee_agreed:
        return FeeDecision(Decimal("0.00"), "no payment-plan fee: fees not agreed", None)
    return lawful_fee(
        inp.policy.plan_fee,
        c,
        ledger.fee_kinds,
        pack_for(inp.jurisdiction),
        kind="payment_plan",
        currency=inp.invoice.currency,
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
        customer_timezone=known_zone(inp, ledger),
        contact_zones=contact_zones(inp, ledger),
        history=tuple(ledger.history),
    )


def is_closed(phase: str) -> bool:
    return phase in CLOSED_PHASES
