"""What-if: a synthetic portfolio walked through a policy's steps by a behaviour model, giving
the same outcome facts the report aggregates, so two policies can be compared before one goes
live (`journeys simulate`).

This is a model of the customer, not of the product: each invoice walks its segment's policy
step by step in pure code (no Temporal, no opening hours, holidays or channel fallbacks). A
seeded `random.Random` makes every run repeatable; both policies see the same customers, and
each invoice draws from its own stream so a change in one policy's steps does not reshuffle
the other invoices' luck.

The behaviour file (TOML), every chance between 0 and 1:

    [segments]            # share of the portfolio, how much likelier than average to pay,
    loyal = { share = 0.3, pay_factor = 1.5, lifetime_value = "40000.00" }
    [behaviour]
    pay_before_first_reminder = 0.3
    pay_after = { email = 0.25, sms = 0.3, call = 0.4 }   # after a reminder on this channel
    promise = 0.1          # after a reminder, promises to pay (instead of paying now) ...
    keep_promise = 0.7     # ... and keeps it, paying a week later
    dispute = 0.02         # after a reminder, disputes: the claim is cancelled
    churn_after_harsh = 0.05   # churns after a harsh step: a call, a fee, the final notice
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.models import Policy
from domain.policies import format_validation_error, read_toml
from domain.reporting import OutcomeFact, Report

Chance = Annotated[float, Field(ge=0.0, le=1.0)]
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""The synthetic portfolio's due date: fixed, so that reports of two runs compare."""
PROMISE_DAYS = 7


class BehaviourError(ValueError):
    """The behaviour file is invalid; the message names each bad field."""


class SegmentMix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: Chance
    pay_factor: float = Field(default=1.0, ge=0.0, le=10.0)
    lifetime_value: Decimal = Field(default=Decimal("10000.00"), ge=0)


class Behaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pay_before_first_reminder: Chance = 0.0
    pay_after: dict[str, Chance] = {}
    promise: Chance = 0.0
    keep_promise: Chance = 0.0
    dispute: Chance = 0.0
    churn_after_harsh: Chance = 0.0


class BehaviourFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segments: dict[str, SegmentMix] = Field(min_length=1)
    behaviour: Behaviour = Behaviour()


def parse_behaviour(text: str, source: str) -> BehaviourFile:
    raw = read_toml(text, source, BehaviourError)
    try:
        parsed = BehaviourFile.model_validate(raw)
    except ValidationError as err:
        raise BehaviourError(f"{source}: {format_validation_error(err)}") from None
    total = sum(s.share for s in parsed.segments.values())
    if abs(total - 1.0) > 1e-6:
        raise BehaviourError(f"{source}: segments: shares add up to {total:g}, not 1")
    unknown = set(parsed.behaviour.pay_after) - {"email", "sms", "call"}
    if unknown:
        raise BehaviourError(f"{source}: behaviour.pay_after: unknown channels {sorted(unknown)}")
    return parsed


@dataclass(frozen=True)
class Customer:
    number: int
    segment: str


def portfolio(mix: BehaviourFile, size: int) -> list[Customer]:
    """`size` customers split by the segments' shares (largest remainders, in file order)."""
    names = list(mix.segments)
    exact = [mix.segments[n].share * size for n in names]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(names)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: size - sum(counts)]:
        counts[i] += 1
    customers: list[Customer] = []
    for name, count in zip(names, counts, strict=True):
        first = len(customers)
        customers.extend(Customer(first + k, name) for k in range(count))
    return customers


def _harsh(policy: Policy, index: int) -> bool:
    step = policy.steps[index]
    return step.channel == "call" or bool(step.fee) or step.final_notice


def simulate_one(
    customer: Customer, policy: Policy, mix: BehaviourFile, seed: int, policy_name: str
) -> OutcomeFact:
    rng = random.Random(f"{seed}:{customer.number}")
    b, seg = mix.behaviour, mix.segments[customer.segment]

    def chance(p: float) -> bool:
        return rng.random() < min(1.0, p)

    contacts = {"email": 0, "sms": 0, "call": 0}
    churned = False
    outcome, resolved, days = "", None, None
    sent = 0
    if chance(b.pay_before_first_reminder * seg.pay_factor):
        outcome, resolved, days = "paid", 0, 0
    else:
        for index, step in enumerate(policy.steps):
            sent = index + 1
            contacts[step.channel] = contacts.get(step.channel, 0) + 1  # letters too
            if _harsh(policy, index) and chance(b.churn_after_harsh):
                churned = True
            if chance(b.dispute):
                outcome, resolved, days = "cancelled", sent, None
                break
            if chance(b.promise):
                if chance(b.keep_promise):
                    outcome, resolved, days = "paid", sent, step.offset_days + PROMISE_DAYS
                    break
                continue
            if chance(b.pay_after.get(step.channel, 0.0) * seg.pay_factor):
                outcome, resolved, days = "paid", sent, step.offset_days + 1
                break
    if not outcome:
        # Nothing left to send: collection where the policy hands over, else an agent's desk.
        outcome = "handed_over" if policy.handover_after_days else "unresolved"
        last = policy.steps[-1].offset_days + (policy.handover_after_days or 0)
        days = None
    else:
        last = days if days is not None else policy.steps[max(sent - 1, 0)].offset_days
    closed_at = START + timedelta(days=last)
    return OutcomeFact(
        invoice_id=f"sim-{customer.number}",
        customer_id=f"sim-cus-{customer.number}",
        segment=customer.segment,
        policy_name=policy_name,
        outcome=outcome,
        steps_sent=sent,
        resolved_at_step=resolved,
        closed_at=closed_at,
        currency="SEK",
        lifetime_value=seg.lifetime_value,
        days_to_pay=days,
        contacts=contacts,
        churned_at=closed_at + timedelta(days=1) if churned else None,
    )


def simulate(
    policies: dict[str, Policy],
    mix: BehaviourFile,
    size: int,
    seed: int,
    policy_name: str,
) -> list[OutcomeFact]:
    """One outcome fact per synthetic invoice, each segment under its policy in `policies`."""
    missing = sorted(set(mix.segments) - set(policies))
    if missing:
        raise BehaviourError(f"{policy_name}: no policy for segments {missing}")
    return [
        simulate_one(c, policies[c.segment], mix, seed, policy_name) for c in portfolio(mix, size)
    ]


COMPARED = (
    "reached",
    "share_resolved",
    "median_days_to_pay",
    "handover_rate",
    "contacts",
    "contacts_per_resolved",
    "leaked",
    "cost_per_resolved",
)


def _figure(value: object) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value))


def difference(a: Report, b: Report) -> list[tuple[str, str, Decimal | None, Decimal | None]]:
    """Per segment (the "all" step rows, "all" segments first) and figure: A's value and B's.
    The change is B - A where both exist."""
    rows_a = {r.segment: r for r in a.rows if r.step == "all"}
    rows_b = {r.segment: r for r in b.rows if r.step == "all"}
    segments = ["all"] + sorted((set(rows_a) | set(rows_b)) - {"all"})
    found = []
    for segment in segments:
        ra, rb = rows_a.get(segment), rows_b.get(segment)
        for name in COMPARED:
            va = _figure(getattr(ra, name)) if ra else None
            vb = _figure(getattr(rb, name)) if rb else None
            found.append((segment, name, va, vb))
    return found


def change(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else b - a
