"""Ops find a journey in the Web UI through every search attribute and read what it does next."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.models import workflow_id_for
from infra.settings import Settings
from tests.factories import journey_input
from worker import build_worker
from workflows.describe import search_attributes, static_details, static_summary
from workflows.journey import InvoiceJourney


async def ids_matching(client: Client, query: str, expected: str) -> list[str]:
    """Visibility is eventually consistent: poll briefly for the expected journey."""
    found: list[str] = []
    for _ in range(100):
        found = [w.id async for w in client.list_workflows(query)]
        if expected in found:
            return found
        await asyncio.sleep(0.1)
    return found


@pytest.fixture
async def running(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Client]:
    async with build_worker(temporal_env.client, settings):
        yield temporal_env.client


async def test_journey_is_found_through_each_search_attribute(
    running: Client, temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    inp = journey_input("inv_visible", id="cus_visible", segment="loyal")
    inp = inp.model_copy(
        update={"invoice": inp.invoice.model_copy(update={"customer_id": "cus_visible"})}
    )
    handle = await running.start_workflow(
        InvoiceJourney.run,
        inp,
        id=workflow_id_for("inv_visible"),
        task_queue=settings.temporal_task_queue,
        static_summary=static_summary(inp),
        static_details=static_details(inp),
        search_attributes=search_attributes(inp),
    )
    state = await handle.query(InvoiceJourney.state)
    assert state.next_step is not None
    next_at = state.next_step.at
    wf_id = workflow_id_for("inv_visible")
    before, after = (
        (next_at - timedelta(minutes=1)).isoformat(),
        (next_at + timedelta(minutes=1)).isoformat(),
    )
    queries = [
        'InvoiceId = "inv_visible"',
        'CustomerId = "cus_visible"',
        'JourneyPhase = "scheduled" AND InvoiceId = "inv_visible"',
        'Segment = "loyal" AND InvoiceId = "inv_visible"',
        "AmountDue >= 1250 AND AmountDue <= 1250",
        f'NextActionAt > "{before}" AND NextActionAt < "{after}"',
    ]
    for query in queries:
        assert wf_id in await ids_matching(running, query, wf_id), query

    description = await handle.describe()
    assert await description.static_summary() == "Invoice visible · 1250.00 SEK · loyal journey"
    assert "day +5: email `gentle_reminder`" in (await description.static_details() or "")
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details.startswith("**Next: step 1/4: email reminder")
    assert "Balance: 1250.00 SEK" in metadata.current_details
    await handle.terminate("test done")
