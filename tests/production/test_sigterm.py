"""SIGTERM, as a deploy or `docker compose stop` sends it, while work is in flight.

The worker (`journeys worker`, a real process) is stopped while a journey's first email is
at SendGrid (a fake that answers sends late): with a grace longer than the send, the send
finishes and is recorded before the process exits 0; with a shorter grace, the send is cut
off and the next worker's retry settles it from SendGrid's own record. Either way the customer
gets the email once and the journey goes on to its next step on the new worker.

The API (`journeys api`) is stopped while an agent action waits for a journey whose worker
is being replaced (a rolling deploy): the request is answered normally, the port refuses new
connections at once, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities import ledger
from bench.product import issued_event
from domain.models import workflow_id_for
from infra.policy_file import load_policies
from infra.settings import Settings
from starter import idempotency
from starter.event_schema import parse_events
from starter.ingest import Ingest
from starter.journey_calendar import compressed_clock
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.fakes.server import RecordedRequest
from tests.production.processes import ApiProcess, ProductProcess, product_env

REPO = Path(__file__).resolve().parents[2]
SECONDS_PER_DAY = 1
"""The standard policy's email goes out on day 3 (3 s after issue), its SMS on day 10."""
EXIT_MARGIN = 8.0
"""Seconds a stop may take beyond the send or the grace on a busy 2-core machine."""


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSendGrid, FakeTwilio]]:
    with FakeSendGrid() as sendgrid, FakeTwilio() as twilio:
        yield sendgrid, twilio


@pytest.fixture
def providers(settings: Settings, fakes: tuple[FakeSendGrid, FakeTwilio]) -> Settings:
    sendgrid, twilio = fakes
    return settings.model_copy(
        update={
            **sendgrid.settings(),
            **twilio.settings(),
            "provider_timeout_seconds": 8.0,
            "email_sends_per_second": 100.0,
            "sms_sends_per_second": 100.0,
        }
    )


class Stack:
    def __init__(
        self,
        env: WorkflowEnvironment,
        settings: Settings,
        tmp_path: Path,
        fakes: tuple[FakeSendGrid, FakeTwilio],
    ) -> None:
        self.env, self.settings, self.tmp_path = env, settings, tmp_path
        self.sendgrid, self.twilio = fakes
        self.address = env.client.service_client.config.target_host
        self.processes: list[ProductProcess] = []
        self.handles: list[WorkflowHandle[Any, Any]] = []

    def worker(self, grace: float) -> ProductProcess:
        env = product_env(
            self.settings, temporal_address=self.address, worker_graceful_shutdown_seconds=grace
        )
        proc = ProductProcess("worker", env, self.tmp_path / "worker.log")
        self.processes.append(proc)
        return proc

    def api(self) -> ApiProcess:
        env = product_env(self.settings, temporal_address=self.address)
        proc = ApiProcess(env, self.tmp_path / "api.log")
        self.processes.append(proc)
        return proc

    async def issue(self) -> str:
        """A standard-segment invoice issued now, its journey on the compressed clock."""
        event = issued_event(datetime.now(UTC).strftime("%H%M%S%f"), 1, date.today())
        policies = load_policies(self.settings.policy_file)
        ingest = Ingest(self.env.client, self.settings, policies, compressed_clock(SECONDS_PER_DAY))
        [outcome] = await ingest(parse_events(event))
        assert outcome.status == "started", outcome
        invoice_id = str(event["data"]["invoice"]["id"])
        self.handles.append(self.env.client.get_workflow_handle(workflow_id_for(invoice_id)))
        return invoice_id

    async def close(self) -> None:
        for handle in self.handles:
            with contextlib.suppress(Exception):  # already ended
                await handle.terminate("test over")
        for proc in self.processes:
            await proc.kill()


@pytest.fixture
async def stack(
    temporal_env: WorkflowEnvironment,
    providers: Settings,
    tmp_path: Path,
    fakes: tuple[FakeSendGrid, FakeTwilio],
) -> AsyncIterator[Stack]:
    s = Stack(temporal_env, providers, tmp_path, fakes)
    try:
        yield s
    finally:
        await s.close()


