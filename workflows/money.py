"""Money a journey adds: statutory interest, and every fee through `domain.fees.lawful_fee`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from domain.fees import FeeDecision, lawful_fee
from domain.interest import MissingReferenceRateError, first_missing_half_year, late_interest
from domain.jurisdiction import pack_for
from domain.models import JourneyInput, Step
from domain.values import Channel
from workflows.journey_time import customer_today
from workflows.ledger import Ledger, customer


def interest_unknown_from(inp: JourneyInput, ledger: Ledger, now: datetime) -> date | None:
    """The half-year whose unpublished reference rate keeps the interest from being known
    (`JourneyState.interest_unknown_from`), or None: interest off, not late, or all known."""
    if not inp.reference_rates:
        return None
    today_ = customer_today(inp, ledger, now)
    principal = max(Decimal("0"), inp.invoice.amount_due - ledger.paid - ledger.credited)
    if today_ <= inp.invoice.due_date or principal == 0:
        return None
    return first_missing_half_year(inp.invoice.due_date, today_, inp.reference_rates)


def interest_due(inp: JourneyInput, ledger: Ledger, now: datetime) -> Decimal:
    """Statutory late-payment interest on what is unpaid of the invoice itself (fees carry
    none), from the original due date until today; zero where no rate table is configured."""
    if not inp.reference_rates:
        return Decimal("0")
    today_ = customer_today(inp, ledger, now)
    principal = max(Decimal("0"), inp.invoice.amount_due - ledger.paid - ledger.credited)
    if today_ <= inp.invoice.due_date or principal == 0:
        return Decimal("0")
    try:
        return late_interest(principal, inp.invoice.due_date, today_, inp.reference_rates)
    except MissingReferenceRateError:
        return Decimal("0")  # a rate not configured yet: show none rather than a guess


def fee_for_step(inp: JourneyInput, ledger: Ledger, step: Step, channel: Channel) -> FeeDecision:
    """The fee this step may lawfully charge: capped, once per kind, only where agreed, never
    to a vulnerable customer (domain.jurisdiction has the rules and their sources)."""
    return lawful_fee(
        step.fee,
        customer(inp, ledger),
        ledger.fee_kinds,
        pack_for(inp.jurisdiction),
        kind=step.fee_kind,
        currency=inp.invoice.currency,
        channel=channel,
    )


def plan_fee(inp: JourneyInput, ledger: Ledger) -> FeeDecision:
    """The payment-plan fee an approval may charge: only where the customer agreed to fees (the
    company's rule, stricter than Swedish law), then capped, in the pack's currency, once per
    invoice and never to a vulnerable customer, by the same `lawful_fee` as every step."""
    c = customer(inp, ledger)
    if inp.policy.plan_fee and not c.fee_agreed:
        return FeeDecision(Decimal("0.00"), "no payment-plan fee: fees not agreed", None)
    return lawful_fee(
        inp.policy.plan_fee,
        c,
        ledger.fee_kinds,
        pack_for(inp.jurisdiction),
        kind="payment_plan",
        currency=inp.invoice.currency,
    )


def amount_text(amount: Decimal, inp: JourneyInput) -> str:
    """An amount as the journey's history writes it: "1250.00 SEK"."""
    return f"{amount:.2f} {inp.invoice.currency}"
