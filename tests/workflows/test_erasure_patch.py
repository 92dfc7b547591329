"""The `gdpr-erase` patch: a journey that got `erase_personal_data` on code from before it
(no handler: the signal was ignored and the journey went on) replays as it ran on today's
code; without the patch, the replay would close it and break."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.build import build_activities
from domain.erasure import PersonalDataErasure
from domain.models import JourneyStart, workflow_id_for
from domain.state import JourneyState
from infra.settings import Settings
from tests.factories import journey_input
from tests.workflows.journey_driver import JourneyDriver, steps_out
from workflows.erasure import erase_journey
from workflows.journey import InvoiceJourney


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class BeforeErasure(InvoiceJourney):
    """The journey as released before `erase_personal_data`: the signal changes nothing
    (the SDK lets no subclass drop a handler; older code buffered it: the same commands)."""

    @workflow.run
    async def run(self, inp: JourneyStart) -> JourneyState:
        return await super().run(inp)

    @workflow.signal
    def erase_personal_data(self, e: PersonalDataErasure) -> None:
        return None


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class UnguardedErasure(InvoiceJourney):
    """`erase_personal_data` without its patch: applies to any history."""

    @workflow.run
    async def run(self, inp: JourneyStart) -> JourneyState:
        return await super().run(inp)

    @workflow.signal
    def erase_personal_data(self, e: PersonalDataErasure) -> None:
        if self._first_time(e.event_id):
            self._config.replace(erase_journey(self._inp, self._ledger, e, workflow.now()))
            self._touch()


async def test_an_erasure_older_code_ignored_replays_ignored(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    driver = JourneyDriver(temporal_env, settings)
    queue = f"{settings.temporal_task_queue}-pre-gdpr"
    inp = journey_input("inv_pre_gdpr").model_copy(
        update={"local_channels": settings.local_channels()}
    )
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[BeforeErasure],
        activities=build_activities(settings),
    ):
        handle = await temporal_env.client.start_workflow(
            InvoiceJourney.run, inp, id=workflow_id_for("inv_pre_gdpr"), task_queue=queue
        )
        erasure = PersonalDataErasure(event_id="gdpr-old", requested_at=datetime.now(UTC))
        await handle.signal(InvoiceJourney.erase_personal_data, erasure)
        state = await driver.through_step(handle, 0)
        assert state.phase == "scheduled" and steps_out(state) == ["email:sent"]
        await handle.terminate("recorded")
    history = await handle.fetch_history()

    today = Replayer(workflows=[InvoiceJourney], data_converter=pydantic_data_converter)
    assert (
        await today.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure is None
    unguarded = Replayer(workflows=[UnguardedErasure], data_converter=pydantic_data_converter)
    failure = (
        await unguarded.replay_workflow(history, raise_on_replay_failure=False)
    ).replay_failure
    text = str(failure).lower()
    assert failure is not None and ("nondetermin" in text or "workflow machines" in text), text
