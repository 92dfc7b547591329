"""`InvoiceJourney`: one durable workflow per unpaid invoice, from issue to its end.

Read it top to bottom: entry points, the loop, then each thing it does; what is next comes from
`planning.decide`, what events do from `rules`, I/O from activities (`activity_calls`); a
journey by reference reads its configuration first (`config_gate`). Workflow code, unsandboxed
(a sandbox per journey cost 39 kB, README "Performance"): test_determinism.py and test_replay.py
guard it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError

import workflows.activity_calls as calls
import workflows.planning as planning
import workflows.rules as rules
from domain.erasure import PersonalDataErasure
from domain.messages import (
    AgentRequest,
    AgentTask,
    ConsentChange,
    ConversationHeld,
    CustomerChanged,
    CustomerResponse,
    DeliveryFailure,
    InvoiceCredited,
    InvoiceVoided,
    PaymentReceived,
    PaymentReversed,
)
from domain.models import JourneyInput, JourneyStart, Step, workflow_id_for
from domain.payloads import DeliveryRequest
from domain.state import HistoryEntry, JourneyState
from domain.values import Channel
from workflows.activity_calls import LEAN_JOURNEY_PATCH
from workflows.config_gate import ConfigGate, E
from workflows.customer_updates import CUSTOMER_UPDATES_PATCH, apply_customer_update
from workflows.describe import publish, search_attributes, step_label
from workflows.erasure import GDPR_ERASE_PATCH, erase_journey
from workflows.ledger import note_step
from workflows.requests import delivery_request, handover_request, journey_outcome


@workflow.defn(name="InvoiceJourney", sandboxed=False)
class InvoiceJourney:
    @workflow.init
    def __init__(self, inp: JourneyStart) -> None:
        self._config = ConfigGate(inp)
        self._ledger = (
            planning.load_ledger(inp.carried)
            if inp.carried is not None
            else planning.Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
        )
        # Decided before any handler runs, once per run: see workflows.ledger.Revisions.
        self._ledger.revisions = planning.Revisions.from_patches(self._config.patched)
        self._changed = False
        self._published: tuple[object, ...] = ()
        self._lean = False

    @workflow.run
    async def run(self, inp: JourneyStart) -> JourneyState:
        """Remind until the invoice is closed, then thank a payer and record the outcome."""
        # Before the configuration's local activity, like every patch (ConfigGate.patched).
        self._lean = self._config.patched(LEAN_JOURNEY_PATCH)
        await self._config.load()  # a journey started by reference reads its policy first
        self._begin()
        await self._remind_until_closed()
        await self._finish()
        return self._state()

    # --- signals: billing events -----------------------------------------------------------

    @workflow.signal
    def payment_received(self, p: PaymentReceived) -> None:
        if self._fresh(self.payment_received, p):
            rules.apply_payment(self._inp, self._ledger, p, workflow.now())
            self._touch()

    @workflow.signal
    def payment_reversed(self, r: PaymentReversed) -> None:
        if self._fresh(self.payment_reversed, r) and self._ledger.closed is None:
            rules.apply_reversal(self._inp, self._ledger, r, workflow.now())
            self._touch()

    @workflow.signal
    def invoice_credited(self, c: InvoiceCredited) -> None:
        if self._fresh(self.invoice_credited, c):
            rules.apply_credit(self._inp, self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def invoice_voided(self, v: InvoiceVoided) -> None:
        if self._fresh(self.invoice_voided, v):
            rules.apply_void(self._ledger, v, workflow.now())
            self._touch()

    @workflow.signal
    def consent_changed(self, c: ConsentChange) -> None:
        if self._fresh(self.consent_changed, c):
            rules.apply_consent(self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def customer_updated(self, u: CustomerChanged) -> None:
        if self._config.patched(CUSTOMER_UPDATES_PATCH) and self._fresh(self.customer_updated, u):
            apply_customer_update(self._inp, self._ledger, u, workflow.now())
            self._touch()

    @workflow.signal
    def erase_personal_data(self, e: PersonalDataErasure) -> None:
        """The customer's personal data was erased: forget it and close (workflows.erasure)."""
        if self._config.patched(GDPR_ERASE_PATCH) and self._fresh(self.erase_personal_data, e):
            self._config.replace(erase_journey(self._inp, self._ledger, e, workflow.now()))
            self._touch()

    @workflow.signal
    def delivery_failed(self, f: DeliveryFailure) -> None:
        if self._fresh(self.delivery_failed, f):
            rules.apply_delivery_failure(self._ledger, f, workflow.now())
            self._touch()

    @workflow.signal
    def conversation_held(self, c: ConversationHeld) -> None:
        if self._fresh(self.conversation_held, c):
            rules.apply_conversation(self._ledger, c, workflow.now())
            self._touch()

    @workflow.signal
    def agent_task(self, t: AgentTask) -> None:
        if self._fresh(self.agent_task, t):
            rules.apply_task(self._ledger, t, workflow.now())
            self._touch()

    # --- updates: customers and agents get an answer ---------------------------------------

    @workflow.update
    async def respond(self, r: CustomerResponse) -> JourneyState:
        if await self._config.wait():  # arrived before the policy: validated now
            self._validate_respond(r)
        rules.apply_response(self._inp, self._ledger, r, workflow.now())
        self._touch()
        return self._state()

    @respond.validator
    def _validate_respond(self, r: CustomerResponse) -> None:
        if self._config.loaded and (
            err := rules.check_response(self._inp, self._ledger, r, workflow.now())
        ):
            raise ApplicationError(err, type="InvalidResponse", non_retryable=True)

    @workflow.update
    async def agent_action(self, req: AgentRequest) -> JourneyState:
        if await self._config.wait():
            self._validate_agent_action(req)
        rules.apply_action(self._inp, self._ledger, req, workflow.now())
        self._touch()
        return self._state()

    @agent_action.validator
    def _validate_agent_action(self, req: AgentRequest) -> None:
        if self._config.loaded and (
            err := rules.check_action(self._inp, self._ledger, req, workflow.now())
        ):
            raise ApplicationError(
                f"{req.action.action} refused: {err}", type="InvalidAgentAction", non_retryable=True
            )

    # --- query: what callers see -----------------------------------------------------------

    @workflow.query
    def state(self) -> JourneyState:
        return self._state()

    # --- the journey -----------------------------------------------------------------------

    def _begin(self) -> None:
        inp = self._inp
        if not self._lean:  # journeys started before the starter set these
            workflow.upsert_search_attributes(
                [pair.key.value_set(pair.value) for pair in search_attributes(inp)]
            )
        if inp.customer.vulnerable and inp.carried is None:
            self._ledger.open_tasks.append(
                "vulnerable customer: no calls or fees; check the journey suits them"
            )

    async def _remind_until_closed(self) -> None:
        """Ask the plan what is next; wait for it (or for news) and do it, until closed."""
        inp, ledger = self._inp, self._ledger
        while ledger.closed is None:
            if self._history_too_long():
                await self._continue_as_new()
            decision = planning.decide(inp, ledger)
            self._publish(decision)
            now = workflow.now()
            if decision.at is None or decision.at > now:
                await self._sleep_until(decision)
                continue
            if decision.kind == "step" and decision.step_index is not None:
                await self._run_step(decision.step_index)
            elif decision.kind == "fallback" and decision.step_index is not None:
                ledger.fallbacks.pop(0)
                await self._run_step(decision.step_index)
            elif decision.kind == "installment_reminder" and decision.step_index is not None:
                await self._remind_installment(decision.step_index)
            elif decision.kind == "installment_check" and decision.step_index is not None:
                rules.check_installment(inp, ledger, decision.step_index, now)
            elif decision.kind == "release_hold":
                planning.lift_expired_hold(inp, ledger, now)
            elif decision.kind == "handover":
                await self._hand_over()

    async def _finish(self) -> None:
        """A paid invoice is thanked; every closed journey's outcome goes to the store."""
        self._publish(planning.decide(self._inp, self._ledger))
        if self._ledger.closed == "paid":
            await self._thank()
        await self._record_outcome()
        # Let an update that closed the journey answer its caller before the run completes.
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._inp.history_limit
        )

    async def _continue_as_new(self) -> None:
        """Start a fresh run with the same input and the ledger so far: long journeys (a
        36-installment plan) keep a small history, and nothing they knew is lost."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._config.carrying(planning.dump_ledger(self._ledger)))

    async def _sleep_until(self, decision: planning.Decision) -> None:
        self._changed = False
        timeout = None if decision.at is None else decision.at - workflow.now()
        summary = None
        if decision.at is not None:
            summary = f"{decision.kind.replace('_', ' ')} at {decision.at:%Y-%m-%d %H:%M} UTC"
        with contextlib.suppress(TimeoutError):  # the timer fired: time for the next action
            await workflow.wait_condition(
                lambda: self._changed, timeout=timeout, timeout_summary=summary
            )

    # --- the steps -------------------------------------------------------------------------

    async def _run_step(self, index: int) -> None:
        """Deliver step `index` on its channel, or on the next one the customer can be
        reached on; when none is left, a person gets a task instead. Nothing is skipped
        silently: every fallback is in the history."""
        inp, ledger = self._inp, self._ledger
        step = inp.policy.steps[index]
        label = step_label(inp, index)
        ledger.next_index = max(ledger.next_index, index + 1)
        while True:
            channel, reasons = planning.pick_channel(inp, ledger, index, workflow.now())
            if channel is None and planning.letter_would_help(inp, ledger, index):
                if self._config.patched(planning.LETTER_PATCH):  # before: an agent task
                    now = workflow.now()
                    channel, _ = planning.pick_channel(inp, ledger, index, now, letter=True)
            if channel is None:
                task = f"{label}: no way to reach the customer ({'; '.join(reasons)})"
                ledger.open_tasks.append(task)
                self._note(index, None, f"agent task: {task}", "agent_task")
                return
            if channel != step.channel:
                why = "; ".join(reasons) or "previous channel failed"
                self._note(index, channel, f"{label} falls back to {channel} ({why})", "fallback")
            ledger.tried.setdefault(index, set()).add(channel)
            on_channel = step.model_copy(update={"channel": channel})
            fee = planning.fee_for_step(inp, ledger, step, channel)
            req = self._request(on_channel, f"step-{index}-{channel}", fee.amount)
            if channel == "call":
                ledger.call_attempts.append(workflow.now())
            delivered, outcome, error = await self._deliver(req, f"{label} via {channel}")
            if delivered:
                rules.apply_step_sent(ledger, on_channel, req.fee_this_step, fee, workflow.now())
                charged = f", fee {fee.amount:.2f} ({fee.reason})" if fee.amount else ""
                self._note(index, channel, f"{label}: {outcome}{charged}", "sent")
                return
            self._note(index, channel, f"{label}: {outcome}", "failed")
            if error not in calls.BAD_ADDRESS_ERRORS:
                return  # the provider kept failing: recorded, and the journey goes on
            ledger.bad_channels.add(channel)

    async def _remind_installment(self, index: int) -> None:
        """One reminder before each installment, on the first channel that reaches the
        customer. The request's balance and due date are the installment's own."""
        ledger = self._ledger
        ledger.plan_reminded = index
        due, amount = ledger.plan[index]
        if (channel := planning.first_open_channel(self._inp, self._ledger)) is None:
            return
        step = Step(offset_days=0, channel=channel, template="installment_reminder")
        req = self._request(step, f"plan-{index}-{channel}")
        req = req.model_copy(update={"balance": amount, "due_date": due})
        _, outcome, _ = await self._deliver(req, f"installment {index + 1} reminder")
        detail = f"installment {index + 1} reminder ({channel}): {outcome}"
        ledger.history.append(
            HistoryEntry(at=workflow.now(), kind="plan", detail=detail, channel=channel)
        )

    async def _hand_over(self) -> None:
        """The last step: the claim and its evidence go to the collection agency. The plan
        decides on it only after the final notice's waiting time, with no dispute, promise
        or payment plan open and any approval the company wants given."""
        ledger = self._ledger
        req = handover_request(self._inp, ledger, workflow.info().workflow_id)
        result = await calls.hand_over(req)
        # A payment or dispute that arrived while the agency was being called is recorded in
        # the history; the handover itself has happened and cannot be taken back here.
        if ledger.closed is None:
            ledger.closed = "handed_over"
        ledger.history.append(
            HistoryEntry(
                at=workflow.now(),
                kind="handover",
                detail=f"handed over to {result.delivered_to} (reference {result.reference})",
            )
        )

    async def _thank(self) -> None:
        """A paid invoice gets a thank-you on the first channel the customer accepts."""
        if (channel := planning.first_open_channel(self._inp, self._ledger)) is None:
            return
        step = Step(offset_days=0, channel=channel, template="thank_you")
        _, outcome, _ = await self._deliver(
            self._request(step, "thank-you"), f"thank-you {channel}"
        )
        detail = f"thank-you {channel}: {outcome}"
        self._ledger.history.append(
            HistoryEntry(at=workflow.now(), kind="thank_you", detail=detail)
        )

    async def _record_outcome(self) -> None:
        now, workflow_id = workflow.now(), workflow.info().workflow_id
        outcome = journey_outcome(self._inp, self._ledger, workflow_id, now)
        await calls.record_outcome(outcome, local=self._lean)

    # --- contacting the customer -----------------------------------------------------------

    def _request(self, step: Step, key: str, fee_now: Decimal = Decimal("0")) -> DeliveryRequest:
        return delivery_request(
            self._inp,
            self._ledger,
            step,
            key,
            workflow_id=workflow.info().workflow_id,
            now=workflow.now(),
            fee_now=fee_now,
        )

    def _note(self, index: int, channel: Channel | None, detail: str, outcome: str) -> None:
        note_step(self._ledger, workflow.now(), index, channel, detail, outcome)

    async def _deliver(self, req: DeliveryRequest, summary: str) -> tuple[bool, str, str | None]:
        local = req.channel in self._inp.local_channels and req.channel not in self._ledger.routed
        routed, patched = self._ledger.routed, self._config.patched
        return await calls.deliver(req, summary, local=local, routed=routed, patched=patched)

    # --- bookkeeping -----------------------------------------------------------------------

    @property
    def _inp(self) -> JourneyInput:
        return self._config.input

    def _fresh(self, handler: Callable[[E], None], event: E) -> bool:
        """A signal's event is applied once the journey has its policy (the gate applies it
        then, in arrival order), and once (`_first_time`)."""
        return not self._config.defer(handler, event) and self._first_time(event.event_id)

    def _first_time(self, event_id: str) -> bool:
        """Billing events are delivered at least once; each changes the ledger once."""
        if event_id in self._ledger.applied_events:
            return False
        self._ledger.applied_events.add(event_id)
        return True

    def _touch(self) -> None:
        """Wake the loop: a signal or update changed what is next."""
        self._changed = True

    def _state(self) -> JourneyState:
        workflow_id = workflow.info().workflow_id
        if not self._config.loaded:  # a query in the moment before the policy is read
            return self._config.starting_state(self._ledger, workflow_id)
        return planning.snapshot(self._inp, self._ledger, workflow_id, workflow.now())

    def _publish(self, decision: planning.Decision) -> None:
        self._published = publish(self._inp, self._ledger, decision, self._published)


__all__ = ["InvoiceJourney", "workflow_id_for"]
