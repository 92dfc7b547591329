"""The `journeys` fixture: a real worker on the test server, and a driver for its clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from tests.workflows.journey_driver import JourneyDriver
from worker import build_worker


@pytest.fixture
async def journeys(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[JourneyDriver]:
    async with build_worker(temporal_env.client, settings):
        yield JourneyDriver(temporal_env, settings)
