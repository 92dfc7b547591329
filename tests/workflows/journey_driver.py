"""What every whole-journey test stands on: `JourneyDriver` starts journeys and moves their
clocks (time skipping off, `fast_forward` by hand) so a test can act at a precise point."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.messages import (
    AgentRequest,
    PaymentReceived,
)
from domain.models import JourneyInput, JourneyStart, workflow_id_for
from domain.state import JourneyState
from infra.settings import Settings
from infra.store import HandoverRow, OutboxMessageRow, session_scope
from tests.histories import save_history
from workflows.journey import InvoiceJourney
from workflows.journey_time import journey_today

Handle = WorkflowHandle[Any, JourneyState]


class JourneyDriver:
    """Starts journeys and moves their clocks; keeps test bodies about behaviour."""

    def __init__(self, env: WorkflowEnvironment, settings: Settings) -> None:
        self.env = env
        self.settings = settings
        self.client = env.client

    async def start(self, inp: JourneyStart) -> Handle:
        return await self.client.start_workflow(
            InvoiceJourney.run,
            inp,
            id=workflow_id_for(inp.invoice.id),
            task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def state(self, handle: Handle) -> JourneyState:
        return await handle.query(InvoiceJourney.state)

    async def settle(self, handle: Handle, until: Any = None) -> JourneyState:
        """Wait (in real time) for the work a timer released to finish: activities, and the
        workflow task that runs local activities (a query may answer in the middle of it)."""
        state: JourneyState | None = None
        for _ in range(200):
            try:
                state = await self.state(handle)
            except RPCError as err:  # a run just continued as new: its first task is not out
                if err.status != RPCStatusCode.FAILED_PRECONDITION:
                    raise
                await asyncio.sleep(0.05)
                continue
            desc = (await handle.describe()).raw_description
            busy = desc.pending_activities or desc.HasField("pending_workflow_task")
            if not busy and (until is None or until(state)):
                return state
            await asyncio.sleep(0.05)
        raise AssertionError(f"journey did not settle: {state}")

    async def forward(self, handle: Handle, days: float) -> JourneyState:
        await self.env.fast_forward(handle, timedelta(days=days))
        return await self.settle(handle)

    async def through_step(self, handle: Handle, index: int) -> JourneyState:
        """Move the clock just past step `index` and wait until it has gone out."""
        state = await self.state(handle)
        while state.next_step is not None and state.next_step.index <= index:
            now = await self.env.get_current_time(handle)
            await self.env.fast_forward(handle, state.next_step.at - now + timedelta(minutes=1))
            target = state.next_step.index
            state = await self.settle(
                handle, lambda s, t=target: s.next_step is None or s.next_step.index > t
            )
        return state

    async def through_first_step(self, inp: JourneyInput) -> tuple[Handle, JourneyState]:
        """Start `inp`'s journey and run it until its first step has gone out."""
        handle = await self.start(inp)
        return handle, await self.through_step(handle, 0)

    async def today(self, handle: Handle, inp: JourneyInput) -> Any:
        now = await self.env.get_current_time(handle)
        return journey_today(now, inp.clock, inp.customer.timezone or "Europe/Stockholm")

    async def finish(self, handle: Handle, name: str) -> JourneyState:
        """Let the journey run to its end and keep its history for the replay tests."""
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await self.env.fast_forward(handle, None)
        result = await handle.result()
        await save_history(handle, name)
        return result

    def handovers(self, invoice_id: str) -> list[HandoverRow]:
        """What reached the collection agency for the invoice (none while a hold stands)."""
        with session_scope(self.settings.store_url) as s:
            return list(s.exec(select(HandoverRow).where(HandoverRow.invoice_id == invoice_id)))

    def outbox(self, invoice_id: str) -> list[OutboxMessageRow]:
        with session_scope(self.settings.store_url) as s:
            rows = s.exec(select(OutboxMessageRow).where(OutboxMessageRow.invoice_id == invoice_id))
            return sorted(rows.all(), key=lambda r: r.id or 0)


def steps_out(state: JourneyState) -> list[str]:
    return [f"{h.channel}:{h.outcome}" for h in state.history if h.kind == "step"]


def pay(event_id: str, amount: str) -> PaymentReceived:
    return PaymentReceived.model_validate(
        {"event_id": event_id, "amount": amount, "paid_at": "2026-12-01"}
    )


def action(**fields: Any) -> AgentRequest:
    return AgentRequest.model_validate({"action": fields})


def events_per_step(events: list[Any]) -> list[int]:
    """History events from each timer firing to the next timer (both counted): what one
    executed step costs. The wake-up, its delivery and the wait for the next step."""
    fired = [i for i, e in enumerate(events) if e.HasField("timer_fired_event_attributes")]
    started = [i for i, e in enumerate(events) if e.HasField("timer_started_event_attributes")]
    return [next(s for s in started if s > f) - f + 1 for f in fired if any(s > f for s in started)]