async def until(condition: Any, timeout: float, what: str) -> float:
    """Wait until `condition()` holds; the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def step_status(settings: Settings, invoice_id: str, step_key: str) -> str | None:
    row = ledger.get_attempt(settings.store_url, invoice_id, step_key)
    return row.status if row is not None else None


async def stop_during_send(stack: Stack, grace: float, send_seconds: float) -> tuple[str, float]:
    """Start a worker and a journey, SIGTERM the worker once SendGrid holds the first email
    (its answer still pending); the invoice id and how long the worker took to exit."""
    sendgrid = stack.sendgrid
    sendgrid.send_delay = send_seconds
    worker = stack.worker(grace)
    await worker.start()
    invoice_id = await stack.issue()
    await until(lambda: sendgrid.in_flight > 0, 60, "the first email to reach SendGrid")
    assert len(first_emails(sendgrid)) == 1
    sent_at = time.monotonic()
    worker.signal()
    status = await worker.wait(timeout=max(grace, send_seconds) + EXIT_MARGIN + 20)
    took = time.monotonic() - sent_at
    print(f"worker (grace {grace:g} s, send {send_seconds:g} s) exited {took:.2f} s after SIGTERM")
    sendgrid.send_delay = 0.0
    assert status == 0, worker.output()[-3000:]
    [stopping] = worker.events("worker stopping")
    assert stopping["activities_running"] >= 1 and stopping["grace_seconds"] == grace
    assert len(worker.events("worker stopped")) == 1, worker.output()[-3000:]
    return invoice_id, took


FIRST = "step-0-email"


def first_emails(sendgrid: FakeSendGrid) -> list[RecordedRequest]:
    """The mails SendGrid was asked to send for the journey's first step."""
    return [
        m for m in sendgrid.mails if (m.json().get("custom_args") or {}).get("step_key") == FIRST
    ]


async def continues_without_duplicate(stack: Stack, invoice_id: str) -> None:
    """A new worker takes the journey on: its SMS (step 1) goes out, the email stays one."""
    sendgrid, twilio = stack.sendgrid, stack.twilio
    worker = stack.worker(grace=5.0)
    await worker.start()
    await until(
        lambda: step_status(stack.settings, invoice_id, "step-1-sms") == "sent",
        90,
        "the journey's SMS on the new worker",
    )
    # Counted per step: on a slow machine the journey may already be at its final email.
    assert len(first_emails(sendgrid)) == 1
    assert len([a for a in sendgrid.accepted if a["custom_args"]["step_key"] == FIRST]) == 1
    assert len(twilio.messages) == 1  # the policy's only SMS
    assert step_status(stack.settings, invoice_id, FIRST) == "sent"
    worker.signal()
    assert await worker.wait(timeout=30) == 0


async def test_sigterm_during_a_send_lets_it_finish_then_exits_0(stack: Stack) -> None:
    invoice_id, took = await stop_during_send(stack, grace=10.0, send_seconds=2.0)

    worker = stack.processes[0]
    assert took < 2.0 + EXIT_MARGIN, f"the worker took {took:.1f} s to stop"
    [stopped] = worker.events("worker stopped")
    assert stopped["activities_finished"] >= 1 and stopped["activities_cancelled"] == 0
    assert len(first_emails(stack.sendgrid)) == 1
    row = ledger.get_attempt(stack.settings.store_url, invoice_id, FIRST)
    assert row is not None and (row.status, row.attempts) == ("sent", 1)
    await continues_without_duplicate(stack, invoice_id)


