"""A loyal customer's journey is never harsher than a standard one's.

Over random customers, due dates, opening hours and holidays, the shipped loyal policy
contacts no earlier, no more often and for no higher fees than the standard policy would.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import Customer, Invoice, JourneyInput
from domain.opening_hours import OpeningHours
from tests.domain.strategies import customers, holidays_near, opening_hours
from tests.factories import POLICIES
from workflows import planning


def journey(
    segment: str,
    customer: Customer,
    due: date,
    hours: OpeningHours | None,
    holidays: frozenset[date],
) -> JourneyInput:
    invoice = Invoice(
        id="inv_prop",
        number="1",
        customer_id=customer.id,
        currency="SEK",
        amount_due=Decimal("1000.00"),
        issued_at=due - timedelta(days=30),
        due_date=due,
    )
    return JourneyInput(
        invoice=invoice,
        customer=customer,
        segment=segment,
        policy=POLICIES.segments[segment],
        opening_hours=hours,
        holidays=tuple(sorted(holidays)),
    )


def contact_times(inp: JourneyInput) -> list[datetime]:
    ledger = planning.Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    return [planning.step_at(inp, ledger, i) for i in range(len(inp.policy.steps))]


def total_fees(inp: JourneyInput) -> Decimal:
    """Fees if every step went out on its own channel."""
    ledger = planning.Ledger(due_date=inp.invoice.due_date, amount_due=inp.invoice.amount_due)
    total = Decimal("0")
    for step in inp.policy.steps:
        fee = planning.fee_for_step(inp, ledger, step, step.channel)
        if fee.amount and fee.kind:
            ledger.fee_kinds.append(fee.kind)
        total += fee.amount
    return total


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    customer=customers(),
    due=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
    hours=st.one_of(st.none(), opening_hours()),
    data=st.data(),
)
def test_loyal_is_never_harsher_than_standard(
    customer: Customer, due: date, hours: OpeningHours | None, data: st.DataObject
) -> None:
    holidays = data.draw(holidays_near(due))
    loyal = journey("loyal", customer, due, hours, holidays)
    standard = journey("standard", customer, due, hours, holidays)
    loyal_times, standard_times = contact_times(loyal), contact_times(standard)
    assert loyal_times[0] >= standard_times[0]  # no earlier first contact
    assert len(loyal_times) <= len(standard_times)  # no more contacts
    assert total_fees(loyal) <= total_fees(standard)  # no higher fees
    loyal_handover = (loyal.policy.handover_after_days or 10**6) + loyal.policy.steps[
        -1
    ].offset_days
    standard_handover = (standard.policy.handover_after_days or 10**6) + standard.policy.steps[
        -1
    ].offset_days
    assert loyal_handover >= standard_handover  # no earlier handover
