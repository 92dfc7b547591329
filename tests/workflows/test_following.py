"""Running journeys follow the customer (issue 13), in time skipping through the real worker
and outbox: a changed record, a revoked consent, a provider switched on while they run."""

from __future__ import annotations

from domain.messages import ConsentChange, CustomerChanged, InvoiceVoided
from tests.factories import customer, journey_input
from tests.workflows.test_journey import JourneyDriver, journeys, pay, steps_out
from workflows.journey import InvoiceJourney

__all__ = ["journeys"]  # the fixture, shared with test_journey


async def test_a_changed_record_reaches_the_next_step(journeys: JourneyDriver) -> None:
    """New address, number, language and no SMS consent: the next reminder (an SMS step)
    falls back to email, to the new address, in English; the segment stays, recorded."""
    inp = journey_input("inv_moved")
    handle = await journeys.start(inp)
    await journeys.through_step(handle, 0)
    moved = customer(
        email="berit.ek@example.org",
        phone="+46709876543",
        locale="en",
        consent={"email": True, "sms": False, "call": True},
    )
    change = CustomerChanged(
        event_id="evt_cus_moved",
        customer=moved,
        segment="habitual-late",
        segment_reason="2 late payments in the last 6 invoices",
    )
    await handle.signal(InvoiceJourney.customer_updated, change)
    await handle.signal(InvoiceJourney.customer_updated, change)  # delivered twice: once
    state = await journeys.through_step(handle, 1)

    assert state.segment == "standard"
    kinds = [h.kind for h in state.history]
    assert kinds.count("customer") == 1 and kinds.count("segment") == 1
    [seg] = [h for h in state.history if h.kind == "segment"]
    assert "habitual-late" in seg.detail and "next invoice" in seg.detail
    [upd] = [h for h in state.history if h.kind == "customer"]
    assert "email" in upd.detail and "example.org" not in upd.detail  # names, not values
    assert steps_out(state)[-2:] == ["email:fallback", "email:sent"]
    first, second = journeys.outbox("inv_moved")[:2]
    assert (first.step_key, first.to_address) == ("step-0-email", "berit@example.se")
    assert (second.step_key, second.to_address) == ("step-1-email", "berit.ek@example.org")
    assert second.subject is not None and "nvoice" in second.subject  # English now
    assert "Påminnelse" in (first.subject or "")

    await handle.signal(InvoiceJourney.payment_received, pay("evt_moved_pay", str(state.balance)))
    result = await journeys.finish(handle, "customer_updated")
    assert result.phase == "paid"
    thanks = journeys.outbox("inv_moved")[-1]
    assert (thanks.step_key, thanks.to_address) == ("thank-you", "berit.ek@example.org")


async def test_a_record_does_not_undo_the_customers_own_stop(journeys: JourneyDriver) -> None:
    """The billing system's record repeats SMS consent it always had; the STOP the customer
    sent us stands. A new phone number clears a number known bad."""
    inp = journey_input("inv_stopped")
    handle = await journeys.start(inp)
    stop = ConsentChange(event_id="evt_stop", channel="sms", granted=False, source="SMS STOP")
    await handle.signal(InvoiceJourney.consent_changed, stop)
    same = CustomerChanged(event_id="evt_cus_same", customer=customer(name="Berit Ek"))
    await handle.signal(InvoiceJourney.customer_updated, same)
    state = await journeys.through_step(handle, 1)
    assert "sms" in state.channels_unavailable
    assert steps_out(state)[-2:] == ["email:fallback", "email:sent"]
    await handle.signal(InvoiceJourney.invoice_voided, InvoiceVoided(event_id="evt_void_stop"))
    assert (await handle.result()).phase == "voided"