async def test_a_grace_shorter_than_the_send_cuts_it_off_and_the_retry_reconciles_it(
    stack: Stack,
) -> None:
    invoice_id, took = await stop_during_send(stack, grace=1.0, send_seconds=5.0)

    worker = stack.processes[0]
    assert took < 1.0 + EXIT_MARGIN, f"the worker took {took:.1f} s to stop"
    [stopped] = worker.events("worker stopped")
    assert stopped["activities_cancelled"] >= 1
    # Cut off between the send and its record: the ledger still says "sending".
    assert step_status(stack.settings, invoice_id, FIRST) == "sending"

    await continues_without_duplicate(stack, invoice_id)
    row = ledger.get_attempt(stack.settings.store_url, invoice_id, FIRST)
    assert row is not None and (row.status, row.error) == ("sent", ledger.RECONCILED)
    [accepted] = [a for a in stack.sendgrid.accepted if a["custom_args"]["step_key"] == FIRST]
    assert row.provider_id == accepted["msg_id"].split(".")[0]


@pytest.mark.store_independent
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_python_worker_py_stops_the_same_way(stack: Stack, sig: int) -> None:
    """`python worker.py`, the other way to run the worker, stops on SIGTERM and on Ctrl-C's
    SIGINT through the same graceful path, with status 0."""
    env = product_env(stack.settings, temporal_address=stack.address)
    worker = ProductProcess(
        [sys.executable, str(REPO / "worker.py")],
        env,
        stack.tmp_path / "worker-py.log",
        ready_mark='"worker started"',
    )
    stack.processes.append(worker)
    await worker.start()
    worker.signal(sig)
    assert await worker.wait(timeout=30) == 0, worker.output()[-3000:]
    [stopping] = worker.events("worker stopping")
    assert stopping["activities_running"] == 0
    [stopped] = worker.events("worker stopped")
    assert (stopped["activities_finished"], stopped["activities_cancelled"]) == (0, 0)


async def admitted(stack: Stack, invoice_id: str, update_id: str, timeout: float) -> None:
    """Wait until Temporal holds the update the API sent (the request is in the API's hands)."""
    request = PollWorkflowExecutionUpdateRequest(
        namespace=stack.settings.temporal_namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=workflow_id_for(invoice_id)),
            update_id=update_id,
        ),
        identity="test",
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            await stack.env.client.workflow_service.poll_workflow_execution_update(
                request, timeout=timedelta(seconds=5)
            )
            return
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def refuses_connections(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.store_independent
async def test_sigterm_during_a_request_answers_it_refuses_new_ones_and_exits_0(
    stack: Stack,
) -> None:
    """A rolling deploy: the worker is replaced while an agent's action waits for the journey,
    and the API gets its SIGTERM in the middle of that request."""
    stack.settings = stack.settings.model_copy(update={"api_graceful_shutdown_seconds": 60})
    first = stack.worker(grace=5.0)
    api = stack.api()
    await first.start()
    await api.start()
    async with httpx.AsyncClient(base_url=api.base_url, timeout=90) as http:
        event = issued_event(datetime.now(UTC).strftime("%H%M%S%f"), 2, date.today())
        invoice_id = str(event["data"]["invoice"]["id"])
        assert (await http.post("/v1/events", json=event)).status_code == 202
        stack.handles.append(stack.env.client.get_workflow_handle(workflow_id_for(invoice_id)))
        assert (await http.get(f"/v1/invoices/{invoice_id}/journey")).status_code == 200

        first.signal()  # the old worker goes; its replacement is not up yet
        assert await first.wait(timeout=30) == 0

        key = "pause-during-deploy"
        action = asyncio.create_task(
            http.post(
                f"/v1/invoices/{invoice_id}/actions",
                json={"action": "pause", "agent": "a1", "note": "customer called"},
                headers={"Idempotency-Key": key},
            )
        )
        await admitted(stack, invoice_id, idempotency.update_id(invoice_id, key), timeout=30)
        assert not action.done()

        api.signal()
        refused_after = await until(lambda: refuses_connections(api.port), 5, "port closed")
        assert api.alive and not action.done(), "the API left before answering its request"

        second = stack.worker(grace=5.0)
        await second.start()
        answer = await asyncio.wait_for(action, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["phase"] == "paused"

    assert await api.wait(timeout=30) == 0, api.output()[-3000:]
    print(f"API port refused new connections {refused_after:.2f} s after SIGTERM")
    assert refused_after < 3.0
    second.signal()
    assert await second.wait(timeout=30) == 0
