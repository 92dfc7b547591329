"""A patch test's two halves, shared by every patch that guards a new signal: record a
history on the journey as released before the signal (`before`), then replay it on today's
journey (must pass) and on the signal without its patch (`unguarded`, must break)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.build import build_activities
from domain.models import JourneyInput, workflow_id_for
from infra.settings import Settings
from workflows.journey import InvoiceJourney

Drive = Callable[[WorkflowHandle[Any, Any]], Awaitable[None]]


async def replays_of_older_history(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    inp: JourneyInput,
    before: type,
    unguarded: type,
    drive: Drive,
) -> tuple[Exception | None, Exception | None]:
    """Run `inp` on `before` through `drive` (which sends the signal and checks what older
    code did), then the replay failures of its history on today's code and on `unguarded`."""
    queue = f"{settings.temporal_task_queue}-{inp.invoice.id}"
    inp = inp.model_copy(update={"local_channels": settings.local_channels()})
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[before],
        activities=build_activities(settings),
    ):
        handle = await temporal_env.client.start_workflow(
            InvoiceJourney.run, inp, id=workflow_id_for(inp.invoice.id), task_queue=queue
        )
        await drive(handle)
        await handle.terminate("recorded")
    history = await handle.fetch_history()
    failures = []
    for journey in (InvoiceJourney, unguarded):
        replayer = Replayer(workflows=[journey], data_converter=pydantic_data_converter)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        failures.append(result.replay_failure)
    return failures[0], failures[1]


def is_nondeterminism(failure: Exception | None) -> bool:
    """The replay broke as a changed command sequence breaks it ("nondeterminism", or the
    timer machine's "transition is invalid", depending on where)."""
    text = str(failure).lower()
    return failure is not None and ("nondetermin" in text or "workflow machines" in text)
