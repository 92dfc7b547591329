"""A tenant's customer page in headless Chromium: the tenant's colours and logo are what the
browser shows, the Content Security Policy lets exactly them through (no violation), and
nothing is loaded from another host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.customer_links import page_secret, token_for
from infra.tenants import forget_cached
from tests.browser.helpers import same_host_only, screenshots
from tests.customer_page.test_page_tenants import acme_tenant, png, start_acme
from tests.starter.conftest import Stack


async def test_an_acme_page_in_acmes_colours_and_logo(
    phone: Any, page_stack: Stack, tmp_path: Path
) -> None:
    logo = tmp_path / "acme.png"
    logo.write_bytes(png(120, 40, (240, 160, 40)))
    acme = acme_tenant(page_stack, logo)
    refused: list[str] = []
    phone.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    try:
        invoice_id = "inv_" + tmp_path.name[-10:]
        await start_acme(page_stack, acme, invoice_id)
        token = token_for(page_secret(acme), invoice_id, "acme")
        await phone.goto(f"{page_stack.base_url}/pay/{token}")
        header = phone.locator("header.top")
        colour = await header.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(176, 52, 28)"  # ACME_COLOUR, #b0341c
        background = await phone.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(255, 244, 236)"  # ACME_ACCENT, #fff4ec
        assert await phone.locator(".brand-name").inner_text() == "Acme Inkasso AB"
        width = await phone.locator("img.logo").evaluate("img => img.naturalWidth")
        assert width == 120
        await screenshots(phone, "page-tenant-acme")
        assert refused == []
        same_host_only(phone, page_stack)
    finally:
        forget_cached()
