"""What a journey asks of its activities: a contact to deliver, a claim to hand over, and
their answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from domain.opening_hours import OpeningHours
from domain.state import HistoryEntry
from domain.tenants import DEFAULT_TENANT
from domain.values import (
    Channel,
    Locale,
    Model,
    Money,
)


class DeliveryRequest(Model):
    """One contact to deliver. `step_key` is unique per invoice: the idempotency key."""

    invoice_id: str
    workflow_id: str
    tenant: str = DEFAULT_TENANT
    """Whose contact this is: the worker sends it with that tenant's senders and records
    it in that tenant's store (infra/tenants.py)."""
    step_key: str
    channel: Channel
    template: str
    locale: Locale
    customer_id: str
    customer_name: str
    to: str
    invoice_number: str
    currency: str
    amount_due: Money
    balance: Money
    fees: Money
    fee_this_step: Money = Decimal("0")
    due_date: date
    ocr: str | None = None
    payment_url: str | None = None
    final_notice: bool = False
    service_phone: str | None = None
    service_hours: OpeningHours | None = None
    interest: Money = Decimal("0")
    """Late-payment interest accrued so far, shown beside the balance (not part of it)."""
    jurisdiction: str = "SE"
    """Whose rules the message follows (e.g. the US pack's opt-out line)."""


class DeliveryResult(Model):
    status: Literal["sent", "already_sent", "uncertain", "rerouted"]
    """`rerouted`: a local (outbox) delivery reached a worker that has a provider for the
    channel now; nothing was sent, and the journey sends through the channel's queue."""
    provider: Literal["sendgrid", "twilio", "post", "outbox"]
    provider_id: str | None = None


class HandoverRequest(Model):
    invoice_id: str
    workflow_id: str
    tenant: str = DEFAULT_TENANT
    customer_id: str
    currency: str
    amount_due: Money
    balance: Money
    fees: Money
    history: tuple[HistoryEntry, ...]


class HandoverResult(Model):
    reference: str
    delivered_to: str
