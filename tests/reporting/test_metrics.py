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
import dataclasses
from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from activities.metrics import serve_worker_metrics
from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.settings import Settings
from starter.api import create_app
from tests.api_server import free_port, serving
from tests.fakes.fixtures import fake_sendgrid, sendgrid_settings  # noqa: F401
from tests.fakes.sendgrid import FakeSendGrid
from tests.starter.conftest import issued
from worker import build_worker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


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


@pytest.fixture
async def measured(
    temporal_env: WorkflowEnvironment,
    sendgrid_settings: Settings,  # noqa: F811
) -> AsyncIterator[Scrapers]:
    settings = sendgrid_settings.model_copy(
        update={"worker_metrics_port": free_port(), "worker_metrics_host": "127.0.0.1"}
    )
    app = create_app(settings, client=temporal_env.client)
    metrics_server = serve_worker_metrics(settings)
    assert metrics_server is not None
    try:
        async with (
            serving(app) as base_url,
            build_worker(temporal_env.client, settings),
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Scrapers(
                http, f"http://127.0.0.1:{settings.worker_metrics_port}/metrics", settings
            )
    finally:
        metrics_server.shutdown()


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
    assert delta(api, api_before, "journeys_started_total", segment="standard") == 1
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

    assert d("journeys_ended_total", outcome="handed_over", segment="standard") == 1
    assert d("journeys_steps_total", channel="email", result="sent") == 3
    assert d("journeys_steps_total", channel="email", result="error") == 1
    assert d("journeys_steps_total", channel="call", result="sent") == 1
    assert d("journeys_steps_total", channel="sms", result="sent") == 0
    assert d("journeys_fallbacks_total", from_channel="sms", to_channel="email") == 1
    assert d("journeys_provider_errors_total", channel="email", status_code="503") == 1
    assert d("journeys_handovers_total") == 1
    assert d("journeys_step_lateness_seconds_count", channel="email") == 3
    assert d("journeys_step_lateness_seconds_count", channel="call") == 1
    assert d("journeys_step_lateness_seconds_bucket", channel="email", le="+Inf") == 3
