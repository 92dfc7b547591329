"""Properties of whole journeys' plans, for any customer, zone (known or not), pause,
extension and policy: the classes of test that would have caught issue 15.

1. Every contact a journey plans falls inside the jurisdiction's hours in every zone the
   customer could be in, never on a holiday, and inside the company's opening hours whenever
   the two have any instant in common; checked against an oracle that reads wall clocks with
   `astimezone`, not against the span algebra of `domain.windows`.
2. Pauses and extensions move steps in whole days: a step's planned local time is the send
   hour, across daylight-saving changes.
3. Every fee charged, wherever it is added (step, collection letter, plan, B2B compensation),
   is zero or within the pack's caps, in the pack's currency, once per kind.

Hypothesis runs a fixed number of examples, derandomized and without its example database,
so every run, here or in CI, tries exactly the same cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.jurisdiction import US_TIME_ZONES, pack_for
from domain.messages import (
    AgentRequest,
    ApprovePlanAction,
    DeliveryFailure,
    ExtendAction,
    PauseAction,
    ResumeAction,
)
from domain.models import Customer, JourneyInput, Policy
from domain.opening_hours import OpeningHours
from domain.windows import CALL_MIN_OPEN
from tests.domain.strategies import (
    DST_DATES,
    US_SERVICE_ZONES,
    ZONE_OR_UNKNOWN,
    ZONES,
    customers,
    holidays_near,
    opening_hours,
    policies,
)
from tests.factories import journey_input
from workflows import journey_time, planning, rules
from workflows.ledger import Ledger

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)
_GRID = timedelta(minutes=5)
"""Opening intervals, the law's hours and every zone offset in use are whole multiples of
five minutes, so a five-minute grid finds every instant the windows could have chosen."""


# --- the oracle ------------------------------------------------------------------------------


def _service_open(at: datetime, hours: OpeningHours, holidays: frozenset[date]) -> bool:
    local = at.astimezone(ZoneInfo(hours.timezone))
    if local.date() in holidays:
        return False
    minute = local.hour * 60 + local.minute + (local.second > 0 or local.microsecond > 0) / 2
    return any(iv.start <= minute < iv.end for iv in hours.intervals_on(local.date()))


def _open_long_enough(
    at: datetime, hours: OpeningHours, holidays: frozenset[date], min_open: timedelta
) -> bool:
    probes = [at] + [at + _GRID * n for n in range(1, int(min_open / _GRID))]
    if min_open > timedelta(0):
        probes.append(at + min_open - timedelta(microseconds=1))
    return all(_service_open(p, hours, holidays) for p in probes)


def _lawful(inp: JourneyInput, ledger: Ledger, at: datetime, holidays: frozenset[date]) -> bool:
    """The jurisdiction's hours in every zone the customer could be in, and no holiday there."""
    pack = pack_for(inp.jurisdiction)
    for zone in journey_time.contact_zones(inp, ledger):
        local = at.astimezone(ZoneInfo(zone))
        if local.date() in holidays:
            return False
        if pack.contact_hours is not None:
            opens, closes = pack.contact_hours
            if not opens <= local.time() < closes:
                return False
    return True


def _allowed(
    inp: JourneyInput, ledger: Ledger, at: datetime, min_open: timedelta, with_service: bool
) -> bool:
    holidays = frozenset(inp.holidays)
    if not _lawful(inp, ledger, at, holidays):
        return False
    if not with_service:
        return True
    assert inp.opening_hours is not None
    return _open_long_enough(at, inp.opening_hours, holidays, min_open)


def _any_joint_instant(
    inp: JourneyInput, ledger: Ledger, start: datetime, min_open: timedelta
) -> bool:
    first = start.replace(second=0, microsecond=0)
    first += timedelta(minutes=(-first.minute) % 5)
    return any(
        _allowed(inp, ledger, first + _GRID * n, min_open, with_service=True)
        for n in range(10 * 24 * 12)
    )


def assert_contact_allowed(
    inp: JourneyInput, ledger: Ledger, planned: datetime, at: datetime, channel: str
) -> None:
    min_open = CALL_MIN_OPEN if channel == "call" else timedelta(0)
    assert at >= planned, (planned, at)
    where = f"{at.isoformat()} for {journey_time.contact_zones(inp, ledger)} ({channel})"
    if pack_for(inp.jurisdiction).contact_hours is not None or inp.opening_hours is not None:
        assert _lawful(inp, ledger, at, frozenset(inp.holidays)), f"unlawful: {where}"
    if inp.opening_hours is not None and not _allowed(inp, ledger, at, min_open, True):
        # Only when the hours and the law have nothing in common (the windows then fall back
        # on the law alone): then not even the next ten days had a joint instant.
        assert not _any_joint_instant(inp, ledger, planned, min_open), f"closed: {where}"


