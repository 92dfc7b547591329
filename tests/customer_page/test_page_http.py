"""The customer page over real HTTP (no browser): a link opens only its own invoice, carries
no personal data, and the CSRF check, the rate limits and bad links answer in plain words."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse

import httpx
from sqlmodel import select

from infra.customer_links import revoke
from infra.store import InvoiceRow, session_scope
from infra.store_page import CsatRatingRow
from starter.api import create_app
from starter.journey_calendar import compressed_clock
from tests.api_server import free_port
from tests.customer_page.stack import journey, overdue, page_path, page_settings, wait_for_outbox
from tests.factories import invoice_row
from tests.starter.conftest import Stack, issued, payment

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def start(stack: Stack, event: dict[str, object]) -> str:
    response = await stack.http.post("/v1/events", json=event)
    assert response.status_code == 202, response.text
    invoice_id: str = event["data"]["invoice"]["id"]  # type: ignore[index]
    return invoice_id


async def open_page(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, str]:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match, "the page has no CSRF field"
    return page, match.group(1)


async def test_a_link_opens_only_its_own_invoice(page_stack: Stack) -> None:
    mine = await start(page_stack, issued(amount="1111.00"))
    other = await start(page_stack, issued(amount="2222.00"))
    settings = page_stack.settings
    page, csrf = await open_page(page_stack.http, page_path(settings, mine))
    assert mine.removeprefix("inv_") in page.text and "1\xa0111,00" in page.text
    assert other.removeprefix("inv_") not in page.text and "2\xa0222" not in page.text

    # Acting through my link with the other invoice named anywhere acts on mine only.
    day = (date.today() + timedelta(days=5)).isoformat()
    done = await page_stack.http.post(
        f"{page_path(settings, mine)}/promise?invoice_id={other}",
        data={"csrf": csrf, "promise_date": day, "invoice_id": other, "invoice": other},
    )
    assert done.status_code == 200, done.text
    assert (await journey(page_stack, mine)).phase == "promised"
    assert (await journey(page_stack, other)).phase == "scheduled"

    # My link id with the other invoice's signature (or the reverse) opens nothing.
    mine_id, mine_sig = page_path(settings, mine).removeprefix("/pay/").split(".")
    other_id, other_sig = page_path(settings, other).removeprefix("/pay/").split(".")
    for forged in (f"{mine_id}.{other_sig}", f"{other_id}.{mine_sig}"):
        refused = await page_stack.http.get(f"/pay/{forged}")
        assert refused.status_code == 403
        assert "Den här länken är inte giltig" in refused.text
        assert other.removeprefix("inv_") not in refused.text


async def test_the_link_in_a_message_has_no_personal_data(page_stack: Stack) -> None:
    event = overdue()
    invoice_id = await start(page_stack, event)
    sms = await wait_for_outbox(page_stack, invoice_id, "sms")
    [link] = re.findall(r"http://\S+/pay/\S+", sms.body)
    assert link == page_stack.base_url + page_path(page_stack.settings, invoice_id)
    customer = event["data"]["customer"]
    path = urlparse(link).path + urlparse(link).query
    for value in [invoice_id, customer["id"], customer["name"], customer["email"], "46701234567"]:
        for word in str(value).lower().replace("@", " ").replace("+", " ").split():
            assert word not in path.lower(), (word, link)


async def test_a_form_without_its_csrf_field_is_refused_and_changes_nothing(
    page_stack: Stack,
) -> None:
    invoice_id = await start(page_stack, issued())
    path = page_path(page_stack.settings, invoice_id)
    day = (date.today() + timedelta(days=5)).isoformat()
    bare = await page_stack.http.post(f"{path}/promise", data={"promise_date": day})
    assert bare.status_code == 403
    assert "Formuläret kunde inte skickas" in bare.text and "Ladda om sidan" in bare.text
    _, csrf = await open_page(page_stack.http, path)
    # A field made for another cookie (another browser, another site) is refused too.
    async with httpx.AsyncClient(base_url=page_stack.base_url) as stranger:
        forged = await stranger.post(f"{path}/promise", data={"csrf": csrf, "promise_date": day})
    assert forged.status_code == 403
    assert (await journey(page_stack, invoice_id)).phase == "scheduled"
    scraped = (await page_stack.http.get("/metrics")).text
    assert 'journeys_customer_page_refused_total{reason="csrf"}' in scraped


async def test_a_refusal_is_shown_in_plain_words_in_the_customers_language(
    page_stack: Stack,
) -> None:
    invoice_id = await start(page_stack, issued(locale="en"))
    path = page_path(page_stack.settings, invoice_id)
    _, csrf = await open_page(page_stack.http, path)
    too_far = (date.today() + timedelta(days=45)).isoformat()
    refused = await page_stack.http.post(
        f"{path}/promise", data={"csrf": csrf, "promise_date": too_far, "lang": "en"}
    )
    assert refused.status_code == 409
    assert "That did not work: that date is too far ahead; ask for a payment plan" in refused.text
    bad = await page_stack.http.post(
        f"{path}/promise", data={"csrf": csrf, "promise_date": "soon", "lang": "en"}
    )
    assert bad.status_code == 422 and "Please check your answer: enter a date" in bad.text
    assert (await journey(page_stack, invoice_id)).phase == "scheduled"


async def test_expired_revoked_and_tampered_links_get_a_friendly_page(page_stack: Stack) -> None:
    settings = page_stack.settings
    expired_id = await start(page_stack, issued(locale="en"))
    with session_scope(settings.store_url) as s:
        row = s.get(InvoiceRow, expired_id)
        assert row is not None
        row.status, row.closed_at = "paid", datetime.now(UTC) - timedelta(days=61)
        s.add(row)
    gone = await page_stack.http.get(page_path(settings, expired_id))
    assert gone.status_code == 410 and "This link has expired" in gone.text
    assert "Opening hours" in gone.text and "Mon–Sun 00:00–24:00" in gone.text
    assert '<html lang="en">' in gone.text

    revoked_id = await start(page_stack, issued())
    assert revoke(settings, revoked_id)
    withdrawn = await page_stack.http.get(page_path(settings, revoked_id))
    assert withdrawn.status_code == 410 and "Den här länken har dragits tillbaka" in withdrawn.text

    path = page_path(settings, revoked_id)
    tampered = await page_stack.http.get(path[:-2] + ("xx" if not path.endswith("xx") else "yy"))
    assert tampered.status_code == 403 and "Den här länken är inte giltig" in tampered.text
    english = await page_stack.http.get("/pay/nonsense", headers={"Accept-Language": "en-GB"})
    assert english.status_code == 403 and "This link is not valid" in english.text
    for response in (gone, withdrawn, tampered, english):
        assert "Traceback" not in response.text and "detail" not in response.text


async def test_a_rating_after_payment_is_stored_once_per_journey(page_stack: Stack) -> None:
    invoice_id = await start(page_stack, issued())
    paid = await page_stack.http.post("/v1/events", json=payment(invoice_id))
    assert paid.status_code == 202
    path = page_path(page_stack.settings, invoice_id)
    for _ in range(100):
        if (await journey(page_stack, invoice_id)).phase == "paid":
            break
        await asyncio.sleep(0.05)
    page, csrf = await open_page(page_stack.http, path)
    assert "Hur kändes våra påminnelser?" in page.text
    first = await page_stack.http.post(f"{path}/rating", data={"csrf": csrf, "rating": "2"})
    assert first.status_code == 200 and "Tack för ditt betyg!" in first.text
    second = await page_stack.http.post(
        f"{path}/rating", data={"csrf": csrf, "rating": "5", "comment": "Vänligt och tydligt"}
    )
    assert "Ditt betyg: 5 av 5" in second.text
    with session_scope(page_stack.settings.store_url) as s:
        [row] = s.exec(select(CsatRatingRow)).all()
    assert (row.invoice_id, row.rating, row.comment, row.phase) == (
        invoice_id,
        5,
        "Vänligt och tydligt",
        "paid",
    )
    assert row.step_index is None  # paid before any reminder went out
    bad = await page_stack.http.post(f"{path}/rating", data={"csrf": csrf, "rating": "9"})
    assert bad.status_code == 422 and "välj ett betyg mellan 1 och 5" in bad.text


async def test_actions_are_rate_limited_per_link_and_pages_per_address(
    page_stack: Stack,
) -> None:
    limited = page_settings(
        page_stack.settings,
        free_port(),
        customer_page_actions_per_token=2,
        customer_page_requests_per_address=6,
    )
    invoice_id = await start(page_stack, issued())
    path = page_path(limited, invoice_id)
    app = create_app(limited, client=page_stack.client)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        _, csrf = await open_page(http, path)  # request 1 from this address
        statuses = []
        for _ in range(3):  # requests 2-4; actions 1-3 on this link
            response = await http.post(f"{path}/dispute", data={"csrf": csrf, "reason": ""})
            statuses.append(response.status_code)
        assert statuses == [422, 422, 429]
        assert "för många försök" in response.text
        assert (await http.get(path)).status_code == 200  # 5
        assert (await http.get("/pay/made.up")).status_code == 403  # 6
        blocked = await http.get(path)  # 7: this address has had its share
        assert blocked.status_code == 429 and "Vänta några minuter" in blocked.text


async def test_on_the_demo_clock_the_page_offers_the_journeys_dates(page_stack: Stack) -> None:
    """One journey day per second, started 40 s ago: the journey is 40 days past its issue
    date, and a promise the page offers must be one the journey accepts."""
    issued_at = date.today()
    with session_scope(page_stack.settings.store_url) as s:
        demo = invoice_row(
            "inv_demo",
            issued_at,
            segment="standard",
            customer_id="cus_demo",
            amount_due=Decimal("100.00"),
            due_date=issued_at + timedelta(days=10),
        )
        s.add(demo)
    clock = compressed_clock(1, datetime.now(UTC) - timedelta(seconds=40))
    app = create_app(page_stack.settings, client=page_stack.client, clock=clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        page = await http.get(page_path(page_stack.settings, "inv_demo"))
    assert page.status_code == 200, page.text
    journey_day = issued_at + timedelta(days=40)
    assert f'min="{journey_day.isoformat()}"' in page.text or (
        f'min="{(journey_day + timedelta(days=1)).isoformat()}"' in page.text
    )


async def test_a_payment_link_that_is_not_a_web_address_is_not_offered(page_stack: Stack) -> None:
    event = issued()
    event["data"]["invoice"]["payment_url"] = "javascript:alert(1)"
    invoice_id = await start(page_stack, event)
    page, _ = await open_page(page_stack.http, page_path(page_stack.settings, invoice_id))
    assert "javascript:" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
