"""Customer-page links: signed, unguessable, one per invoice, and without personal data."""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from activities.rendering import SMS_MAX_CHARS, render
from domain.values import CHANNELS, Locale
from infra import customer_links
from infra.customer_links import link_id, page_secret, token_for, verified_link_id
from infra.settings import REPO_ROOT, Settings
from infra.store import session_scope
from tests.activities.factory import delivery_request
from tests.factories import invoice_row

SECRET = b"k" * 40
PERSONAL = ["Berit", "Andersson", "berit@example.se", "+46701234567", "46701234567"]


def decoded(token: str) -> bytes:
    return b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")
    )


def test_a_token_carries_no_invoice_id_and_no_personal_data() -> None:
    invoice_id = "inv-berit-andersson-46701234567"
    token = token_for(SECRET, invoice_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{16}", token)
    for text in [invoice_id, "berit", *PERSONAL]:
        assert text.lower() not in token.lower()
        assert text.lower().encode() not in decoded(token).lower()


def test_the_same_invoice_gets_the_same_link_and_others_another() -> None:
    assert token_for(SECRET, "inv_1") == token_for(SECRET, "inv_1")
    assert link_id(SECRET, "inv_1") != link_id(SECRET, "inv_2")
    assert token_for(SECRET, "inv_1") != token_for(b"other" * 8, "inv_1")


def test_a_tampered_or_made_up_token_is_not_ours() -> None:
    token = token_for(SECRET, "inv_1")
    lid, sig = token.split(".")
    assert verified_link_id(SECRET, token) == lid
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    assert verified_link_id(SECRET, f"{lid}.{flipped}") is None
    other_lid = link_id(SECRET, "inv_2")
    assert verified_link_id(SECRET, f"{other_lid}.{sig}") is None  # a signature is per link
    assert verified_link_id(SECRET, "inv_1") is None
    assert verified_link_id(b"other" * 8, token) is None


def test_the_dev_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = page_secret(settings)
    assert (tmp_path / "customer_page_secret").stat().st_mode & 0o777 == 0o600
    assert page_secret(settings) == first and len(first) >= 32
    assert page_secret(settings.model_copy(update={"customer_page_secret": "s" * 32})) == b"s" * 32
    with pytest.raises(ValueError, match="at least 32 characters"):
        page_secret(settings.model_copy(update={"customer_page_secret": "short"}))


def test_a_link_is_found_for_a_stored_invoice_and_can_be_revoked(settings: Settings) -> None:
    settings = settings.model_copy(update={"customer_page_secret": "s" * 40})
    with session_scope(settings.store_url) as s:
        s.add(invoice_row("inv_7", date(2026, 11, 1), customer_id="cus_7"))
    lid = link_id(page_secret(settings), "inv_7")
    row = customer_links.find_link(settings, lid)
    assert row is not None and row.invoice_id == "inv_7" and row.revoked_at is None
    assert customer_links.find_link(settings, link_id(page_secret(settings), "inv_8")) is None
    assert customer_links.revoke(settings, "inv_7")
    revoked = customer_links.find_link(settings, lid)
    assert revoked is not None and revoked.revoked_at is not None
    assert not customer_links.revoke(settings, "inv_unknown")


TEMPLATES = REPO_ROOT / "templates"
LINKED = ["gentle_reminder", "reminder", "courtesy_call", "reminder_call", "final_notice"]
LINKED += ["thank_you", "installment_reminder"]
PAGE = "https://pay.example.com/pay/ulIIqjkobnjk1NxrVWLG9Q.0oBZPkKY9VmEuFjO"


@pytest.mark.parametrize("locale", ["sv", "en"])
@pytest.mark.parametrize("template", LINKED)
@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != "call"])
def test_every_email_and_sms_links_to_the_page(template: str, channel: str, locale: Locale) -> None:
    request = delivery_request(channel, template=template, locale=locale)  # type: ignore[arg-type]
    body = render(TEMPLATES, request, PAGE).body
    assert PAGE in body
    if channel == "sms":
        assert len(body) <= SMS_MAX_CHARS, body
    assert PAGE not in render(TEMPLATES, request).body  # no link without a page


def test_threads_making_the_dev_secret_at_once_all_get_the_same(tmp_path: Path) -> None:
    path = tmp_path / "customer_page_secret"
    make = customer_links._secret_from_file.__wrapped__
    with ThreadPoolExecutor(16) as pool:
        secrets = set(pool.map(lambda _: make(path), range(64)))
    assert len(secrets) == 1 and sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_without_a_usable_secret_a_message_goes_out_without_its_link(tmp_path: Path) -> None:
    (tmp_path / "customer_page_secret").write_text("short")
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert customer_links.page_url_or_none(settings, "inv_1") is None
