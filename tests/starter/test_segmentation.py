"""Segmentation: who gets the gentle, the firm, the new-customer or the standard path."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from journeys.demo import build_plan, load_scenario
from journeys.models import Customer
from journeys.segmentation import (
    HABITUAL_LATE_MIN,
    LOYAL_MIN_YEARS,
    RECENT_INVOICES,
    PastInvoice,
    choose_segment,
)
from starter.events import compressed_clock

TODAY = date(2026, 11, 2)


def _customer(since: date | None) -> Customer:
    return Customer(id="cus_1", name="Test Kund", customer_since=since)


def _paid(due_days_ago: int, late_days: int) -> PastInvoice:
    due = TODAY - timedelta(days=due_days_ago)
    return PastInvoice(
        invoice_id=f"inv_{due_days_ago}",
        issued_at=due - timedelta(days=30),
        due_date=due,
        status="paid",
        paid_on=due + timedelta(days=late_days),
    )


def test_a_long_standing_customer_who_always_paid_on_time_is_loyal() -> None:
    history = [_paid(300, 0), _paid(200, 0), _paid(100, 0)]
    segment, reason = choose_segment(_customer(date(2020, 3, 1)), history, as_of=TODAY)
    assert segment == "loyal"
    assert "2020-03-01" in reason and "6 years" in reason


def test_loyalty_needs_the_full_tenure() -> None:
    just_short = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS) + timedelta(days=1)
    assert choose_segment(_customer(just_short), [], as_of=TODAY)[0] == "standard"
    exactly = TODAY.replace(year=TODAY.year - LOYAL_MIN_YEARS)
    assert choose_segment(_customer(exactly), [], as_of=TODAY)[0] == "loyal"


def test_one_late_payment_makes_a_long_standing_customer_standard() -> None:
    history = [_paid(300, 0), _paid(200, 5), _paid(100, 0)]
    segment, reason = choose_segment(_customer(date(2018, 1, 1)), history, as_of=TODAY)
    assert segment == "standard"
    assert "1 late payment " in reason


def test_repeated_late_payments_make_a_habitual_late_payer_whatever_the_tenure() -> None:
    history = [_paid(300, 10)] + [_paid(200, 0)] + [_paid(100, 3)]
    assert HABITUAL_LATE_MIN == 2
    segment, reason = choose_segment(_customer(date(2010, 1, 1)), history, as_of=TODAY)
    assert segment == "habitual-late"
    assert reason == "2 late payments among the last 3 invoices"


def test_only_recent_invoices_count_for_habitual_lateness() -> None:
    old_late = [_paid(2000 + i, 10) for i in range(2)]
    recent_on_time = [_paid(100 + i * 30, 0) for i in range(RECENT_INVOICES)]
    segment, _ = choose_segment(_customer(date(2015, 1, 1)), old_late + recent_on_time, as_of=TODAY)
    assert segment == "standard"  # not habitual-late, and not loyal either (late on record)


def test_handed_over_and_overdue_open_invoices_count_as_late() -> None:
    handed = PastInvoice(
        "a", TODAY - timedelta(days=200), TODAY - timedelta(days=170), "handed_over"
    )
    overdue = PastInvoice("b", TODAY - timedelta(days=40), TODAY - timedelta(days=10), "open")
    not_yet_due = PastInvoice("c", TODAY - timedelta(days=5), TODAY + timedelta(days=20), "open")
    assert handed.is_late(TODAY) and overdue.is_late(TODAY)
    assert not not_yet_due.is_late(TODAY)
    segment, _ = choose_segment(_customer(date(2019, 1, 1)), [handed, overdue], as_of=TODAY)
    assert segment == "habitual-late"


def test_a_customer_of_a_few_months_is_new() -> None:
    segment, reason = choose_segment(_customer(TODAY - timedelta(days=90)), [], as_of=TODAY)
    assert segment == "new"
    assert "less than 1 year" in reason


def test_without_a_start_date_tenure_comes_from_the_oldest_invoice_we_hold() -> None:
    assert choose_segment(_customer(None), [], as_of=TODAY)[0] == "new"
    history = [_paid(1600, 0), _paid(400, 0)]
    assert choose_segment(_customer(None), history, as_of=TODAY)[0] == "loyal"


@pytest.mark.parametrize(
    ("key", "segment"),
    [
        ("berit", "loyal"),
        ("lars", "habitual-late"),
        ("nora", "new"),
        ("sven", "standard"),
        ("dan", "standard"),
        ("eklund", "standard"),
    ],
)
def test_the_demo_covers_every_segment(key: str, segment: str) -> None:
    """The demo's point is to show each path; its sample data must keep landing on them."""
    scenario = load_scenario()
    plan = build_plan(scenario, tag="abcd", today=TODAY, clock=compressed_clock(10))
    spec = next(c for c in scenario.customers if c.key == key)
    event = next(e for e in plan.events if e["id"] == f"evt-abcd-{key}-issued")
    customer = Customer.model_validate(event["data"]["customer"])
    history = [
        PastInvoice(
            invoice_id=row.id,
            issued_at=row.issued_at,
            due_date=row.due_date,
            status=row.status,
            paid_on=row.closed_at.date() if row.closed_at else None,
        )
        for row in plan.history
        if row.customer_id == customer.id
    ]
    assert len(history) == len(spec.history)
    assert choose_segment(customer, history, as_of=TODAY)[0] == segment


def test_demo_actions_are_scheduled_on_the_compressed_clock() -> None:
    origin = datetime(2026, 11, 2, 12, 0, tzinfo=datetime.now().astimezone().tzinfo)
    plan = build_plan(load_scenario(), tag="abcd", today=TODAY, clock=compressed_clock(10, origin))
    nora = next(s for s in plan.scheduled if s.invoice_id == "inv-abcd-nora")
    # issued today, due in 7 days, pays 3 days after due at 13:00: day 10.54 -> 105.4 s
    assert (nora.at - origin).total_seconds() == pytest.approx((7 + 3 + 13 / 24) * 10)
    assert [s.at for s in plan.scheduled] == sorted(s.at for s in plan.scheduled)