# --- journeys under pauses and extensions ----------------------------------------------------


@dataclass(frozen=True)
class Interruption:
    kind: str  # "pause" (and resume), "extend", "fail" (a delivery failure: fallback)
    after: timedelta
    """When, after the previous interruption (the first: after the due date's midnight)."""
    length: timedelta
    """How long a pause lasts, or by how much an extension moves the due date."""


INTERRUPTIONS = st.lists(
    st.builds(
        Interruption,
        kind=st.sampled_from(("pause", "pause", "extend", "fail")),
        after=st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=20)),
        length=st.timedeltas(min_value=timedelta(hours=1), max_value=timedelta(days=40)),
    ),
    max_size=3,
)


@st.composite
def journeys(draw: st.DrawFn) -> JourneyInput:
    jurisdiction = draw(st.sampled_from(("SE", "US")))
    base = draw(st.sampled_from(DST_DATES)).date() - timedelta(days=draw(st.integers(0, 40)))
    zones = US_SERVICE_ZONES if jurisdiction == "US" and draw(st.booleans()) else ZONES
    hours = draw(st.one_of(st.none(), opening_hours(zones=zones, near=base)))
    inp = journey_input(
        "inv_p",
        policy=draw(policies()),
        issued=base - timedelta(days=14),
        timezone=draw(ZONE_OR_UNKNOWN),
    )
    return inp.model_copy(
        update={
            "jurisdiction": jurisdiction,
            "opening_hours": hours,
            "holidays": tuple(sorted(draw(holidays_near(base)))),
        }
    )


def run_plan(inp: JourneyInput, interruptions: list[Interruption]) -> Iterator[tuple[str, Ledger]]:
    """Walk the journey through its interruptions as the workflow would, yielding after each
    change so the caller can check every contact planned from then on."""
    ledger = Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    now = datetime.combine(inp.invoice.due_date, time(0), tzinfo=UTC)
    yield "start", ledger
    for step in interruptions:
        now = max(now, now + step.after)
        while ledger.next_index < len(inp.policy.steps):  # steps due by now went out
            if planning.step_at(inp, ledger, ledger.next_index) > now:
                break
            ledger.next_index += 1
        if step.kind == "pause":
            pause = AgentRequest(action=PauseAction(agent="a"))
            rules.apply_action(inp, ledger, pause, now)
            now += step.length
            rules.apply_action(inp, ledger, AgentRequest(action=ResumeAction(agent="a")), now)
            if ledger.next_index < len(inp.policy.steps):
                grace = journey_time.journey_days(inp.policy.resume_grace_days, inp.clock)
                assert planning.step_at(inp, ledger, ledger.next_index) >= now + grace
        elif step.kind == "extend":
            later = ledger.due_date + timedelta(days=max(1, step.length.days))
            rules.apply_action(
                inp, ledger, AgentRequest(action=ExtendAction(agent="a", due_date=later)), now
            )
        elif ledger.next_index > 0:
            failure = DeliveryFailure(
                event_id=f"f{now.isoformat()}",
                step_key=f"step-{ledger.next_index - 1}-email",
                channel="email",
                reason="bounced",
            )
            rules.apply_delivery_failure(ledger, failure, now)
        yield step.kind, ledger


@PROPERTY
@given(journeys(), INTERRUPTIONS)
def test_every_planned_contact_is_lawful_and_while_someone_can_answer(
    inp: JourneyInput, interruptions: list[Interruption]
) -> None:
    for _, ledger in run_plan(inp, interruptions):
        for index in range(ledger.next_index, len(inp.policy.steps)):
            channel = inp.policy.steps[index].channel
            planned = planning.planned_at(inp, ledger, index)
            assert_contact_allowed(
                inp, ledger, planned, planning.step_at(inp, ledger, index), channel
            )
        if ledger.fallbacks:  # the first queued fallback is the next thing the journey does
            index, since = ledger.fallbacks[0]
            decision = planning.decide(inp, ledger)
            if decision.kind == "fallback" and decision.at is not None:
                channel = inp.policy.steps[index].channel
                assert_contact_allowed(inp, ledger, since, decision.at, channel)


