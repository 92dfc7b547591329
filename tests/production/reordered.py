"""A release of InvoiceJourney that is not replay-safe, for the replay-check tests.

Like the journey it changes, it runs outside the SDK's sandbox (see workflows/journey.py).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from domain.models import JourneyInput
from domain.state import JourneyState
from workflows.journey import InvoiceJourney


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class ReorderedJourney(InvoiceJourney):
    """Runs an activity before the journey begins, without `workflow.patched`."""

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        await workflow.execute_activity(
            "record_outcome", start_to_close_timeout=timedelta(seconds=5)
        )
        return await super().run(inp)
