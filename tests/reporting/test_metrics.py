"""After one journey, the worker's own /metrics and the API's /metrics show each metric of
"Measuring the experience" with the right labels and values.

The journey: a standard customer without SMS consent, email through (fake) SendGrid whose
first answer is a 503. Step 1 email (503, retried, sent), step 2 SMS falls back to email, step 3
a call (outbox), step 4 final notice by email, then handover. A webhook without its secret is
refused on the way. Metrics are process-wide, so each figure is the difference between a
scrape before and one after.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from activities.metrics import serve_worker_metrics
from domain.state import JourneyState
from domain.tenants import DEFAULT_TENANT, workflow_id_for
from infra.settings import Settings
from starter.api import create_app
from tests.api_server import free_port, serving
from tests.fakes.fixtures import fake_sendgrid, sendgrid_settings  # noqa: F401
from tests.fakes.sendgrid import FakeSendGrid
from tests.starter.conftest import issued
from tests.tenants import SECOND_TENANT, add_tenant, tenants_forgotten  # noqa: F401
from worker import build_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
T = DEFAULT_TENANT


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


@dataclasses.dataclass
class Scrapers:
    api: httpx.AsyncClient
    worker_url: str
    settings: Settings

    async def scrape(self) -> tuple[Samples, Samples]:
        api = await self.api.get("/metrics")
        assert api.status_code == 200
        async with httpx.AsyncClient() as plain:
            worker = await plain.get(self.worker_url)
        assert worker.status_code == 200
        return samples(api.text), samples(worker.text)


@contextlib.asynccontextmanager
async def measuring(env: WorkflowEnvironment, base: Settings) -> AsyncIterator[Scrapers]:
    """The API and a worker serving its metrics on a port of its own."""
    settings = base.model_copy(
        update={"worker_metrics_port": free_port(), "worker_metrics_host": "127.0.0.1"}
    )
    app = create_app(settings, client=env.client)
    metrics_server = serve_worker_metrics(settings)
    assert metrics_server is not None
    try:
        async with (
            serving(app) as base_url,
            build_worker(env.client, settings),
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Scrapers(
                http, f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", settings
            )
    finally:
        metrics_server.shutdown()


@pytest.fixture
async def measured(
    temporal_env: WorkflowEnvironment,
    sendgrid_settings: Settings,  # noqa: F811
) -> AsyncIterator[Scrapers]:
    async with measuring(temporal_env, sendgrid_settings) as scrapers:
        yield scrapers


@pytest.fixture
async def measured_with_acme(
    temporal_env: WorkflowEnvironment,
    sendgrid_settings: Settings,  # noqa: F811
    tenants_forgotten: None,  # noqa: F811
) -> AsyncIterator[Scrapers]:
    """As `measured`, with the tenant acme registered before the worker starts (as a
    deployment's tenants are); acme has no SendGrid account of its own: its outbox."""
    add_tenant(sendgrid_settings)
    async with measuring(temporal_env, sendgrid_settings) as scrapers:
        yield scrapers


async def test_worker_and_api_metrics_after_a_journey(
    measured: Scrapers,
    temporal_env: WorkflowEnvironment,
    fake_sendgrid: FakeSendGrid,  # noqa: F811
) -> None:
    api_before, worker_before = await measured.scrape()
    fake_sendgrid.script(503)
    event = issued(
        customer_since=date(2024, 6, 1).isoformat(),  # two years: standard
        consent={"email": True, "sms": False, "call": True},
    )
    invoice_id = event["data"]["invoice"]["id"]
    assert (await measured.api.post("/v1/events", json=event)).json()["outcomes"][0][
        "segment"
    ] == "standard"
    refused = await measured.api.post("/v1/webhooks/stripe", content=b"{}")
    assert refused.status_code in (400, 401, 403, 503)
    handle = temporal_env.client.get_workflow_handle(workflow_id_for(invoice_id))
    await temporal_env.fast_forward(handle, None)
    state = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=120))
    assert state.phase == "handed_over"

    api, worker = await measured.scrape()
    # the API: journeys started, webhook refusals
    assert delta(api, api_before, "journeys_started_total", segment="standard", tenant=T) == 1
    assert (
        delta(
            api,
            api_before,
            "journeys_webhook_refusals_total",
            provider="stripe",
            status_code=str(refused.status_code),
        )
        == 1
    )
    # the worker: everything that happened inside the journey

    def d(name: str, **labels: str) -> float:
        return delta(worker, worker_before, name, **labels)

    assert d("journeys_ended_total", outcome="handed_over", segment="standard", tenant=T) == 1
    assert d("journeys_steps_total", channel="email", result="sent", tenant=T) == 3
    assert d("journeys_steps_total", channel="email", result="error", tenant=T) == 1
    assert d("journeys_steps_total", channel="call", result="sent", tenant=T) == 1
    assert d("journeys_steps_total", channel="sms", result="sent", tenant=T) == 0
    assert d("journeys_fallbacks_total", from_channel="sms", to_channel="email", tenant=T) == 1
    assert d("journeys_provider_errors_total", channel="email", status_code="503", tenant=T) == 1
    assert d("journeys_handovers_total", tenant=T) == 1
    assert d("journeys_step_lateness_seconds_count", channel="email", tenant=T) == 3
    assert d("journeys_step_lateness_seconds_count", channel="call", tenant=T) == 1
    assert d("journeys_step_lateness_seconds_bucket", channel="email", le="+Inf", tenant=T) == 3


