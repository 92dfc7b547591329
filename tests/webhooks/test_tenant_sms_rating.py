"""A rating by SMS for tenant acme over real HTTP: a digit answering acme's thank-you text,
sent to acme's number in acme's Twilio account, is stored in acme's store as the rating of
acme's journey; the default tenant's twin (the same invoice, customer and phone, thanked by
SMS too) is not rated, and its own rating stays in its own store."""

from __future__ import annotations

from sqlmodel import select

from infra.settings import Settings
from infra.store import session_scope
from infra.store_page import CsatRatingRow
from starter import csat
from starter.sms_rating import THANK_YOU_STEP
from tests.webhooks.acme import (  # noqa: F401  (acme_fixture: the fixture acme)
    ACME_TWILIO_TOKEN,
    Acme,
    acme_fixture,
    acme_sms,
    twins,
)
from tests.webhooks.conftest import Inbound, new_id, seed_attempt
from tests.webhooks.test_twilio import SMS, sms


def ratings(settings: Settings) -> list[tuple[str, int]]:
    with session_scope(settings.store_url) as s:
        return [(r.workflow_id, r.rating) for r in s.exec(select(CsatRatingRow)).all()]


async def test_a_digit_answering_acmes_thank_you_rates_acmes_journey_only(
    inbound: Inbound, acme: Acme
) -> None:
    default, mine = await twins(inbound, acme)
    # Both twins thanked by SMS (the same customer and phone in both companies).
    for settings, journey in ((inbound.settings, default), (acme.settings, mine)):
        seed_attempt(settings, journey.invoice_id, THANK_YOU_STEP, "sms", "twilio", new_id("SM"))

    form = acme_sms("4")
    response = await inbound.twilio(SMS, form, token=ACME_TWILIO_TOKEN)
    assert response.status_code == 200, response.text
    assert "Tack för ditt betyg!" in response.text
    row = csat.rating_for(acme.settings.store_url, mine.handle.id)
    assert row is not None and (row.invoice_id, row.rating) == (mine.invoice_id, 4)
    assert ratings(inbound.settings) == []  # the default tenant's store: no rating

    # The default tenant's customer rates by SMS to the default's number: its own store.
    theirs = await inbound.twilio(SMS, sms("2"))
    assert theirs.status_code == 200 and "Tack för ditt betyg!" in theirs.text
    assert ratings(inbound.settings) == [(default.handle.id, 2)]
    assert ratings(acme.settings) == [(mine.handle.id, 4)]
