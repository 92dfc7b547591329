"""Log lines carry the journey's ids and never a customer's address or number."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError

from infra.logging import configure_logging
from infra.settings import Settings
from tests.activities.factory import EMAIL, PHONE, delivery_request
from tests.activities.helpers import deliver
from tests.fakes import FakeSendGrid, FakeTwilio

SECRETS = (EMAIL, PHONE, PHONE.lstrip("+"))


async def run_journey_steps(settings: Settings, fake_twilio: FakeTwilio) -> None:
    """Email sent and re-sent, an SMS refused with Twilio's error text, a call placed."""
    await deliver(settings, delivery_request("email"))
    await deliver(settings, delivery_request("email"))  # already sent
    fake_twilio.script(400)  # Twilio's 21211 text names the number
    with pytest.raises(ApplicationError):
        await deliver(settings, delivery_request("sms"))
    await deliver(settings, delivery_request("call", template="reminder_call"))


@pytest.fixture
def providers(twilio_settings: Settings, fake_sendgrid: FakeSendGrid) -> Settings:
    """Email through the fake SendGrid, SMS and calls through the fake Twilio."""
    return twilio_settings.model_copy(update=fake_sendgrid.settings())


async def test_activity_logs_are_bound_and_free_of_personal_data(
    providers: Settings, fake_twilio: FakeTwilio
) -> None:
    settings = providers
    with capture_logs(processors=[merge_contextvars]) as logs:
        await run_journey_steps(settings, fake_twilio)

    assert len(logs) >= 4
    for entry in logs:
        assert entry["invoice_id"] == "inv_1001", entry
        assert entry["workflow_id"] == "invoice-inv_1001", entry
        text = repr(entry)
        for secret in SECRETS:
            assert secret not in text, entry
    events = [entry["event"] for entry in logs]
    assert "step sent" in events
    assert "provider refused step" in events


async def test_rendered_json_lines_are_clean_at_debug_level(
    providers: Settings, fake_twilio: FakeTwilio, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole pipeline, stdlib loggers of the provider libraries included."""
    settings = providers
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "DEBUG")
    try:
        await run_journey_steps(settings, fake_twilio)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    ours: list[dict[str, Any]] = [
        record for record in map(json.loads, lines) if "logger" not in record
    ]
    assert ours, lines
    for record in ours:
        assert record["invoice_id"] == "inv_1001"
    for line in lines:
        for secret in SECRETS:
            assert secret not in line, line
