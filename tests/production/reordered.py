"""A release of InvoiceJourney that is not replay-safe, for the replay-check tests.

Its own module, with few imports: the workflow sandbox re-imports the module that defines a
workflow, and models must be passed through so that the copy shares their classes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.journey import InvoiceJourney

with workflow.unsafe.imports_passed_through():
    from journeys.models import JourneyInput, JourneyState


@workflow.defn(name="InvoiceJourney")
class ReorderedJourney(InvoiceJourney):
    """Runs an activity before the journey begins, without `workflow.patched`."""

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        await workflow.execute_activity(
            "record_outcome", start_to_close_timeout=timedelta(seconds=5)
        )
        return await super().run(inp)
