"""The four law-and-clock defects of issue 15, each as the case that showed it, with the old
behaviour still there for runs that replay without the patch (`planning.Revisions`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.jurisdiction import US_TIME_ZONES
from domain.messages import AgentRequest, ApprovePlanAction, ExtendAction, PauseAction, ResumeAction
from domain.models import JourneyInput, Policy, Step
from domain.opening_hours import OpeningHours
from domain.policies import PolicyConfigError, parse_policies
from tests.factories import invoice, journey_input, standard_policy
from workflows import journey_time, planning, rules
from workflows.describe import current_details, static_details
from workflows.ledger import Ledger, Revisions

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NEW_YORK_HOURS = OpeningHours.model_validate(
    {
        "timezone": "America/New_York",
        "weekly": {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    }
)
US_POLICY = standard_policy()


def ledger_for(inp: JourneyInput, revisions: Revisions | None = None) -> Ledger:
    ledger = Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    ledger.revisions = revisions or Revisions()
    return ledger


def us_unknown_zone() -> JourneyInput:
    inp = journey_input(
        "inv_us", policy=US_POLICY, issued=date(2026, 2, 20), timezone=None, locale="en"
    )
    return inp.model_copy(
        update={
            "jurisdiction": "US",
            "opening_hours": NEW_YORK_HOURS,
            "invoice": invoice("inv_us", date(2026, 2, 20), currency="USD"),
        }
    )


# --- 1. an unknown zone stays unknown up to the window check ---------------------------------


def test_a_customer_without_a_zone_has_no_zone() -> None:
    assert journey_input(timezone=None).customer.timezone is None


def test_us_customer_of_unknown_zone_is_contacted_only_when_it_is_day_in_every_us_zone() -> None:
    inp = us_unknown_zone()
    ledger = ledger_for(inp)
    for index in range(len(inp.policy.steps)):
        at = planning.step_at(inp, ledger, index)
        for zone in US_TIME_ZONES:
            local = at.astimezone(ZoneInfo(zone)).time()
            assert time(8) <= local < time(21), (index, zone, local)
        # ... and while customer service in New York is open.
        assert time(8) <= at.astimezone(ZoneInfo("America/New_York")).time() < time(20)


def test_before_the_patch_an_unknown_zone_was_stockholm() -> None:
    """What the outside check found: 10:00 Stockholm is 04:00 in New York."""
    inp = us_unknown_zone()
    old = ledger_for(inp, Revisions(unknown_zone=False))
    first = planning.step_at(inp, old, 0)
    assert first.astimezone(ZoneInfo("Pacific/Honolulu")).time() < time(8)


def test_state_and_details_say_the_zone_is_unknown() -> None:
    inp = us_unknown_zone()
    ledger = ledger_for(inp)
    state = planning.snapshot(inp, ledger, "invoice-inv_us")
    assert state.customer_timezone is None
    assert state.contact_zones == US_TIME_ZONES
    details = current_details(inp, ledger, planning.decide(inp, ledger))
    assert "time zone: **unknown**" in details and "Pacific/Honolulu" in details
    assert "Customer's time zone: **unknown**" in static_details(inp)


def test_se_customer_of_unknown_zone_is_kept_to_the_companys_zone() -> None:
    inp = journey_input(timezone=None, issued=date(2026, 3, 2))  # step 0 on a Thursday
    inp = inp.model_copy(update={"opening_hours": OpeningHours()})
    ledger = ledger_for(inp)
    assert journey_time.contact_zones(inp, ledger) == ("Europe/Stockholm",)
    at = planning.step_at(inp, ledger, 0).astimezone(STOCKHOLM)
    assert at.hour == inp.policy.send_hour
    assert "Europe/Stockholm (the company's)" in current_details(
        inp, ledger, planning.decide(inp, ledger)
    )


def test_jurisdiction_hours_apply_without_opening_hours() -> None:
    inp = us_unknown_zone().model_copy(update={"opening_hours": None})
    at = planning.step_at(inp, ledger_for(inp), 0)
    for zone in US_TIME_ZONES:
        assert time(8) <= at.astimezone(ZoneInfo(zone)).time() < time(21)


# --- 2. pauses move steps in calendar days ---------------------------------------------------


def stockholm_journey(send_hour: int = 9) -> JourneyInput:
    """Due 2026-03-20; step 0 on the 23rd, step 1 on the 30th, after the 29 March change."""
    policy = Policy(
        segment="standard",
        steps=(
            Step(offset_days=3, channel="email", template="reminder"),
            Step(offset_days=10, channel="sms", template="reminder"),
            Step(offset_days=17, channel="email", template="final_notice", final_notice=True),
        ),
        handover_after_days=10,
        send_hour=send_hour,
    )
    inp = journey_input(policy=policy, issued=date(2026, 3, 6))
    seven_days = OpeningHours.model_validate(
        {"weekly": {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    )
    return inp.model_copy(update={"opening_hours": seven_days})


def pause_and_resume(
    inp: JourneyInput,
    ledger: Ledger,
    resume_at: datetime,
    paused_at: datetime = datetime(2026, 3, 22, 12, tzinfo=UTC),
) -> None:
    rules.apply_action(inp, ledger, AgentRequest(action=PauseAction(agent="a")), paused_at)
    rules.apply_action(inp, ledger, AgentRequest(action=ResumeAction(agent="a")), resume_at)


def test_a_pause_across_the_spring_change_keeps_the_steps_local_time() -> None:
    inp = stockholm_journey()
    ledger = ledger_for(inp)
    assert inp.invoice.due_date == date(2026, 3, 20)
    # Resumed on Saturday 28 March at 10:00 CET; a day's grace runs into summer time.
    pause_and_resume(inp, ledger, datetime(2026, 3, 28, 9, tzinfo=UTC))
    first, second = (planning.step_at(inp, ledger, i).astimezone(STOCKHOLM) for i in (0, 1))
    assert (first.date(), first.time()) == (date(2026, 3, 30), time(9))
    assert (second.date(), second.time()) == (date(2026, 4, 6), time(9))
    assert first.utcoffset() == timedelta(hours=2)  # summer time, same wall clock


def test_before_the_patch_a_pause_moved_steps_by_hours() -> None:
    inp = stockholm_journey()
    old = ledger_for(inp, Revisions(calendar_shifts=False))
    pause_and_resume(inp, old, datetime(2026, 3, 28, 9, tzinfo=UTC))
    second = planning.step_at(inp, old, 1).astimezone(STOCKHOLM)
    # Pushed by 6 days and 1 hour: step 0 lands on time, step 1, after the change, at 10:00.
    assert second.time() == time(10)


def test_an_extension_after_a_pause_keeps_the_local_time() -> None:
    inp = stockholm_journey()
    ledger = ledger_for(inp)
    pause_and_resume(inp, ledger, datetime(2026, 3, 28, 9, tzinfo=UTC))
    extend = ExtendAction(agent="a", due_date=date(2026, 4, 3))
    rules.apply_action(inp, ledger, AgentRequest(action=extend), datetime(2026, 3, 28, 10))
    at = planning.step_at(inp, ledger, 0).astimezone(STOCKHOLM)
    assert ledger.delay_days == 7
    assert at.time() == time(9) and at.date() == date(2026, 4, 3) + timedelta(days=3 + 7)


def test_a_pause_that_ends_before_the_step_moves_nothing() -> None:
    inp = stockholm_journey()
    ledger = ledger_for(inp)
    before = planning.step_at(inp, ledger, 0)
    pause_and_resume(
        inp,
        ledger,
        datetime(2026, 3, 21, 12, tzinfo=UTC),
        paused_at=datetime(2026, 3, 20, 12, tzinfo=UTC),
    )
    assert planning.step_at(inp, ledger, 0) == before and ledger.delay_days == 0


# --- 3. the payment-plan fee goes through the jurisdiction pack ------------------------------


def approve_plan(inp: JourneyInput, ledger: Ledger) -> None:
    ledger.holds.plan = "requested"
    rules.apply_action(
        inp,
        ledger,
        AgentRequest(action=ApprovePlanAction(agent="a")),
        datetime(2026, 4, 1, 9, tzinfo=UTC),
    )


def with_plan_fee(fee: str, currency: str = "SEK", **customer: Any) -> JourneyInput:
    inp = journey_input(**customer)
    policy = inp.policy.model_copy(update={"plan_fee": Decimal(fee)})
    bill = inp.invoice.model_copy(update={"currency": currency})
    return inp.model_copy(update={"policy": policy, "invoice": bill})


def test_no_se_plan_fee_on_a_eur_invoice() -> None:
    inp = with_plan_fee("170.00", "EUR")
    ledger = ledger_for(inp)
    approve_plan(inp, ledger)
    assert ledger.fees == 0 and ledger.fee_kinds == []


def test_before_the_patch_the_plan_fee_bypassed_the_pack() -> None:
    inp = with_plan_fee("170.00", "EUR")
    old = ledger_for(inp, Revisions(lawful_plan_fee=False))
    approve_plan(inp, old)
    assert old.fees == Decimal("170.00")


def test_plan_fee_is_capped_charged_once_and_only_where_agreed() -> None:
    inp = with_plan_fee("250.00")  # a policy built in code, never through the load check
    ledger = ledger_for(inp)
    approve_plan(inp, ledger)
    assert ledger.fees == Decimal("170.00") and ledger.fee_kinds == ["payment_plan"]
    assert "capped" in ledger.history[-1].detail
    approve_plan(inp, ledger)  # a second plan on the same invoice
    assert ledger.fees == Decimal("170.00")
    unagreed = with_plan_fee("100.00", fee_agreed=False)
    fresh = ledger_for(unagreed)
    approve_plan(unagreed, fresh)
    assert fresh.fees == 0


# --- 4. a step can be a collection letter ----------------------------------------------------


def collection_policy(handover_after_days: int = 10) -> dict[str, object]:
    steps = [
        {"offset_days": 3, "channel": "email", "template": "reminder", "fee": "60.00"},
        {
            "offset_days": 14,
            "channel": "email",
            "template": "final_notice",
            "final_notice": True,
            "fee": "180.00",
            "fee_kind": "collection_letter",
        },
    ]
    return {"steps": steps, "handover_after_days": handover_after_days}


def test_a_collection_letter_before_handover_loads_and_charges_its_own_cap() -> None:
    segments = {n: collection_policy() for n in ("loyal", "standard", "new", "habitual-late")}
    policy = parse_policies({"jurisdiction": "SE", "segments": segments}).segments["standard"]
    inp = journey_input(policy=policy)
    ledger = ledger_for(inp)
    reminder = planning.fee_for_step(inp, ledger, policy.steps[0], "email")
    ledger.fee_kinds.append(str(reminder.kind))
    letter = planning.fee_for_step(inp, ledger, policy.steps[1], "email")
    assert (reminder.amount, reminder.kind) == (Decimal("60.00"), "reminder")
    assert (letter.amount, letter.kind) == (Decimal("180.00"), "collection_letter")


def test_a_collection_letter_needs_eight_days_before_handover() -> None:
    segments = {n: collection_policy(5) for n in ("loyal", "standard", "new", "habitual-late")}
    with pytest.raises(PolicyConfigError, match=r"steps\[1\]: an inkassokrav must give at least 8"):
        parse_policies({"jurisdiction": "SE", "segments": segments})


def test_the_shipped_policy_has_a_collection_letter_before_handover() -> None:
    from tests.factories import POLICIES

    letters = [
        (name, step)
        for name, policy in POLICIES.segments.items()
        for step in policy.steps
        if step.fee_kind == "collection_letter"
    ]
    assert letters and all(step.final_notice for _, step in letters)
    for name, _ in letters:
        assert (POLICIES.segments[name].handover_after_days or 0) >= 8


def test_the_report_replays_a_collection_letter_as_one() -> None:
    """The outcome row recomputes the fees the sent steps charged with the same rule."""
    from domain.outcomes import SentStep, fees_charged

    segments = {n: collection_policy() for n in ("loyal", "standard", "new", "habitual-late")}
    policy = parse_policies({"jurisdiction": "SE", "segments": segments}).segments["standard"]
    sent = [SentStep(index=0, channel="email"), SentStep(index=1, channel="email")]
    customer = journey_input().customer
    assert fees_charged(policy, sent, customer, "SE", "SEK", Decimal("0")) == Decimal("240.00")
