"""The dev inbox: newest first, filtered by customer and by invoice, links clickable, only
while the outbox delivers, and its old address redirecting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx

from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, OutboxMessageRow, session_scope
from infra.tenants import forget_cached
from starter.api import create_app
from starter.dev_inbox import linkify
from tests.factories import with_live_providers
from tests.tenants import add_tenant


def seed(settings: Settings) -> None:
    now = datetime.now(UTC)
    with session_scope(settings.store_url) as s:
        for n, (customer, name) in enumerate([("cus_a", "Anna Ek"), ("cus_b", "Bo Berg")]):
            s.add(CustomerRow(id=customer, name=name))
            s.add(
                InvoiceRow(
                    id=f"inv_{customer}",
                    number=f"N{n}",
                    customer_id=customer,
                    currency="SEK",
                    issued_at=date(2026, 11, 1),
                    due_date=date(2026, 11, 30),
                )
            )
        for i, invoice in enumerate(["inv_cus_a", "inv_cus_b", "inv_cus_a"]):
            s.add(
                OutboxMessageRow(
                    invoice_id=invoice,
                    step_key=f"step-{i}-sms",
                    channel="sms",
                    to_address="+46700000000",
                    body=f"message {i}: pay at http://localhost:8000/pay/abc.def now.",
                    created_at=now + timedelta(seconds=i),
                )
            )


async def get(settings: Settings, path: str) -> httpx.Response:
    app = create_app(settings)
    app.state.client = None  # the inbox needs no Temporal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path)


async def test_newest_first_and_filtered(settings: Settings) -> None:
    seed(settings)
    page = await get(settings, "/dev/inbox")
    assert page.status_code == 200
    text = page.text
    assert text.index("message 2") < text.index("message 1") < text.index("message 0")
    assert '<a href="http://localhost:8000/pay/abc.def">' in text  # the trailing dot is not
    only_b = (await get(settings, "/dev/inbox?customer=cus_b")).text
    assert "message 1" in only_b and "message 0" not in only_b and "message 2" not in only_b
    only_a = (await get(settings, "/dev/inbox?invoice=inv_cus_a")).text
    assert "message 0" in only_a and "message 2" in only_a and "message 1" not in only_a
    assert "Anna Ek (cus_a)" in only_a  # the customer filter lists who has invoices


async def test_the_old_address_redirects_and_providers_switch_it_off(settings: Settings) -> None:
    moved = await get(settings, "/dev/outbox?customer=cus_b")
    assert moved.status_code == 308 and moved.headers["location"] == "/dev/inbox?customer=cus_b"
    providers = with_live_providers(settings)
    assert (await get(providers, "/dev/inbox")).status_code == 404


def test_linkify_escapes_everything_but_the_links() -> None:
    html = str(linkify('<b>hi</b> see https://x.example/a?b=1&c="2" ok'))
    assert html.startswith("&lt;b&gt;hi&lt;/b&gt; see ")
    assert '<a href="https://x.example/a?b=1&amp;c=">https://x.example/a?b=1&amp;c=</a>' in html


async def test_every_tenants_outbox_with_a_tenant_filter(settings: Settings) -> None:
    seed(settings)
    acme = add_tenant(settings, "acme")
    try:
        with session_scope(acme.store_url) as s:
            s.add(CustomerRow(id="cus_a", name="Acme Kund"))
            s.add(
                OutboxMessageRow(
                    invoice_id="inv_cus_a",
                    step_key="step-0-email",
                    channel="email",
                    to_address="kund@example.se",
                    body="acme message: pay at http://localhost:8000/pay/acme.abc.def",
                    created_at=datetime.now(UTC) + timedelta(minutes=1),
                )
            )
        every = (await get(settings, "/dev/inbox")).text
        assert every.index("acme message") < every.index("message 2")  # newest first, across
        assert 'data-tenant="acme"' in every and 'data-tenant="default"' in every
        assert '<option value="acme" >acme</option>' in every.replace("  ", " ")
        only_acme = (await get(settings, "/dev/inbox?tenant=acme")).text
        assert "acme message" in only_acme and "message 0" not in only_acme
        only_default = (await get(settings, "/dev/inbox?tenant=default")).text
        assert "acme message" not in only_default and "message 0" in only_default
    finally:
        forget_cached()
