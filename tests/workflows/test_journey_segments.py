"""Whole journeys per segment and calendar: the vulnerable, the loyal, the habitual late payer,
and a step that falls on a Swedish holiday."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays

from tests.factories import POLICIES, journey_input
from tests.workflows.journey_driver import JourneyDriver


async def test_step_on_midsommarafton_moves_to_the_next_open_day(journeys: JourneyDriver) -> None:
    se_holidays = holidays.country_holidays("SE", years=2027, categories=("public", "de_facto"))
    assert date(2027, 6, 25) in se_holidays  # Midsommarafton
    inp = journey_input("inv_midsummer", issued=date(2027, 6, 1)).model_copy(
        update={"opening_hours": POLICIES.opening_hours, "holidays": tuple(se_holidays)}
    )
    assert inp.invoice.due_date + timedelta(days=inp.policy.steps[1].offset_days) == date(
        2027, 6, 25
    )
    handle, state = await journeys.through_first_step(inp)
    assert state.next_step is not None and state.next_step.index == 1
    local = state.next_step.at.astimezone(ZoneInfo("Europe/Stockholm"))
    assert (local.date(), local.hour) == (date(2027, 6, 28), 8)  # Monday, when service opens
    await handle.terminate("test done")


async def test_vulnerable_customer_gets_no_calls_no_fees_and_an_agent_task(
    journeys: JourneyDriver,
) -> None:
    inp = journey_input("inv_vulnerable", vulnerable=True)
    handle = await journeys.start(inp)
    state = await journeys.through_step(handle, 2)
    assert any("vulnerable customer" in t for t in state.open_tasks)
    assert [h.channel for h in state.history if h.outcome == "sent"] == ["email", "sms", "sms"]
    assert "no automated calls to a vulnerable customer" in " ".join(
        h.detail for h in state.history
    )
    assert state.fees == 0
    assert all(m.channel != "call" for m in journeys.outbox("inv_vulnerable"))
    await handle.terminate("test done")


async def test_loyal_customer_gentle_path_no_fee_and_handover_waits(
    journeys: JourneyDriver,
) -> None:
    loyal = journey_input("inv_loyal", segment="loyal").model_copy(
        update={"handover_requires_approval": True}
    )
    handle = await journeys.start(loyal)
    await journeys.through_step(handle, 3)
    state = await journeys.forward(handle, 30)
    assert state.phase == "awaiting_handover_approval" and state.fees == 0
    assert [m.step_key for m in journeys.outbox("inv_loyal")][0] == "step-0-email"
    first = next(h for h in state.history if h.kind == "step")
    assert "gentle_reminder" in first.detail
    await handle.terminate("test done")


async def test_habitual_late_payer_gets_the_firm_fast_path(journeys: JourneyDriver) -> None:
    firm = journey_input("inv_late", segment="habitual-late")
    standard = journey_input("inv_std")
    h_firm, h_std = await journeys.start(firm), await journeys.start(standard)
    s_firm, s_std = await journeys.state(h_firm), await journeys.state(h_std)
    assert s_firm.next_step is not None and s_std.next_step is not None
    assert s_firm.next_step.at < s_std.next_step.at  # contacted sooner
    state = await journeys.through_step(h_firm, 0)
    assert state.fees == Decimal("60.00")  # the reminder fee comes with the first reminder
    for h in (h_firm, h_std):
        await h.terminate("test done")