@PROPERTY
@given(journeys(), INTERRUPTIONS)
def test_pauses_and_extensions_keep_each_steps_local_send_hour(
    inp: JourneyInput, interruptions: list[Interruption]
) -> None:
    send = time(inp.policy.send_hour)
    for _, ledger in run_plan(inp, interruptions):
        zone = ZoneInfo(journey_time.calendar_zone(inp, ledger))
        for index in range(ledger.next_index, len(inp.policy.steps)):
            local = planning.planned_at(inp, ledger, index).astimezone(zone)
            wall = datetime.combine(local.date(), send, tzinfo=zone)
            exists = wall.astimezone(UTC).astimezone(zone).time() == send
            assert local.time() == send or not exists, (index, local)


@PROPERTY
@given(journeys(), st.sampled_from(ZONES + (None,)))
def test_installment_reminders_are_lawful_too(inp: JourneyInput, zone: str | None) -> None:
    inp = inp.model_copy(update={"customer": inp.customer.model_copy(update={"timezone": zone})})
    ledger = Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    ledger.holds.plan = "requested"
    approve = AgentRequest(action=ApprovePlanAction(agent="a", installments=3))
    now = datetime.combine(inp.invoice.due_date, time(12), tzinfo=UTC)
    rules.apply_action(inp, ledger, approve, now)
    for index, (due, _) in enumerate(ledger.plan):
        ledger.plan_next, ledger.plan_reminded = index, index - 1
        decision = planning.decide(inp, ledger)
        assert decision.kind == "installment_reminder" and decision.at is not None
        remind_day = due - timedelta(days=inp.policy.installment_reminder_days)
        planned = journey_time.day_instant(
            remind_day, inp.policy.send_hour, inp.clock, journey_time.calendar_zone(inp, ledger)
        )
        assert_contact_allowed(inp, ledger, planned, decision.at, "email")


def test_the_unknown_us_zone_is_every_us_zone() -> None:
    """The oracle's own premise: what `contact_zones` answers for an unknown US customer."""
    inp = journey_input(timezone=None).model_copy(update={"jurisdiction": "US"})
    assert journey_time.contact_zones(inp, Ledger(date(2026, 3, 1), Decimal(1))) == US_TIME_ZONES


# --- fees ------------------------------------------------------------------------------------


CURRENCIES = st.sampled_from(("SEK", "USD", "EUR", "NOK"))


@PROPERTY
@given(
    customers(),
    policies(fee_kinds=True),
    CURRENCIES,
    st.sampled_from(("SE", "US")),
    st.lists(st.sampled_from(("email", "sms", "call")), min_size=8, max_size=8),
    st.integers(0, 8),
)
def test_every_fee_charged_is_within_the_packs_caps_or_zero(
    customer: Customer,
    policy: Policy,
    currency: str,
    jurisdiction: str,
    channels: list[str],
    plan_after: int,
) -> None:
    inp = journey_input("inv_f", policy=policy)
    bill = inp.invoice.model_copy(update={"currency": currency})
    inp = inp.model_copy(
        update={"customer": customer, "invoice": bill, "jurisdiction": jurisdiction}
    )
    pack = pack_for(jurisdiction)
    ledger = Ledger(due_date=bill.due_date, amount_due=bill.amount_due)
    charged: list[tuple[str, Decimal]] = []

    def charge(kind: str | None, amount: Decimal) -> None:
        if amount == 0:
            return
        assert kind is not None and currency == pack.currency, (kind, amount, currency)
        assert not customer.vulnerable
        charged.append((kind, amount))

    for index, step in enumerate(policy.steps):
        if index == plan_after:
            before = ledger.fees
            ledger.holds.plan = "requested"
            rules.apply_action(
                inp,
                ledger,
                AgentRequest(action=ApprovePlanAction(agent="a")),
                datetime(2026, 1, 1, tzinfo=UTC),
            )
            ledger.holds.plan = None
            charge("payment_plan" if ledger.fees > before else None, ledger.fees - before)
        fee = planning.fee_for_step(inp, ledger, step, channels[index])  # type: ignore[arg-type]
        if fee.amount > 0 and fee.kind is not None:
            ledger.fee_kinds.append(fee.kind)
            ledger.fees += fee.amount
        charge(fee.kind, fee.amount)

    kinds = [kind for kind, _ in charged]
    assert len(kinds) == len(set(kinds)), f"a kind charged twice: {charged}"
    for kind, amount in charged:
        if kind == "late_compensation":
            assert customer.is_business and amount == pack.business_compensation
            assert not {"reminder", "collection_letter"} & set(kinds)
            continue
        rule = pack.fee_rule(kind)  # type: ignore[arg-type]
        assert rule is not None, f"{pack.code} has no {kind} fee, yet {amount} was charged"
        assert rule.cap is None or amount <= rule.cap
        assert customer.fee_agreed or not rule.needs_agreement
    assert ledger.fees == sum((a for _, a in charged), Decimal("0"))
