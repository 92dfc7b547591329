"""The secured stack: the whole API (`create_app`) over real HTTP next to a worker, with an API
key of every role and every webhook's secret configured, so that each refusal a test sees is
the route's own doing and not a missing setting.

Requests come from loopback, where the embedded default lets callers in while no key exists;
here keys exist, so loopback is no way in either (starter/auth.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.settings import Settings
from infra.store import get_engine
from starter import auth
from tests.customer_page.stack import SECRET as PAGE_SECRET
from tests.fuzz.conftest import store_snapshot
from tests.starter.conftest import Stack, issued, running_stack
from tests.webhooks.conftest import (
    BOOTSTRAP_KEY,
    SendGridKeys,
    sendgrid_keys,
    webhook_secrets,
)
from workflows.journey import InvoiceJourney

__all__ = ["sendgrid_keys"]  # the session's SendGrid signing keys, a fixture

ROLE_KEYS = ("billing", "agent", "read-only")

TALKED_TO = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
}
"""History events that only a request from outside puts into a journey."""


def secured_settings(settings: Settings, sendgrid: SendGridKeys) -> Settings:
    return settings.model_copy(
        update=webhook_secrets(sendgrid) | {"customer_page_secret": PAGE_SECRET}
    )


@dataclass
class Secured:
    stack: Stack
    keys: dict[str, str]
    """One key per role, "revoked" (a revoked agent key) and "bootstrap" (API_KEY)."""
    sendgrid: SendGridKeys
    invoice_id: str
    """A running journey (due in four weeks: nothing of its own happens during a test)."""
    invoice_number: str

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def snapshot(self) -> dict[str, Any]:
        """The store as a refusal must leave it: `store_snapshot`, dead letters included."""
        url = self.settings.store_url
        out = store_snapshot(url)
        with get_engine(url).connect() as conn:
            rows = conn.execute(text("SELECT source, payload, reason FROM dead_letters")).all()
        out["dead_letters"] = sorted(tuple(map(repr, row)) for row in rows)
        return out

    async def journey(self) -> tuple[JourneyState, int]:
        """The journey's state and how many requests from outside reached it so far."""
        handle = self.stack.client.get_workflow_handle(workflow_id_for(self.invoice_id))
        state = await handle.query(InvoiceJourney.state)
        history = await handle.fetch_history()
        reached = sum(1 for e in history.events if e.event_type in TALKED_TO)
        return state, reached


@pytest.fixture
async def secured(
    temporal_env: WorkflowEnvironment, settings: Settings, sendgrid_keys: SendGridKeys
) -> AsyncIterator[Secured]:
    configured = secured_settings(settings, sendgrid_keys)
    keys = {role: auth.create_key(configured, f"{role} key", role)[1] for role in ROLE_KEYS}
    revoked_row, keys["revoked"] = auth.create_key(configured, "former agent", "agent")
    auth.revoke_key(configured, str(revoked_row.id))
    keys["bootstrap"] = BOOTSTRAP_KEY
    async with running_stack(temporal_env, configured) as stack:
        event = issued()
        started = await stack.http.post(
            "/v1/events", json=event, headers={"X-API-Key": BOOTSTRAP_KEY}
        )
        assert started.status_code == 202, started.text
        invoice = event["data"]["invoice"]
        yield Secured(stack, keys, sendgrid_keys, invoice["id"], invoice["number"])
