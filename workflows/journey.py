"""`InvoiceJourney`: one durable workflow per unpaid invoice, from issue to its end.

Only the entry points live here: the run, the signals, the updates with their validators
and the query, each handing over to `workflows.engine.JourneyEngine` (the behaviour) or
`workflows.rules` (what an event does to the ledger).

The journey runs outside the SDK's sandbox (`sandboxed=False`). Its logic lives in plain
modules that the sandbox would pass through anyway, so the sandbox guarded little, while
re-creating it for every journey cost 39 kB per cached journey and a quarter of the
worker's throughput (bench/run.py, README "Performance"). Determinism is guarded instead by
tests/workflows/test_determinism.py (no clock, randomness, I/O or threads in workflow code)
and by replaying stored histories (test_replay.py).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

import workflows.engine as engine
import workflows.rules as rules
from domain.messages import (
    AgentRequest,
    AgentTask,
    ConsentChange,
    ConversationHeld,
    CustomerResponse,
    DeliveryFailure,
    InvoiceCredited,
    InvoiceVoided,
    PaymentReceived,
    PaymentReversed,
)
from domain.models import JourneyInput, workflow_id_for
from domain.state import JourneyState


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class InvoiceJourney(engine.JourneyEngine):
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        super().__init__(inp)

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyState:
        return await self._run()

    # --- signals: billing events -----------------------------------------------------------

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._ledger.applied_events:
            return False
        self._ledger.applied_events.add(event_id)
        return True

    @workflow.signal
    def payment_received(self, p: PaymentReceived) -> None:
        if self._first_time(p.event_id):
            rules.apply_payment(self._inp, self._ledger, p, workflow.now())
            self._touch()

    @workflow.signal
    def payment_reversed(self, r: PaymentReversed) -> None:
        if self._first_time(r.event_id) and self._ledger.closed is None:
            rules.apply_reversal(self._inp, self._ledger, r, workflow.now())
            self._touch()

    @workflow.signal
    def invoice_credited(self, c: InvoiceCredited) -> None:
        if self._first_time(c.event_id):
            rules.apply_credit(self._inp, self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def invoice_voided(self, v: InvoiceVoided) -> None:
        if self._first_time(v.event_id):
            rules.apply_void(self._ledger, v, workflow.now())
            self._touch()

    @workflow.signal
    def consent_changed(self, c: ConsentChange) -> None:
        if self._first_time(c.event_id):
            rules.apply_consent(self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def delivery_failed(self, f: DeliveryFailure) -> None:
        if self._first_time(f.event_id):
            rules.apply_delivery_failure(self._ledger, f, workflow.now())
            self._touch()

    @workflow.signal
    def conversation_held(self, c: ConversationHeld) -> None:
        if self._first_time(c.event_id):
            rules.apply_conversation(self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def agent_task(self, t: AgentTask) -> None:
        if self._first_time(t.event_id):
            rules.apply_task(self._ledger, t, workflow.now())
            self._touch()

    # --- updates: customers and agents get an answer ---------------------------------------

    @workflow.update
    def respond(self, r: CustomerResponse) -> JourneyState:
        rules.apply_response(self._inp, self._ledger, r, workflow.now())
        self._touch()
        return self._state()

    @respond.validator
    def _validate_respond(self, r: CustomerResponse) -> None:
        if err := rules.check_response(self._inp, self._ledger, r, workflow.now()):
            raise ApplicationError(err, type="InvalidResponse", non_retryable=True)

    @workflow.update
    def agent_action(self, req: AgentRequest) -> JourneyState:
        rules.apply_action(self._inp, self._ledger, req, workflow.now())
        self._touch()
        return self._state()

    @agent_action.validator
    def _validate_agent_action(self, req: AgentRequest) -> None:
        if err := rules.check_action(self._inp, self._ledger, req, workflow.now()):
            raise ApplicationError(
                f"{req.action.action} refused: {err}", type="InvalidAgentAction", non_retryable=True
            )

    @workflow.query
    def state(self) -> JourneyState:
        return self._state()


__all__ = ["InvoiceJourney", "workflow_id_for"]
