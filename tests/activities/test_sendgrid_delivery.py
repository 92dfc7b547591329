"""send_email through the real sendgrid library against a fake SendGrid."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.delivery import DeliveryActivities
from activities.sendgrid_sender import SendGridSender
from infra.settings import Settings
from tests.activities.factory import EMAIL, delivery_request
from tests.activities.helpers import attempt, deliver, delivery_error
from tests.fakes import FakeResponse, FakeSendGrid


async def test_email_is_sent_with_bearer_auth(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    await deliver(sendgrid_settings, delivery_request("email"))

    [sent] = fake_sendgrid.mails
    assert sent.headers["authorization"] == "Bearer SG.test-key"
    mail = sent.json()
    assert mail["personalizations"][0]["to"] == [{"email": EMAIL}]
    assert mail["from"]["email"] == sendgrid_settings.sendgrid_from_email
    assert mail["subject"] == "Påminnelse: faktura 1001"
    assert mail["content"][0]["type"] == "text/plain"
    assert "OCR-nummer: 10014" in mail["content"][0]["value"]
    assert mail["custom_args"] == {"invoice_id": "inv_1001", "step_key": "step-0-email"}


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "DeliveryRejected"),
        (401, "ProviderAuthFailed"),
        (403, "ProviderAuthFailed"),
        (413, "DeliveryRejected"),
    ],
)
async def test_permanent_errors_are_not_retried(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid, status: int, error_type: str
) -> None:
    fake_sendgrid.script(status)
    request = delivery_request("email")
    error = await delivery_error(sendgrid_settings, request)

    assert error.type == error_type
    assert error.non_retryable
    assert "inv_1001" in error.message and "step-0-email" in error.message
    assert EMAIL not in error.message
    row = attempt(sendgrid_settings, request)
    assert row.status == "failed"
    assert row.error and f"HTTP {status}" in row.error


async def test_an_auth_failure_keeps_sendgrids_words(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    settings = sendgrid_settings.model_copy(update={"sendgrid_api_key": "SG.wrong"})
    error = await delivery_error(settings, delivery_request("email"))
    assert error.type == "ProviderAuthFailed"
    assert "authorization grant is invalid" in error.message


async def test_rate_limit_is_retried_after_the_reset(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    fake_sendgrid.script(429)
    error = await delivery_error(sendgrid_settings, delivery_request("email"))
    assert error.type == "ProviderRateLimited"
    assert not error.non_retryable
    delay = error.next_retry_delay
    assert delay is not None and timedelta(seconds=1) <= delay <= timedelta(seconds=8)


async def test_timeout_applies_and_a_lost_answer_is_never_resent(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    settings = sendgrid_settings.model_copy(update={"provider_timeout_seconds": 0.3})
    fake_sendgrid.script(FakeResponse(202, delay=1.5))
    request = delivery_request("email")

    started = time.monotonic()
    result = await deliver(settings, request)
    assert time.monotonic() - started < 1.2  # the explicit timeout, not the fake's delay
    assert result.status == "uncertain"
    assert attempt(settings, request).status == "uncertain"

    # Asked the provider's record (nothing there: the scripted answer created nothing), so
    # the step stays uncertain; a retry before the settle time is told to ask again later.
    later = await delivery_error(settings, request)
    assert later.type == "DeliveryReconciling"
    assert len(fake_sendgrid.mails) == 1


def test_timeout_reaches_every_request_client(sendgrid_settings: Settings) -> None:
    """python_http_client copies `timeout` into each per-path client it builds."""
    sender = SendGridSender(sendgrid_settings.model_copy(update={"provider_timeout_seconds": 4.5}))
    client = sender._client.client
    assert client.mail.send.timeout == 4.5


async def test_wrong_channel_is_rejected_without_contact(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    acts = DeliveryActivities(
        sendgrid_settings,
        email=SendGridSender(sendgrid_settings),
        sms=SendGridSender(sendgrid_settings),
        call=SendGridSender(sendgrid_settings),
    )
    with pytest.raises(ApplicationError) as raised:
        acts.deliver("sms", delivery_request("email"))
    assert raised.value.type == "InvalidRequest"
    assert fake_sendgrid.requests == []


async def test_broken_template_fails_before_the_ledger(
    sendgrid_settings: Settings, fake_sendgrid: FakeSendGrid
) -> None:
    request = delivery_request("email", template="no_such_template")
    error = await delivery_error(sendgrid_settings, request)
    assert error.type == "TemplateError"
    assert error.non_retryable
    assert fake_sendgrid.requests == []
