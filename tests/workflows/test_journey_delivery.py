"""Whole journeys through their channels: consent, bounces and fallbacks, per-channel task
queues, and the outbox's deliveries as local activities."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.build import build_activities
from domain.messages import (
    ConsentChange,
    DeliveryFailure,
)
from domain.models import Consent, workflow_id_for
from domain.payloads import DeliveryRequest, DeliveryResult
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope
from tests.factories import journey_input, with_live_providers
from tests.workflows.journey_driver import JourneyDriver, action, events_per_step, pay, steps_out
from workflows.journey import InvoiceJourney


async def test_sms_after_stop_falls_back_to_email(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_stop")
    handle, _ = await journeys.through_first_step(inp)
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
    handle, _ = await journeys.through_first_step(inp)
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
    handle, state = await journeys.through_first_step(inp)
    assert journeys.outbox("inv_unreachable") == []
    assert len(state.open_tasks) == 1 and "no way to reach the customer" in state.open_tasks[0]
    state = await handle.execute_update(
        InvoiceJourney.agent_action, action(action="add-note", agent="a9", note="called, no answer")
    )
    assert state.open_tasks == ()


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
    [handover] = journeys.handovers("inv_local")
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
    handle, _ = await journeys.through_first_step(inp)
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
    live = with_live_providers(settings)
    assert live.channel_rates() == {"email": 50.0, "sms": 1.0, "call": 1.0, "letter": None}
    assert settings.local_channels() == ("email", "sms", "call", "letter")
    assert live.local_channels() == ("letter",)  # no print-and-post provider: the outbox
    posting = live.model_copy(
        update={"letter_provider_url": "http://127.0.0.1:9", "letter_provider_key": "k"}
    )
    assert posting.channel_rates()["letter"] == 5.0 and posting.local_channels() == ()
