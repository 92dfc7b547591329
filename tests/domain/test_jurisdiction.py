"""Policy packs: unlawful policies are refused by name, and no sequence of steps or customers
makes the product charge more than the law allows (calls and opt-out: test_contact_rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.fees import collection_letter_pay_by, lawful_fee
from domain.jurisdiction import SE, US, UnknownJurisdictionError, pack_for
from domain.models import Customer, Policy, Step
from domain.policy_check import validate_policy
from domain.values import FeeKind
from tests.domain.strategies import FEES, customers, policies
from tests.factories import POLICIES, customer

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def policy(*steps: Step, **fields: object) -> Policy:
    return Policy.model_validate({"segment": "standard", "steps": steps, **fields})


def email(offset: int, fee: str | None = None) -> Step:
    return Step(
        offset_days=offset,
        channel="email",
        template="reminder",
        fee=Decimal(fee) if fee else None,
    )


# --- validate_policy -------------------------------------------------------------------------


def test_the_shipped_policies_are_lawful_in_se_and_us() -> None:
    """Lawful in SE, the file's jurisdiction; under US only the Swedish collection letter
    (inkassokrav, which has no federal counterpart) is refused, by name."""
    for name, segment_policy in POLICIES.segments.items():
        assert validate_policy(segment_policy, SE, name) == []
        letters = [
            f"segments.{name}.steps[{i}]: US allows no collection letter fee"
            for i, step in enumerate(segment_policy.steps)
            if step.fee and step.fee_kind == "collection_letter"
        ]
        assert validate_policy(segment_policy, US, name) == letters


def test_a_75_sek_reminder_fee_is_refused_naming_the_step_and_the_rule() -> None:
    bad = policy(email(3), email(10, "75.00"))
    assert validate_policy(bad, SE, "standard") == [
        "segments.standard.steps[1]: reminder fee 75.00 SEK exceeds the SE cap of 60.00 SEK "
        "(Lag 1981:739)"
    ]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (
            policy(email(3, "60.00"), email(10, "60.00")),
            "segments.standard.steps[1]: a second reminder fee (steps[0] already charges one); "
            "SE allows one per invoice (Lag 1981:739)",
        ),
        (
            policy(Step(offset_days=5, channel="call", template="reminder_call", fee=Decimal(50))),
            "segments.standard.steps[0]: a reminder fee may only be charged for a written "
            "contact, not a call (Lag 1981:739)",
        ),
        (
            policy(email(0, "60.00")),
            "segments.standard.steps[0]: a reminder fee on day 0, before the invoice is overdue; "
            "a fee is only owed for contacts after the due date (Lag 1981:739)",
        ),
        (
            policy(email(3), plan_fee="200.00"),
            "segments.standard.plan_fee: payment-plan fee 200.00 SEK exceeds the SE cap of "
            "170.00 SEK (Lag 1981:739)",
        ),
    ],
)
def test_se_refusals_name_the_field_and_the_law(bad: Policy, expected: str) -> None:
    assert validate_policy(bad, SE, "standard") == [expected]


@pytest.mark.parametrize("hour", [0, 7, 21, 23])
def test_us_refuses_a_send_hour_outside_8_to_21(hour: int) -> None:
    problems = validate_policy(policy(email(3), send_hour=hour), US, "loyal")
    assert problems == [
        f"segments.loyal.send_hour: {hour:02d}:00 is outside the US contact hours 08:00-21:00 "
        "in the customer's local time (Reg F § 1006.6(b)(1))"
    ]


@pytest.mark.parametrize("hour", [8, 14, 20])
def test_us_accepts_send_hours_inside_the_window(hour: int) -> None:
    assert validate_policy(policy(email(3), send_hour=hour), US) == []


def test_us_refuses_more_planned_calls_in_a_week_than_allowed() -> None:
    days = [1, 1, 2, 3, 4, 5, 6, 7]  # eight calls within seven calendar days
    calls = [Step(offset_days=d, channel="call", template="reminder_call") for d in days]
    problems = validate_policy(policy(*calls), US, "habitual-late")
    assert problems == [
        "segments.habitual-late.steps[7]: 8 call steps within 7 days exceed the limit of 7 call "
        "attempts in 7 days (Reg F § 1006.14(b)(2))"
    ]
    assert validate_policy(policy(*calls[1:]), US) == []
    spread = [Step(offset_days=d, channel="call", template="reminder_call") for d in range(1, 9)]
    assert validate_policy(policy(*spread), US) == []  # days 1..8: never 8 in 7 days


@PROPERTY
@given(policies())
def test_an_accepted_se_policy_charges_within_the_caps(p: Policy) -> None:
    problems = validate_policy(p, SE, "seg")
    fee_steps = [i for i, s in enumerate(p.steps) if s.fee is not None and s.fee > 0]
    for i in fee_steps:
        step = p.steps[i]
        assert step.fee is not None
        if step.fee > Decimal("60.00"):
            assert any(
                m.startswith(f"segments.seg.steps[{i}]: reminder fee") and "exceeds" in m
                for m in problems
            )
        if step.channel == "call":
            assert any(m.startswith(f"segments.seg.steps[{i}]:") for m in problems)
    for later in fee_steps[1:]:
        assert any(
            m.startswith(f"segments.seg.steps[{later}]: a second reminder fee") for m in problems
        )
    if not problems:
        assert len(fee_steps) <= 1
        assert all((p.steps[i].fee or 0) <= Decimal("60.00") for i in fee_steps)
        assert p.plan_fee is None or p.plan_fee <= Decimal("170.00")
    for message in problems:
        assert message.startswith("segments.seg.")
        assert message.endswith(")")  # every refusal cites its source


# --- lawful_fee ------------------------------------------------------------------------------

CAPS: dict[str, Decimal] = {
    "reminder": Decimal("60.00"),
    "collection_letter": Decimal("180.00"),
    "payment_plan": Decimal("170.00"),
    "late_compensation": Decimal("450.00"),
}


@PROPERTY
@given(
    customers(),
    st.lists(
        st.tuples(
            FEES, st.sampled_from(["reminder", "reminder", "collection_letter", "payment_plan"])
        ),
        max_size=10,
    ),
)
def test_fees_over_a_journey_stay_lawful(
    who: Customer, steps: list[tuple[Decimal | None, FeeKind]]
) -> None:
    charged: list[FeeKind] = []
    for fee, kind in steps:
        decision = lawful_fee(fee, who, charged, SE, kind=kind, currency="SEK")
        assert decision.amount >= 0
        assert decision.reason
        if decision.amount == 0:
            assert decision.kind is None
            continue
        assert decision.kind is not None
        assert decision.amount <= CAPS[decision.kind]
        assert fee is not None and (decision.amount <= fee or decision.kind == "late_compensation")
        charged.append(decision.kind)
    assert not (who.vulnerable and charged)
    assert charged.count("reminder") <= 1
    assert charged.count("late_compensation") <= 1
    assert charged.count("collection_letter") <= 1
    assert charged.count("payment_plan") <= 1
    if "reminder" in charged:
        assert who.fee_agreed and not who.is_business
    if who.is_business:
        assert not {"reminder", "collection_letter"} & set(charged)
        if "late_compensation" in charged:
            assert charged.count("late_compensation") == 1
    else:
        assert "late_compensation" not in charged


def test_reminder_fee_examples() -> None:
    agreed = customer(fee_agreed=True)
    assert lawful_fee(Decimal("60.00"), agreed, [], SE).amount == Decimal("60.00")
    capped = lawful_fee(Decimal("75.00"), agreed, [], SE)
    assert capped.amount == Decimal("60.00") and "capped" in capped.reason
    again = lawful_fee(Decimal("60.00"), agreed, ["reminder"], SE)
    assert again.amount == 0 and "already charged" in again.reason
    not_agreed = lawful_fee(Decimal("60.00"), customer(fee_agreed=False), [], SE)
    assert not_agreed.amount == 0 and "not agreed" in not_agreed.reason
    vulnerable = lawful_fee(Decimal("60.00"), customer(vulnerable=True), [], SE)
    assert vulnerable.amount == 0 and "vulnerable" in vulnerable.reason
    assert lawful_fee(Decimal("60.00"), agreed, [], SE, channel="call").amount == 0
    euro = lawful_fee(Decimal("5.00"), agreed, [], SE, currency="EUR")
    assert euro.amount == 0 and "SEK" in euro.reason


def test_businesses_pay_the_flat_compensation_once_instead() -> None:
    business = customer(is_business=True, fee_agreed=False)
    first = lawful_fee(Decimal("60.00"), business, [], SE)
    assert first.amount == Decimal("450.00")
    assert first.kind == "late_compensation"
    assert "förseningsersättning" in first.reason
    second = lawful_fee(Decimal("60.00"), business, ["late_compensation"], SE, kind="reminder")
    assert second.amount == 0
    # A step without a fee charges nothing, not even the compensation.
    assert lawful_fee(None, business, [], SE).amount == 0
    # A payment plan is not covered by the compensation.
    plan = lawful_fee(Decimal("170.00"), business, ["late_compensation"], SE, kind="payment_plan")
    assert plan.amount == Decimal("170.00")


def test_us_fees_need_an_agreement_and_have_no_compensation() -> None:
    assert lawful_fee(Decimal("25.00"), customer(fee_agreed=False), [], US).amount == 0
    assert lawful_fee(Decimal("25.00"), customer(fee_agreed=True), [], US).amount == Decimal(
        "25.00"
    )
    business = lawful_fee(Decimal("25.00"), customer(is_business=True, fee_agreed=True), [], US)
    assert business.kind == "reminder"


# --- collection letters, packs ---------------------------------------------------------------


def test_collection_letter_gives_eight_days() -> None:
    assert collection_letter_pay_by(NOW.date(), SE) == NOW.date() + timedelta(days=8)
    assert collection_letter_pay_by(NOW.date(), US) is None


def test_packs_by_code() -> None:
    assert pack_for("SE") is SE
    assert pack_for("US") is US
    with pytest.raises(UnknownJurisdictionError, match="'DE' has no policy pack"):
        pack_for("DE")
