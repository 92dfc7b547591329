"""What a finished journey's outcome row says, worked out from facts the store keeps.

The journey hands its outcome activity only what it closed with (phase, balance, fees now,
steps sent, resolved at step). The rest of the outcome (which channel the resolving step went
out on, contacts per channel, fees charged before any waiver, interest, days to pay) is
derived here from the contact ledger, the payment events and the policy, as pure functions so
that every figure can be checked by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.fees import lawful_fee
from domain.interest import MissingReferenceRateError, RateTable, late_interest
from domain.jurisdiction import pack_for
from domain.models import Customer, Policy
from domain.values import Channel, FeeKind

ZERO = Decimal("0")
CONTACTED = frozenset({"sent", "uncertain"})
"""Ledger statuses of a contact that (may have) reached the customer: an uncertain one is
counted, since the customer may have received it and the provider may have billed it."""


@dataclass(frozen=True)
class SentStep:
    """One reminder step that went out: its policy index and the channel it went out on."""

    index: int
    channel: Channel


def step_index_of(step_key: str) -> int | None:
    """`step-3-sms` -> 3; other keys (thank-you) are not reminder steps."""
    parts = step_key.split("-")
    if len(parts) == 3 and parts[0] == "step" and parts[1].isdigit():
        return int(parts[1])
    return None


def sent_steps(attempts: Iterable[tuple[str, str, str]]) -> list[SentStep]:
    """The steps that went out, in step order, from ledger rows `(step_key, channel, status)`
    in the order they were written. A step delivered on a fallback channel after its first
    channel failed counts once, on the channel that delivered it."""
    by_index: dict[int, SentStep] = {}
    for step_key, channel, status in attempts:
        index = step_index_of(step_key)
        if index is None or status not in CONTACTED or channel not in ("email", "sms", "call"):
            continue
        by_index[index] = SentStep(index, channel)  # type: ignore[arg-type]
    return [by_index[i] for i in sorted(by_index)]


def contacts_per_channel(steps: Sequence[SentStep]) -> dict[Channel, int]:
    counts: dict[Channel, int] = {"email": 0, "sms": 0, "call": 0}
    for step in steps:
        counts[step.channel] += 1
    return counts


def resolved_channel(steps: Sequence[SentStep], resolved_at_step: int | None) -> Channel | None:
    """The channel of the last step that went out before the resolution: the one the
    customer answered. None when resolved before any step (or never resolved)."""
    if resolved_at_step is None or resolved_at_step <= 0 or not steps:
        return None
    return steps[min(resolved_at_step, len(steps)) - 1].channel


def fees_charged(
    policy: Policy,
    steps: Sequence[SentStep],
    customer: Customer,
    jurisdiction: str,
    currency: str,
    fees_at_close: Decimal,
) -> Decimal:
    """The fees the sent steps charged, replayed with the same lawful-fee rule the journey
    applies when it sends them; never less than the fees still on the claim at close (a plan
    fee is not a step's). Fees charged minus fees at close is what an agent waived."""
    pack = pack_for(jurisdiction)
    kinds: list[FeeKind] = []
    total = ZERO
    for step in steps:
        if step.index >= len(policy.steps):
            continue
        planned = policy.steps[step.index]
        decision = lawful_fee(
            planned.fee,
            customer,
            kinds,
            pack,
            kind=planned.fee_kind,
            currency=currency,
            channel=step.channel,
        )
        total += decision.amount
        if decision.amount > 0 and decision.kind is not None:
            kinds.append(decision.kind)
    return max(total, fees_at_close)


def days_to_pay(due_date: date, paid_on: date | None) -> int | None:
    """Days from the due date to the payment; negative when paid before it."""
    return None if paid_on is None else (paid_on - due_date).days


def interest_accrued(
    outcome: str,
    amount_due: Decimal,
    due_date: date,
    until: date,
    rates: RateTable,
) -> Decimal:
    """Statutory interest the claim had earned by its end: on the amount due, from the due
    date to the payment (paid) or the close (handed over). Credited, voided and cancelled
    claims earned none: there was nothing left to owe. Zero without a rate table."""
    if outcome not in ("paid", "handed_over") or not rates or until <= due_date:
        return ZERO
    try:
        return late_interest(amount_due, due_date, until, rates)
    except MissingReferenceRateError:
        return ZERO


def interest_waived(outcome: str, accrued: Decimal) -> Decimal:
    """The product shows interest but never adds it to what it collects; only a claim handed
    to collection carries it on. So everything accrued is waived unless handed over."""
    return ZERO if outcome == "handed_over" else accrued


def policy_version(policy: Policy) -> str:
    """A short digest of the policy's content: policies carry no version number, and two
    journeys of the same segment under different steps must not be reported as one."""
    digest = hashlib.sha256(policy.model_dump_json().encode()).hexdigest()
    return digest[:12]
