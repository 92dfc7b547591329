"""What the page's new responses do to a journey (pure rules, no server): a plan within the
policy's limit is approved at once, a longer one waits for an agent with a task, and a booked
call must be ahead and inside customer-service hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.messages import CustomerResponse
from domain.models import JourneyInput
from tests.factories import POLICIES, journey_input
from workflows import rules
from workflows.ledger import Ledger, hold_phase

# A Wednesday, 10:00 in Stockholm.
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def setup(**policy: object) -> tuple[JourneyInput, Ledger]:
    base = journey_input()
    inp = base.model_copy(
        update={
            "policy": base.policy.model_copy(update=policy),
            "opening_hours": POLICIES.opening_hours,
        }
    )
    return inp, Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)


def test_a_plan_within_the_limit_is_approved_at_once() -> None:
    inp, ledger = setup(plan_max_months=6)
    r = CustomerResponse(kind="plan_request", plan_months=6)
    assert rules.check_response(inp, ledger, r, NOW) is None
    rules.apply_response(inp, ledger, r, NOW)
    assert hold_phase(ledger.holds) == "plan_active"
    assert len(ledger.plan) == 6 and sum(a for _, a in ledger.plan) == ledger.balance
    assert ledger.open_tasks == []
    assert "approved automatically" in ledger.history[-1].detail


def test_a_plan_beyond_the_limit_is_an_agent_task() -> None:
    inp, ledger = setup(plan_max_months=6)
    r = CustomerResponse(kind="plan_request", plan_months=12)
    rules.apply_response(inp, ledger, r, NOW)
    assert hold_phase(ledger.holds) == "plan_requested"
    assert ledger.plan == []
    [task] = ledger.open_tasks
    assert "12 months" in task and "limit 6" in task


def test_a_plan_request_without_months_is_unchanged() -> None:
    inp, ledger = setup()
    rules.apply_response(inp, ledger, CustomerResponse(kind="plan_request"), NOW)
    assert hold_phase(ledger.holds) == "plan_requested" and ledger.open_tasks == []


def test_a_call_inside_opening_hours_is_an_agent_task_with_the_time() -> None:
    inp, ledger = setup()
    at = NOW + timedelta(days=1, hours=4)  # Thursday 14:00 in Stockholm
    r = CustomerResponse(kind="contact_request", call_at=at)
    assert rules.check_response(inp, ledger, r, NOW) is None
    rules.apply_response(inp, ledger, r, NOW)
    [task] = ledger.open_tasks
    assert "2026-12-03 14:00 (Europe/Stockholm)" in task
    assert hold_phase(ledger.holds) == "paused"


@pytest.mark.parametrize(
    ("at", "words"),
    [
        (NOW - timedelta(hours=1), "already passed"),
        (datetime(2026, 12, 5, 10, 0, tzinfo=UTC), "customer service is closed"),  # Saturday
        (datetime(2026, 12, 2, 21, 0, tzinfo=UTC), "customer service is closed"),  # 22:00
        (NOW + timedelta(days=20), "at most 14 days ahead"),
    ],
)
def test_a_call_outside_hours_or_in_the_past_is_refused_in_words(at: datetime, words: str) -> None:
    inp, ledger = setup()
    err = rules.check_response(
        inp, ledger, CustomerResponse(kind="contact_request", call_at=at), NOW
    )
    assert err is not None and words in err


def test_new_fields_belong_to_their_kind() -> None:
    with pytest.raises(ValidationError, match="plan_months belongs to a plan_request"):
        CustomerResponse(kind="dispute", plan_months=3)
    with pytest.raises(ValidationError, match="call_at belongs to a contact_request"):
        CustomerResponse(kind="dispute", call_at=NOW)
