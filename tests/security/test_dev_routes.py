"""The dev routes (`DevOnly` in the authorisation table) exist only in the embedded default,
while some channel delivers to the outbox: with SendGrid and Twilio configured every one of
them is 404, the letters' PDFs included, although the outbox still holds what it received
before. While they exist they take a key like any read."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx

from infra.settings import Settings
from infra.store import CustomerRow, OutboxMessageRow, letter_body, session_scope
from starter.api import create_app
from tests.factories import invoice_row, with_live_providers
from tests.security.test_route_authorisation import ROUTES, DevOnly
from tests.webhooks.conftest import BOOTSTRAP_KEY

PDF = b"%PDF-1.4 a letter with a name and a postal address"


def seed_letter(settings: Settings) -> int:
    with session_scope(settings.store_url) as s:
        s.add(CustomerRow(id="cus_dev", name="Dora Dev"))
        s.add(invoice_row("inv_dev", date(2026, 11, 1), customer_id="cus_dev"))
        row = OutboxMessageRow(
            invoice_id="inv_dev",
            step_key="step-3-letter",
            channel="letter",
            to_address="Dora Dev|Storgatan 1|111 22 Stockholm",
            body=letter_body("Påminnelse", PDF),
            created_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def dev_urls(message_id: int) -> dict[str, str]:
    urls = {
        route: route.split(" ", 1)[1].format(message_id=message_id)
        for route, access in ROUTES.items()
        if isinstance(access, DevOnly)
    }
    assert urls and all(route.startswith("GET ") for route in urls), urls
    return urls


async def get_all(settings: Settings, urls: dict[str, str], **headers: str) -> dict[str, int]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as h:
        return {route: (await h.get(url)).status_code for route, url in urls.items()}


async def test_dev_routes_are_absent_outside_the_embedded_default(settings: Settings) -> None:
    keyed = settings.model_copy(update={"api_key": BOOTSTRAP_KEY})
    urls = dev_urls(seed_letter(keyed))
    key = {"X-API-Key": BOOTSTRAP_KEY}

    embedded = await get_all(keyed, urls, **key)
    assert set(embedded.values()) <= {200, 308}, embedded  # the old address redirects
    assert embedded["GET /dev/inbox/letters/{message_id}.pdf"] == 200  # the letter is there
    assert set((await get_all(keyed, urls)).values()) == {401}  # a key, like any read

    live = with_live_providers(keyed)
    assert not live.outbox_in_use
    assert await get_all(live, urls, **key) == dict.fromkeys(urls, 404)
    assert set((await get_all(live, urls)).values()) == {401}
