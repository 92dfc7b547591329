"""`journeys db ...`, `journeys replay` (the pre-deploy check) and the worker healthcheck."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra import migrations
from infra.settings import REPO_ROOT, Settings
from infra.tenants import TenantProfile, save_profile, tenant_store_url
from journeys.db_cli import db_app
from journeys.ops_cli import replay_journeys, replay_query, worker_is_polling
from tests.factories import journey_input
from tests.workflows.test_replay import UnguardedChange
from worker import build_worker
from workflows.journey import InvoiceJourney

runner = CliRunner()


# --- journeys db -----------------------------------------------------------------------------


@pytest.fixture
def db_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL for a new SQLite file; run from a folder with no .env and no migrations."""
    url = f"sqlite:///{tmp_path / 'ops' / 'journeys.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def test_db_upgrade_current_downgrade(db_env: str) -> None:
    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 1
    assert "not migrated" in result.output

    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert f"upgraded empty -> {migrations.head()}" in result.output

    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0
    assert "already at" in result.output

    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 0
    assert f"{migrations.head()} (up to date)" in result.output

    result = runner.invoke(db_app, ["downgrade", migrations.BASELINE, "--yes"])
    assert result.exit_code == 0, result.output
    assert migrations.current(db_env) == migrations.BASELINE

    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 1
    assert "behind" in result.output

    result = runner.invoke(db_app, ["upgrade", "--revision", migrations.head()])
    assert result.exit_code == 0
    assert migrations.current(db_env) == migrations.head()


def test_db_downgrade_asks_first(db_env: str) -> None:
    migrations.upgrade(db_env)
    result = runner.invoke(db_app, ["downgrade", "base"], input="n\n")
    assert result.exit_code != 0
    assert migrations.current(db_env) == migrations.head()

    result = runner.invoke(db_app, ["downgrade", "base"], input="y\n")
    assert result.exit_code == 0
    assert migrations.current(db_env) is None


