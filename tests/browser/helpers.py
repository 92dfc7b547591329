"""Steps the browser tests share: start a journey, open its page, read the journey."""

from __future__ import annotations

import asyncio
from typing import Any

from domain.state import JourneyState
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.customer_page.stack import journey, page_path
from tests.starter.conftest import Stack


async def start(stack: Stack, event: dict[str, Any]) -> str:
    response = await stack.http.post("/v1/events", json=event)
    assert response.status_code == 202, response.text
    invoice_id: str = event["data"]["invoice"]["id"]
    return invoice_id


async def open_page(page: Any, stack: Stack, invoice_id: str, query: str = "") -> None:
    response = await page.goto(stack.base_url + page_path(stack.settings, invoice_id) + query)
    assert response.status == 200, await response.text()


async def submit(
    page: Any, section: str, fill: dict[str, str] | None = None, **select: str
) -> None:
    """Open one of the page's actions, fill it in and send it (a real form post)."""
    await page.click(f"details#{section} > summary")
    for selector, value in (fill or {}).items():
        await page.fill(selector, value)
    for name, value in select.items():
        await page.select_option(f"select#{name}", value)
    async with page.expect_navigation():
        await page.click(f"details#{section} button[type=submit]")


async def notice(page: Any) -> str:
    text: str = await page.inner_text("#notice")
    return text


async def shown_phase(page: Any) -> str:
    phase: str = await page.get_attribute("#phase", "data-phase")
    return phase


async def wait_phase(stack: Stack, invoice_id: str, phase: str) -> JourneyState:
    state = await journey(stack, invoice_id)
    for _ in range(100):
        if state.phase == phase:
            return state
        await asyncio.sleep(0.05)
        state = await journey(stack, invoice_id)
    raise AssertionError(f"journey {invoice_id} is {state.phase}, not {phase}")


async def screenshots(page: Any, name: str) -> None:
    """The page at a phone's size and a desktop's, whole, under build/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    await page.set_viewport_size(PHONE)


def same_host_only(page: Any, stack: Stack) -> None:
    foreign = [url for url in page.requested if not url.startswith(stack.base_url)]
    assert foreign == [], f"the page loaded from another host: {foreign}"
