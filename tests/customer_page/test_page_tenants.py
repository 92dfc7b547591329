"""The customer page of a tenant's invoice over real HTTP: the link names its tenant under the
signature, the page reads that tenant's store and acts on that tenant's journey (a rating is
stored in that tenant's store), and shows the tenant's name, colours and logo, all inlined
(nothing from another host). Links issued before tenants keep opening the default tenant's
invoice."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select
from structlog.testing import capture_logs
from temporalio.client import WorkflowHandle

from activities.rendering import format_hours
from domain.models import JourneyInput, workflow_id_for
from domain.state import JourneyState
from infra.customer_links import page_secret, token_for, verified_link
from infra.policy_file import load_policies
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, session_scope
from infra.store_page import CsatRatingRow
from infra.tenants import forget_cached
from starter.csat import rating_for
from starter.pay_brand import MAX_LOGO_BYTES, LogoError, brand_of, read_logo
from tests.customer_page.stack import page_path
from tests.customer_page.test_page_http import open_page, start
from tests.factories import journey_input
from tests.starter.conftest import Stack, issued, payment
from tests.tenants import add_tenant, policy_file_with
from workflows.journey import InvoiceJourney

ACME_COLOUR = "#b0341c"
ACME_ACCENT = "#fff4ec"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, made here (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def acme_tenant(stack: Stack, logo: Path | None = None) -> Settings:
    """Acme, in its brand (with `logo`, if given)."""
    brand = {
        "brand_name": "Acme Inkasso AB",
        "brand_primary_color": ACME_COLOUR,
        "brand_accent_color": ACME_ACCENT,
    }
    if logo is not None:
        brand["brand_logo_file"] = str(logo)
    return add_tenant(stack.settings, "acme", settings=brand)


async def start_acme(
    stack: Stack, acme: Settings, invoice_id: str
) -> WorkflowHandle[InvoiceJourney, JourneyState]:
    """Acme's invoice with the same id as the default tenant's, for another amount."""
    inp = journey_input(invoice_id)
    inp = inp.model_copy(
        update={
            "tenant": "acme",
            "invoice": inp.invoice.model_copy(update={"amount_due": Decimal("7777.00")}),
        }
    )
    assert isinstance(inp, JourneyInput)
    with session_scope(acme.store_url) as s:
        s.add(CustomerRow.from_customer(inp.customer))
        s.add(InvoiceRow.from_invoice(inp.invoice, segment=inp.segment, segment_reason="test"))
    return await stack.client.start_workflow(
        InvoiceJourney.run,
        inp,
        id=workflow_id_for(invoice_id, "acme"),
        task_queue=stack.settings.temporal_task_queue,
    )


async def test_an_acme_invoice_page_is_acmes(page_stack: Stack, tmp_path: Path) -> None:
    logo = tmp_path / "acme.png"
    logo.write_bytes(png(96, 32, (176, 52, 28)))
    acme = acme_tenant(page_stack, logo)
    try:
        invoice_id = await start(page_stack, issued(amount="1111.00"))
        handle = await start_acme(page_stack, acme, invoice_id)
        token = token_for(page_secret(acme), invoice_id, "acme")
        assert token.startswith("acme.")
        page, csrf = await open_page(page_stack.http, f"/pay/{token}")
        text = page.text
        assert "7\xa0777,00" in text and "1\xa0111" not in text  # acme's row, not the default's
        assert "Acme Inkasso AB" in text
        assert f"--brand-primary:{ACME_COLOUR}" in text
        assert f"--brand-accent:{ACME_ACCENT}" in text
        assert 'class="logo" src="data:image/png;base64,' in text
        policy = page.headers["content-security-policy"]
        assert "img-src 'self' data:" in policy and "'sha256-" in policy
        # Nothing is loaded from anywhere but this page's own host or the page itself.
        for url in re.findall(r'(?:src|href)="([^"]+)"', text):
            if url.startswith(("/", "data:image/", "#", "?")):
                continue
            assert re.search(r'<a [^>]*href="' + re.escape(url), text), url  # a link, not a load

        # The page acts on acme's journey; the default tenant's twin is left alone.
        day = (date.today() + timedelta(days=5)).isoformat()
        done = await page_stack.http.post(
            f"/pay/{token}/promise", data={"csrf": csrf, "promise_date": day}
        )
        assert done.status_code == 200, done.text
        assert (await handle.query(InvoiceJourney.state)).phase == "promised"
        default = page_stack.client.get_workflow_handle(
            workflow_id_for(invoice_id), result_type=JourneyState
        )
        assert (await default.query(InvoiceJourney.state)).phase == "scheduled"

        # A link from before tenants opens the default tenant's invoice, in its own brand.
        old = await page_stack.http.get(page_path(page_stack.settings, invoice_id))
        assert old.status_code == 200
        assert "1\xa0111,00" in old.text and "Acme Inkasso" not in old.text

        # The tenant is under the signature: no link can be edited into another tenant's.
        lid_sig = token.removeprefix("acme.")
        default_token = page_path(page_stack.settings, invoice_id).removeprefix("/pay/")
        for forged in (lid_sig, f"acme.{default_token}", f"default.{default_token}"):
            refused = await page_stack.http.get(f"/pay/{forged}")
            assert refused.status_code == 403, forged
            assert "7\xa0777" not in refused.text
    finally:
        forget_cached()


async def test_a_missing_logo_is_logged_and_the_page_still_renders(
    page_stack: Stack, tmp_path: Path
) -> None:
    acme = acme_tenant(page_stack, tmp_path / "gone.png")
    try:
        invoice_id = "inv_" + tmp_path.name[-8:]
        await start_acme(page_stack, acme, invoice_id)
        token = token_for(page_secret(acme), invoice_id, "acme")
        with capture_logs() as logs:
            page, _ = await open_page(page_stack.http, f"/pay/{token}")
        assert "Acme Inkasso AB" in page.text and 'class="logo"' not in page.text
        [logged] = [e for e in logs if e["event"] == "brand logo not shown"]
        assert logged["log_level"] == "error" and logged["tenant"] == "acme"
        assert "gone.png" in logged["error"]
    finally:
        forget_cached()


def test_logo_files_are_checked(tmp_path: Path, settings: Settings) -> None:
    good = tmp_path / "logo.png"
    good.write_bytes(png(4, 4, (0, 0, 0)))
    assert read_logo(good).startswith("data:image/png;base64,iVBORw0KGgo")
    svg = tmp_path / "logo.svg"
    svg.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')
    assert read_logo(svg).startswith("data:image/svg+xml;base64,")
    text = tmp_path / "logo.txt"
    text.write_text("not a logo")
    big = tmp_path / "big.png"
    big.write_bytes(png(4, 4, (0, 0, 0)) + b"\0" * MAX_LOGO_BYTES)
    for bad, problem in [
        (text, "not a PNG or SVG"),
        (big, "more than"),
        (tmp_path / "missing.png", "No such file"),
    ]:
        with pytest.raises(LogoError, match=problem) as err:
            read_logo(bad)
        assert str(bad) in str(err.value)
    # Without BRAND_NAME, the first line of the company's address names the page.
    plain = settings.model_copy(update={"company_address": "Norrland Kredit AB|Box 1|Umeå"})
    assert brand_of(plain).name == "Norrland Kredit AB" and brand_of(plain).logo_uri is None


def test_a_token_names_its_tenant_under_the_signature() -> None:
    secret = b"k" * 32
    assert verified_link(secret, token_for(secret, "inv_1")) is not None
    acme = token_for(secret, "inv_1", "acme")
    tenant, lid = verified_link(secret, acme) or ("", "")
    assert tenant == "acme" and lid not in token_for(secret, "inv_1")  # ids differ per tenant
    beta = "beta." + acme.removeprefix("acme.")
    assert verified_link(secret, beta) is None


async def test_a_rating_on_acmes_page_is_stored_in_acmes_store_only(page_stack: Stack) -> None:
    acme = acme_tenant(page_stack)
    try:
        invoice_id = await start(page_stack, issued(amount="1111.00"))
        mine = await start_acme(page_stack, acme, invoice_id)
        theirs = page_stack.client.get_workflow_handle(
            workflow_id_for(invoice_id), result_type=JourneyState
        )
        for tenant, amount in ((None, "1111.00"), ("acme", "7777.00")):  # both twins paid
            params = {"tenant": tenant} if tenant else {}
            paid = await page_stack.http.post(
                "/v1/events", json=payment(invoice_id, amount), params=params
            )
            assert paid.status_code == 202, paid.text
        for handle in (mine, theirs):
            assert (await asyncio.wait_for(handle.result(), timeout=30)).phase == "paid"

        token = token_for(page_secret(acme), invoice_id, "acme")
        page, csrf = await open_page(page_stack.http, f"/pay/{token}")
        assert "Hur kändes våra påminnelser?" in page.text
        rated = await page_stack.http.post(
            f"/pay/{token}/rating", data={"csrf": csrf, "rating": "4", "comment": "Acme ok"}
        )
        assert rated.status_code == 200 and "Tack för ditt betyg!" in rated.text
        row = rating_for(acme.store_url, mine.id)
        assert row is not None
        assert (row.invoice_id, row.rating, row.comment) == (invoice_id, 4, "Acme ok")
        assert csat_rows(page_stack.settings) == []  # the default tenant's store: none

        # The default tenant's twin, rated on its own page, is its own row in its own store.
        path = page_path(page_stack.settings, invoice_id)
        _, csrf = await open_page(page_stack.http, path)
        other = await page_stack.http.post(f"{path}/rating", data={"csrf": csrf, "rating": "1"})
        assert other.status_code == 200, other.text
        assert [(r.workflow_id, r.rating) for r in csat_rows(page_stack.settings)] == [
            (theirs.id, 1)
        ]
        assert [(r.workflow_id, r.rating) for r in csat_rows(acme)] == [(mine.id, 4)]
    finally:
        forget_cached()


def csat_rows(settings: Settings) -> list[CsatRatingRow]:
    with session_scope(settings.store_url) as s:
        return list(s.exec(select(CsatRatingRow)).all())


async def test_the_page_names_its_tenants_opening_hours(page_stack: Stack, tmp_path: Path) -> None:
    """Customer service's hours on acme's page are acme's (its policy file), not the
    deployment's: a customer who calls at the hours shown finds someone there."""
    hours = '["13:00-15:00"]'
    days = {day: hours for day in ("mon", "tue", "wed", "thu", "fri")}
    policies = policy_file_with(page_stack.settings.policy_file, tmp_path, **days)
    acme = add_tenant(page_stack.settings, "acme", policies=policies)
    try:
        invoice_id = await start(page_stack, issued())
        await start_acme(page_stack, acme, invoice_id)
        acme_page, _ = await open_page(
            page_stack.http, f"/pay/{token_for(page_secret(acme), invoice_id, 'acme')}"
        )
        default_page, _ = await open_page(
            page_stack.http, page_path(page_stack.settings, invoice_id)
        )
        ours = format_hours(load_policies(policies).opening_hours, "sv")
        theirs = format_hours(load_policies(page_stack.settings.policy_file).opening_hours, "sv")
        assert "13:00–15:00" in ours and ours != theirs
        assert ours in acme_page.text and theirs not in acme_page.text
        assert theirs in default_page.text and ours not in default_page.text
    finally:
        forget_cached()
