"""What a journey reports: its phase, history and next step (the `state` query), and the
outcome recorded when it closes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from domain.tenants import DEFAULT_TENANT
from domain.values import (
    Channel,
    Model,
    Money,
    UtcDatetime,
)

Phase = Literal[
    "scheduled",  # waiting for the next step
    "paused",  # an agent paused it
    "promised",  # the customer promised to pay by a date
    "disputed",  # the customer disputes the claim; nothing happens until an agent resolves it
    "plan_requested",  # the customer asked for a payment plan; waiting for an agent
    "plan_active",  # an agent approved a payment plan; no reminders while it runs
    "awaiting_handover",  # final notice sent; waiting out its period
    "awaiting_handover_approval",  # handover is due but this customer's needs an agent's yes
    "handover_blocked",  # an agent said no to handover; only a person moves it on
    "awaiting_agent",  # nothing automatic left to do
    "paid",
    "credited",
    "voided",
    "cancelled",
    "handed_over",
    "erased",  # the customer's personal data was erased on request: no contact, no handover
]
CLOSED_PHASES: frozenset[str] = frozenset(
    {"paid", "credited", "voided", "cancelled", "handed_over", "erased"}
)


class HistoryEntry(Model):
    at: UtcDatetime
    kind: str
    """step, payment, credit, void, response, action, handover, thank_you."""
    detail: str
    step_index: int | None = None
    channel: Channel | None = None
    outcome: str | None = None
    actor: str | None = None


class NextStep(Model):
    index: int
    channel: Channel
    template: str
    at: UtcDatetime
    final_notice: bool = False


class JourneyState(Model):
    invoice_id: str
    workflow_id: str
    tenant: str = DEFAULT_TENANT
    phase: Phase
    segment: str
    next_segment: str | None = None
    """The segment the customer's latest record gives, when it differs: their next invoice
    gets it; this journey keeps `segment` (and its policy) to the end."""
    currency: str
    amount_due: Money
    paid: Money
    credited: Money
    fees: Money
    balance: Money
    """What the customer still owes: amount due plus fees, less payments and credits."""
    interest: Money = Decimal("0")
    """Late-payment interest accrued on the unpaid amount since the due date."""
    interest_unknown_from: date | None = None
    """The first half-year (its 1 January or 1 July) whose reference rate the journey's table
    does not hold, when the interest runs into it: `interest` then shows none rather than a
    guess, until a journey started with the published rate computes it."""
    due_date: date
    next_step: NextStep | None
    handover_at: UtcDatetime | None = None
    paused_until: date | None = None
    promise_date: date | None = None
    handover_approval: Literal["required", "approved", "blocked"] | None = None
    open_tasks: tuple[str, ...] = ()
    """Agent tasks not yet handled, newest last."""
    channels_unavailable: tuple[Channel, ...] = ()
    customer_timezone: str | None = None
    """The customer's zone; None when it is unknown (see `contact_zones`)."""
    contact_zones: tuple[str, ...] = ()
    """The zones whose local time contacts keep to: the customer's own, or, when it is
    unknown, every zone the jurisdiction says they could be in (or the company's zone)."""
    history: tuple[HistoryEntry, ...] = ()
    policy_name: str | None = None
    """The policy the journey runs (its name in the policy file)."""
    config_digest: str | None = None
    """The version of the configuration it runs: the SHA-256 its policy, holidays, opening
    hours and reference rates are stored under (`domain.journey_config`). A policy edited
    after the journey started is a new digest; this journey keeps its own."""


class JourneyOutcome(Model):
    """Recorded in the store when a journey closes, for reporting."""

    invoice_id: str
    workflow_id: str
    tenant: str = DEFAULT_TENANT
    phase: Phase
    balance: Money
    fees: Money
    steps_sent: int
    resolved_at_step: int | None
    closed_at: UtcDatetime
    config_digest: str | None = None
    """The configuration the journey ran (`JourneyState.config_digest`): the report counts
    it as that version of its policy. None from journeys closed before it was sent."""
