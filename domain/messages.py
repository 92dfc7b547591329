"""What flows into a running journey: billing events, customer responses, agent actions, and
what providers and customer service learn later. Each is a signal or update payload."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from domain.models import Customer
from domain.values import (
    Channel,
    Model,
    PositiveMoney,
    UtcDatetime,
)


class PaymentReceived(Model):
    event_id: str
    amount: PositiveMoney
    paid_at: date


class PaymentReversed(Model):
    """A payment came back (chargeback, bounced direct debit): the amount is owed again."""

    event_id: str
    amount: PositiveMoney
    reversed_at: date


class InvoiceCredited(Model):
    event_id: str
    amount: PositiveMoney


class InvoiceVoided(Model):
    event_id: str


class CustomerResponse(Model):
    """Something the customer told us, on any channel."""

    kind: Literal["promise", "dispute", "plan_request", "contact_request"]
    channel: Literal["web", "email", "sms", "call", "agent"] = "web"
    promise_date: date | None = None
    message: str | None = Field(default=None, max_length=2000)
    plan_months: int | None = Field(default=None, ge=2, le=60)
    """A plan_request over this many monthly installments (the customer page asks for it);
    within the policy's `plan_max_months` it is approved at once, beyond it an agent decides."""
    call_at: UtcDatetime | None = None
    """A contact_request for a call at this instant (customer page): an agent task with it."""

    @model_validator(mode="after")
    def _promise(self) -> CustomerResponse:
        if self.kind == "promise" and self.promise_date is None:
            raise ValueError("a promise needs promise_date")
        if self.plan_months is not None and self.kind != "plan_request":
            raise ValueError("plan_months belongs to a plan_request")
        if self.call_at is not None and self.kind != "contact_request":
            raise ValueError("call_at belongs to a contact_request")
        if self.call_at is not None and self.call_at.utcoffset() is None:
            raise ValueError("call_at must carry a time zone")
        return self


class _Action(Model):
    agent: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class PauseAction(_Action):
    action: Literal["pause"] = "pause"
    until: date | None = None


class ResumeAction(_Action):
    action: Literal["resume"] = "resume"


class ExtendAction(_Action):
    action: Literal["extend"] = "extend"
    due_date: date


class SetPromiseAction(_Action):
    action: Literal["set-promise"] = "set-promise"
    promise_date: date


class ResolveDisputeAction(_Action):
    action: Literal["resolve-dispute"] = "resolve-dispute"
    outcome: Literal["resume", "cancel"] = "resume"
    """`resume`: the claim stands and the journey goes on; `cancel`: the customer was right."""


class ApprovePlanAction(_Action):
    action: Literal["approve-plan"] = "approve-plan"
    installments: int = Field(default=3, ge=2, le=36)
    interval_days: int = Field(default=30, ge=7, le=92)
    first_due: date | None = None
    """Defaults to one interval from today."""


class RejectPlanAction(_Action):
    action: Literal["reject-plan"] = "reject-plan"


class CancelAction(_Action):
    action: Literal["cancel"] = "cancel"


class WaiveFeeAction(_Action):
    action: Literal["waive-fee"] = "waive-fee"


class ApproveHandoverAction(_Action):
    action: Literal["approve-handover"] = "approve-handover"


class BlockHandoverAction(_Action):
    action: Literal["block-handover"] = "block-handover"


class MarkVulnerableAction(_Action):
    """Customer service learned the customer is in a vulnerable situation (illness,
    bereavement, debt counselling): from now on no automated calls and no fees."""

    action: Literal["mark-vulnerable"] = "mark-vulnerable"


class AddNoteAction(_Action):
    action: Literal["add-note"] = "add-note"
    note: str = Field(min_length=1, max_length=2000)


AgentAction = Annotated[
    PauseAction
    | ResumeAction
    | ExtendAction
    | SetPromiseAction
    | ResolveDisputeAction
    | ApprovePlanAction
    | RejectPlanAction
    | CancelAction
    | WaiveFeeAction
    | ApproveHandoverAction
    | BlockHandoverAction
    | MarkVulnerableAction
    | AddNoteAction,
    Field(discriminator="action"),
]
AGENT_ACTIONS: tuple[str, ...] = (
    "pause",
    "resume",
    "extend",
    "set-promise",
    "resolve-dispute",
    "approve-plan",
    "reject-plan",
    "cancel",
    "waive-fee",
    "approve-handover",
    "block-handover",
    "mark-vulnerable",
    "add-note",
)


class AgentRequest(Model):
    """Wrapper so the action travels as one self-describing payload."""

    action: AgentAction


class ConsentChange(Model):
    """The customer gave or withdrew consent for a channel (STOP/START, the customer page)."""

    event_id: str
    channel: Channel
    granted: bool
    source: str = Field(min_length=1, max_length=100)


class DeliveryFailure(Model):
    """A provider told us later that a contact did not arrive (bounce, undelivered SMS).

    `permanent` marks the address as known bad, so later steps skip that channel too."""

    event_id: str
    step_key: str
    channel: Channel
    reason: str = Field(max_length=500)
    permanent: bool = True


class ConversationHeld(Model):
    """The customer spoke with customer service (an answered transfer from a reminder call).
    Under the US pack no call may follow within 7 days (Reg F § 1006.14(b)(2))."""

    event_id: str
    at: UtcDatetime
    source: str = Field(min_length=1, max_length=100)


class AgentTask(Model):
    """Something a person must look at (an emailed reply, a missed IVR transfer)."""

    event_id: str
    source: str = Field(min_length=1, max_length=100)
    summary: str = Field(min_length=1, max_length=2000)


class CustomerChanged(Model):
    """The billing system's new record of the customer (`customer.updated`), checked whole at
    ingest. Contact details, locale, zone, consent and the business flag apply from the
    journey's next step; the segment does not change mid-journey: `segment` is the one the
    customer would get now (ingest computes it), recorded and used for their next invoice."""

    event_id: str
    customer: Customer
    segment: str | None = None
    segment_reason: str = Field(default="", max_length=500)