async def test_each_journey_is_counted_under_its_tenant(
    measured_with_acme: Scrapers,
    temporal_env: WorkflowEnvironment,
    fake_sendgrid: FakeSendGrid,  # noqa: F811
) -> None:
    """The same invoice issued to the default tenant and to acme: two journeys, each counted
    under its own `tenant` label by the API and by the worker, never under the other's."""
    measured = measured_with_acme
    api_before, worker_before = await measured.scrape()
    event = issued(
        customer_since=date(2024, 6, 1).isoformat(),  # two years: standard
        consent={"email": True, "sms": False, "call": True},
    )
    invoice_id = event["data"]["invoice"]["id"]
    for tenant in (T, SECOND_TENANT):
        answer = await measured.api.post("/v1/events", params={"tenant": tenant}, json=event)
        assert answer.json()["outcomes"][0]["status"] == "started", answer.text
        handle = temporal_env.client.get_workflow_handle(workflow_id_for(invoice_id, tenant))
        await temporal_env.fast_forward(handle, None)
        state = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=120))
        assert state.phase == "handed_over"
    refused = await measured.api.post(
        f"/v1/invoices/{invoice_id}/actions",
        params={"tenant": SECOND_TENANT},
        json={"action": "resume", "agent": "a1"},
    )
    assert refused.status_code >= 400  # the journey is over

    api, worker = await measured.scrape()
    acme = SECOND_TENANT
    for tenant in (T, acme):
        assert (
            delta(api, api_before, "journeys_started_total", segment="standard", tenant=tenant) == 1
        )
        started = {"type": "invoice.issued", "status": "started", "tenant": tenant}
        assert delta(api, api_before, "journeys_billing_events_total", **started) == 1

        def d(name: str, **labels: str) -> float:
            return delta(worker, worker_before, name, tenant=tenant, **labels)  # noqa: B023

        assert d("journeys_ended_total", outcome="handed_over", segment="standard") == 1
        assert d("journeys_steps_total", channel="email", result="sent") == 3
        assert d("journeys_steps_total", channel="call", result="sent") == 1
        assert d("journeys_fallbacks_total", from_channel="sms", to_channel="email") == 1
        assert d("journeys_handovers_total") == 1
        assert d("journeys_step_lateness_seconds_count", channel="email") == 3
    resumes = {"action": "resume", "result": "refused"}
    for tenant, count in ((acme, 1), (T, 0)):  # acme's refused resume, not the default's
        actions = delta(api, api_before, "journeys_agent_actions_total", tenant=tenant, **resumes)
        assert actions == count
