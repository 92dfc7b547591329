"""What invoice.issued gives the journey: the segment chosen from the customer's history in the
store, the reason with its figures, whether handover waits for approval, the reference rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from temporalio.client import Client

from domain.interest import EXAMPLE_REFERENCE_RATES
from domain.models import JourneyInput, JourneyStart
from domain.segmentation import (
    PastInvoice,
)
from infra.settings import Settings
from infra.store import session_scope
from starter.event_schema import parse_event
from starter.ingest import apply_event
from starter.journey_start import resolved
from tests.factories import POLICIES, invoice_row
from tests.segment_history import (
    billed,
)
from tests.starter.conftest import issued


class _CapturingClient:
    """Stands in for the Temporal client: keeps what would have started."""

    def __init__(self) -> None:
        self.started: list[JourneyStart] = []

    async def start_workflow(self, _run: Any, journey: JourneyStart, **_kw: Any) -> None:
        self.started.append(journey)


def _seed(url: str, customer_id: str, history: list[PastInvoice]) -> None:
    with session_scope(url) as s:
        for n, p in enumerate(history):
            row = invoice_row(
                f"{customer_id}-h{n}",
                p.issued_at,
                status=p.status,
                customer_id=customer_id,
                currency=p.currency,
                amount_due=p.amount,
                due_date=p.due_date,
            )
            if p.paid_on is not None:  # what history_of falls back on without a payment event
                row.closed_at = datetime.combine(p.paid_on, time(12), tzinfo=UTC)
            s.add(row)


async def _start(settings: Settings, event: dict[str, Any]) -> JourneyInput:
    client = _CapturingClient()
    await apply_event(cast(Client, client), settings, POLICIES, parse_event(event))
    [journey] = client.started
    return await resolved(settings, journey)  # its configuration as the journey reads it


async def test_invoice_issued_gives_the_journey_approval_rates_and_a_reason_with_figures(
    settings: Settings,
) -> None:
    today = date.today()
    # Late once two years ago (standard), then 4 x 30 000 SEK a year: high value.
    big = [
        billed(today - timedelta(days=700), "30000.00", status="handed_over"),
        *(billed(today - timedelta(days=45 + 90 * i), "30000.00") for i in range(4)),
    ]
    _seed(settings.store_url, "cus_big", big)
    small = [billed(today - timedelta(days=400), "1000.00", status="handed_over")]
    _seed(settings.store_url, "cus_small", small)

    journey = await _start(
        settings, issued(customer_id="cus_big", customer_since="2019-05-01", issued_at=today)
    )
    assert journey.segment == "standard"
    assert journey.handover_requires_approval
    assert "1 late payment in 5 invoices" in journey.segment_reason
    assert "(high value: 50 000 SEK or more)" in journey.segment_reason
    assert journey.reference_rates == dict(EXAMPLE_REFERENCE_RATES)

    journey = await _start(
        settings, issued(customer_id="cus_small", customer_since="2019-05-01", issued_at=today)
    )
    assert journey.segment == "standard"
    assert not journey.handover_requires_approval
    assert journey.segment_reason.endswith("lifetime value 2 500 SEK")

    journey = await _start(settings, issued(issued_at=today))  # since 2020, no history
    assert (journey.segment, journey.handover_requires_approval) == ("loyal", True)
