"""Whole journeys in time skipping: 60 days in seconds, through the real worker and outbox.

Each test starts `InvoiceJourney` with time skipping off and moves the journey's own clock
with `fast_forward`, so it can act (pay, promise, dispute) at precise points of the journey.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.messages import CustomerResponse
from tests.factories import journey_input
from tests.workflows.journey_driver import JourneyDriver, action, pay, steps_out
from workflows.journey import InvoiceJourney


async def test_full_path_email_sms_call_final_notice_handover(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_full")
    handle = await journeys.start(inp)
    result = await journeys.finish(handle, "full_path")

    assert result.phase == "handed_over"
    assert steps_out(result) == ["email:sent", "sms:sent", "call:sent", "email:sent"]
    assert result.fees == Decimal("60.00")  # the standard policy's SMS fee, agreed
    assert result.balance == Decimal("1310.00")
    channels = [m.channel for m in journeys.outbox("inv_full")]
    assert channels[:4] == ["email", "sms", "call", "email"]
    [handover] = journeys.handovers("inv_full")
    assert handover.balance == Decimal("1310.00")
    assert "sms" in handover.evidence  # the whole contact history goes with the claim


async def test_paid_after_sms_stops_the_journey_and_thanks(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_paid")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 1)
    await handle.signal(InvoiceJourney.payment_received, pay("evt_pay", "1310.00"))
    result = await journeys.finish(handle, "paid_after_sms")

    assert result.phase == "paid"
    assert steps_out(result) == ["email:sent", "sms:sent"]
    assert [h.kind for h in result.history][-1] == "thank_you"
    sent = journeys.outbox("inv_paid")
    assert [m.step_key for m in sent] == ["step-0-email", "step-1-sms", "thank-you"]


async def test_partial_then_full_payment(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_partial")
    handle, _ = await journeys.through_first_step(inp)
    await handle.signal(InvoiceJourney.payment_received, pay("evt_p1", "500.00"))
    await handle.signal(InvoiceJourney.payment_received, pay("evt_p1", "500.00"))  # replayed
    state = await journeys.settle(handle, lambda s: s.paid > 0)
    assert (state.paid, state.balance, state.phase) == (
        Decimal("500.00"),
        Decimal("750.00"),
        "scheduled",
    )
    await handle.signal(InvoiceJourney.payment_received, pay("evt_p2", "750.00"))
    result = await journeys.finish(handle, "partial_then_full")
    assert result.phase == "paid"
    assert result.paid == Decimal("1250.00")


async def test_promise_kept(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_promise_kept")
    handle, _ = await journeys.through_first_step(inp)
    promise = await journeys.today(handle, inp) + timedelta(days=5)
    state = await handle.execute_update(
        InvoiceJourney.respond, CustomerResponse(kind="promise", promise_date=promise)
    )
    assert (state.phase, state.promise_date) == ("promised", promise)
    state = await journeys.forward(handle, 4)
    assert state.phase == "promised" and steps_out(state) == ["email:sent"]
    await handle.signal(InvoiceJourney.payment_received, pay("evt_kept", "1250.00"))
    result = await journeys.finish(handle, "promise_kept")
    assert result.phase == "paid" and steps_out(result) == ["email:sent"]


async def test_promise_broken_resumes_the_journey(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_promise_broken")
    handle, _ = await journeys.through_first_step(inp)
    promise = await journeys.today(handle, inp) + timedelta(days=3)
    await handle.execute_update(
        InvoiceJourney.respond, CustomerResponse(kind="promise", promise_date=promise)
    )
    state = await journeys.forward(handle, 6)
    assert state.phase == "scheduled"
    assert any("not kept" in h.detail for h in state.history)
    state = await journeys.through_step(handle, 1)
    assert steps_out(state) == ["email:sent", "sms:sent"]


async def test_dispute_blocks_handover_until_resolved(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_dispute")
    handle = await journeys.start(inp)
    state = await journeys.through_step(handle, 3)
    assert state.phase == "awaiting_handover"
    await handle.execute_update(
        InvoiceJourney.respond, CustomerResponse(kind="dispute", message="I returned the goods")
    )
    state = await journeys.forward(handle, 60)
    assert state.phase == "disputed"
    assert journeys.handovers("inv_dispute") == []
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="resolve-dispute", agent="agent-7")
    )
    assert state.phase == "awaiting_handover"
    result = await journeys.finish(handle, "dispute_then_handover")
    assert result.phase == "handed_over"


async def test_agent_pause_and_resume(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_pause")
    handle, _ = await journeys.through_first_step(inp)
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="pause", agent="agent-1", note="on holiday")
    )
    assert state.phase == "paused" and state.next_step is None
    state = await journeys.forward(handle, 40)
    assert state.phase == "paused" and steps_out(state) == ["email:sent"]
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="resume", agent="agent-1")
    )
    assert state.phase == "scheduled" and state.next_step is not None
    now = await journeys.env.get_current_time(handle)
    # The journey goes on after a grace day instead of firing every missed step at once.
    assert state.next_step.at - now >= timedelta(hours=23)
    state = await journeys.through_step(handle, 1)
    assert steps_out(state) == ["email:sent", "sms:sent"]
    assert [h.actor for h in state.history if h.kind == "action"] == ["agent:agent-1"] * 2


async def test_same_invoice_issued_twice_starts_one_journey(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_twice")
    first = await journeys.start(inp)
    second = await journeys.start(inp)
    assert first.result_run_id == second.result_run_id


async def test_invalid_agent_update_is_rejected_with_a_clear_message(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_invalid")
    handle = await journeys.start(inp)
    with pytest.raises(WorkflowUpdateFailedError) as resume:
        await handle.execute_update(
            InvoiceJourney.agent_action, action(action="resume", agent="agent-2")
        )
    assert "resume refused: the journey is not paused" in str(resume.value.cause)
    yesterday = await journeys.today(handle, inp) - timedelta(days=1)
    with pytest.raises(WorkflowUpdateFailedError) as promise:
        await handle.execute_update(
            InvoiceJourney.respond, CustomerResponse(kind="promise", promise_date=yesterday)
        )
    assert f"promise_date {yesterday.isoformat()} is in the past" in str(promise.value.cause)
    # Rejected in the validator: nothing of either request reached the journey's history.
    history = await handle.fetch_history()
    assert not any(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events
    )
    await handle.terminate("test done")


async def test_handover_waits_for_approval_when_required(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_guarded").model_copy(update={"handover_requires_approval": True})
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 3)
    state = await journeys.forward(handle, 30)
    assert state.phase == "awaiting_handover_approval"
    assert journeys.handovers("inv_guarded") == []
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="waive-fee", agent="a3")
    )
    assert state.fees == 0 and state.balance == Decimal("1250.00")
    await handle.execute_update(
        InvoiceJourney.agent_action, action(action="approve-handover", agent="a3")
    )
    result = await journeys.finish(handle, "handover_after_approval")
    assert result.phase == "handed_over"
