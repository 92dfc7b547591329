"""At-most-once: the ledger decides, whatever the provider, crash or retry."""

from __future__ import annotations

import asyncio

import pytest

import activities.ledger
import activities.outbox
from activities import ledger
from infra.settings import Settings
from tests.activities.factory import delivery_request
from tests.activities.helpers import attempt, attempt_rows, deliver, outbox_rows
from tests.fakes import FakeSendGrid, FakeTwilio


class WorkerKilled(Exception):
    """Stands in for the process dying at this point: nothing after it runs."""


def crash_after_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker dies after the provider accepted the message, before the ledger says so."""

    def crash(*_args: object, **_kwargs: object) -> None:
        raise WorkerKilled("worker process killed")

    monkeypatch.setattr(activities.ledger, "mark_sent", crash)


async def test_crash_after_send_is_uncertain_and_never_resent(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = delivery_request("email")
    with monkeypatch.context() as patch:
        crash_after_sending(patch)
        with pytest.raises(WorkerKilled):
            await deliver(sendgrid_settings, request)
    assert attempt(sendgrid_settings, request).status == "sending"
    assert len(fake_sendgrid.requests) == 1

    result = await deliver(sendgrid_settings, request)  # the retry on another worker
    assert result.status == "uncertain"
    assert result.provider == "sendgrid"
    assert len(fake_sendgrid.requests) == 1
    row = attempt(sendgrid_settings, request)
    assert (row.status, row.attempts) == ("uncertain", 2)

    again = await deliver(sendgrid_settings, request)
    assert again.status == "uncertain"
    assert len(fake_sendgrid.requests) == 1


async def test_crash_after_sms_is_uncertain(
    twilio_settings: Settings, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = delivery_request("sms")
    with monkeypatch.context() as patch:
        crash_after_sending(patch)
        with pytest.raises(WorkerKilled):
            await deliver(twilio_settings, request)
    result = await deliver(twilio_settings, request)
    assert result.status == "uncertain"
    assert len(fake_twilio.requests) == 1


async def test_concurrent_attempts_contact_the_customer_once(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    """A timed-out attempt can still be running when Temporal starts the next one."""
    request = delivery_request("email")
    results = await asyncio.gather(*(deliver(sendgrid_settings, request) for _ in range(6)))

    assert len(fake_sendgrid.requests) == 1
    statuses = sorted(r.status for r in results)
    assert statuses.count("sent") == 1
    assert set(statuses) <= {"sent", "already_sent", "uncertain"}
    assert attempt(sendgrid_settings, request).status in {"sent", "uncertain"}


async def test_outbox_delivery_is_exactly_once(settings: Settings) -> None:
    request = delivery_request("email")
    first = await deliver(settings, request)
    again = await deliver(settings, request)

    assert (first.status, first.provider) == ("sent", "outbox")
    assert again.status == "already_sent"
    assert again.provider_id == first.provider_id
    [message] = outbox_rows(settings)
    assert (message.channel, message.step_key, message.to_address) == (
        "email",
        "step-0-email",
        request.to,
    )
    assert message.subject == "Påminnelse: faktura 1001"
    assert "OCR-nummer: 10014" in message.body
    row = attempt(settings, request)
    assert (row.status, row.provider, row.provider_id) == ("sent", "outbox", first.provider_id)


async def test_outbox_crash_before_commit_delivers_on_retry(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first delivery stores its ledger row and its message in one transaction, so a
    crash before the commit leaves no trace and the retry delivers."""
    request = delivery_request("sms")
    with monkeypatch.context() as patch:

        def crash(*_args: object, **_kwargs: object) -> None:
            raise WorkerKilled("worker process killed")

        patch.setattr(activities.outbox, "outbox_id", crash)
        with pytest.raises(WorkerKilled):
            await deliver(settings, request)
    assert attempt_rows(settings) == []
    assert outbox_rows(settings) == []

    result = await deliver(settings, request)
    assert result.status == "sent"
    assert len(outbox_rows(settings)) == 1
    assert attempt(settings, request).status == "sent"


async def test_outbox_step_left_sending_is_delivered_on_retry(settings: Settings) -> None:
    """A step an older worker claimed ("sending") and then died on: for the outbox that
    proves nothing was stored, so the retry claims it again and delivers once."""
    request = delivery_request("sms")
    assert ledger.claim(settings.store_url, request, "outbox").decision == "send"
    assert outbox_rows(settings) == []

    result = await deliver(settings, request)
    assert result.status == "sent"
    assert len(outbox_rows(settings)) == 1
    assert attempt(settings, request).attempts == 2


async def test_concurrent_outbox_attempts_store_one_message(settings: Settings) -> None:
    request = delivery_request("call", template="reminder_call")
    results = await asyncio.gather(*(deliver(settings, request) for _ in range(6)))
    assert len(outbox_rows(settings)) == 1
    assert [r.status for r in results].count("sent") == 1
    assert {r.status for r in results} <= {"sent", "already_sent"}


async def test_steps_are_independent(settings: Settings) -> None:
    await deliver(settings, delivery_request("email"))
    await deliver(settings, delivery_request("email", step_key="step-3-email"))
    await deliver(settings, delivery_request("email", invoice_id="inv_2002"))
    assert len(outbox_rows(settings)) == 3
    assert {(r.invoice_id, r.step_key) for r in attempt_rows(settings)} == {
        ("inv_1001", "step-0-email"),
        ("inv_1001", "step-3-email"),
        ("inv_2002", "step-0-email"),
    }


def test_claim_rules(settings: Settings) -> None:
    url = settings.store_url
    request = delivery_request("email")
    assert ledger.claim(url, request, "sendgrid").decision == "send"
    assert ledger.claim(url, request, "sendgrid").decision == "uncertain"  # found "sending"
    assert ledger.claim(url, request, "sendgrid").decision == "uncertain"  # stays so

    other = delivery_request("email", step_key="step-1-email")
    assert ledger.claim(url, other, "sendgrid").decision == "send"
    ledger.mark_failed(url, other.invoice_id, other.step_key, "HTTP 500")
    claim = ledger.claim(url, other, "sendgrid")
    assert (claim.decision, claim.attempts) == ("send", 2)
    ledger.mark_sent(url, other.invoice_id, other.step_key, "sendgrid", "msg-1")
    claim = ledger.claim(url, other, "sendgrid")
    assert (claim.decision, claim.provider_id) == ("already_sent", "msg-1")


def test_only_an_outbox_claim_may_resume_an_outbox_attempt(settings: Settings) -> None:
    url = settings.store_url
    request = delivery_request("sms")
    ledger.claim(url, request, "twilio")
    # Credentials removed between attempts: the outbox must not resend what Twilio may have sent.
    assert ledger.claim(url, request, "outbox", resend_if_sending=True).decision == "uncertain"
