"""send_sms and place_call through the real twilio library against a fake Twilio."""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET

import pytest

from activities.twilio_sender import make_client
from infra.settings import Settings
from tests.activities.factory import PHONE, delivery_request
from tests.activities.helpers import attempt, deliver, delivery_error
from tests.fakes import FakeResponse, FakeTwilio
from tests.fakes.fixtures import TWILIO_FROM


def basic_auth(fake: FakeTwilio) -> str:
    token = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
    return f"Basic {token}"


def test_base_url_override_routes_the_api_domain(twilio_settings: Settings) -> None:
    client = make_client(twilio_settings)
    url = client.api.v2010.absolute_url("Accounts/AC1/Messages.json")
    assert url == f"{twilio_settings.twilio_api_base_url}/2010-04-01/Accounts/AC1/Messages.json"


async def test_sms_is_sent_with_basic_auth(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    await deliver(twilio_settings, delivery_request("sms"))

    [sent] = fake_twilio.requests
    assert sent.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert sent.headers["authorization"] == basic_auth(fake_twilio)
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = sent.form()
    assert form["To"] == PHONE
    assert form["From"] == TWILIO_FROM
    assert "faktura 1001" in form["Body"] and "OCR 10014" in form["Body"]
    assert "StatusCallback" not in form  # no public URL configured


@pytest.mark.parametrize(("locale", "language"), [("sv", "sv-SE"), ("en", "en-US")])
async def test_call_speaks_the_customers_language(
    twilio_settings: Settings, fake_twilio: FakeTwilio, locale: str, language: str
) -> None:
    request = delivery_request("call", template="reminder_call", locale=locale)
    result = await deliver(twilio_settings, request)

    assert result.status == "sent"
    assert result.provider_id and result.provider_id.startswith("CA")
    [sent] = fake_twilio.calls
    form = sent.form()
    assert form["To"] == PHONE and form["From"] == TWILIO_FROM
    twiml = ET.fromstring(form["Twiml"])
    assert twiml.tag == "Response"
    [say] = twiml.iter("Say")
    assert say.get("language") == language
    assert say.text and ("Tryck 1" in say.text if locale == "sv" else "Press 1" in say.text)
    assert "\n" not in say.text


async def test_call_with_public_url_gathers_the_keypress(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    settings = twilio_settings.model_copy(update={"public_base_url": "https://journeys.example/"})
    await deliver(settings, delivery_request("call", template="courtesy_call"))

    form = fake_twilio.calls[0].form()
    assert form["StatusCallback"] == "https://journeys.example/v1/webhooks/twilio/status"
    gather = ET.fromstring(form["Twiml"]).find("Gather")
    assert gather is not None
    assert gather.get("action") == "https://journeys.example/v1/webhooks/twilio/voice"
    assert gather.get("numDigits") == "1"
    say = gather.find("Say")
    assert say is not None and say.get("language") == "sv-SE"


@pytest.mark.parametrize(
    ("status", "code", "error_type"),
    [
        (400, 21211, "InvalidRecipient"),
        (400, 21614, "InvalidRecipient"),
        (400, 21408, "InvalidRecipient"),
        (400, 21610, "RecipientOptedOut"),
        (401, 20003, "ProviderAuthFailed"),
    ],
)
async def test_permanent_errors_are_not_retried(
    twilio_settings: Settings, fake_twilio: FakeTwilio, status: int, code: int, error_type: str
) -> None:
    fake_twilio.script_error(status, code)
    request = delivery_request("sms")
    err = await delivery_error(twilio_settings, request)
    assert (err.type, err.non_retryable) == (error_type, True)
    assert str(code) in err.message
    assert "inv_1001" in err.message and "step-0-sms" in err.message
    assert PHONE not in err.message and "46701234567" not in err.message
    row = attempt(twilio_settings, request)
    assert row.status == "failed"
    assert row.error and PHONE not in row.error


async def test_invalid_number_message_keeps_twilios_words(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    fake_twilio.script(400)  # the fake answers 21211 naming the number, as Twilio does
    error = await delivery_error(
        twilio_settings, delivery_request("call", template="reminder_call")
    )
    assert "is not a valid phone number" in error.message
    assert PHONE not in error.message


async def test_timeout_applies_and_a_lost_answer_is_never_resent(
    twilio_settings: Settings, fake_twilio: FakeTwilio
) -> None:
    settings = twilio_settings.model_copy(update={"provider_timeout_seconds": 0.3})
    fake_twilio.script(FakeResponse(201, b"{}", delay=1.5))
    request = delivery_request("call", template="reminder_call")

    started = time.monotonic()
    result = await deliver(settings, request)
    assert time.monotonic() - started < 1.2
    assert result.status == "uncertain"

    # Asked Twilio's Calls list (nothing there: the scripted answer created nothing), so the
    # step stays uncertain; a retry before the settle time is told to ask again later.
    later = await delivery_error(settings, request)
    assert later.type == "DeliveryReconciling"
    assert len(fake_twilio.calls) == 1
