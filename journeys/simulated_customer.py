"""The customers of `journeys simulate`: they receive what the real journeys deliver and answer
through the product's own doors, at the journey's own (skipped) time.

`SimulatedDelivery` is the worker's delivery activities with the outbox behind every channel
(the message and its ledger entry are stored as in the embedded default), followed by the
customer's answer drawn from the behaviour model (`domain.simulation.answer`):

- pays: an `invoice.payment_received` event through ingest, before the delivery returns, so
  the journey sees it at the delivery's instant;
- promises, disputes: the `respond` update the customer page sends. An update cannot be
  awaited from inside the journey's own workflow task (the outbox delivers by local activity),
  so the delivery first stops the journey's time skipping, and a background task sends the
  update, moves the clock on by exactly the days the customer waits (`fast_forward`), pays if
  the promise is kept, and lets time skip again. Time never moves while the answer is on its
  way, so the same seed gives the same journeys;
- a dispute is upheld by the company (the agent action `resolve-dispute`, outcome cancel);
- churn after a harsh step is noted and recorded after the journey ends (`customer.churned`),
  since leakage counts a customer lost after the journey.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import TimeSkippingConfig, WorkflowExecution
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionOptionsRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.delivery import DeliveryActivities
from domain.messages import CustomerResponse, ResolveDisputeAction
from domain.models import workflow_id_for
from domain.payloads import DeliveryRequest, DeliveryResult
from domain.policies import PolicyFile
from domain.simulation import PROMISE_DAYS, BehaviourFile, Customer, answer, harsh
from domain.values import Channel
from infra.logging import get_logger
from infra.settings import Settings
from starter.actions import (
    JourneyClosed,
    NoWorker,
    RequestRefused,
    agent_action,
    customer_response,
    get_state,
)
from starter.event_schema import parse_event
from starter.ingest import apply_event

T = TypeVar("T")
AGENT = "simulation"
log = get_logger(__name__)


async def set_time_skipping(client: Client, workflow_id: str, enabled: bool) -> None:
    """Let one journey's clock skip to its next timer whenever it is idle, or hold it. A
    journey that has ended needs neither."""
    try:
        await client.workflow_service.update_workflow_execution_options(
            UpdateWorkflowExecutionOptionsRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                workflow_execution_options=WorkflowExecutionOptions(
                    time_skipping_config=TimeSkippingConfig(enabled=enabled)
                ),
                update_mask=FieldMask(paths=["time_skipping_config"]),
                identity=client.identity,
            ),
            retry=True,
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


RETRIED = {
    RPCStatusCode.FAILED_PRECONDITION,  # the journey's workflow task is being retried
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}
ATTEMPTS = 20


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """A busy machine makes the server or the worker slow to answer (a workflow task being
    retried, a query timing out): the customer tries again, as a person would. Each call is
    safe to repeat (ingest is idempotent by event id; the clock and the state are reads)."""
    for attempt in range(ATTEMPTS):
        try:
            return await call()
        except RPCError as err:
            if err.status not in RETRIED or attempt == ATTEMPTS - 1:
                raise
        except NoWorker:
            if attempt == ATTEMPTS - 1:
                raise
        await asyncio.sleep(0.5 + attempt * 0.25)
    raise AssertionError("unreachable")


@dataclass
class Life:
    """One synthetic customer's invoice as the customer lives it."""

    customer: Customer
    rng: random.Random
    settled: bool = False
    """Paid, promised to pay (and will), or disputed: later reminders get no new answer."""
    churns: bool = False


@dataclass
class Tally:
    """What the customers did, for the command's summary (not part of the report)."""

    answers: dict[str, int] = field(default_factory=dict)
    refused: int = 0
    lost: int = 0
    """Answers that could not be delivered even after retrying (logged)."""

    def add(self, what: str) -> None:
        self.answers[what] = self.answers.get(what, 0) + 1


