"""Provider answers → retryable or not, as SendGrid and Twilio document them (pure functions)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from activities.errors import retry_after, scrub
from activities.sendgrid_sender import classify_sendgrid_error, sendgrid_error_text
from activities.twilio_sender import classify_twilio_error, request_never_sent
from tests.activities.factory import EMAIL, HTTP_ANSWERS, PHONE


def sendgrid_body(message: str, field: str | None = None) -> bytes:
    return json.dumps({"errors": [{"message": message, "field": field, "help": None}]}).encode()


@pytest.mark.parametrize(("status", "error_type", "non_retryable"), HTTP_ANSWERS)
def test_sendgrid_statuses(status: int, error_type: str, non_retryable: bool) -> None:
    err = classify_sendgrid_error(
        status, sendgrid_body("nope"), {}, invoice_id="inv_1001", step_key="step-0-email"
    )
    assert err.type == error_type
    assert err.non_retryable is non_retryable
    assert "inv_1001" in err.message and "step-0-email" in err.message
    assert f"HTTP {status}" in err.message and "nope" in err.message


def test_sendgrid_error_text_names_message_and_field() -> None:
    body = sendgrid_body("The to email does not contain a valid address.", "personalizations.0.to")
    assert sendgrid_error_text(body) == (
        "The to email does not contain a valid address. (field: personalizations.0.to)"
    )
    assert sendgrid_error_text(b"<html>bad gateway</html>") == "<html>bad gateway</html>"
    assert sendgrid_error_text(None) == ""


def test_sendgrid_error_never_repeats_the_address() -> None:
    err = classify_sendgrid_error(
        400,
        sendgrid_body(f"Invalid address {EMAIL}"),
        {},
        recipient=EMAIL,
        invoice_id="inv_1001",
        step_key="step-0-email",
    )
    assert EMAIL not in err.message
    assert "Invalid address" in err.message


def test_sendgrid_429_waits_until_the_rate_limit_resets() -> None:
    err = classify_sendgrid_error(
        429,
        sendgrid_body("too many requests"),
        {"X-RateLimit-Reset": "1030"},
        now=1000.0,
        invoice_id="inv_1001",
        step_key="step-0-email",
    )
    assert err.next_retry_delay == timedelta(seconds=30)
    assert not err.non_retryable


def test_sendgrid_429_without_headers_uses_the_retry_policy() -> None:
    err = classify_sendgrid_error(429, b"", {}, invoice_id="inv_1001", step_key="step-0-email")
    assert err.next_retry_delay is None


def test_retry_after_forms() -> None:
    assert retry_after({"Retry-After": "12"}, now=0) == timedelta(seconds=12)
    assert retry_after({"retry-after": "Thu, 01 Jan 1970 00:00:40 GMT"}, now=10) == timedelta(
        seconds=30
    )
    assert retry_after({"X-RateLimit-Reset": "50"}, now=10) == timedelta(seconds=40)
    assert retry_after({"X-RateLimit-Reset": "5"}, now=10) == timedelta(seconds=1)  # past: soon
    assert retry_after({"Retry-After": "99999"}, now=0) == timedelta(hours=1)  # capped
    assert retry_after({"Retry-After": "soon"}, now=0) is None
    assert retry_after({}, now=0) is None


@pytest.mark.parametrize(
    ("status", "code", "error_type", "non_retryable"),
    [
        (400, 21211, "InvalidRecipient", True),
        (400, 21614, "InvalidRecipient", True),
        (400, 21408, "InvalidRecipient", True),
        (400, 21610, "RecipientOptedOut", True),
        (400, 21602, "DeliveryRejected", True),  # message body required: our bug, not theirs
        (401, 20003, "ProviderAuthFailed", True),
        (403, 20403, "ProviderAuthFailed", True),
        (404, 20404, "DeliveryRejected", True),
        (429, 20429, "ProviderRateLimited", False),
        (500, 20500, "ProviderUnavailable", False),
        (503, 20503, "ProviderUnavailable", False),
    ],
)
def test_twilio_errors(status: int, code: int, error_type: str, non_retryable: bool) -> None:
    err = classify_twilio_error(
        status, code, "provider says no", invoice_id="inv_1001", step_key="step-0-email"
    )
    assert err.type == error_type
    assert err.non_retryable is non_retryable
    assert "inv_1001" in err.message and "step-0-email" in err.message
    assert str(code) in err.message and "provider says no" in err.message


def test_twilio_error_never_repeats_the_number() -> None:
    message = f"Unable to create record: The 'To' number {PHONE} is not a valid phone number."
    err = classify_twilio_error(
        400, 21211, message, recipient=PHONE, invoice_id="inv_1001", step_key="step-0-email"
    )
    assert PHONE not in err.message
    assert "46701234567" not in err.message
    assert "is not a valid phone number" in err.message


def test_scrub_masks_addresses_and_numbers_it_was_not_told_about() -> None:
    text = scrub("to someone@example.org and +46709876543 and 0701234567", "0701234567")
    assert "someone@example.org" not in text
    assert "+46709876543" not in text
    assert "0701234567" not in text


def test_connection_failures_before_sending_are_safe_to_retry() -> None:
    refused = requests.ConnectionError(
        MaxRetryError(None, "/", NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    )
    dropped = requests.ConnectionError(ProtocolError("Connection aborted."))
    assert request_never_sent(refused)
    assert request_never_sent(requests.ConnectTimeout())
    assert not request_never_sent(requests.ReadTimeout())
    assert not request_never_sent(dropped)
