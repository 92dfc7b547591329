"""Replay stored journey histories against today's workflow code.

Journeys live for months, so a deploy meets histories written by older code. Every file in
tests/histories/ is replayed here; a change that would break a running journey (a new
activity, a reordered timer) fails CI until it is guarded with `workflow.patched`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from domain.models import JourneyStart, JourneyState
from tests.histories import HISTORY_DIR
from workflows.journey import InvoiceJourney

HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text(encoding="utf-8"))


def test_histories_are_stored() -> None:
    assert len(HISTORIES) >= 5, "run the journey tests with JOURNEYS_RECORD_HISTORIES=1"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_stored_history_replays_on_current_code(path: Path) -> None:
    replayer = Replayer(workflows=[InvoiceJourney], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


# --- a change to the workflow must be guarded, and the guard works -------------------------


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class UnguardedChange(InvoiceJourney):
    """A release that adds an activity before the journey begins, without a patch."""

    @workflow.run
    async def run(self, inp: JourneyStart) -> JourneyState:
        await workflow.execute_activity(
            "record_outcome", start_to_close_timeout=timedelta(seconds=5)
        )
        return await super().run(inp)


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class GuardedChange(InvoiceJourney):
    """The same release done right: only journeys started after it run the new activity."""

    @workflow.run
    async def run(self, inp: JourneyStart) -> JourneyState:
        if workflow.patched("record-start"):
            await workflow.execute_activity(
                "record_outcome", start_to_close_timeout=timedelta(seconds=5)
            )
        return await super().run(inp)


@pytest.mark.parametrize(("variant", "breaks"), [(UnguardedChange, True), (GuardedChange, False)])
async def test_unpatched_change_fails_replay_and_patched_passes(
    variant: type[InvoiceJourney], breaks: bool
) -> None:
    replayer = Replayer(workflows=[variant], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(load(HISTORIES[0]), raise_on_replay_failure=False)
    if breaks:
        assert result.replay_failure is not None
        assert "nondetermin" in str(result.replay_failure).lower()
    else:
        assert result.replay_failure is None
