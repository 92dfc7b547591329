"""Payment plans: putting one in force, by an agent or within the policy's limit at the
customer's own request. The plan fee goes through `domain.fees.lawful_fee` like every fee."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.models import JourneyInput
from workflows.journey_time import customer_today
from workflows.ledger import Ledger, customer
from workflows.money import amount_text, plan_fee
from workflows.planning import installment_schedule

PLAN_INTERVAL_DAYS = 30
"""A plan the customer asks for on the page is in monthly installments."""


def customer_plan_request(inp: JourneyInput, ledger: Ledger, months: int, now: datetime) -> str:
    """A customer's plan over `months` monthly installments: approved at once within the
    policy's limit (as an agent's approve-plan would), otherwise an agent task."""
    limit = inp.policy.plan_max_months
    if months <= limit:
        approved = approve_plan(inp, ledger, months, PLAN_INTERVAL_DAYS, None, now)
        return f"{approved}; within the limit of {limit} months, approved automatically"
    ledger.holds.plan = "requested"
    ledger.open_tasks.append(
        f"customer: payment plan over {months} months requested (automatic limit {limit}); "
        "approve-plan or reject-plan"
    )
    return f"customer asked for a payment plan over {months} months; waiting for an agent"


def approve_plan(
    inp: JourneyInput,
    ledger: Ledger,
    installments: int,
    interval_days: int,
    first_due: date | None,
    now: datetime,
) -> str:
    """Put a payment plan in force (agent approval, or a customer's within the limits)."""
    holds = ledger.holds
    today = customer_today(inp, ledger, now)
    fee_reason = ""
    if ledger.revisions.lawful_plan_fee:
        decision = plan_fee(inp, ledger)
        fee, fee_reason = decision.amount, f" ({decision.reason})"
        if fee > 0 and decision.kind is not None:
            ledger.fee_kinds.append(decision.kind)
    else:  # runs before the fee went through the jurisdiction pack
        fee = inp.policy.plan_fee or Decimal("0")
        if not customer(inp, ledger).fee_agreed or customer(inp, ledger).vulnerable:
            fee = Decimal("0")
    ledger.fees += fee
    first_due = first_due or today + timedelta(days=interval_days)
    ledger.plan = installment_schedule(ledger.balance, installments, first_due, interval_days)
    ledger.plan_next, ledger.plan_reminded = 0, -1
    ledger.plan_paid_before = ledger.paid + ledger.credited
    holds.plan = "active"
    fee_text = f", plan fee {amount_text(fee, inp)}{fee_reason}" if fee else ""
    return (
        f"payment plan approved: {installments} installments every {interval_days} days "
        f"from {first_due}{fee_text}"
    )
