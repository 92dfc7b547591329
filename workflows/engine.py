"""What `InvoiceJourney` does; `workflows.journey` adds the decorated entry points.

This is workflow code: it runs in the journey's deterministic event loop, so time comes
from `workflow.now()`, waiting from timers, and all I/O from activities. Nothing here may
keep module-level state: every journey in the worker shares this module.

`planning.decide` says what is next and when, `rules` says what an event or action does to
the ledger, and activities do all I/O. A journey sleeps on one timer at a time and wakes at
once when a signal or update changes the ledger.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

import workflows.planning as planning
import workflows.rules as rules
from activities.contracts import CHANNEL_ACTIVITIES, HandoverContract, OutcomeContract
from domain.models import (
    Channel,
    DeliveryRequest,
    HandoverRequest,
    HistoryEntry,
    JourneyInput,
    JourneyOutcome,
    JourneyState,
    Step,
)
from infra.temporal import JOURNEY_PHASE, NEXT_ACTION_AT
from workflows.activity_options import (
    BAD_ADDRESS_ERRORS,
    DELIVERY_ATTEMPT_TIMEOUT,
    DELIVERY_GIVE_UP_AFTER,
    DELIVERY_RETRY,
    HANDOVER_RETRY,
    HANDOVER_TIMEOUT,
    OUTCOME_TIMEOUT,
    STORE_RETRY,
    channel_task_queue,
)
from workflows.describe import current_details, search_attributes, step_label

LEAN_JOURNEY_PATCH = "lean-journey"
"""Journeys started since this patch leave the search attributes the starter set alone and
record their outcome in a local activity. Journeys started before it replay as they ran."""


class JourneyEngine:
    """The journey's behaviour; `workflows.journey.InvoiceJourney` adds the entry points."""

    def __init__(self, inp: JourneyInput) -> None:
        self._inp = inp
        self._ledger = (
            planning.load_ledger(inp.carried)
            if inp.carried is not None
            else planning.Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
        )
        self._changed = False
        self._published: tuple[object, ...] = ()
        self._lean = False

    async def _run(self) -> JourneyState:
        inp, ledger = self._inp, self._ledger
        self._lean = workflow.patched(LEAN_JOURNEY_PATCH)
        if not self._lean:  # journeys started before the starter set these
            workflow.upsert_search_attributes(
                [pair.key.value_set(pair.value) for pair in search_attributes(inp)]
            )
        if inp.customer.vulnerable and inp.carried is None:
            ledger.open_tasks.append(
                "vulnerable customer: no calls or fees; check the journey suits them"
            )
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
                self._lift_expired_hold()
            elif decision.kind == "handover":
                await self._hand_over()
        self._publish(planning.decide(inp, ledger))
        if ledger.closed == "paid":
            await self._thank()
        await self._record_outcome()
        # Let an update that closed the journey answer its caller before the run completes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state()

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
        carried = self._inp.model_copy(update={"carried": planning.dump_ledger(self._ledger)})
        workflow.continue_as_new(carried)

    # --- waiting ---------------------------------------------------------------------------

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

    def _lift_expired_hold(self) -> None:
        ledger, now = self._ledger, workflow.now()
        holds = ledger.holds
        if holds.promise_date is not None:
            detail = f"promise to pay by {holds.promise_date} not kept; journey resumes"
        else:
            detail = f"pause until {holds.paused_until} ended; journey resumes"
        planning.release_holds(self._inp, ledger, now)
        ledger.history.append(HistoryEntry(at=now, kind="resume", detail=detail))

    # --- doing -----------------------------------------------------------------------------

    def _address(self, channel: Channel) -> str:
        c = self._inp.customer
        address = c.email if channel == "email" else c.phone
        assert address is not None  # pick_channel only offers channels with an address
        return address

    def _delivery(
        self, step: Step, key: str, to: str, fee_now: Decimal = Decimal("0")
    ) -> DeliveryRequest:
        inp, ledger = self._inp, self._ledger
        return DeliveryRequest(
            invoice_id=inp.invoice.id,
            workflow_id=workflow.info().workflow_id,
            step_key=key,
            channel=step.channel,
            template=step.template,
            locale=inp.customer.locale,
            customer_id=inp.customer.id,
            customer_name=inp.customer.name,
            to=to,
            invoice_number=inp.invoice.number,
            currency=inp.invoice.currency,
            amount_due=inp.invoice.amount_due,
            balance=ledger.balance + fee_now,
            fees=ledger.fees + fee_now,
            fee_this_step=fee_now,
            due_date=ledger.due_date,
            ocr=inp.invoice.ocr,
            payment_url=inp.invoice.payment_url,
            final_notice=step.final_notice,
            service_phone=inp.service_phone,
            service_hours=inp.opening_hours,
            interest=planning.interest_due(inp, ledger, workflow.now()),
            jurisdiction=inp.jurisdiction,
        )

    async def _deliver(self, req: DeliveryRequest, summary: str) -> tuple[bool, str, str | None]:
        """Deliver one contact: (delivered, outcome for the history, error type if any).

        A channel without a provider's rate limit (the outbox) is delivered by a local
        activity, inside the workflow task that decided on it: one marker in the history
        instead of a task-queue round trip and a second workflow task. A rate-limited
        channel goes through its own task queue, where the server holds it to the rate."""
        contact = CHANNEL_ACTIVITIES[req.channel]
        try:
            if req.channel in self._inp.local_channels:
                result = await workflow.execute_local_activity_method(
                    contact,
                    req,
                    retry_policy=DELIVERY_RETRY,
                    summary=summary,
                    start_to_close_timeout=DELIVERY_ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=DELIVERY_GIVE_UP_AFTER,
                )
            else:
                # Journeys scheduled before the channel queues existed keep the base queue.
                queue = None
                if workflow.patched("per-channel-task-queues"):
                    queue = channel_task_queue(workflow.info().task_queue, req.channel)
                result = await workflow.execute_activity_method(
                    contact,
                    req,
                    task_queue=queue,
                    retry_policy=DELIVERY_RETRY,
                    summary=summary,
                    start_to_close_timeout=DELIVERY_ATTEMPT_TIMEOUT,
                    schedule_to_close_timeout=DELIVERY_GIVE_UP_AFTER,
                )
        except (ActivityError, ApplicationError, TemporalTimeoutError) as err:
            # A queued activity's failure arrives wrapped in ActivityError; a local
            # activity's arrives as it was raised (or as the timeout that ended it).
            cause = err.cause if isinstance(err, ActivityError) else err
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
            kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "failed"
            return False, f"{kind}: {reason}", kind
        return True, f"{result.status} via {result.provider}", None

    def _note(self, index: int, channel: Channel | None, detail: str, outcome: str) -> None:
        self._ledger.history.append(
            HistoryEntry(
                at=workflow.now(),
                kind="step",
                detail=detail,
                step_index=index,
                channel=channel,
                outcome=outcome,
            )
        )

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
            req = self._delivery(
                on_channel, f"step-{index}-{channel}", self._address(channel), fee.amount
            )
            if channel == "call":
                ledger.call_attempts.append(workflow.now())
            delivered, outcome, error = await self._deliver(req, f"{label} via {channel}")
            if delivered:
                ledger.fees += req.fee_this_step
                if fee.amount > 0 and fee.kind is not None:
                    ledger.fee_kinds.append(fee.kind)
                ledger.steps_sent += 1
                if step.final_notice:
                    ledger.final_notice_at = workflow.now()
                charged = f", fee {fee.amount:.2f} ({fee.reason})" if fee.amount else ""
                self._note(index, channel, f"{label}: {outcome}{charged}", "sent")
                return
            self._note(index, channel, f"{label}: {outcome}", "failed")
            if error not in BAD_ADDRESS_ERRORS:
                return  # the provider kept failing: recorded, and the journey goes on
            ledger.bad_channels.add(channel)

    async def _remind_installment(self, index: int) -> None:
        """One reminder before each installment, on the first channel that reaches the
        customer. The request's balance and due date are the installment's own."""
        ledger = self._ledger
        ledger.plan_reminded = index
        due, amount = ledger.plan[index]
        channels: tuple[Channel, ...] = ("email", "sms")
        for channel in channels:
            if planning.channel_unavailable(self._inp, ledger, channel):
                continue
            step = Step(offset_days=0, channel=channel, template="installment_reminder")
            req = self._delivery(step, f"plan-{index}-{channel}", self._address(channel))
            req = req.model_copy(update={"balance": amount, "due_date": due})
            _, outcome, _ = await self._deliver(req, f"installment {index + 1} reminder")
            ledger.history.append(
                HistoryEntry(
                    at=workflow.now(),
                    kind="plan",
                    detail=f"installment {index + 1} reminder ({channel}): {outcome}",
                    channel=channel,
                )
            )
            return

    async def _thank(self) -> None:
        """A paid invoice gets a thank-you on the first channel the customer accepts."""
        channels: tuple[Channel, ...] = ("email", "sms")
        for channel in channels:
            if planning.channel_unavailable(self._inp, self._ledger, channel):
                continue
            step = Step(offset_days=0, channel=channel, template="thank_you")
            req = self._delivery(step, "thank-you", self._address(channel))
            _, outcome, _ = await self._deliver(req, f"thank-you {channel}")
            self._ledger.history.append(
                HistoryEntry(
                    at=workflow.now(), kind="thank_you", detail=f"thank-you {channel}: {outcome}"
                )
            )
            return

    async def _hand_over(self) -> None:
        inp, ledger = self._inp, self._ledger
        req = HandoverRequest(
            invoice_id=inp.invoice.id,
            workflow_id=workflow.info().workflow_id,
            customer_id=inp.customer.id,
            currency=inp.invoice.currency,
            amount_due=inp.invoice.amount_due,
            balance=ledger.balance,
            fees=ledger.fees,
            history=tuple(ledger.history),
        )
        result = await workflow.execute_activity_method(
            HandoverContract.hand_over,
            req,
            start_to_close_timeout=HANDOVER_TIMEOUT,
            retry_policy=HANDOVER_RETRY,
            summary=f"hand over {req.balance:.2f} {req.currency} to collection",
        )
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

    async def _record_outcome(self) -> None:
        """The outcome row is one small write to our own store: a local activity, unless
        the journey started before that (its history has the activity)."""
        ledger = self._ledger
        assert ledger.closed is not None
        outcome = JourneyOutcome(
            invoice_id=self._inp.invoice.id,
            workflow_id=workflow.info().workflow_id,
            phase=ledger.closed,
            balance=ledger.balance,
            fees=ledger.fees,
            steps_sent=ledger.steps_sent,
            resolved_at_step=ledger.resolved_at_step,
            closed_at=workflow.now(),
        )
        summary = f"record outcome: {ledger.closed}"
        if self._lean:
            await workflow.execute_local_activity_method(
                OutcomeContract.record_outcome,
                outcome,
                start_to_close_timeout=OUTCOME_TIMEOUT,
                retry_policy=STORE_RETRY,
                summary=summary,
            )
        else:
            await workflow.execute_activity_method(
                OutcomeContract.record_outcome,
                outcome,
                start_to_close_timeout=OUTCOME_TIMEOUT,
                retry_policy=STORE_RETRY,
                summary=summary,
            )

    # --- what ops and callers see ----------------------------------------------------------

    def _state(self) -> JourneyState:
        return planning.snapshot(
            self._inp, self._ledger, workflow.info().workflow_id, workflow.now()
        )

    def _publish(self, decision: planning.Decision) -> None:
        """Keep search attributes and current details in step with the plan, writing them
        only when they change so that history stays small."""
        published = (decision.phase, decision.at, self._ledger.balance, len(self._ledger.history))
        if published == self._published:
            return
        if published[:2] != self._published[:2]:
            workflow.upsert_search_attributes(
                [
                    JOURNEY_PHASE.value_set(decision.phase),
                    NEXT_ACTION_AT.value_set(decision.at)
                    if decision.at is not None
                    else NEXT_ACTION_AT.value_unset(),
                ]
            )
        self._published = published
        workflow.set_current_details(current_details(self._inp, self._ledger, decision))

    def _touch(self) -> None:
        self._changed = True

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._ledger.applied_events:
            return False
        self._ledger.applied_events.add(event_id)
        return True
