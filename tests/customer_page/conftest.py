from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from tests.api_server import free_port
from tests.customer_page.stack import page_settings
from tests.starter.conftest import Stack, running_stack


@pytest.fixture
async def page_stack(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Stack]:
    port = free_port()
    async with running_stack(temporal_env, page_settings(settings, port), port) as stack:
        yield stack
