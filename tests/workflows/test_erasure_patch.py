"""The `gdpr-erase` patch: a journey that got `erase_personal_data` on code from before it
(no handler: the signal was ignored and the journey went on) replays as it ran on today's
code; without the patch, the replay would close it and break."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.erasure import PersonalDataErasure
from domain.models import JourneyStart
from domain.state import JourneyState
from infra.settings import Settings
from tests.factories import journey_input
from tests.workflows.journey_driver import JourneyDriver, steps_out
from tests.workflows.patch_replay import is_nondeterminism, replays_of_older_history
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

    async def erase_then_step(handle: WorkflowHandle[Any, Any]) -> None:
        erasure = PersonalDataErasure(event_id="gdpr-old", requested_at=datetime.now(UTC))
        await handle.signal(InvoiceJourney.erase_personal_data, erasure)
        state = await driver.through_step(handle, 0)
        assert state.phase == "scheduled" and steps_out(state) == ["email:sent"]

    today, unguarded = await replays_of_older_history(
        temporal_env,
        settings,
        journey_input("inv_pre_gdpr"),
        BeforeErasure,
        UnguardedErasure,
        erase_then_step,
    )
    assert today is None
    assert is_nondeterminism(unguarded), unguarded
