"""Whole journeys in time skipping: 60 days in seconds, through the real worker and outbox.

Each test starts `InvoiceJourney` with time skipping off and moves the journey's own clock
with `fast_forward`, so it can act (pay, promise, dispute) at precise points of the journey.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from sqlmodel import select
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.build import build_activities
from domain.messages import (
    AgentRequest,
    ConsentChange,
    CustomerResponse,
    DeliveryFailure,
    PaymentReceived,
)
from domain.models import Consent, JourneyInput, workflow_id_for
from domain.payloads import DeliveryRequest, DeliveryResult
from domain.state import JourneyState
from infra.settings import Settings
from infra.store import HandoverRow, InvoiceRow, OutboxMessageRow, session_scope
from tests.factories import POLICIES, journey_input
from tests.histories import save_history
from worker import build_worker
from workflows.journey import InvoiceJourney
from workflows.journey_time import journey_today

Handle = WorkflowHandle[Any, JourneyState]


@pytest.fixture
async def journeys(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[JourneyDriver]:
    async with build_worker(temporal_env.client, settings):
        yield JourneyDriver(temporal_env, settings)


class JourneyDriver:
    """Starts journeys and moves their clocks; keeps test bodies about behaviour."""

    def __init__(self, env: WorkflowEnvironment, settings: Settings) -> None:
        self.env = env
        self.settings = settings
        self.client = env.client

    async def start(self, inp: JourneyInput) -> Handle:
        return await self.client.start_workflow(
            InvoiceJourney.run,
            inp,
            id=workflow_id_for(inp.invoice.id),
            task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def state(self, handle: Handle) -> JourneyState:
        return await handle.query(InvoiceJourney.state)

    async def settle(self, handle: Handle, until: Any = None) -> JourneyState:
        """Wait (in real time) for the work a timer released to finish: activities, and the
        workflow task that runs local activities (a query may answer in the middle of it)."""
        state: JourneyState | None = None
        for _ in range(200):
            try:
                state = await self.state(handle)
            except RPCError as err:  # a run just continued as new: its first task is not out
                if err.status != RPCStatusCode.FAILED_PRECONDITION:
                    raise
                await asyncio.sleep(0.05)
                continue
            desc = (await handle.describe()).raw_description
            busy = desc.pending_activities or desc.HasField("pending_workflow_task")
            if not busy and (until is None or until(state)):
                return state
            await asyncio.sleep(0.05)
        raise AssertionError(f"journey did not settle: {state}")

    async def forward(self, handle: Handle, days: float) -> JourneyState:
        await self.env.fast_forward(handle, timedelta(days=days))
        return await self.settle(handle)

    async def through_step(self, handle: Handle, index: int) -> JourneyState:
        """Move the clock just past step `index` and wait until it has gone out."""
        state = await self.state(handle)
        while state.next_step is not None and state.next_step.index <= index:
            now = await self.env.get_current_time(handle)
            await self.env.fast_forward(handle, state.next_step.at - now + timedelta(minutes=1))
            target = state.next_step.index
            state = await self.settle(
                handle, lambda s, t=target: s.next_step is None or s.next_step.index > t
            )
        return state

    async def today(self, handle: Handle, inp: JourneyInput) -> Any:
        now = await self.env.get_current_time(handle)
        return journey_today(now, inp.clock, inp.customer.timezone or "Europe/Stockholm")

    async def finish(self, handle: Handle, name: str) -> JourneyState:
        """Let the journey run to its end and keep its history for the replay tests."""
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await self.env.fast_forward(handle, None)
        result = await handle.result()
        await save_history(handle, name)
        return result

    def outbox(self, invoice_id: str) -> list[OutboxMessageRow]:
        with session_scope(self.settings.store_url) as s:
            rows = s.exec(select(OutboxMessageRow).where(OutboxMessageRow.invoice_id == invoice_id))
            return sorted(rows.all(), key=lambda r: r.id or 0)


def steps_out(state: JourneyState) -> list[str]:
    return [f"{h.channel}:{h.outcome}" for h in state.history if h.kind == "step"]


def pay(event_id: str, amount: str) -> PaymentReceived:
    return PaymentReceived.model_validate(
        {"event_id": event_id, "amount": amount, "paid_at": "2026-12-01"}
    )


def action(**fields: Any) -> AgentRequest:
    return AgentRequest.model_validate({"action": fields})


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
    with session_scope(journeys.settings.store_url) as s:
        handover = s.exec(select(HandoverRow).where(HandoverRow.invoice_id == "inv_full")).one()
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
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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
    with session_scope(journeys.settings.store_url) as s:
        assert s.exec(select(HandoverRow)).all() == []
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="resolve-dispute", agent="agent-7")
    )
    assert state.phase == "awaiting_handover"
    result = await journeys.finish(handle, "dispute_then_handover")
    assert result.phase == "handed_over"


async def test_agent_pause_and_resume(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_pause")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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


async def test_sms_after_stop_falls_back_to_email(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_stop")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
    stop = ConsentChange(event_id="sms-stop-1", channel="sms", granted=False, source="sms STOP")
    await handle.signal(InvoiceJourney.consent_changed, stop)
    state = await journeys.through_step(handle, 1)
    fallback = [h for h in state.history if h.step_index == 1]
    assert [h.outcome for h in fallback] == ["fallback", "sent"]
    assert "no consent for sms" in fallback[0].detail
    assert [m.step_key for m in journeys.outbox("inv_stop")] == ["step-0-email", "step-1-email"]
    assert "sms" in state.channels_unavailable


async def test_bounce_reported_later_moves_the_step_to_sms(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_bounce")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
    bounce = DeliveryFailure(
        event_id="sg-1", step_key="step-0-email", channel="email", reason="bounce: 550 no such user"
    )
    await handle.signal(InvoiceJourney.delivery_failed, bounce)
    state = await journeys.settle(handle, lambda s: len(journeys.outbox("inv_bounce")) == 2)
    assert [m.step_key for m in journeys.outbox("inv_bounce")] == ["step-0-email", "step-0-sms"]
    assert "email" in state.channels_unavailable
    state = await journeys.through_step(handle, 3)  # the final notice is an email: it falls back
    assert [h.channel for h in state.history if h.step_index == 3 and h.outcome == "sent"] == [
        "sms"
    ]


async def test_no_channel_left_becomes_an_agent_task(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_unreachable", consent=Consent(email=False, sms=False, call=False))
    handle = await journeys.start(inp)
    state = await journeys.through_step(handle, 0)
    assert journeys.outbox("inv_unreachable") == []
    assert len(state.open_tasks) == 1 and "no way to reach the customer" in state.open_tasks[0]
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="add-note", agent="a9", note="called, no answer")
    )
    assert state.open_tasks == ()


async def test_handover_waits_for_approval_when_required(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_guarded").model_copy(update={"handover_requires_approval": True})
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 3)
    state = await journeys.forward(handle, 30)
    assert state.phase == "awaiting_handover_approval"
    with session_scope(journeys.settings.store_url) as s:
        assert s.exec(select(HandoverRow)).all() == []
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="waive-fee", agent="a3")
    )
    assert state.fees == 0 and state.balance == Decimal("1250.00")
    await handle.execute_update(
        InvoiceJourney.agent_action, action(action="approve-handover", agent="a3")
    )
    result = await journeys.finish(handle, "handover_after_approval")
    assert result.phase == "handed_over"


async def request_and_approve_plan(handle: Handle, installments: int) -> JourneyState:
    await handle.execute_update(InvoiceJourney.respond, CustomerResponse(kind="plan_request"))
    return await handle.execute_update(
        InvoiceJourney.agent_action,
        action(action="approve-plan", agent="a5", installments=installments, interval_days=30),
    )


async def test_plan_installments_paid_in_turn_close_the_journey(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_plan")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
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


async def test_step_on_midsommarafton_moves_to_the_next_open_day(journeys: JourneyDriver) -> None:
    se_holidays = holidays.country_holidays("SE", years=2027, categories=("public", "de_facto"))
    assert date(2027, 6, 25) in se_holidays  # Midsommarafton
    inp = journey_input("inv_midsummer", issued=date(2027, 6, 1)).model_copy(
        update={"opening_hours": POLICIES.opening_hours, "holidays": tuple(se_holidays)}
    )
    assert inp.invoice.due_date + timedelta(days=inp.policy.steps[1].offset_days) == date(
        2027, 6, 25
    )
    handle = await journeys.start(inp)
    state = await journeys.through_step(handle, 0)
    assert state.next_step is not None and state.next_step.index == 1
    local = state.next_step.at.astimezone(ZoneInfo("Europe/Stockholm"))
    assert (local.date(), local.hour) == (date(2027, 6, 28), 8)  # Monday, when service opens
    await handle.terminate("test done")


async def test_vulnerable_customer_gets_no_calls_no_fees_and_an_agent_task(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_vulnerable", vulnerable=True)
    handle = await journeys.start(inp)
    state = await journeys.through_step(handle, 2)
    assert any("vulnerable customer" in t for t in state.open_tasks)
    assert [h.channel for h in state.history if h.outcome == "sent"] == ["email", "sms", "sms"]
    assert "no automated calls to a vulnerable customer" in " ".join(
        h.detail for h in state.history
    )
    assert state.fees == 0
    assert all(m.channel != "call" for m in journeys.outbox("inv_vulnerable"))
    await handle.terminate("test done")


async def test_loyal_customer_gentle_path_no_fee_and_handover_waits(
    journeys: JourneyDriver,
) -> None:
    loyal = journey_input("inv_loyal", segment="loyal").model_copy(
        update={"handover_requires_approval": True}
    )
    handle = await journeys.start(loyal)
    await journeys.through_step(handle, 3)
    state = await journeys.forward(handle, 30)
    assert state.phase == "awaiting_handover_approval" and state.fees == 0
    assert [m.step_key for m in journeys.outbox("inv_loyal")][0] == "step-0-email"
    first = next(h for h in state.history if h.kind == "step")
    assert "gentle_reminder" in first.detail
    await handle.terminate("test done")


async def test_habitual_late_payer_gets_the_firm_fast_path(journeys: JourneyDriver) -> None:
    firm = journey_input("inv_late", segment="habitual-late")
    standard = journey_input("inv_std")
    h_firm, h_std = await journeys.start(firm), await journeys.start(standard)
    s_firm, s_std = await journeys.state(h_firm), await journeys.state(h_std)
    assert s_firm.next_step is not None and s_std.next_step is not None
    assert s_firm.next_step.at < s_std.next_step.at  # contacted sooner
    state = await journeys.through_step(h_firm, 0)
    assert state.fees == Decimal("60.00")  # the reminder fee comes with the first reminder
    for h in (h_firm, h_std):
        await h.terminate("test done")


async def test_deliveries_run_on_per_channel_task_queues(journeys: JourneyDriver) -> None:
    handle = await journeys.start(journey_input("inv_queues"))
    await journeys.through_step(handle, 1)
    history = await handle.fetch_history()
    queues = [
        e.activity_task_scheduled_event_attributes.task_queue.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    base = journeys.settings.temporal_task_queue
    assert queues == [f"{base}-email", f"{base}-sms"]
    await handle.terminate("test done")


LOCAL = ("email", "sms", "call")


def events_per_step(events: list[Any]) -> list[int]:
    """History events from each timer firing to the next timer (both counted): what one
    executed step costs. The wake-up, its delivery and the wait for the next step."""
    fired = [i for i, e in enumerate(events) if e.HasField("timer_fired_event_attributes")]
    started = [i for i, e in enumerate(events) if e.HasField("timer_started_event_attributes")]
    return [next(s for s in started if s > f) - f + 1 for f in fired if any(s > f for s in started)]


async def test_outbox_deliveries_run_as_local_activities(journeys: JourneyDriver) -> None:
    """No provider rate to keep: each step delivers inside its workflow task, and costs at
    most 8 history events (the benchmark's target for the happy path)."""
    inp = journey_input("inv_local").model_copy(update={"local_channels": LOCAL})
    handle = await journeys.start(inp)
    result = await journeys.finish(handle, "full_path_local")

    assert result.phase == "handed_over"
    assert steps_out(result) == ["email:sent", "sms:sent", "call:sent", "email:sent"]
    assert [m.channel for m in journeys.outbox("inv_local")][:4] == [
        "email",
        "sms",
        "call",
        "email",
    ]
    events = list((await handle.fetch_history()).events)
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["hand_over"]  # deliveries and the outcome are local activities
    markers = [e for e in events if e.HasField("marker_recorded_event_attributes")]
    assert len(markers) == 2 + 4 + 1  # lean-journey and law-clock patches, 4 steps, outcome
    costs = events_per_step(events)
    assert len(costs) == 4 and max(costs) <= 8, costs
    with session_scope(journeys.settings.store_url) as s:
        handover = s.exec(select(HandoverRow).where(HandoverRow.invoice_id == "inv_local")).one()
    assert handover.balance == result.balance


@activity.defn(name="send_email")
async def bouncing_email(request: DeliveryRequest) -> DeliveryResult:
    raise ApplicationError("mailbox does not exist", type="InvalidRecipient", non_retryable=True)


async def test_local_delivery_failure_moves_to_the_next_channel(
    journeys: JourneyDriver, settings: Settings
) -> None:
    """A local activity's permanent error reaches the journey as a queued one's does: a
    bad address sends the step to the next channel, and the history says why."""
    others = [a for a in build_activities(settings) if a.__name__ != "send_email"]
    queue = "journeys-local-bounce"
    inp = journey_input("inv_local_bad").model_copy(update={"local_channels": LOCAL})
    async with Worker(
        journeys.client,
        task_queue=queue,
        workflows=[InvoiceJourney],
        activities=[bouncing_email, *others],
    ):
        handle = await journeys.client.start_workflow(
            InvoiceJourney.run, inp, id=workflow_id_for("inv_local_bad"), task_queue=queue
        )
        state = await journeys.through_step(handle, 0)
        first = [h for h in state.history if h.step_index == 0]
        assert [h.outcome for h in first] == ["failed", "fallback", "sent"]
        assert "InvalidRecipient: mailbox does not exist" in first[0].detail
        assert [m.step_key for m in journeys.outbox("inv_local_bad")] == ["step-0-sms"]
        await handle.terminate("test done")


async def test_paid_journey_thanks_and_records_its_outcome_locally(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_local_paid").model_copy(update={"local_channels": LOCAL})
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
    await handle.signal(InvoiceJourney.payment_received, pay("evt_local_pay", "1250.00"))
    result = await journeys.finish(handle, "paid_after_email_local")
    assert result.phase == "paid"
    keys = [m.step_key for m in journeys.outbox("inv_local_paid")]
    assert keys == ["step-0-email", "thank-you"]
    with session_scope(journeys.settings.store_url) as s:
        row = s.get(InvoiceRow, "inv_local_paid")
    assert row is None or row.status == "paid"
    history = await handle.fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)


def test_provider_rates_apply_only_to_real_providers(settings: Settings) -> None:
    assert settings.channel_rates() == {"email": None, "sms": None, "call": None, "letter": None}
    live = settings.model_copy(
        update={
            "sendgrid_api_key": "SG.x",
            "twilio_account_sid": "AC1",
            "twilio_auth_token": "t",
            "twilio_from_number": "+46700000000",
            "letter_provider_url": "http://127.0.0.1:9",
            "letter_provider_key": "k",
        }
    )
    assert live.channel_rates() == {"email": 50.0, "sms": 1.0, "call": 1.0, "letter": 5.0}
    assert settings.local_channels() == ("email", "sms", "call", "letter")
    assert live.local_channels() == ()