class Customers:
    """Every customer of one run, keyed by invoice id, and how they answer."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        settings: Settings,
        policies: PolicyFile,
        mix: BehaviourFile,
    ) -> None:
        self.env = env
        self.client = env.client
        self.settings = settings
        self.policies = policies
        self.mix = mix
        self.lives: dict[str, Life] = {}
        self.tally = Tally()
        self._later: set[asyncio.Task[None]] = set()

    async def settled(self) -> None:
        """Wait for every answer still on its way."""
        while self._later:
            await asyncio.gather(*list(self._later))

    async def pay(self, invoice_id: str, amount: Decimal, at: datetime) -> None:
        event = parse_event(
            {
                "id": f"{invoice_id}-payment",
                "type": "invoice.payment_received",
                "occurred_at": at.isoformat(),
                "data": {
                    "invoice_id": invoice_id,
                    "amount": str(amount),
                    "paid_at": at.date().isoformat(),
                },
            }
        )
        await apply_event(self.client, self.settings, self.policies, event)

    async def now(self, invoice_id: str) -> datetime:
        handle = self.client.get_workflow_handle(workflow_id_for(invoice_id))
        return await self.env.get_current_time(handle)

    async def after(self, request: DeliveryRequest, result: DeliveryResult) -> None:
        """The customer has just been reached by a reminder step: their answer."""
        life = self.lives.get(request.invoice_id)
        if life is None or life.settled or result.status != "sent":
            return
        if not request.step_key.startswith("step-"):
            return  # a thank-you or an installment reminder asks for no answer
        was_harsh = harsh(request.channel, request.fee_this_step, request.final_notice)
        reply = answer(life.rng, self.mix, life.customer.segment, request.channel, was_harsh)
        life.churns = life.churns or reply.churns
        self.tally.add(reply.reaction)
        if reply.reaction == "nothing":
            return
        life.settled = reply.reaction != "promise_broken"
        invoice_id = request.invoice_id
        try:
            at = await patiently(lambda: self.now(invoice_id))
            if reply.reaction == "pay":
                await patiently(lambda: self.pay(invoice_id, request.balance, at))
                return
            await self._skip(invoice_id, False)
        except Exception:
            # The delivery itself stands; failing it would only make its retry find the step
            # sent and the customer silent.
            self.tally.lost += 1
            log.exception("a simulated customer's answer was lost", invoice_id=invoice_id)
            return
        task = asyncio.create_task(self._answer_later(request, reply.reaction, at))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _skip(self, invoice_id: str, enabled: bool) -> None:
        workflow_id = workflow_id_for(invoice_id)
        await patiently(lambda: set_time_skipping(self.client, workflow_id, enabled))

    async def _answer_later(self, request: DeliveryRequest, reaction: str, at: datetime) -> None:
        invoice_id, channel = request.invoice_id, request.channel
        try:
            if reaction == "dispute":
                await self._respond(invoice_id, channel, kind="dispute", message="not my order")
                cancel = ResolveDisputeAction(agent=AGENT, outcome="cancel")
                await patiently(lambda: agent_action(self.client, invoice_id, cancel))
            else:
                promised = at.date() + timedelta(days=PROMISE_DAYS)
                await self._respond(invoice_id, channel, kind="promise", promise_date=promised)
                if reaction == "promise_kept":
                    await self._keep_promise(invoice_id, at + timedelta(days=PROMISE_DAYS - 1))
        except (RequestRefused, JourneyClosed):
            self.tally.refused += 1  # the journey's rules said no: it goes on as it would
        except Exception:
            self.tally.lost += 1
            log.exception("a simulated customer's answer was lost", invoice_id=invoice_id)
        finally:
            await self._skip(invoice_id, True)

    async def _keep_promise(self, invoice_id: str, when: datetime) -> None:
        """Let the journey's clock run to the day before the promised date, then pay."""
        handle = self.client.get_workflow_handle(workflow_id_for(invoice_id))
        await self.env.fast_forward(handle, timedelta(days=PROMISE_DAYS - 1))
        state = await patiently(lambda: get_state(self.client, invoice_id))
        if state.balance > 0:
            await patiently(lambda: self.pay(invoice_id, state.balance, when))

    async def _respond(self, invoice_id: str, channel: Channel, **fields: Any) -> None:
        response = CustomerResponse(channel=channel, **fields)
        await patiently(lambda: customer_response(self.client, invoice_id, response))


class SimulatedDelivery(DeliveryActivities):
    """send_email, send_sms and place_call to the outbox, each followed by the customer's
    answer; registered under the same activity names the journey calls."""

    def __init__(self, settings: Settings, customers: Customers, **senders: Any) -> None:
        super().__init__(settings, **senders)
        self.customers = customers

    async def contact(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult:
        result = await super().contact(channel, request)
        await self.customers.after(request, result)
        return result
