"""At-most-once: the ledger decides, whatever the provider, crash or retry."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.exceptions import ApplicationError

import activities.ledger
import activities.outbox
from activities import ledger
from domain.payloads import DeliveryRequest
from domain.values import Channel
from infra.settings import Settings
from tests.activities.factory import delivery_request
from tests.activities.helpers import (
    attempt,
    attempt_rows,
    deliver,
    delivery_error,
    killed_after_sending,
    killed_at,
    outbox_rows,
    settled,
)
from tests.fakes import FakeResponse, FakeSendGrid, FakeTwilio
from tests.fakes.fixtures import TWILIO_FROM


async def killed_long_ago(
    settings: Settings, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> DeliveryRequest:
    """A step on `channel`, `killed_after_sending`, then `settled`: the retry that comes next
    must find out from the provider what it did."""
    request = delivery_request(channel)
    await killed_after_sending(settings, request, monkeypatch)
    settled(settings, request)
    return request


async def test_crash_after_send_is_reconciled_from_sendgrids_record_never_resent(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await killed_long_ago(sendgrid_settings, "email", monkeypatch)
    assert attempt(sendgrid_settings, request).status == "sending"
    assert len(fake_sendgrid.mails) == 1

    result = await deliver(sendgrid_settings, request)  # the retry on another worker
    assert result.status == "already_sent"
    assert result.provider == "sendgrid"
    [accepted] = fake_sendgrid.accepted
    assert result.provider_id == accepted["msg_id"].split(".")[0]
    assert len(fake_sendgrid.mails) == 1  # asked SendGrid, did not send again
    row = attempt(sendgrid_settings, request)
    assert (row.status, row.attempts, row.error) == ("sent", 2, ledger.RECONCILED)

    again = await deliver(sendgrid_settings, request)
    assert again.status == "already_sent"
    assert len(fake_sendgrid.mails) == 1


async def test_crash_before_the_request_left_is_sent_once_on_retry(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger said "sending" but SendGrid never got the mail: its record says so, and
    the retry sends it (once)."""
    request = delivery_request("email")
    sending = "activities.sendgrid_sender.SendGridSender._send"
    await killed_at(sendgrid_settings, request, monkeypatch, sending)
    assert attempt(sendgrid_settings, request).status == "sending"
    assert fake_sendgrid.mails == []

    # the attempt may still be on its way
    too_soon = await delivery_error(sendgrid_settings, request)
    assert too_soon.type == "DeliveryReconciling"
    assert fake_sendgrid.mails == []

    settled(sendgrid_settings, request)
    result = await deliver(sendgrid_settings, request)
    assert result.status == "sent"
    assert len(fake_sendgrid.accepted) == 1
    assert (await deliver(sendgrid_settings, request)).status == "already_sent"
    assert len(fake_sendgrid.mails) == 1


async def test_crash_after_sms_is_reconciled_from_twilios_list(
    twilio_settings: Settings, fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = await killed_long_ago(twilio_settings, "sms", monkeypatch)
    result = await deliver(twilio_settings, request)
    assert result.status == "already_sent"
    [message] = fake_twilio.created["Messages"]
    assert result.provider_id == message["sid"]
    assert len(fake_twilio.messages) == 1


async def test_an_answer_lost_to_a_timeout_is_found_in_twilios_list(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    """Twilio created the call but answered after the client's timeout: the sender asks
    Twilio's Calls list instead of calling the step uncertain (or calling again)."""
    request = delivery_request("call")
    fake_twilio.script(FakeResponse(201, delay=3.0))  # placeholder body: the list is the truth
    fake_twilio.created["Calls"].append(
        {"sid": "CAlate", "to": request.to, "from": TWILIO_FROM, "date_created": None}
    )
    result = await deliver(twilio_settings, request)
    assert (result.status, result.provider_id) == ("sent", "CAlate")
    assert len(fake_twilio.calls) == 1


async def test_concurrent_attempts_contact_the_customer_once(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    """A timed-out attempt can still be running when Temporal starts the next one: those that
    find it unsettled either find its mail at SendGrid or are told to ask again later."""
    request = delivery_request("email")
    results = await asyncio.gather(
        *(deliver(sendgrid_settings, request) for _ in range(6)), return_exceptions=True
    )

    assert len(fake_sendgrid.mails) == 1
    statuses = sorted(
        str(r.type) if isinstance(r, ApplicationError) else str(getattr(r, "status", r))
        for r in results
    )
    assert statuses.count("sent") == 1
    assert set(statuses) <= {"sent", "already_sent", "DeliveryReconciling"}
    assert attempt(sendgrid_settings, request).status == "sent"


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
    await killed_at(settings, request, monkeypatch, activities.outbox, "outbox_id")
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
