"""The customer page in headless Chromium against the running API, a worker and Temporal:
each of the customer's answers reaches the journey and the page shows its new state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import select

from infra.store import InvoiceRow, session_scope
from infra.store_page import CsatRatingRow
from tests.browser.helpers import (
    notice,
    open_page,
    same_host_only,
    screenshots,
    shown_phase,
    start,
    submit,
    wait_phase,
)
from tests.customer_page.stack import journey, overdue, page_path, wait_for_outbox
from tests.starter.conftest import Stack, issued, payment


async def test_from_the_sms_in_the_dev_inbox_to_a_promise(phone: Any, page_stack: Stack) -> None:
    invoice_id = await start(page_stack, overdue())
    await wait_for_outbox(page_stack, invoice_id, "sms")
    await phone.goto(f"{page_stack.base_url}/dev/inbox?invoice={invoice_id}")
    await screenshots(phone, "dev-inbox")
    sms = phone.locator("article[data-channel=sms]")
    async with phone.expect_navigation():
        await sms.locator("a[href*='/pay/']").click()
    assert phone.url.startswith(page_stack.base_url + "/pay/")
    assert await phone.inner_text("h1") == f"Faktura {invoice_id.removeprefix('inv_')}"
    await screenshots(phone, "page-sv")

    day = date.today() + timedelta(days=10)
    await submit(phone, "promise", {"#promise_date": day.isoformat()})
    assert "Tack! Vi har noterat att du betalar senast" in await notice(phone)
    assert await shown_phase(phone) == "promised"
    state = await journey(page_stack, invoice_id)
    assert state.phase == "promised" and state.promise_date == day
    assert state.history[-1].actor == "customer:web"
    await screenshots(phone, "page-sv-promised")
    same_host_only(phone, page_stack)


async def test_a_plan_within_the_limit_is_approved_and_beyond_it_goes_to_an_agent(
    phone: Any, page_stack: Stack
) -> None:
    within = await start(page_stack, issued())
    await open_page(phone, page_stack, within)
    await submit(phone, "plan", months="3")
    assert "Din avbetalningsplan är godkänd: 3 månadsbetalningar" in await notice(phone)
    assert await shown_phase(phone) == "plan_active"
    assert (await journey(page_stack, within)).phase == "plan_active"

    beyond = await start(page_stack, issued())
    await open_page(phone, page_stack, beyond)
    await submit(phone, "plan", months="12")
    assert "Kundservice tittar på din önskan om 12 månader" in await notice(phone)
    state = await journey(page_stack, beyond)
    assert state.phase == "plan_requested"
    assert any("payment plan over 12 months" in task for task in state.open_tasks)


async def test_a_dispute_blocks_handover(phone: Any, page_stack: Stack) -> None:
    invoice_id = await start(page_stack, issued())
    await open_page(phone, page_stack, invoice_id)
    await submit(phone, "dispute", {"#reason": "Varorna kom aldrig fram."})
    assert "vi har tagit emot din invändning" in await notice(phone)
    state = await journey(page_stack, invoice_id)
    assert state.phase == "disputed"
    assert "Varorna kom aldrig fram." in state.history[-1].detail
    handover = await page_stack.http.post(
        f"/v1/invoices/{invoice_id}/actions", json={"action": "approve-handover", "agent": "a1"}
    )
    assert handover.status_code == 409
    assert "a disputed claim cannot be approved for handover" in handover.json()["detail"]


async def test_asking_to_be_called_is_an_agent_task_with_the_time(
    phone: Any, page_stack: Stack
) -> None:
    invoice_id = await start(page_stack, issued())
    await open_page(phone, page_stack, invoice_id)
    first_slot = await phone.locator("select#slot option").first.get_attribute("value")
    label = await phone.locator("select#slot option").first.inner_text()
    await submit(phone, "call", slot=first_slot)
    assert f"Tack! Vi ringer dig {label}" in await notice(phone)
    state = await journey(page_stack, invoice_id)
    assert state.phase == "paused"
    [task] = state.open_tasks
    assert "call the customer at" in task and "Europe/Stockholm" in task


async def test_pay_then_rate(phone: Any, page_stack: Stack) -> None:
    invoice_id = await start(page_stack, issued())
    await open_page(phone, page_stack, invoice_id)
    assert await phone.locator("#rating-h").count() == 0  # no rating before it is settled
    paid = await page_stack.http.post("/v1/events", json=payment(invoice_id))
    assert paid.status_code == 202
    await wait_phase(page_stack, invoice_id, "paid")
    await phone.reload()
    assert await shown_phase(phone) == "paid"
    await phone.click("label[for=rating-4]")
    await phone.fill("#comment", "Tydligt och vänligt.")
    async with phone.expect_navigation():
        await phone.click("#rating-h ~ form button[type=submit]")
    assert await notice(phone) == "Tack för ditt betyg!"
    await screenshots(phone, "page-sv-rated")
    with session_scope(page_stack.settings.store_url) as s:
        [row] = s.exec(select(CsatRatingRow).where(CsatRatingRow.invoice_id == invoice_id)).all()
    assert (row.rating, row.comment, row.phase) == (4, "Tydligt och vänligt.", "paid")


async def test_expired_and_tampered_links(phone: Any, page_stack: Stack) -> None:
    invoice_id = await start(page_stack, issued(locale="en"))
    path = page_path(page_stack.settings, invoice_id)
    tampered = await phone.goto(page_stack.base_url + path[:-1] + ("A" if path[-1] != "A" else "B"))
    assert tampered.status == 403
    assert "Den här länken är inte giltig" in await phone.inner_text("main")
    with session_scope(page_stack.settings.store_url) as s:
        row = s.get(InvoiceRow, invoice_id)
        assert row is not None
        row.status, row.closed_at = "paid", datetime.now(UTC) - timedelta(days=90)
        s.add(row)
    expired = await phone.goto(page_stack.base_url + path)
    assert expired.status == 410
    assert "This link has expired" in await phone.inner_text("main")
    assert await phone.get_attribute("html", "lang") == "en"
    await screenshots(phone, "link-expired")


async def test_swedish_and_english_with_a_switch_and_labels_for_every_field(
    phone: Any, page_stack: Stack
) -> None:
    invoice_id = await start(page_stack, issued())
    await open_page(phone, page_stack, invoice_id)
    assert await phone.get_attribute("html", "lang") == "sv"
    assert await phone.inner_text("#summary-h") == "Din faktura"
    async with phone.expect_navigation():
        await phone.click("a.switch")
    assert await phone.get_attribute("html", "lang") == "en"
    assert await phone.inner_text("#summary-h") == "Your invoice"
    assert "Left to pay" in await phone.inner_text("main")
    await screenshots(phone, "page-en")
    unlabelled = await phone.evaluate(
        """() => [...document.querySelectorAll(
            'input:not([type=hidden]), select, textarea')]
            .filter(e => e.labels.length === 0).map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    # The keyboard reaches the skip link first and it moves focus to the content.
    await phone.keyboard.press("Tab")
    assert await phone.evaluate("document.activeElement.className") == "skip"
    await phone.keyboard.press("Enter")
    assert await phone.evaluate("document.activeElement.id") == "main"
    # An English answer keeps the page in English.
    await submit(
        phone, "promise", {"#promise_date": (date.today() + timedelta(days=3)).isoformat()}
    )
    assert "Thank you! We have noted that you will pay by" in await notice(phone)
    same_host_only(phone, page_stack)


async def test_the_page_works_with_javascript_off(browser: Any, page_stack: Stack) -> None:
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    page = await context.new_page()
    try:
        invoice_id = await start(page_stack, issued())
        await open_page(page, page_stack, invoice_id)
        await submit(page, "plan", months="2")
        assert "avbetalningsplan är godkänd" in await notice(page)
        assert (await journey(page_stack, invoice_id)).phase == "plan_active"
        await screenshots(page, "page-sv-no-js")
    finally:
        await context.close()
