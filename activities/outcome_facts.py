"""The store reads behind a journey's outcome row (`JourneyOutcomeRow`), done inside the
outcome activity's own transaction so that the row and the invoice's status agree.

The arithmetic is `domain.outcomes`'; this module only fetches what it needs: the contact
ledger, the payment events, the customer, their other invoices (for the lifetime value) and
the policy file the worker runs with.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from domain import outcomes
from domain.journey_config import JourneyConfig
from domain.models import Customer, Policy
from domain.policies import PolicyFile
from domain.segmentation import (
    DEFAULT_THRESHOLDS,
    customer_lifetime_value,
)
from domain.state import JourneyOutcome
from infra.invoice_history import past_invoice
from infra.store import (
    ContactAttemptRow,
    CustomerRow,
    InvoiceRow,
    JourneyEventRow,
    JourneyOutcomeRow,
)


def _paid_on(session: Session, invoice_id: str) -> date | None:
    """The latest `paid_at` among the invoice's payment events (what the billing system
    says), the same rule the segmentation's payment history uses."""
    rows = session.exec(
        select(JourneyEventRow).where(
            JourneyEventRow.invoice_id == invoice_id,
            JourneyEventRow.type == "invoice.payment_received",
        )
    ).all()
    dates = []
    for row in rows:
        try:
            dates.append(date.fromisoformat(str(json.loads(row.payload)["data"]["paid_at"])[:10]))
        except (KeyError, TypeError, ValueError):
            continue
    return max(dates, default=None)


def _customer(row: CustomerRow | None, customer_id: str) -> Customer:
    """The customer as fee rules and lifetime value need them (no contact details)."""
    if row is None:
        return Customer(id=customer_id, name=customer_id)
    return Customer(
        id=row.id,
        name=row.name or row.id,
        customer_since=row.customer_since,
        fee_agreed=row.fee_agreed,
        is_business=row.is_business,
        vulnerable=row.vulnerable,
    )


def _lifetime_value(
    session: Session, customer: Customer, policies: PolicyFile | None, currency: str, as_of: date
) -> Decimal:
    rows = session.exec(select(InvoiceRow).where(InvoiceRow.customer_id == customer.id)).all()
    past = [past_invoice(r) for r in rows]
    thresholds = policies.segmentation if policies is not None else DEFAULT_THRESHOLDS
    value = customer_lifetime_value(customer, past, thresholds, as_of)
    return value.get(currency, Decimal("0"))


def _version(outcome: JourneyOutcome, policy: Policy | None) -> str | None:
    """The version the journey ran, as its state and the Web UI name it (the first 12
    characters of its configuration's digest); for a journey that did not say, a digest of
    the policy file's policy of its segment now."""
    if outcome.config_digest is not None:
        return outcome.config_digest[:12]
    return outcomes.policy_version(policy) if policy is not None else None


def outcome_row(
    session: Session,
    outcome: JourneyOutcome,
    invoice: InvoiceRow,
    policies: PolicyFile | None,
    ran: JourneyConfig | None = None,
) -> JourneyOutcomeRow:
    """The outcome row for `outcome`, from the invoice and what the store knows of it.
    `ran` is the configuration the journey ran (read by the digest it names): its policy,
    rates and version are the row's. Without it (a journey from before outcomes named
    their version) the policy file as it is now stands in. `policies` is None when the
    policy file cannot be read: the row is still written, and without `ran` it has no
    policy version and the fees at close are taken as the fees charged."""
    attempts = session.exec(
        select(ContactAttemptRow)
        .where(ContactAttemptRow.invoice_id == invoice.id)
        .order_by(col(ContactAttemptRow.id))
    ).all()
    steps = outcomes.sent_steps((a.step_key, a.channel, a.status) for a in attempts)
    contacts = outcomes.contacts_per_channel(steps)
    customer = _customer(session.get(CustomerRow, invoice.customer_id), invoice.customer_id)
    segment = invoice.segment or "unknown"
    policy = policies.segments.get(segment) if policies is not None else None
    if ran is not None:
        policy = ran.policy
    charged = outcome.fees
    if policy is not None and policies is not None:
        charged = outcomes.fees_charged(
            policy, steps, customer, policies.jurisdiction, invoice.currency, outcome.fees
        )
    closed_on = outcome.closed_at.date()
    paid_on = None
    if outcome.phase == "paid":
        paid_on = _paid_on(session, invoice.id) or closed_on
    rates = policies.reference_rates if policies is not None else {}
    if ran is not None:
        rates = ran.reference_rates
    accrued = outcomes.interest_accrued(
        outcome.phase, invoice.amount_due, invoice.due_date, paid_on or closed_on, rates
    )
    return JourneyOutcomeRow(
        invoice_id=invoice.id,
        workflow_id=outcome.workflow_id,
        customer_id=invoice.customer_id,
        segment=segment,
        policy_name=ran.policy.segment if ran is not None else segment,
        policy_version=_version(outcome, policy),
        outcome=outcome.phase,
        steps_sent=outcome.steps_sent,
        resolved_at_step=outcome.resolved_at_step,
        resolved_channel=outcomes.resolved_channel(steps, outcome.resolved_at_step),
        currency=invoice.currency,
        amount_due=invoice.amount_due,
        due_date=invoice.due_date,
        paid_on=paid_on,
        days_to_pay=outcomes.days_to_pay(invoice.due_date, paid_on),
        contacts_email=contacts["email"],
        contacts_sms=contacts["sms"],
        contacts_call=contacts["call"],
        fees_charged=charged,
        fees_waived=max(Decimal("0"), charged - outcome.fees),
        interest_accrued=accrued,
        interest_waived=outcomes.interest_waived(outcome.phase, accrued),
        lifetime_value=_lifetime_value(session, customer, policies, invoice.currency, closed_on),
        closed_at=outcome.closed_at,
    )
