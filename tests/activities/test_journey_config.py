"""The versioned configuration store and the activity that reads it: idempotent writes, rows
checked against their digest, and permanent errors for what no retry can fix."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.journey_config import ConfigActivities
from domain.journey_config import config_of
from infra.journey_configs import (
    ConfigDigestMismatch,
    JourneyConfigRow,
    config_body,
    store_config,
)
from infra.settings import Settings
from infra.store import session_scope
from starter.journey_start import start_input
from tests.factories import POLICIES, journey_input


async def test_the_activity_reads_what_the_starter_stored(settings: Settings) -> None:
    inp = journey_input("inv_store", policy=POLICIES.segments["loyal"])
    start = await start_input(settings, inp)
    assert start.config is not None
    assert config_body(settings.store_url, start.config.digest) is not None
    loaded = await ConfigActivities(settings).load(start.config.digest)
    assert loaded == config_of(inp)


def test_storing_is_idempotent_and_checked(settings: Settings) -> None:
    policy = POLICIES.segments["new"].model_copy(update={"send_hour": 7})  # this test's
    config = config_of(journey_input("inv_twice", policy=policy))
    digest, body = config.digest(), config.canonical_json()
    assert store_config(settings.store_url, digest, "new", body) is True
    assert store_config(settings.store_url, digest, "new", body) is False
    with pytest.raises(ConfigDigestMismatch):
        store_config(settings.store_url, "0" * 64, "new", body)


async def test_by_value_when_the_setting_says_so(settings: Settings) -> None:
    inp = journey_input("inv_by_value")
    by_value = settings.model_copy(update={"journey_config_by_reference": False})
    assert await start_input(by_value, inp) is inp


async def test_an_unknown_digest_is_permanent(settings: Settings) -> None:
    with pytest.raises(ApplicationError) as err:
        await ConfigActivities(settings).load("cd" * 32)
    assert (err.value.type, err.value.non_retryable) == ("UnknownJourneyConfig", True)


async def test_a_row_that_is_not_its_digest_is_permanent(settings: Settings) -> None:
    config = config_of(journey_input("inv_corrupt"))
    digest = "ef" * 32
    with session_scope(settings.store_url) as session:
        session.merge(
            JourneyConfigRow(digest=digest, name="standard", body=config.canonical_json())
        )
    with pytest.raises(ApplicationError) as err:
        await ConfigActivities(settings).load(digest)
    assert (err.value.type, err.value.non_retryable) == ("InvalidJourneyConfig", True)
