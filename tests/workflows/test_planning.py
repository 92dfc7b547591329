"""The pure planning and rules functions: what is next, when, and what events do."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.messages import (
    AgentRequest,
    CustomerResponse,
    DeliveryFailure,
    InvoiceCredited,
    PaymentReceived,
    ResumeAction,
)
from domain.models import JourneyClock, JourneyInput, Policy, Step
from domain.policies import PolicyConfigError, parse_policies
from tests.factories import journey_input
from workflows import journey_time, planning, rules
from workflows.ledger import Ledger

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def ledger_for(inp: JourneyInput) -> Ledger:
    return Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)


def test_step_time_is_send_hour_in_customer_zone() -> None:
    inp = journey_input()
    at = planning.step_at(inp, ledger_for(inp), 0)
    due = inp.invoice.due_date
    expected_day = due + timedelta(days=inp.policy.steps[0].offset_days)
    local = at.astimezone(ZoneInfo("Europe/Stockholm"))
    assert (local.date(), local.hour) == (expected_day, inp.policy.send_hour)


def test_steps_keep_their_order_and_spacing() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    times = [planning.step_at(inp, ledger, i) for i in range(len(inp.policy.steps))]
    assert times == sorted(times)
    assert (times[1] - times[0]).days == 7


def test_compressed_clock_maps_days_to_seconds() -> None:
    clock = JourneyClock(seconds_per_day=10, origin=NOW, origin_date=date(2026, 11, 2))
    at = journey_time.day_instant(date(2026, 11, 12), 12, clock, "Europe/Stockholm")
    assert at == NOW + timedelta(seconds=105)
    assert journey_time.journey_today(at, clock, "Europe/Stockholm") == date(2026, 11, 12)


def test_decide_walks_steps_then_handover_then_agent() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    first = planning.decide(inp, ledger)
    assert (first.kind, first.phase, first.step_index) == ("step", "scheduled", 0)
    ledger.next_index = len(inp.policy.steps)
    assert planning.decide(inp, ledger).phase == "awaiting_agent"  # final notice never went out
    ledger.final_notice_at = NOW
    handover = planning.decide(inp, ledger)
    assert handover.kind == "handover"
    assert handover.at == NOW + timedelta(days=inp.policy.handover_after_days or 0)


@pytest.mark.parametrize(
    ("holds", "phase"),
    [
        (planning.Holds(dispute_open=True, paused=True), "disputed"),
        (planning.Holds(plan="requested"), "plan_requested"),
        (planning.Holds(paused=True), "paused"),
        (planning.Holds(promise_date=date(2026, 12, 1)), "promised"),
    ],
)
def test_holds_stop_steps(holds: planning.Holds, phase: str) -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    ledger.holds = holds
    decision = planning.decide(inp, ledger)
    assert decision.phase == phase
    assert decision.kind in {"wait", "release_hold"}


def test_dispute_blocks_handover_even_when_due() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    ledger.next_index = len(inp.policy.steps)
    ledger.final_notice_at = NOW - timedelta(days=100)
    ledger.holds.dispute_open = True
    assert planning.decide(inp, ledger).kind == "wait"


def test_release_pushes_remaining_steps_back_with_grace() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    before = [planning.step_at(inp, ledger, i) for i in range(4)]
    late_now = before[2] + timedelta(days=3)  # paused through steps 0-2
    planning.release_holds(inp, ledger, late_now)
    after = [planning.step_at(inp, ledger, i) for i in range(4)]
    assert after[0] == late_now + timedelta(days=inp.policy.resume_grace_days)
    assert after[1] - after[0] == before[1] - before[0]


def test_partial_then_full_payment_closes_paid() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    rules.apply_payment(
        inp,
        ledger,
        PaymentReceived(event_id="e1", amount=Decimal("250.00"), paid_at=NOW.date()),
        NOW,
    )
    assert ledger.balance == Decimal("1000.00") and ledger.closed is None
    rules.apply_payment(
        inp,
        ledger,
        PaymentReceived(event_id="e2", amount=Decimal("1000.00"), paid_at=NOW.date()),
        NOW,
    )
    assert ledger.closed == "paid"


def test_credit_to_zero_closes_credited() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    rules.apply_credit(inp, ledger, InvoiceCredited(event_id="c", amount=Decimal("1250.00")), NOW)
    assert ledger.closed == "credited"


def test_fee_only_where_agreed_and_once() -> None:
    step = Step(offset_days=1, channel="sms", template="reminder", fee=Decimal("60"))
    agreed = journey_input(fee_agreed=True)
    ledger = ledger_for(agreed)
    assert planning.fee_for_step(agreed, ledger, step, "sms").amount == Decimal("60")
    ledger.fee_kinds.append("reminder")
    assert planning.fee_for_step(agreed, ledger, step, "sms").amount == 0
    not_agreed = journey_input(fee_agreed=False)
    assert planning.fee_for_step(not_agreed, ledger_for(not_agreed), step, "sms").amount == 0


def test_promise_in_the_past_is_refused_with_the_date() -> None:
    inp = journey_input()
    past = CustomerResponse(kind="promise", promise_date=date(2026, 10, 1))
    err = rules.check_response(inp, ledger_for(inp), past, NOW)
    assert err is not None and "2026-10-01 is in the past" in err


def test_resume_when_not_paused_is_refused() -> None:
    inp = journey_input()
    err = rules.check_action(
        inp, ledger_for(inp), AgentRequest(action=ResumeAction(agent="a")), NOW
    )
    assert err == "the journey is not paused"


def test_actions_on_closed_journey_are_refused() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    ledger.closed = "paid"
    req = AgentRequest.model_validate({"action": {"action": "pause", "agent": "a"}})
    assert rules.check_action(inp, ledger, req, NOW) == "the journey is already closed (paid)"


def test_policy_file_errors_name_the_field() -> None:
    with pytest.raises(PolicyConfigError, match=r"segments\.loyal\.steps\[0\]\.channel"):
        parse_policies(
            {
                "segments": {
                    "loyal": {"steps": [{"offset_days": 1, "channel": "fax", "template": "x"}]}
                }
            }
        )


def test_policy_requires_final_notice_for_handover() -> None:
    with pytest.raises(ValueError, match="handover_after_days needs a final_notice step"):
        Policy(
            segment="x",
            steps=(Step(offset_days=1, channel="email", template="reminder"),),
            handover_after_days=10,
        )


def test_policy_breaking_the_law_is_refused_at_load() -> None:
    steps = [{"offset_days": 5, "channel": "email", "template": "reminder", "fee": "75.00"}]
    segments = {name: {"steps": steps} for name in ("loyal", "standard", "new", "habitual-late")}
    with pytest.raises(
        PolicyConfigError, match=r"segments\.loyal\.steps\[0\]: reminder fee 75\.00"
    ):
        parse_policies({"jurisdiction": "SE", "segments": segments})


def test_shipped_policy_file_is_lawful() -> None:
    from infra.policy_file import load_policies
    from infra.settings import REPO_ROOT

    assert load_policies(REPO_ROOT / "config" / "policies.toml").jurisdiction == "SE"


def test_a_failed_channel_is_not_tried_again_for_that_step() -> None:
    inp = journey_input()
    ledger = ledger_for(inp)
    failure = DeliveryFailure(
        event_id="tw-1", step_key="step-1-sms", channel="sms", reason="30007", permanent=False
    )
    rules.apply_delivery_failure(ledger, failure, NOW)
    assert ledger.fallbacks == [(1, NOW)]
    assert planning.pick_channel(inp, ledger, 1) == ("email", [])
    assert "sms" not in ledger.bad_channels  # not permanent: later steps may still use SMS


def test_marked_vulnerable_means_no_calls_and_no_fees() -> None:
    inp = journey_input(fee_agreed=True)
    ledger = ledger_for(inp)
    req = AgentRequest.model_validate({"action": {"action": "mark-vulnerable", "agent": "a"}})
    assert rules.check_action(inp, ledger, req, NOW) is None
    rules.apply_action(inp, ledger, req, NOW)
    assert planning.pick_channel(inp, ledger, 2)[0] == "sms"  # the call step falls back
    sms = inp.policy.steps[1]
    assert planning.fee_for_step(inp, ledger, sms, "sms").amount == 0
    assert rules.check_action(inp, ledger, req, NOW) == "the customer is already marked vulnerable"


def test_interest_accrues_on_the_unpaid_invoice_amount() -> None:
    from domain.interest import EXAMPLE_REFERENCE_RATES

    inp = journey_input(issued=date(2025, 1, 1)).model_copy(
        update={"reference_rates": dict(EXAMPLE_REFERENCE_RATES)}
    )
    ledger = ledger_for(inp)
    due = inp.invoice.due_date  # 2025-01-15
    at_due = datetime(2025, 1, 15, 12, tzinfo=UTC)
    assert planning.interest_due(inp, ledger, at_due) == 0
    later = datetime(2025, 6, 30, 12, tzinfo=UTC)
    days = (date(2025, 6, 30) - due).days
    rate = EXAMPLE_REFERENCE_RATES[date(2025, 1, 1)] + 8  # Räntelagen 6 §: reference + 8
    expected = (Decimal("1250.00") * rate / 100 * days / 365).quantize(Decimal("0.01"))
    assert planning.interest_due(inp, ledger, later) == expected
    ledger.paid = Decimal("1250.00")
    assert planning.interest_due(inp, ledger, later) == 0


def test_hours_too_short_for_any_call_are_refused_at_load() -> None:
    from infra.policy_file import load_policies
    from infra.settings import REPO_ROOT

    shipped = load_policies(REPO_ROOT / "config" / "policies.toml").model_dump(mode="json")
    shipped["opening_hours"] = {"weekly": {"mon": ["08:00-08:20"]}}
    with pytest.raises(PolicyConfigError, match="no weekly interval is 30 minutes or longer"):
        parse_policies(shipped)


def test_a_journey_with_hours_that_fit_no_call_keeps_its_plan() -> None:
    from domain.opening_hours import OpeningHours

    hours = OpeningHours.model_validate({"weekly": {"mon": ["08:00-08:20"]}})
    inp = journey_input().model_copy(update={"opening_hours": hours})
    planned = journey_time.day_instant(
        inp.invoice.due_date + timedelta(days=inp.policy.steps[2].offset_days),
        inp.policy.send_hour,
        inp.clock,
        journey_time.calendar_zone(inp, ledger_for(inp)),
    )
    assert planning.step_at(inp, ledger_for(inp), 2) == planned  # the call: no slot, no crash


def test_us_no_call_within_7_days_of_a_conversation() -> None:
    from domain.messages import ConversationHeld

    inp = journey_input().model_copy(update={"jurisdiction": "US"})
    ledger = ledger_for(inp)
    talk = ConversationHeld(event_id="c1", at=NOW, source="phone")
    rules.apply_conversation(ledger, talk, NOW)
    channel, reasons = planning.pick_channel(inp, ledger, 2, NOW + timedelta(days=3))
    assert channel == "sms" and reasons[0].startswith("call limit reached until")
    assert planning.pick_channel(inp, ledger, 2, NOW + timedelta(days=8))[0] == "call"
