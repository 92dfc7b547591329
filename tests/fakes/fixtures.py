"""Pytest fixtures for the fakes, plus Settings that point the real clients at them.

Use from a conftest: `from tests.fakes.fixtures import *  # noqa: F403`, or import the names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.settings import Settings
from tests.fakes.agency import FakeAgency
from tests.fakes.post import FakePost
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import TWILIO_FROM, FakeTwilio

__all__ = [
    "TWILIO_FROM",
    "fake_agency",
    "fake_sendgrid",
    "fake_twilio",
    "sendgrid_settings",
    "twilio_settings",
    "agency_settings",
    "fake_post",
    "post_settings",
]


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def fake_agency() -> Iterator[FakeAgency]:
    with FakeAgency() as server:
        yield server


@pytest.fixture
def sendgrid_settings(settings: Settings, fake_sendgrid: FakeSendGrid) -> Settings:
    """`settings` (conftest) with SendGrid enabled against the fake."""
    return settings.model_copy(update={**fake_sendgrid.settings(), "provider_timeout_seconds": 2.0})


@pytest.fixture
def twilio_settings(settings: Settings, fake_twilio: FakeTwilio) -> Settings:
    """`settings` (conftest) with Twilio enabled against the fake."""
    return settings.model_copy(update={**fake_twilio.settings(), "provider_timeout_seconds": 2.0})


@pytest.fixture
def agency_settings(settings: Settings, fake_agency: FakeAgency) -> Settings:
    """`settings` (conftest) with the collection agency pointed at the fake."""
    return settings.model_copy(update={**fake_agency.settings(), "provider_timeout_seconds": 2.0})


@pytest.fixture
def fake_post() -> Iterator[FakePost]:
    with FakePost() as server:
        yield server


@pytest.fixture
def post_settings(settings: Settings, fake_post: FakePost) -> Settings:
    """`settings` (conftest) with the letter provider pointed at the fake."""
    return settings.model_copy(
        update={
            **fake_post.settings(),
            "provider_timeout_seconds": 0.5,
            "bankgiro": "5050-1055",
        }
    )
