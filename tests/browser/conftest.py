"""Browser tests: Debian's Chromium, headless, driven by the `playwright` package.

The browser is the one `make test` installs (`apt-get install chromium` when /usr/bin/chromium
is missing) and is launched by `executable_path`; playwright never downloads one. The tests run
once per suite run, on the SQLite store: what they prove does not depend on the store, and a
second run on PostgreSQL would only double the time. Screenshots land in build/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from infra.settings import REPO_ROOT
from tests.customer_page.conftest import page_stack  # noqa: F401  (the same running stack)
from tests.starter.conftest import Stack

CHROMIUM = Path(os.environ.get("JOURNEYS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.environ.get("JOURNEYS_TEST_DB", "sqlite") == "postgres":
        reason = "browser tests run once, with the SQLite store (JOURNEYS_TEST_DB=sqlite)"
    elif not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package"
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def phone(browser: Any, page_stack: Stack) -> AsyncIterator[Any]:  # noqa: F811
    """A phone-sized page with JavaScript on; every request it makes is recorded."""
    context = await browser.new_context(viewport=PHONE, locale="sv-SE")
    page = await context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    try:
        yield page
    finally:
        await context.close()
