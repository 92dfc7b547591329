"""Whole journeys with a payment plan: installments paid in turn, one missed, and a plan long
enough that the journey continues as new and keeps its ledger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.messages import CustomerResponse
from domain.state import JourneyState
from tests.factories import journey_input
from tests.workflows.journey_driver import Handle, JourneyDriver, action, pay, steps_out
from workflows.journey import InvoiceJourney


async def request_and_approve_plan(handle: Handle, installments: int) -> JourneyState:
    await handle.execute_update(InvoiceJourney.respond, CustomerResponse(kind="plan_request"))
    return await handle.execute_update(
        InvoiceJourney.agent_action,
        action(action="approve-plan", agent="a5", installments=installments, interval_days=30),
    )


async def test_plan_installments_paid_in_turn_close_the_journey(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_plan")
    handle, _ = await journeys.through_first_step(inp)
    state = await request_and_approve_plan(handle, 3)
    assert state.phase == "plan_active" and state.next_step is None
    for n, amount in enumerate(["416.66", "416.66", "416.68"]):
        state = await journeys.forward(handle, 28)  # the reminder goes out before the due date
        assert sum(h.kind == "plan" and "reminder" in h.detail for h in state.history) == n + 1
        await handle.signal(InvoiceJourney.payment_received, pay(f"evt_inst{n}", amount))
        state = await journeys.settle(handle, lambda s, n=n: s.paid >= Decimal("416.66") * (n + 1))
        if state.phase == "plan_active":
            await journeys.forward(handle, 2)
    result = await journeys.finish(handle, "plan_kept")
    assert result.phase == "paid"
    assert steps_out(result) == ["email:sent"]  # no reminder steps while the plan ran


async def test_missed_installment_resumes_the_journey(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_plan_missed")
    handle, _ = await journeys.through_first_step(inp)
    await request_and_approve_plan(handle, 3)
    state = await journeys.forward(handle, 35)  # due at +30, grace 3 days, nothing paid
    assert state.phase == "scheduled"
    assert any("missed" in h.detail for h in state.history)
    state = await journeys.through_step(handle, 1)
    assert steps_out(state) == ["email:sent", "sms:sent"]


async def test_36_installment_plan_continues_as_new_and_keeps_its_ledger(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_plan36").model_copy(update={"history_limit": 150})
    handle = await journeys.start(inp)
    await request_and_approve_plan(handle, 36)
    runs: set[str] = set()
    for n in range(36):
        await journeys.env.fast_forward(handle, timedelta(days=30))
        amount = "34.80" if n == 35 else "34.72"  # 1250.00 / 36, the remainder last
        await handle.signal(InvoiceJourney.payment_received, pay(f"evt_36_{n}", amount))
        runs.add((await handle.describe()).run_id or "")
        if n < 35:  # the payment is booked before the clock moves on to the next installment
            await journeys.settle(handle, lambda s, k=n: s.paid >= Decimal("34.72") * (k + 1))
    result = await handle.result()
    assert result.phase == "paid" and result.paid == Decimal("1250.00")
    assert len(runs) > 1  # it continued as new at least once
    history = await handle.fetch_history()
    assert len(history.events) < 200  # the current run's history stays small
    assert sum("installment" in h.detail and "paid" in h.detail for h in result.history) >= 30
