"""A rating by SMS over real HTTP: a digit 1-5 answering the thank-you text is stored as the
customer page stores a rating (`starter.csat`); a digit from a customer who was not thanked
by SMS is an ordinary message for a person."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from domain.messages import PaymentReceived
from infra.store import ContactAttemptRow, session_scope
from starter import csat
from starter.webhooks_twilio_sms import parse_sms
from tests.factories import journey_input
from tests.webhooks.conftest import (
    Inbound,
    Journey,
    eventually,
    new_id,
    start_input,
    start_journey,
    state_of,
)
from tests.webhooks.test_twilio import SMS, TODAY, sms
from workflows.journey import InvoiceJourney


@pytest.mark.parametrize(
    ("body", "kind", "rating"),
    [("4", "rating", 4), (" 5. ", "rating", 5), ("0", "other", None), ("4 stars", "other", None)],
)
def test_a_lone_digit_1_to_5_is_a_rating(body: str, kind: str, rating: int | None) -> None:
    command = parse_sms(body, TODAY)
    assert (command.kind, command.rating) == (kind, rating)


def thank_you_sms_sent(inbound: Inbound, journey: Journey) -> bool:
    with session_scope(inbound.settings.store_url) as s:
        row = s.exec(
            select(ContactAttemptRow).where(
                ContactAttemptRow.invoice_id == journey.invoice_id,
                ContactAttemptRow.step_key == "thank-you",
            )
        ).first()
        return row is not None and row.channel == "sms" and row.status == "sent"


async def without_email(inbound: Inbound) -> Journey:
    """A running journey for a customer with no email address: written contact goes by SMS."""
    return await start_input(inbound, journey_input(new_id("inv"), email=None))


async def paid_and_thanked_by_sms(inbound: Inbound) -> Journey:
    journey = await without_email(inbound)
    balance = (await state_of(journey)).balance
    payment = PaymentReceived.model_validate(
        {"event_id": f"pay-{journey.invoice_id}", "amount": str(balance), "paid_at": TODAY}
    )
    await journey.handle.signal(InvoiceJourney.payment_received, payment)
    await journey.handle.result()
    for _ in range(100):
        if thank_you_sms_sent(inbound, journey):
            return journey
        await asyncio.sleep(0.05)
    raise AssertionError("no thank-you SMS went out")


async def test_a_digit_answering_the_thank_you_sms_rates_the_journey(inbound: Inbound) -> None:
    journey = await paid_and_thanked_by_sms(inbound)
    url = inbound.settings.store_url
    assert csat.rating_for(url, journey.handle.id) is None

    response = await inbound.twilio(SMS, sms("4"))
    assert response.status_code == 200, response.text
    assert "Tack för ditt betyg!" in response.text
    row = csat.rating_for(url, journey.handle.id)
    assert row is not None
    assert (row.rating, row.invoice_id, row.phase) == (4, journey.invoice_id, "paid")
    assert row.step_index is None  # paid before any reminder step went out

    again = await inbound.twilio(SMS, sms("2"))  # a second rating replaces the first
    assert "Tack för ditt betyg!" in again.text
    replaced = csat.rating_for(url, journey.handle.id)
    assert replaced is not None and replaced.rating == 2


async def test_a_digit_without_a_thank_you_sms_is_a_message_for_a_person(
    inbound: Inbound,
) -> None:
    journey = await start_journey(inbound)
    response = await inbound.twilio(SMS, sms("3"))
    assert "Tack för ditt meddelande" in response.text
    state = await eventually(journey, lambda s: bool(s.open_tasks))
    assert any("SMS: 3" in t for t in state.open_tasks)
    assert csat.rating_for(inbound.settings.store_url, journey.handle.id) is None
