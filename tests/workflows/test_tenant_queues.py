"""Deliveries per tenant and channel: each tenant's own rate-limited task queues, served by a
worker that picks up tenants registered after it started; the default tenant's queues, and
journeys started before tenants existed, exactly as they were."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import tenant_workers
from domain.tenants import workflow_id_for
from infra.migrations import current, head
from infra.settings import Settings
from infra.store import ContactAttemptRow, HandoverRow, OutboxMessageRow, get_engine, session_scope
from infra.tenants import (
    TenantProfile,
    delete_profile,
    save_profile,
    tenant_schema,
    tenant_store_url,
)
from tenant_workers import TenantCrew, delivery_queues, upgrade_stores
from tests.factories import journey_input, with_live_providers
from tests.fakes.sendgrid import FakeSendGrid
from tests.tenants import add_tenant, tenants_forgotten  # noqa: F401  (a fixture)
from tests.workflows.journey_driver import JourneyDriver
from worker import build_worker
from workflows.activity_calls import channel_task_queue
from workflows.journey import InvoiceJourney

pytestmark = pytest.mark.usefixtures("tenants_forgotten")

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
ACME_KEY = "SG.acme-key"


def scheduled_queues(history: Any) -> list[tuple[str, str]]:
    return [
        (
            e.activity_task_scheduled_event_attributes.activity_type.name,
            e.activity_task_scheduled_event_attributes.task_queue.name,
        )
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


def test_each_tenant_has_its_own_queues_at_its_own_rates(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = with_live_providers(settings)
    q = base.temporal_task_queue
    assert delivery_queues(base) == {
        "email": (f"{q}-email", base.email_sends_per_second),
        "sms": (f"{q}-sms", base.sms_sends_per_second),
        "call": (f"{q}-call", base.calls_per_second),
        "letter": (f"{q}-letter", None),  # no print-and-post provider: the outbox
    }
    acme = add_tenant(
        base,
        "acme",
        settings={
            "email_sends_per_second": "3",
            "sms_sends_per_second": "0.5",
            "twilio_account_sid": "AC" + "a" * 32,
            "twilio_from_number": "+46701110000",
        },
        secrets={"sendgrid_api_key": "SG.acme", "twilio_auth_token": "acme-token"},
        monkeypatch=monkeypatch,
    )
    assert delivery_queues(acme) == {
        "email": (f"{q}-email@acme", 3.0),
        "sms": (f"{q}-sms@acme", 0.5),
        "call": (f"{q}-call@acme", Settings.model_fields["calls_per_second"].default),
        "letter": (f"{q}-letter@acme", None),
    }
    # Providers are a tenant's own: one without any delivers to its outbox, unlimited.
    bolag = add_tenant(base, "bolag")
    assert {rate for _queue, rate in delivery_queues(bolag).values()} == {None}
    # The default tenant's names are the ones every running journey and stored history has.
    assert channel_task_queue("journeys", "email") == "journeys-email"
    assert channel_task_queue("journeys", "email", "default") == "journeys-email"


def built_rates(crew: TenantCrew) -> dict[str, float | None]:
    """Each of the crew's workers' task queue and the rate it was built with (the SDK's own
    record: what it asks the server to hold the queue to)."""
    return {
        w.task_queue: w.config().get("max_task_queue_activities_per_second") for w in crew.workers
    }


@pytest.fixture
def acme_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=ACME_KEY) as server:
        yield server


def refreshing(settings: Settings, sendgrid: FakeSendGrid) -> Settings:
    """The deployment's settings, sending through `sendgrid`, its worker looking at the
    registry every 0.2 s."""
    return settings.model_copy(
        update={"sendgrid_api_host": sendgrid.url, "worker_tenant_refresh_seconds": 0.2}
    )


def register_acme(base: Settings, monkeypatch: pytest.MonkeyPatch, *, rate: str) -> Settings:
    """Acme (again: `tenants add --replace`), its own SendGrid key and sender, `rate` emails a
    second."""
    return add_tenant(
        base,
        "acme",
        settings={"sendgrid_from_email": "billing@acme.example", "email_sends_per_second": rate},
        secrets={"sendgrid_api_key": ACME_KEY},
        monkeypatch=monkeypatch,
    )


async def until(done: Callable[[], bool], what: str) -> None:
    for _ in range(100):
        if done():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within 10 s: {what}")


async def test_a_tenant_added_while_the_worker_runs_gets_its_queues(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    acme_sendgrid: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = refreshing(settings, acme_sendgrid)
    worker = build_worker(temporal_env.client, base)
    assert worker.tenants is not None
    async with worker:
        assert worker.tenants.tenants == {"default"}
        acme = register_acme(base, monkeypatch, rate="7")
        with capture_logs() as logs:
            await until(lambda: "acme" in worker.tenants.tenants, "acme started")
        [started] = [e for e in logs if e["event"] == "tenant workers started"]
        assert started["tenant"] == "acme"
        q = base.temporal_task_queue
        assert built_rates(worker.tenants.crews["acme"]) == {
            f"{q}-email@acme": 7.0,
            f"{q}-sms@acme": None,
            f"{q}-call@acme": None,
            f"{q}-letter@acme": None,
        }

        inp = journey_input("inv_acme").model_copy(update={"tenant": "acme"})
        handle = await temporal_env.client.start_workflow(
            InvoiceJourney.run, inp, id=workflow_id_for("inv_acme", "acme"), task_queue=q
        )
        journeys = JourneyDriver(temporal_env, base)
        await journeys.through_step(handle, 0)
        assert scheduled_queues(await handle.fetch_history()) == [("send_email", f"{q}-email@acme")]
        [mail] = acme_sendgrid.mails
        assert mail.headers["authorization"] == f"Bearer {ACME_KEY}"
        assert mail.json()["from"]["email"] == "billing@acme.example"
        with session_scope(acme.store_url) as session:
            [row] = session.exec(select(ContactAttemptRow)).all()
            assert (row.invoice_id, row.provider) == ("inv_acme", "sendgrid")
        await handle.terminate("test done")
    crews = worker.tenants.crews.values()
    assert all(task.done() for crew in crews for task in crew.tasks)  # stopped with the rest


async def test_a_tenants_changed_rates_and_its_removal_reach_the_running_worker(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    acme_sendgrid: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = refreshing(settings, acme_sendgrid)
    q = base.temporal_task_queue
    email = f"{q}-email@acme"
    acme = register_acme(base, monkeypatch, rate="7")
    worker = build_worker(temporal_env.client, base)
    tenants = worker.tenants
    async with worker:
        default, first = tenants.crews["default"], tenants.crews["acme"]
        assert built_rates(first)[email] == 7.0
        assert await server_rate(temporal_env.client, email, 7.0) == 7.0

        # The rate changes (`journeys tenants add acme --replace`): acme's workers are replaced.
        with capture_logs() as logs:
            register_acme(base, monkeypatch, rate="2")
            await until(lambda: tenants.crews.get("acme") not in (None, first), "acme restarted")
        [restarted] = [e for e in logs if e["event"] == "tenant workers restarted"]
        assert restarted["tenant"] == "acme"
        assert (restarted["old_rates"][email], restarted["rates"][email]) == (7.0, 2.0)
        assert ACME_KEY not in repr(logs)
        assert all(task.done() for task in first.tasks)  # the old ones let go of the queues
        second = tenants.crews["acme"]
        assert built_rates(second) == {
            email: 2.0,
            f"{q}-sms@acme": None,
            f"{q}-call@acme": None,
            f"{q}-letter@acme": None,
        }
        assert tenants.crews["default"] is default  # the others are left as they were
        assert await server_rate(temporal_env.client, email, 2.0) == 2.0  # what the server holds

        # A delivery after the change arrives, through the new workers.
        inp = journey_input("inv_acme").model_copy(update={"tenant": "acme"})
        handle = await temporal_env.client.start_workflow(
            InvoiceJourney.run, inp, id=workflow_id_for("inv_acme", "acme"), task_queue=q
        )
        await JourneyDriver(temporal_env, base).through_step(handle, 0)
        assert scheduled_queues(await handle.fetch_history()) == [("send_email", email)]
        [mail] = acme_sendgrid.mails
        assert mail.json()["from"]["email"] == "billing@acme.example"
        with session_scope(acme.store_url) as session:
            [row] = session.exec(select(ContactAttemptRow)).all()
            assert row.invoice_id == "inv_acme"
        await handle.terminate("test done")

        # The registry unreadable: nothing is stopped.
        with monkeypatch.context() as patch:
            patch.setattr(tenant_workers, "read_profiles", _unreadable)
            assert await tenants.refresh() == {}
        assert tenants.crews["acme"] is second

        # Removed (`journeys tenants remove acme`): its workers stop, the default's go on.
        with capture_logs() as logs:
            delete_profile(base.store_url, "acme")
            await until(lambda: "acme" not in tenants.crews, "acme stopped")
        [stopped] = [e for e in logs if e["event"] == "tenant workers stopped"]
        assert stopped["tenant"] == "acme"
        assert all(task.done() for task in second.tasks)
        assert tenants.retired == [first, second]
        assert tenants.crews == {"default": default}
        assert not any(task.done() for task in default.tasks)
    assert all(task.done() for task in default.tasks)


async def server_rate(client: Client, queue: str, expected: float) -> float:
    """The rate the server holds the activity queue to (its pollers' `rate_per_second`), once
    it is `expected` or after 10 s: a new worker's first poll takes a moment."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        report_config=True,
    )
    rate = -1.0
    for _ in range(100):
        described = await client.workflow_service.describe_task_queue(request)
        rate = described.effective_rate_limit.requests_per_second
        if rate == expected:
            break
        await asyncio.sleep(0.1)
    return rate


