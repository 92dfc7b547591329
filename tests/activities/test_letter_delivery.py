"""send_letter: the PDF through a fake print-and-post provider (the interface in
activities/letter_sender.py), with the ledger's idempotency and retry rules, and to the
outbox in the embedded default."""

from __future__ import annotations

import io
from datetime import date, timedelta

import httpx
import pytest
from pypdf import PdfReader
from temporalio.exceptions import ApplicationError

from activities import ledger
from domain.payloads import DeliveryRequest
from domain.postal import add_postal_days
from infra.settings import Settings
from infra.store import split_letter
from starter.api import create_app
from tests.activities.factory import HTTP_ANSWERS, delivery_request
from tests.activities.helpers import (
    attempt,
    deliver,
    delivery_error,
    killed_after_sending,
    killed_at,
    outbox_rows,
    settled,
)
from tests.fakes.post import FakePost
from tests.fakes.server import FakeResponse

ADDRESS = "Storgatan 1\n111 22 Stockholm"


def letter(**overrides: object) -> DeliveryRequest:
    return delivery_request("letter", to=ADDRESS, **overrides)


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)


async def test_a_letter_is_posted_once_with_its_pdf(
    post_settings: Settings, fake_post: FakePost
) -> None:
    request = letter()
    first = await deliver(post_settings, request)
    again = await deliver(post_settings, request)

    assert (first.status, first.provider, first.provider_id) == ("sent", "post", "L-00001")
    assert (again.status, again.provider_id) == ("already_sent", "L-00001")
    [posted] = fake_post.requests
    assert posted.headers["idempotency-key"] == "inv_1001:step-0-letter"
    assert posted.headers["authorization"] == "Bearer post-key"
    assert posted.json()["recipient"] == ["Berit Andersson", "Storgatan 1", "111 22 Stockholm"]
    text = text_of(fake_post.pdfs()[0])
    assert "Bankgiro: 5050-1055" in text and "OCR-nummer: 10014" in text
    assert "1 250,00 kr" in text
    assert attempt(post_settings, request).status == "sent"


@pytest.mark.parametrize(("status", "error_type", "non_retryable"), HTTP_ANSWERS)
async def test_provider_errors_are_classified(
    post_settings: Settings, fake_post: FakePost, status: int, error_type: str, non_retryable: bool
) -> None:
    fake_post.script(status)
    request = letter()
    error = await delivery_error(post_settings, request)
    assert error.type == error_type
    assert error.non_retryable is non_retryable
    if status == 429:
        assert error.next_retry_delay == timedelta(seconds=1)
    assert attempt(post_settings, request).status == "failed"
    # A failed attempt may be tried again, and then the letter goes out once.
    assert (await deliver(post_settings, request)).status == "sent"
    assert len(fake_post.letters) == 1


async def test_a_lost_answer_is_found_in_the_providers_list(
    post_settings: Settings, fake_post: FakePost
) -> None:
    """The provider printed the letter but its answer never came: its list, asked by the
    letter's reference, finds it."""
    request = letter()
    fake_post.letters["inv_1001:step-0-letter"] = ("L-00042", b"%PDF")
    fake_post.script(FakeResponse.json(201, {"id": "late"}, delay=1.5))
    result = await deliver(post_settings, request)
    assert (result.status, result.provider_id) == ("sent", "L-00042")
    listed = [r for r in fake_post.requests if r.method == "GET"]
    assert listed and "reference=inv_1001%3Astep-0-letter" in listed[0].path


async def test_an_interrupted_letter_is_reconciled_from_the_providers_list_never_reposted(
    post_settings: Settings, fake_post: FakePost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker died (or was stopped past its grace) after the provider accepted the
    letter, before the ledger said so: the retry asks the provider's list and posts nothing."""
    request = letter()
    await killed_after_sending(post_settings, request, monkeypatch)
    assert attempt(post_settings, request).status == "sending"
    assert len(fake_post.posts) == 1
    settled(post_settings, request)

    result = await deliver(post_settings, request)  # the retry on another worker
    assert (result.status, result.provider, result.provider_id) == (
        "already_sent",
        "post",
        "L-00001",
    )
    assert len(fake_post.posts) == 1 and len(fake_post.letters) == 1
    row = attempt(post_settings, request)
    assert (row.status, row.attempts, row.error) == ("sent", 2, ledger.RECONCILED)
    assert (await deliver(post_settings, request)).status == "already_sent"
    assert len(fake_post.posts) == 1


async def test_an_interrupted_letter_that_never_left_is_posted_once_after_the_settle_time(
    post_settings: Settings, fake_post: FakePost, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = letter()
    await killed_at(post_settings, request, monkeypatch, httpx.Client, "post")
    assert attempt(post_settings, request).status == "sending" and fake_post.posts == []

    with pytest.raises(ApplicationError) as too_soon:  # the attempt may still be on its way
        await deliver(post_settings, request)
    assert too_soon.value.type == "DeliveryReconciling" and fake_post.posts == []

    settled(post_settings, request)
    result = await deliver(post_settings, request)
    assert (result.status, result.provider_id) == ("sent", "L-00001")
    assert len(fake_post.posts) == 1


async def test_a_lost_request_is_retried(post_settings: Settings, fake_post: FakePost) -> None:
    fake_post.script(FakeResponse.json(201, {"id": "late"}, delay=1.5))
    error = await delivery_error(post_settings, letter())
    assert error.type == "ProviderUnavailable" and not error.non_retryable


async def test_embedded_default_puts_the_pdf_in_the_outbox(settings: Settings) -> None:
    result = await deliver(settings, letter(locale="en"))
    assert (result.status, result.provider) == ("sent", "outbox")
    [row] = outbox_rows(settings)
    text, pdf = split_letter(row.body)
    assert pdf is not None and "Amount to pay: SEK 1,250.00" in text_of(pdf)
    assert "Storgatan 1" in text_of(pdf) and "PDF" not in text


def test_postal_days_skip_weekends_and_holidays() -> None:
    friday = date(2026, 12, 18)
    assert add_postal_days(friday, 2, ()) == date(2026, 12, 22)
    christmas = (date(2026, 12, 24), date(2026, 12, 25))
    assert add_postal_days(date(2026, 12, 23), 2, christmas) == date(2026, 12, 29)
    assert add_postal_days(friday, 0, ()) == friday
    with pytest.raises(ValueError, match="negative"):
        add_postal_days(friday, -1, ())


async def test_the_dev_inbox_shows_the_letter_and_serves_its_pdf(settings: Settings) -> None:
    await deliver(settings, letter())
    [row] = outbox_rows(settings)
    app = create_app(settings)
    app.state.client = None  # the inbox needs no Temporal
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        page = await http.get("/dev/inbox")
        pdf = await http.get(f"/dev/inbox/letters/{row.id}.pdf")
        missing = await http.get(f"/dev/inbox/letters/{(row.id or 0) + 1}.pdf")
    assert f'href="/dev/inbox/letters/{row.id}.pdf"' in page.text
    assert "base64" not in page.text and "OCR-nummer: 10014" in page.text
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "OCR-nummer: 10014" in text_of(pdf.content)
    assert missing.status_code == 404
