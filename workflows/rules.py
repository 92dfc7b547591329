"""What each billing event, customer response and agent action does to a journey.

Every change has two halves: `check_*` says why a request must be refused (None when it is
fine) and runs in update validators, before anything reaches history; `apply_*` changes the
ledger. Both are pure, so the rules are tested without a server and replay identically.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.fees import FeeDecision
from domain.messages import (
    AddNoteAction,
    AgentRequest,
    AgentTask,
    ApproveHandoverAction,
    ApprovePlanAction,
    BlockHandoverAction,
    CancelAction,
    ConsentChange,
    ConversationHeld,
    CustomerResponse,
    DeliveryFailure,
    ExtendAction,
    InvoiceCredited,
    InvoiceVoided,
    MarkVulnerableAction,
    PauseAction,
    PaymentReceived,
    PaymentReversed,
    RejectPlanAction,
    ResolveDisputeAction,
    ResumeAction,
    SetPromiseAction,
    WaiveFeeAction,
)
from domain.models import JourneyInput, Step
from domain.windows import is_open
from workflows.journey_time import calendar_zone, customer_today
from workflows.ledger import Ledger, customer
from workflows.money import amount_text as _money
from workflows.planning import (
    CONTACT_REQUEST_PAUSE_DAYS,
    MAX_PROMISE_DAYS,
    installment_kept,
    release_holds,
)
from workflows.plans import approve_plan, customer_plan_request

MAX_CALL_AHEAD_DAYS = 14
"""How far ahead a customer may book a call."""


def _closed_error(ledger: Ledger) -> str | None:
    if ledger.closed is not None:
        return f"the journey is already closed ({ledger.closed})"
    return None


# --- billing events (signals: the billing system does not wait for an answer) ----------------


def apply_payment(inp: JourneyInput, ledger: Ledger, p: PaymentReceived, now: datetime) -> None:
    ledger.paid += p.amount
    ledger.note(
        now,
        "payment",
        f"payment of {_money(p.amount, inp)} received (paid {p.paid_at.isoformat()}); "
        f"balance {_money(ledger.balance, inp)}",
    )
    if ledger.balance <= 0:
        ledger.close("paid")


def apply_reversal(inp: JourneyInput, ledger: Ledger, r: PaymentReversed, now: datetime) -> None:
    """A reversed payment is owed again; a journey that already closed is reopened by the
    starter as a new run instead, so this only ever meets a running journey."""
    ledger.paid = max(Decimal("0"), ledger.paid - r.amount)
    ledger.note(
        now,
        "payment",
        f"payment of {_money(r.amount, inp)} reversed ({r.reversed_at}); "
        f"balance {_money(ledger.balance, inp)}",
    )


def apply_credit(inp: JourneyInput, ledger: Ledger, c: InvoiceCredited, now: datetime) -> None:
    ledger.credited += c.amount
    ledger.note(
        now,
        "credit",
        f"credited {_money(c.amount, inp)}; balance {_money(ledger.balance, inp)}",
    )
    if ledger.balance <= 0:
        ledger.close("credited")


def apply_void(ledger: Ledger, v: InvoiceVoided, now: datetime) -> None:
    ledger.note(now, "void", "invoice voided")
    ledger.close("voided")


# --- what providers and customers tell us later (signals) ------------------------------------


def apply_consent(ledger: Ledger, c: ConsentChange, now: datetime) -> None:
    ledger.consent[c.channel] = c.granted
    verb = "gave" if c.granted else "withdrew"
    ledger.note(
        now,
        "consent",
        f"customer {verb} consent for {c.channel} ({c.source})",
        channel=c.channel,
    )


def step_index_of(step_key: str) -> int | None:
    """`step-3-sms` -> 3; other keys (thank-you) are not steps."""
    parts = step_key.split("-")
    if len(parts) == 3 and parts[0] == "step" and parts[1].isdigit():
        return int(parts[1])
    return None


def apply_delivery_failure(ledger: Ledger, f: DeliveryFailure, now: datetime) -> None:
    """Mark a bad address and, for a step, queue its delivery on the next channel."""
    if f.permanent:
        ledger.bad_channels.add(f.channel)
    index = step_index_of(f.step_key)
    queued = (
        index is not None
        and ledger.closed is None
        and not any(i == index for i, _ in ledger.fallbacks)
    )
    if index is not None:
        ledger.tried.setdefault(index, set()).add(f.channel)
    if queued and index is not None:
        ledger.fallbacks.append((index, now))
    ledger.note(
        now,
        "delivery_failed",
        f"{f.step_key} did not arrive: {f.reason[:200]}"
        + ("; trying another channel" if queued else ""),
        step_index=index,
        channel=f.channel,
        outcome="failed",
    )


def apply_conversation(ledger: Ledger, c: ConversationHeld, now: datetime) -> None:
    if ledger.last_conversation is None or c.at > ledger.last_conversation:
        ledger.last_conversation = c.at
    ledger.note(now, "conversation", f"customer spoke with us ({c.source})")


def apply_task(ledger: Ledger, t: AgentTask, now: datetime) -> None:
    ledger.open_tasks.append(f"{t.source}: {t.summary[:200]}")
    ledger.note(now, "agent_task", f"{t.source}: {t.summary[:200]}")


# --- customer responses (an update: the customer page shows the answer) ----------------------


def check_response(
    inp: JourneyInput, ledger: Ledger, r: CustomerResponse, now: datetime
) -> str | None:
    if err := _closed_error(ledger):
        return err
    today = customer_today(inp, ledger, now)
    if r.kind == "promise":
        assert r.promise_date is not None  # the model requires it
        if r.promise_date < today:
            return f"promise_date {r.promise_date.isoformat()} is in the past (today is {today})"
        if r.promise_date > today + timedelta(days=MAX_PROMISE_DAYS):
            return (
                f"promise_date may be at most {MAX_PROMISE_DAYS} days ahead; "
                "ask for a payment plan instead"
            )
    if r.kind == "plan_request" and ledger.holds.plan is not None:
        return f"a payment plan is already {ledger.holds.plan}"
    if r.call_at is not None:
        return _check_call_slot(inp, r.call_at, now)
    return None


def _check_call_slot(inp: JourneyInput, call_at: datetime, now: datetime) -> str | None:
    """A call the customer books must be ahead, not too far, and while someone can answer."""
    if call_at <= now:
        return "the time to call you has already passed; choose a later time"
    if call_at > now + timedelta(days=MAX_CALL_AHEAD_DAYS):
        return f"a call can be booked at most {MAX_CALL_AHEAD_DAYS} days ahead"
    hours = inp.opening_hours
    if hours is not None and not is_open(call_at, hours, None, inp.holidays):
        return "customer service is closed at that time; choose a time within its opening hours"
    return None


def apply_response(inp: JourneyInput, ledger: Ledger, r: CustomerResponse, now: datetime) -> None:
    today = customer_today(inp, ledger, now)
    holds = ledger.holds
    if r.kind == "promise":
        holds.promise_date = r.promise_date
        detail = f"customer promised to pay by {r.promise_date}"
    elif r.kind == "dispute":
        holds.dispute_open = True
        detail = "customer disputes the claim; no contact until an agent resolves it"
    elif r.kind == "plan_request" and r.plan_months is not None:
        detail = customer_plan_request(inp, ledger, r.plan_months, now)
    elif r.kind == "plan_request":
        holds.plan = "requested"
        detail = "customer asked for a payment plan; waiting for an agent"
    else:
        holds.paused = True
        holds.paused_until = today + timedelta(days=CONTACT_REQUEST_PAUSE_DAYS)
        detail = f"customer asked to be contacted; agent task, paused until {holds.paused_until}"
        if r.call_at is not None:
            zone = calendar_zone(inp, ledger)
            local = r.call_at.astimezone(ZoneInfo(zone))
            holds.paused_until = max(holds.paused_until, local.date() + timedelta(days=1))
            when = f"{local:%Y-%m-%d %H:%M} ({zone})"
            ledger.open_tasks.append(f"customer:{r.channel}: call the customer at {when}")
            detail = f"customer asked to be called at {when}; paused until {holds.paused_until}"
    if r.message:
        detail += f" (message: {r.message[:200]})"
    ledger.note(now, "response", detail, actor=f"customer:{r.channel}")


# --- agent actions (updates with validators: the agent sees the answer or the refusal) -------


def check_action(inp: JourneyInput, ledger: Ledger, req: AgentRequest, now: datetime) -> str | None:
    if err := _closed_error(ledger):
        return err
    a = req.action
    holds = ledger.holds
    today = customer_today(inp, ledger, now)
    if isinstance(a, PauseAction):
        if holds.paused:
            return "the journey is already paused"
        if a.until is not None and a.until <= today:
            return f"until {a.until.isoformat()} must be after today ({today})"
    elif isinstance(a, ResumeAction):
        if not holds.paused:
            return "the journey is not paused"
    elif isinstance(a, ExtendAction):
        if a.due_date <= ledger.due_date:
            return (
                f"due_date {a.due_date.isoformat()} must be after the current due date "
                f"{ledger.due_date.isoformat()}"
            )
    elif isinstance(a, SetPromiseAction):
        if a.promise_date < today:
            return f"promise_date {a.promise_date.isoformat()} is in the past (today is {today})"
        if a.promise_date > today + timedelta(days=MAX_PROMISE_DAYS):
            return f"promise_date may be at most {MAX_PROMISE_DAYS} days ahead"
    elif isinstance(a, ResolveDisputeAction):
        if not holds.dispute_open:
            return "there is no open dispute to resolve"
    elif isinstance(a, ApprovePlanAction | RejectPlanAction):
        if holds.plan != "requested":
            return "there is no payment-plan request waiting for a decision"
        if isinstance(a, ApprovePlanAction) and a.first_due is not None and a.first_due <= today:
            return f"first_due {a.first_due.isoformat()} must be after today ({today})"
    elif isinstance(a, WaiveFeeAction):
        if ledger.fees <= 0:
            return "there is no fee to waive"
    elif isinstance(a, ApproveHandoverAction):
        if ledger.handover_approval == "approved":
            return "handover is already approved"
        if holds.dispute_open:
            return "a disputed claim cannot be approved for handover"
    elif isinstance(a, BlockHandoverAction):
        if ledger.handover_approval == "blocked":
            return "handover is already blocked"
    elif isinstance(a, MarkVulnerableAction):
        if customer(inp, ledger).vulnerable:
            return "the customer is already marked vulnerable"
    return None


def apply_action(inp: JourneyInput, ledger: Ledger, req: AgentRequest, now: datetime) -> None:
    a = req.action
    holds = ledger.holds
    if isinstance(a, PauseAction):
        holds.paused, holds.paused_until = True, a.until
        detail = f"paused until {a.until}" if a.until else "paused until resumed"
    elif isinstance(a, ResumeAction):
        release_holds(inp, ledger, now)
        detail = "resumed"
    elif isinstance(a, ExtendAction):
        detail = f"due date extended from {ledger.due_date} to {a.due_date}"
        ledger.due_date = a.due_date
    elif isinstance(a, SetPromiseAction):
        holds.promise_date = a.promise_date
        detail = f"promise to pay by {a.promise_date} recorded"
    elif isinstance(a, ResolveDisputeAction):
        if a.outcome == "cancel":
            holds.dispute_open = False
            ledger.closed = "cancelled"
            detail = "dispute upheld; claim cancelled"
        else:
            holds.dispute_open = False
            if not any((holds.paused, holds.plan, holds.promise_date)):
                release_holds(inp, ledger, now)
            detail = "dispute rejected; journey resumes"
    elif isinstance(a, ApprovePlanAction):
        detail = approve_plan(inp, ledger, a.installments, a.interval_days, a.first_due, now)
    elif isinstance(a, RejectPlanAction):
        release_holds(inp, ledger, now)
        detail = "payment plan rejected; journey resumes"
    elif isinstance(a, CancelAction):
        ledger.close("cancelled")
        detail = "journey cancelled"
    elif isinstance(a, WaiveFeeAction):
        detail = f"fees of {_money(ledger.fees, inp)} waived"
        ledger.fees = Decimal("0")
    elif isinstance(a, ApproveHandoverAction):
        ledger.handover_approval = "approved"
        detail = "handover to collection approved"
    elif isinstance(a, BlockHandoverAction):
        ledger.handover_approval = "blocked"
        detail = "handover to collection blocked"
    elif isinstance(a, MarkVulnerableAction):
        ledger.vulnerable = True
        detail = "customer marked vulnerable: no automated calls or fees from now on"
    elif isinstance(a, AddNoteAction):
        detail = "note added"
    else:  # pragma: no cover - the union is exhaustive
        raise AssertionError(f"unhandled action {a!r}")
    if a.note:
        detail += f" (note: {a.note[:200]})"
    # Any action means an agent has looked at the journey: its open tasks are seen to.
    ledger.open_tasks.clear()
    ledger.note(now, "action", detail, actor=f"agent:{a.agent}")


# --- payment plans: what the plan's own timers do ----------------------------------------------


def check_installment(inp: JourneyInput, ledger: Ledger, index: int, now: datetime) -> None:
    """Past an installment's grace period: go on with the plan, or end it and resume."""
    due, amount = ledger.plan[index]
    if installment_kept(ledger, index):
        ledger.plan_next = index + 1
        detail = f"installment {index + 1}/{len(ledger.plan)} ({_money(amount, inp)}) paid"
    else:
        ledger.plan, ledger.plan_next = [], 0
        release_holds(inp, ledger, now)
        detail = (
            f"installment {index + 1} due {due} missed; the plan ends and the journey resumes "
            f"with the remaining balance {_money(ledger.balance, inp)}"
        )
    ledger.note(now, "plan", detail)


def apply_step_sent(
    ledger: Ledger, step: Step, charged: Decimal, fee: FeeDecision, now: datetime
) -> None:
    """A step went out on `step.channel`: its fee, the final notice's and a letter's time."""
    ledger.fees += charged
    if fee.amount > 0 and fee.kind is not None:
        ledger.fee_kinds.append(fee.kind)
    ledger.steps_sent += 1
    if step.final_notice:
        ledger.final_notice_at = now
    if step.channel == "letter":
        ledger.letter_posted_at = now
