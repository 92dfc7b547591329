"""Journeys started with their configuration by reference (domain.journey_config): the policy
is read once from the versioned store by a local activity, an edit made later changes
neither the running journey nor its replay, signals and updates that arrive before the
policy wait for it, and an unknown version fails the journey saying which it was."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from domain.journey_config import config_of
from domain.messages import CustomerResponse
from domain.models import ConfigRef, JourneyByRef, JourneyInput, workflow_id_for
from infra.journey_configs import JourneyConfigRow
from infra.store import session_scope
from starter.journey_start import start_input
from tests.factories import POLICIES, journey_input
from tests.workflows.journey_driver import JourneyDriver, pay, steps_out
from workflows.journey import InvoiceJourney


async def by_reference(journeys: JourneyDriver, inp: JourneyInput) -> JourneyByRef:
    start = await start_input(journeys.settings, inp)
    assert isinstance(start, JourneyByRef)
    return start


async def test_a_journey_started_by_reference_runs_the_stored_policy(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_by_ref")
    start = await by_reference(journeys, inp)
    assert start.config == config_of(inp).ref()
    assert "policy" not in start.model_dump()  # the input carries no policy at all

    handle = await journeys.start(start)
    state = await journeys.settle(handle)
    assert (state.policy_name, state.config_digest) == ("standard", start.config.digest)
    details = (await handle.describe()).raw_description.workflow_extended_info
    assert details is not None
    result = await journeys.finish(handle, "config_by_reference")

    # the very journey the same input by value runs (tests/workflows/test_journey.py)
    assert result.phase == "handed_over"
    assert steps_out(result) == ["email:sent", "sms:sent", "call:sent", "email:sent"]
    assert result.balance == Decimal("1310.00")
    history = await handle.fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    assert markers, "the configuration's local activity is recorded in the history"


async def test_a_policy_edited_after_the_start_changes_neither_the_journey_nor_its_replay(
    journeys: JourneyDriver,
) -> None:
    standard = POLICIES.segments["standard"]
    # A version of its own: this test deletes it from the store, which others must not see.
    inp = journey_input("inv_edit_after_start", policy=standard.model_copy(update={"send_hour": 9}))
    first = await by_reference(journeys, inp)
    handle = await journeys.start(first)
    planned = lambda s: s.next_step is not None  # noqa: E731
    before = await journeys.settle(handle, planned)

    # The policy file is edited: the same policy's send hour moves; a new version is stored
    # and the next journey runs it.
    edited = standard.model_copy(update={"send_hour": 15})
    second = await by_reference(journeys, journey_input("inv_edited", policy=edited))
    assert second.config.name == first.config.name
    assert second.config.digest != first.config.digest
    other = await journeys.settle(await journeys.start(second), planned)
    assert other.config_digest == second.config.digest

    state = await journeys.settle(handle, planned)
    assert state.config_digest == first.config.digest
    assert state.next_step == before.next_step  # still planned by the first version

    # Even with the first version gone from the store, the journey goes on and replays: its
    # configuration is in its history, never read again.
    with session_scope(journeys.settings.store_url) as session:
        row = session.get(JourneyConfigRow, first.config.digest)
        assert row is not None
        session.delete(row)
    state = await journeys.through_step(handle, 1)
    assert steps_out(state) == ["email:sent", "sms:sent"]
    replayer = Replayer(workflows=[InvoiceJourney], data_converter=pydantic_data_converter)
    replay = await replayer.replay_workflow(
        await handle.fetch_history(), raise_on_replay_failure=False
    )
    assert replay.replay_failure is None


async def test_a_step_due_when_the_policy_arrives_replays(journeys: JourneyDriver) -> None:
    """The first task is queried while the configuration loads, so the worker completes it
    with the local activity's marker alone, and the overdue steps go out in the next task."""
    inp = journey_input("inv_overdue_by_ref", issued=date.today() - timedelta(days=25))
    handle = await journeys.start(await by_reference(journeys, inp))
    state = await journeys.settle(handle, lambda s: len(s.history) >= 2)
    assert steps_out(state)[:2] == ["email:sent", "sms:sent"]
    history = await handle.fetch_history()
    patches = [
        e for e in history.events if e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert patches == []  # it started on code with every patch: it asks none of them
    replayer = Replayer(workflows=[InvoiceJourney], data_converter=pydantic_data_converter)
    replay = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replay.replay_failure is None


async def test_a_signal_sent_with_the_start_waits_for_the_policy(journeys: JourneyDriver) -> None:
    start = await by_reference(journeys, journey_input("inv_signal_at_start"))
    handle = await journeys.client.start_workflow(
        InvoiceJourney.run,
        start,
        id=workflow_id_for("inv_signal_at_start"),
        task_queue=journeys.settings.temporal_task_queue,
        start_signal="payment_received",
        start_signal_args=[pay("evt_at_start", "1250.00")],
    )
    result = await handle.result()
    assert result.phase == "paid" and result.paid == Decimal("1250.00")
    assert result.config_digest == start.config.digest
    assert steps_out(result) == []


async def test_updates_sent_with_the_start_wait_for_the_policy_and_are_checked_by_it(
    journeys: JourneyDriver,
) -> None:
    async def respond_at_start(invoice_id: str, promise: date) -> object:
        start = await by_reference(journeys, journey_input(invoice_id))
        operation = WithStartWorkflowOperation(
            InvoiceJourney.run,
            start,
            id=workflow_id_for(invoice_id),
            task_queue=journeys.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        return await journeys.client.execute_update_with_start_workflow(
            InvoiceJourney.respond,
            CustomerResponse(kind="promise", promise_date=promise),
            start_workflow_operation=operation,
        )

    promise = date.today() + timedelta(days=5)
    state = await respond_at_start("inv_update_at_start", promise)
    assert getattr(state, "promise_date", None) == promise
    assert getattr(state, "phase", None) == "promised"

    # Too far ahead: accepted before the policy was known, refused once it is.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await respond_at_start("inv_bad_update_at_start", date.today() + timedelta(days=90))
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "InvalidResponse"
    assert "at most 30 days" in refused.value.cause.message


async def test_an_unknown_version_fails_the_journey_naming_it(journeys: JourneyDriver) -> None:
    inp = journey_input("inv_unknown_config")
    facts = {name: getattr(inp, name) for name in JourneyByRef.model_fields if name != "config"}
    start = JourneyByRef(**facts, config=ConfigRef(name="standard", digest="ab" * 32))
    handle = await journeys.start(start)
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "UnknownJourneyConfig"
    assert "policy standard version abababababab" in cause.message