def test_db_current_and_downgrade_cover_every_tenants_store(db_env: str) -> None:
    """`current` shows the control store, then each tenant's, and fails if any is behind;
    `downgrade --tenant` rolls back one store, plain `downgrade` every store (tenants first,
    the control store and its registry last)."""
    head, before = migrations.head(), "0005"
    migrations.upgrade(db_env)
    save_profile(db_env, TenantProfile(id="acme", name="Acme"))
    acme_url = tenant_store_url(db_env, "acme")
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    assert migrations.current(acme_url) == head

    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{db_env}: {head} (up to date)",
        f"tenant acme: {acme_url}: {head} (up to date)",
    ]

    result = runner.invoke(db_app, ["downgrade", before, "--tenant", "acme", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"tenant acme: {acme_url}: now at {before}"]
    assert (migrations.current(db_env), migrations.current(acme_url)) == (head, before)

    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 1  # one tenant behind fails the deploy's check
    assert result.output.splitlines() == [
        f"{db_env}: {head} (up to date)",
        f"tenant acme: {acme_url}: {before} (behind, newest is {head})",
    ]

    # a rollback of every store stops at the first that cannot go, naming it
    runner.invoke(db_app, ["downgrade", migrations.BASELINE, "--tenant", "acme", "--yes"])
    result = runner.invoke(db_app, ["downgrade", before, "--yes"])
    assert result.exit_code == 2
    assert f"error: tenant acme: downgrade of {acme_url} failed: " in result.output
    assert migrations.current(db_env) == head  # the control store was not touched

    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    result = runner.invoke(db_app, ["downgrade", before], input="y\n")
    assert result.exit_code == 0, result.output
    assert "tenant acme: " in result.output.splitlines()[0]  # the question names each store
    assert result.output.splitlines()[-2:] == [
        f"tenant acme: {acme_url}: now at {before}",
        f"{db_env}: now at {before}",
    ]
    assert (migrations.current(db_env), migrations.current(acme_url)) == (before, before)


def test_db_commands_name_a_tenant_they_cannot_reach(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations.upgrade(db_env)
    save_profile(db_env, TenantProfile(id="acme", name="Acme"))
    migrations.upgrade(tenant_store_url(db_env, "acme"))
    own = TenantProfile(id="bolag", name="Bolag", secrets={"database_url": "TEST_BOLAG_DB"})
    save_profile(db_env, own)
    monkeypatch.delenv("TEST_BOLAG_DB", raising=False)

    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 2  # the check could not run for one store; the rest shown
    assert f"tenant acme: {tenant_store_url(db_env, 'acme')}: " in result.output
    assert "error: tenant bolag: environment variable TEST_BOLAG_DB" in result.output

    result = runner.invoke(db_app, ["downgrade", "base", "--yes"])
    assert result.exit_code == 2
    assert "error: tenant bolag: environment variable TEST_BOLAG_DB" in result.output
    assert migrations.current(db_env) == migrations.head()  # nothing touched
    assert migrations.current(tenant_store_url(db_env, "acme")) == migrations.head()

    result = runner.invoke(db_app, ["downgrade", "base", "--tenant", "nope", "--yes"])
    assert result.exit_code == 2
    assert "error: no tenant 'nope'" in result.output

    result = runner.invoke(db_app, ["downgrade", "0005", "--tenant", "default", "--yes"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{db_env}: now at 0005"]


def test_db_errors_are_one_line(db_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output


def test_journeys_command_has_db_and_replay() -> None:
    """The lead registers db_app as `journeys db` and replay as `journeys replay`."""
    from journeys.cli import app

    for args in (["db", "upgrade", "--help"], ["replay", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"`journeys {' '.join(args)}`: {result.output}"


# --- replay ----------------------------------------------------------------------------------


def test_replay_query_adds_to_the_workflow_type() -> None:
    assert replay_query(None) == 'WorkflowType="InvoiceJourney"'
    assert replay_query("  ") == 'WorkflowType="InvoiceJourney"'
    assert (
        replay_query('ExecutionStatus="Running"')
        == 'WorkflowType="InvoiceJourney" AND (ExecutionStatus="Running")'
    )


@pytest.fixture
async def running_journey(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[WorkflowHandle[Any, JourneyState]]:
    """A journey on the test server whose first workflow task is done, and its worker."""
    inp = journey_input(f"inv_ops_{uuid.uuid4().hex[:8]}")
    async with build_worker(temporal_env.client, settings):
        handle = await temporal_env.client.start_workflow(
            InvoiceJourney.run,
            inp,
            id=workflow_id_for(inp.invoice.id),
            task_queue=settings.temporal_task_queue,
        )
        await handle.query(InvoiceJourney.state)
        await listed(temporal_env.client, handle.id)
        yield handle
        await handle.terminate("test over")


async def listed(client: Client, workflow_id: str) -> None:
    for _ in range(100):
        async for _ in client.list_workflows(f'WorkflowId="{workflow_id}"'):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never appeared in visibility")


async def test_replay_passes_on_current_code(
    temporal_env: WorkflowEnvironment, running_journey: WorkflowHandle[Any, Any]
) -> None:
    report = await replay_journeys(
        temporal_env.client, query=f'WorkflowId="{running_journey.id}"', limit=10
    )
    assert [(j.workflow_id, j.status, j.failure) for j in report.journeys] == [
        (running_journey.id, "running", None)
    ]
    assert report.failed == []


async def test_replay_reports_a_nondeterministic_change(
    temporal_env: WorkflowEnvironment, running_journey: WorkflowHandle[Any, Any]
) -> None:
    report = await replay_journeys(
        temporal_env.client,
        query=f'WorkflowId="{running_journey.id}"',
        workflows=[UnguardedChange],  # the replay tests' unguarded release
    )
    [failed] = report.failed
    assert failed.workflow_id == running_journey.id
    assert failed.failure is not None
    assert "nondetermin" in failed.failure.lower()


def run_ops(*args: str, temporal_env: WorkflowEnvironment, cwd: Path, **env: str) -> Any:
    address = temporal_env.client.service_client.config.target_host
    environment = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "PYTHONPATH": str(REPO_ROOT),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "journeys.ops_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
    )


async def test_replay_command_exit_status(
    temporal_env: WorkflowEnvironment,
    running_journey: WorkflowHandle[Any, Any],
    tmp_path: Path,
) -> None:
    query = f'WorkflowId="{running_journey.id}"'
    done = await asyncio.to_thread(
        run_ops, "replay", "--query", query, temporal_env=temporal_env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok      {running_journey.id}" in done.stdout
    assert "1 ok, 0 failed" in done.stdout


async def test_replay_command_cannot_reach_temporal(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    done = await asyncio.to_thread(
        run_ops, "replay", temporal_env=temporal_env, cwd=tmp_path, TEMPORAL_ADDRESS="127.0.0.1:1"
    )
    assert done.returncode == 2
    assert "cannot reach Temporal" in done.stderr


# --- worker healthcheck ----------------------------------------------------------------------


async def test_worker_is_polling_only_for_its_own_host(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    running_journey: WorkflowHandle[Any, Any],
) -> None:
    client = temporal_env.client
    assert await worker_is_polling(client, settings, socket.gethostname())
    assert not await worker_is_polling(client, settings, "another-container")


async def test_worker_health_command(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    running_journey: WorkflowHandle[Any, Any],
    tmp_path: Path,
) -> None:
    polled = await asyncio.to_thread(
        run_ops,
        "worker-health",
        temporal_env=temporal_env,
        cwd=tmp_path,
        TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
    )
    assert polled.returncode == 0, polled.stdout + polled.stderr
    idle = await asyncio.to_thread(
        run_ops,
        "worker-health",
        temporal_env=temporal_env,
        cwd=tmp_path,
        TEMPORAL_TASK_QUEUE="no-worker-here",
    )
    assert idle.returncode == 1
    assert "no worker" in idle.stderr
