"""The baseline: a bare Temporal workflow with the same timers and activities as a journey.

No pydantic, the SDK's default data converter, no search attributes, no current details:
only what Temporal itself costs. A `Shape` is read off one product journey's history (see
`bench/histories.py`), so the bare run does exactly the timers and activities the product
did, at the same offsets from the workflow's start.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

BARE_WORKFLOW = "BareJourney"
MIN_TIMER = timedelta(milliseconds=10)
"""A timer that is already due still becomes a timer, so the count matches the product's."""

Shape = list[list[float]]
"""`[[activities before the first timer], [offset s, activities after, step], ...]`: the
first element holds one number, every later one a timer's planned offset from the workflow's
start (its WorkflowExecutionStarted event), how many activities ran after it fired, and 1 if
the product ran a policy step right after it (that timer's lateness is a step's lateness)."""


@activity.defn(name="bare_noop")
async def bare_noop(payload: str) -> str:
    return payload


@workflow.defn(name=BARE_WORKFLOW)
class BareJourney:
    @workflow.run
    async def run(self, shape: Shape) -> int:
        start = workflow.info().start_time  # the plan is anchored where the product's is
        done = 0
        for n in range(int(shape[0][0])):
            done += await self._act(n)
        for offset, count, *_ in shape[1:]:
            delay = start + timedelta(seconds=offset) - workflow.now()
            await asyncio.sleep(max(delay, MIN_TIMER).total_seconds())
            for n in range(int(count)):
                done += await self._act(n)
        return done

    async def _act(self, n: int) -> int:
        await workflow.execute_activity(
            bare_noop, f"step-{n}", start_to_close_timeout=timedelta(seconds=60)
        )
        return 1
