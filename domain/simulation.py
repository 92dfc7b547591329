"""What-if: the customer side of `journeys simulate`. The product side is the real one: each
synthetic invoice runs as an `InvoiceJourney` on Temporal under time skipping, with its
opening hours, fallbacks, fees and holds (`journeys.simulation_run`); this module only says who
the customers are and how each one answers a reminder, seeded, so a run can be repeated.

Each invoice draws from its own `random.Random` stream (`customer_rng`); both policies see the
same customers with the same luck.

The behaviour file (TOML), every chance between 0 and 1:

    [segments]            # share of the portfolio, how much likelier than average to pay,
    loyal = { share = 0.3, pay_factor = 1.5, lifetime_value = "40000.00" }
    [behaviour]
    pay_before_first_reminder = 0.3
    pay_after = { email = 0.25, sms = 0.3, call = 0.4 }   # pays when this channel reaches them
    promise = 0.1          # after a reminder, promises to pay within a week (instead) ...
    keep_promise = 0.7     # ... and keeps it, paying the day before the promised date
    dispute = 0.02         # after a reminder, disputes the claim
    churn_after_harsh = 0.05   # leaves after a harsh step: a call, a fee, the final notice

`lifetime_value` is kept for the file's compatibility: a synthetic customer has no invoice
history, so the store's lifetime value of each (and the report's "LTV lost") is zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.policies import format_validation_error, read_toml
from domain.reporting import Report

Chance = Annotated[float, Field(ge=0.0, le=1.0)]
PROMISE_DAYS = 7
"""A promising customer promises to pay within this many days; one who keeps it pays the day
before."""


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


def customer_rng(seed: int, customer: Customer) -> random.Random:
    """Each invoice draws from its own stream: the same customer meets both policies with the
    same luck, and one policy's extra step does not reshuffle the other invoices' draws."""
    return random.Random(f"{seed}:{customer.number}")


Reaction = Literal["pay", "promise_kept", "promise_broken", "dispute", "nothing"]


@dataclass(frozen=True)
class Answer:
    """What a customer does after one reminder, and whether it drove them away."""

    reaction: Reaction
    churns: bool = False


def harsh(channel: str, fee: Decimal, final_notice: bool) -> bool:
    """A step that may cost the company the customer: a call, a fee, the final notice."""
    return channel == "call" or fee > 0 or final_notice


def pays_before_first_reminder(rng: random.Random, mix: BehaviourFile, segment: str) -> bool:
    b, seg = mix.behaviour, mix.segments[segment]
    return rng.random() < min(1.0, b.pay_before_first_reminder * seg.pay_factor)


def answer(
    rng: random.Random, mix: BehaviourFile, segment: str, channel: str, was_harsh: bool
) -> Answer:
    """The customer's reaction to a reminder just delivered on `channel`. Every reminder
    takes the same five draws in the same order (churn, dispute, promise, keeping it, paying),
    used or not, so that one customer's n-th reminder meets the same luck under both policies
    and a difference between them comes from the policies alone."""
    b, seg = mix.behaviour, mix.segments[segment]
    leaves, disputes, promises, keeps, pays = (rng.random() for _ in range(5))
    churns = was_harsh and leaves < b.churn_after_harsh
    if disputes < b.dispute:
        return Answer("dispute", churns)
    if promises < b.promise:
        return Answer("promise_kept" if keeps < b.keep_promise else "promise_broken", churns)
    if pays < min(1.0, b.pay_after.get(channel, 0.0) * seg.pay_factor):
        return Answer("pay", churns)
    return Answer("nothing", churns)


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
