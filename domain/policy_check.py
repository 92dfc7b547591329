"""A policy checked against its jurisdiction's pack when the policy file loads.

An unlawful policy (a 75 SEK reminder fee, a US send hour outside 08-21, an inkassokrav
without 8 days to pay) is refused before any journey runs on it, with the step and the rule
named; `domain.fees` and the contact windows stay as the run-time line of defence.
"""

from __future__ import annotations

from datetime import time

from domain.fees import format_money, step_fee_kind
from domain.jurisdiction import SE_COLLECTION_PRACTICE, US_HOURS_LAW, CallLimit, JurisdictionPack
from domain.models import Policy
from domain.values import FeeKind


def validate_policy(
    policy: Policy, pack: JurisdictionPack, segment: str | None = None
) -> list[str]:
    """Every way `policy` breaks `pack`, as `segments.<name>.<field>: problem (law)` lines.

    Empty when lawful. Called when the policy file loads so that an unlawful policy is refused
    before any journey runs on it; runtime checks (`lawful_fee`, `call_allowed`) stay as a
    second line of defence for what only a customer's data can decide.
    """
    where = f"segments.{segment or policy.segment}"
    problems: list[str] = []
    cur = pack.currency
    first_fee_step: dict[FeeKind, int] = {}
    for i, step in enumerate(policy.steps):
        at = f"{where}.steps[{i}]"
        if step.fee is None or step.fee <= 0:
            continue
        kind = step_fee_kind(step)
        rule = pack.fee_rule(kind)
        if rule is None:
            problems.append(f"{at}: {pack.code} allows no {kind.replace('_', ' ')} fee")
            continue
        if rule.cap is not None and step.fee > rule.cap:
            problems.append(
                f"{at}: {rule.label} {format_money(step.fee, cur)} exceeds the {pack.code} cap of "
                f"{format_money(rule.cap, cur)} ({rule.law})"
            )
        if rule.written_only and step.channel == "call":
            problems.append(
                f"{at}: a {rule.label} may only be charged for a written contact, not a call "
                f"({rule.law})"
            )
        if step.offset_days <= 0:
            problems.append(
                f"{at}: a {rule.label} on day {step.offset_days}, before the invoice is overdue; "
                f"a fee is only owed for contacts after the due date ({rule.law})"
            )
        if rule.once_per_invoice:
            if kind in first_fee_step:
                problems.append(
                    f"{at}: a second {rule.label} (steps[{first_fee_step[kind]}] already charges "
                    f"one); {pack.code} allows one per invoice ({rule.law})"
                )
            else:
                first_fee_step[kind] = i
        if kind == "collection_letter" and pack.collection_letter_min_days is not None:
            if i + 1 < len(policy.steps):
                gap: int | None = policy.steps[i + 1].offset_days - step.offset_days
            else:
                gap = policy.handover_after_days
            if gap is not None and gap < pack.collection_letter_min_days:
                problems.append(
                    f"{at}: an inkassokrav must give at least {pack.collection_letter_min_days} "
                    f"days to pay, but the journey moves on after {gap} "
                    f"({SE_COLLECTION_PRACTICE})"
                )
    plan_rule = pack.fee_rule("payment_plan")
    plan_fee = policy.plan_fee
    if plan_fee is not None and plan_fee > 0:
        if plan_rule is None:
            problems.append(f"{where}.plan_fee: {pack.code} allows no payment-plan fee")
        elif plan_rule.cap is not None and plan_fee > plan_rule.cap:
            problems.append(
                f"{where}.plan_fee: {plan_rule.label} {format_money(plan_fee, cur)} exceeds the "
                f"{pack.code} cap of {format_money(plan_rule.cap, cur)} ({plan_rule.law})"
            )
    if pack.contact_hours is not None:
        opens, closes = pack.contact_hours
        send = time(policy.send_hour)
        if not opens <= send < closes:
            problems.append(
                f"{where}.send_hour: {policy.send_hour:02d}:00 is outside the {pack.code} contact "
                f"hours {opens:%H:%M}-{closes:%H:%M} in the customer's local time "
                f"({US_HOURS_LAW})"
            )
    if pack.call_limit is not None:
        problems += _too_many_planned_calls(policy, pack.call_limit, where)
    return problems


def _too_many_planned_calls(policy: Policy, limit: CallLimit, where: str) -> list[str]:
    """A policy that plans more calls in a week than the law allows would be throttled anyway;
    refuse it so that what the company configured is what happens."""
    calls = [(i, s.offset_days) for i, s in enumerate(policy.steps) if s.channel == "call"]
    span = limit.period.days
    for n, (i, day) in enumerate(calls):
        within = [j for j, d in calls[: n + 1] if day - d < span]
        if len(within) > limit.max_attempts:
            return [
                f"{where}.steps[{i}]: {len(within)} call steps within {span} days exceed the "
                f"limit of {limit.max_attempts} call attempts in {span} days ({limit.law})"
            ]
    return []
