"""The whole API (`create_app`), a worker and its own Temporal client in a background thread
with its own event loop, so that hypothesis and schemathesis can drive it from plain
synchronous tests over real HTTP.

Every fuzz test checks the same contract (`check_answer`): no 5xx, every refusal a JSON
`detail` that names the problem, and after a refusal the store exactly as it was
(`store_snapshot`; the dead letters, which record refusals on purpose, and the rows the
journeys' own activities write in the background are left out).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from sqlalchemy import text
from sqlmodel import SQLModel
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from infra.store import get_engine
from journeys.devstack import ApiServer
from starter.api import create_app
from tests.api_server import free_port
from tests.conftest import empty_store, isolated_settings
from tests.starter.conftest import issued
from tests.webhooks.conftest import (
    BOOTSTRAP_KEY,
    SendGridKeys,
    stripe_signature,
    twilio_signature,
    webhook_secrets,
)
from worker import build_worker

FUZZ = hsettings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
"""Fixed examples, same every run: CI stays stable and a failure reproduces."""

UNSNAPSHOTTED = {
    "dead_letters",
    "contact_attempts",
    "outbox",
    "journey_outcomes",
    "customer_page_links",
}
"""Refusals are kept as dead letters on purpose; contact attempts, the outbox, a finished
journey's outcome row and the customer-page links its messages carry are written by journeys'
activities in the background, whatever the request under test does."""

BACKGROUND_COLUMNS = {
    "invoices": {
        "status",
        "balance",
        "fees",
        "steps_sent",
        "resolved_at_step",
        "closed_at",
        "workflow_id",
    },
}
"""Columns a journey's outcome activity writes when it closes (activities/outcome.py), in the
background like the tables above; the rest of the row is still compared."""


class ApiThread:
    """uvicorn + worker on a loop of their own; stopped by `stop()`."""

    def __init__(self, settings: Settings, target_host: str) -> None:
        self.settings = settings
        self.target_host = target_host
        self.port = free_port()
        self.server: ApiServer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="fuzz-api")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # surfaced by start()
            self.error = err
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        client = await Client.connect(self.target_host, data_converter=pydantic_data_converter)
        self.client = client
        app = create_app(self.settings, client=client)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = ApiServer(config)
        async with build_worker(client, self.settings):
            serving = asyncio.create_task(self.server.serve())
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
            self.ready.set()
            await serving

    def start(self) -> None:
        self.thread.start()
        self.ready.wait(60)
        if self.error is not None:
            raise self.error
        assert self.server is not None and self.server.started, "uvicorn did not start"

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)

    def call(self, coro: Any) -> Any:
        """Run a coroutine (a Temporal query, say) on the API's loop and wait for it."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)


@dataclass
class Fuzz:
    api: ApiThread
    http: httpx.Client
    settings: Settings
    sendgrid: SendGridKeys

    # --- signed webhook posts ---

    def twilio(self, path: str, params: dict[str, str], *, sign: bool = True) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            headers["X-Twilio-Signature"] = twilio_signature(path, params)
        return self.http.post(path, content=urlencode(params), headers=headers)

    def sendgrid_events(self, payload: str, *, sign: bool = True) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if sign:
            timestamp = str(int(time.time()))
            headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
            headers["X-Twilio-Email-Event-Webhook-Signature"] = self.sendgrid.sign(
                payload, timestamp
            )
        return self.http.post("/v1/webhooks/sendgrid/events", content=payload, headers=headers)

    def stripe(self, payload: str, *, sign: bool = True) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["Stripe-Signature"] = stripe_signature(payload)
        return self.http.post("/v1/webhooks/stripe", content=payload, headers=headers)

    def post_json(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return self.http.post(
            path,
            content=json.dumps(body),
            headers={"Content-Type": "application/json", **headers},
        )

    def start_journey(self) -> str:
        event = issued()
        answer = self.post_json("/v1/events", event)
        assert answer.status_code == 202, answer.text
        invoice_id: str = event["data"]["invoice"]["id"]
        return invoice_id


def store_snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that a request could change, in a comparable form."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with get_engine(url).connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in UNSNAPSHOTTED:
                continue
            skip = BACKGROUND_COLUMNS.get(table.name, set())
            names = ", ".join(c.name for c in table.columns if c.name not in skip)
            rows = conn.execute(text(f"SELECT {names} FROM {table.name}")).all()
            out[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out


def check_answer(
    answer: httpx.Response, before: dict[str, Any] | None = None, url: str | None = None
) -> None:
    """The contract every fuzzed request must keep (see the module docstring)."""
    assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:500]}"
    if answer.status_code >= 400:
        body = answer.json()
        detail = body.get("detail") if isinstance(body, dict) else None
        assert isinstance(detail, str) and detail.strip(), f"no problem named: {answer.text}"
        if before is not None and url is not None:
            after = store_snapshot(url)
            changed = sorted(
                t for t in after.keys() | before.keys() if after.get(t) != before.get(t)
            )
            assert not changed, f"refused ({detail}) but the store changed: {changed}"


@pytest.fixture(scope="module")
def fuzz(
    temporal_env: WorkflowEnvironment, _db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzz]:
    empty_store(_db_url)
    keys = _sendgrid_keys()
    settings = isolated_settings(
        _db_url,
        tmp_path_factory.mktemp("fuzz"),
        "fuzz",
        **webhook_secrets(keys),
        max_request_bytes=64 * 1024,
    )
    api = ApiThread(settings, temporal_env.client.service_client.config.target_host)
    api.start()
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{api.port}",
            headers={"X-API-Key": BOOTSTRAP_KEY},
            timeout=30,
        ) as http:
            yield Fuzz(api, http, settings, keys)
    finally:
        api.stop()


def _sendgrid_keys() -> SendGridKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SendGridKeys(private, base64.b64encode(der).decode())


@pytest.fixture(scope="module")
def running_invoice(fuzz: Fuzz) -> str:
    """One journey the fuzzed actions are aimed at; it stays running (cancel is not fuzzed)."""
    return fuzz.start_journey()


@dataclass(frozen=True)
class Sent:
    """A running journey with one SMS, one call and one email in its ledger, so that fuzzed
    provider callbacks can find what they claim to be about."""

    invoice_id: str
    sms_sid: str = "SMfuzz0000000000000000000000000001"
    call_sid: str = "CAfuzz0000000000000000000000000001"
    message_id: str = "fuzzmessageid0001"


@pytest.fixture(scope="module")
def sent(fuzz: Fuzz) -> Sent:
    from tests.webhooks.conftest import seed_attempt

    journey = Sent(fuzz.start_journey())
    for step, channel, provider, pid in (
        ("s1", "sms", "twilio", journey.sms_sid),
        ("s2", "call", "twilio", journey.call_sid),
        ("s3", "email", "sendgrid", journey.message_id),
    ):
        seed_attempt(fuzz.settings, journey.invoice_id, step, channel, provider, pid)
    return journey
