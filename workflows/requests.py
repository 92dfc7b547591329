"""What the journey hands its activities: a contact, a claim, an outcome, from its input and
ledger. Pure functions (the caller passes the workflow id and the time), so that the journey
reads as what it does and these can be tested without a worker."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from domain.journey_config import version_of
from domain.models import JourneyInput, JourneyStart, Step
from domain.payloads import DeliveryRequest, HandoverRequest
from domain.state import JourneyOutcome
from domain.values import Channel
from workflows.ledger import Ledger, customer
from workflows.money import interest_due


class JourneyIds(TypedDict):
    """Whose journey a payload is about, named alike in every one the journey hands out (a
    contact, a claim, an outcome, its state): the invoice, the workflow and the tenant."""

    invoice_id: str
    workflow_id: str
    tenant: str


def journey_ids(inp: JourneyStart, workflow_id: str) -> JourneyIds:
    return JourneyIds(invoice_id=inp.invoice.id, workflow_id=workflow_id, tenant=inp.tenant)


def address(inp: JourneyInput, channel: Channel, ledger: Ledger | None = None) -> str:
    """Where a contact on `channel` goes: the email address, or the phone for SMS and calls,
    from the customer's latest record; for a letter, the postal address's lines."""
    c = inp.customer if ledger is None else customer(inp, ledger)
    if channel == "letter":
        return "\n".join(c.postal_address)
    to = c.email if channel == "email" else c.phone
    assert to is not None  # pick_channel only offers channels with an address
    return to


def delivery_request(
    inp: JourneyInput,
    ledger: Ledger,
    step: Step,
    key: str,
    *,
    workflow_id: str,
    now: datetime,
    fee_now: Decimal = Decimal("0"),
) -> DeliveryRequest:
    """One contact as the template sees it: the balance and fees include this step's fee."""
    c = customer(inp, ledger)
    return DeliveryRequest(
        **journey_ids(inp, workflow_id),
        step_key=key,
        channel=step.channel,
        template=step.template,
        locale=c.locale,
        customer_id=c.id,
        customer_name=c.name,
        to=address(inp, step.channel, ledger),
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
        interest=interest_due(inp, ledger, now),
        jurisdiction=inp.jurisdiction,
    )


def handover_request(inp: JourneyInput, ledger: Ledger, workflow_id: str) -> HandoverRequest:
    """The claim with its evidence: the journey's whole history goes to the agency."""
    return HandoverRequest(
        **journey_ids(inp, workflow_id),
        customer_id=inp.customer.id,
        currency=inp.invoice.currency,
        amount_due=inp.invoice.amount_due,
        balance=ledger.balance,
        fees=ledger.fees,
        history=tuple(ledger.history),
    )


def journey_outcome(
    inp: JourneyInput, ledger: Ledger, workflow_id: str, now: datetime
) -> JourneyOutcome:
    """How a closed journey ended, for reporting (resolved at which step, at what cost)."""
    assert ledger.closed is not None
    return JourneyOutcome(
        **journey_ids(inp, workflow_id),
        phase=ledger.closed,
        balance=ledger.balance,
        fees=ledger.fees,
        steps_sent=ledger.steps_sent,
        resolved_at_step=ledger.resolved_at_step,
        closed_at=now,
        config_digest=version_of(inp).digest,
    )