def _unreadable(control_url: str) -> list[TenantProfile]:
    raise OperationalError("SELECT id FROM tenants", {}, Exception("database is locked"))


async def test_a_delivery_worker_that_fails_by_itself_fails_the_worker(
    temporal_env: WorkflowEnvironment, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the journey worker's own failure does: the process leaves and is restarted, instead
    of running on without one channel's deliveries."""
    worker = build_worker(temporal_env.client, settings)

    async def fails() -> None:
        raise RuntimeError("poller gone")

    monkeypatch.setattr(worker.tenants.crews["default"].workers[0], "run", fails)
    with capture_logs() as logs, pytest.raises(RuntimeError, match="poller gone"):
        await asyncio.wait_for(worker.run(), timeout=10)
    await worker.shutdown()
    [failed] = [e for e in logs if e["event"] == "tenant worker failed"]
    assert failed["tenant"] == "default"


def pre_tenant_input(history: str, invoice_id: str) -> dict[str, Any]:
    """A journey's input as stored before tenants: no `tenant` in it."""
    events = json.loads((HISTORIES / history).read_text(encoding="utf-8"))["events"]
    payload = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    data: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    assert "tenant" not in data
    data["invoice"]["id"] = invoice_id
    return data


async def test_a_journey_from_before_tenants_runs_to_its_close_as_the_default_tenant(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    acme = add_tenant(settings, "acme")
    q = settings.temporal_task_queue
    async with build_worker(temporal_env.client, settings):
        handle: WorkflowHandle[Any, Any] = await temporal_env.client.start_workflow(
            "InvoiceJourney",
            pre_tenant_input("full_path.json", "inv_pre_tenant"),
            id=workflow_id_for("inv_pre_tenant"),
            task_queue=q,
        )
        await temporal_env.fast_forward(handle, None)
        result = await handle.result()
        history = await handle.fetch_history()

    assert result["phase"] == "handed_over" and result["tenant"] == "default"
    queues = scheduled_queues(history)
    assert {queue for name, queue in queues if name != "hand_over"} == {
        f"{q}-email",
        f"{q}-sms",
        f"{q}-call",
    }
    with session_scope(settings.store_url) as session:
        mine = session.exec(
            select(OutboxMessageRow).where(OutboxMessageRow.invoice_id == "inv_pre_tenant")
        ).all()
        assert len(mine) >= 4
        assert session.exec(select(HandoverRow)).all() != []
    with session_scope(acme.store_url) as session:
        assert session.exec(select(OutboxMessageRow)).all() == []
        assert session.exec(select(ContactAttemptRow)).all() == []


def _drop_store(url: str, tenant: str) -> None:
    """The tenant's store gone, as for a tenant registered but never migrated."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    with get_engine(url.split("?")[0]).begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{tenant_schema(tenant)}" CASCADE'))


async def test_the_worker_migrates_every_tenants_store_and_serves_all_it_can(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A tenant whose variables are missing on the worker's machine is logged and left out;
    the others are served (one tenant's mistake must not stop every company's reminders)."""
    save_profile(settings.store_url, TenantProfile(id="fresh", name="Fresh AB"))
    no_key = TenantProfile(id="no-key", name="No Key AB", secrets={"sendgrid_api_key": "NO_KEY"})
    no_db = TenantProfile(id="no-db", name="No DB AB", secrets={"database_url": "NO_DB_URL"})
    for profile in (no_key, no_db):
        save_profile(settings.store_url, profile)
    fresh_url = tenant_store_url(settings.store_url, "fresh")
    _drop_store(fresh_url, "fresh")

    with capture_logs() as logs:
        ready = upgrade_stores(settings)
        worker = build_worker(temporal_env.client, settings)

    assert ready == ["default", "fresh", "no-key"]  # a store needs no provider's secret
    assert current(fresh_url) == head()
    assert worker.tenants is not None and worker.tenants.tenants == {"default", "fresh"}
    errors = {(e["event"], e["tenant"]) for e in logs if e["log_level"] == "error"}
    assert errors == {
        ("tenant store not migrated", "no-db"),
        ("tenant not served: its settings are wrong", "no-db"),
        ("tenant not served: its settings are wrong", "no-key"),
    }
