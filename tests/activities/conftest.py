"""Fixtures for the activity tests: the fake providers and a sample delivery request."""

from __future__ import annotations

from tests.fakes.fixtures import (  # noqa: F401  (pytest finds fixtures by name here)
    agency_settings,
    fake_agency,
    fake_post,
    fake_sendgrid,
    fake_twilio,
    post_settings,
    sendgrid_settings,
    twilio_settings,
)
