"""A whole journey in time skipping for the law-and-clock rules (issue 15): a US customer whose
zone is unknown is contacted only when it is 08:00-21:00 in every US zone, through a pause."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from domain.jurisdiction import US_TIME_ZONES
from domain.models import JourneyInput
from domain.opening_hours import OpeningHours
from tests.factories import invoice, journey_input
from tests.workflows.journey_driver import JourneyDriver, action, steps_out
from tests.workflows.test_law_clock import US_POLICY
from workflows.journey import InvoiceJourney

NEW_YORK = ZoneInfo("America/New_York")


def us_customer_of_unknown_zone() -> JourneyInput:
    inp = journey_input("inv_us_nozone", policy=US_POLICY, timezone=None, locale="en")
    hours = OpeningHours.model_validate(
        {
            "timezone": "America/New_York",
            "weekly": {d: ["08:00-20:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        }
    )
    bill = invoice("inv_us_nozone", inp.invoice.issued_at, currency="USD")
    return inp.model_copy(update={"jurisdiction": "US", "opening_hours": hours, "invoice": bill})


async def test_us_customer_of_unknown_zone_is_contacted_only_in_every_zones_daytime(
    journeys: JourneyDriver,
) -> None:
    inp = us_customer_of_unknown_zone()
    assert inp.customer.timezone is None
    handle = await journeys.start(inp)
    state = await journeys.state(handle)
    assert state.customer_timezone is None and state.contact_zones == US_TIME_ZONES

    await journeys.through_step(handle, 0)
    await handle.execute_update(InvoiceJourney.agent_action, action(action="pause", agent="a"))
    await journeys.forward(handle, 3.37)  # resumed at an odd hour: the grace ends at night
    await handle.execute_update(InvoiceJourney.agent_action, action(action="resume", agent="a"))
    result = await journeys.finish(handle, "us_unknown_zone")

    assert result.phase == "handed_over"
    assert steps_out(result) == ["email:sent", "sms:sent", "call:sent", "email:sent"]
    sent = [h.at for h in result.history if h.kind == "step" and h.outcome == "sent"]
    for at in sent:
        for zone in US_TIME_ZONES:
            local = at.astimezone(ZoneInfo(zone))
            assert time(8) <= local.time() < time(21), f"{at} is {local:%H:%M} in {zone}"
        in_new_york = at.astimezone(NEW_YORK)
        assert in_new_york.weekday() < 5 and time(8) <= in_new_york.time() < time(20)
    assert len({at.date() for at in sent}) == 4
