"""The `journeys` command as a user runs it: real processes and exit statuses where they
matter (imports, status, agent actions), Typer's runner for pure input checks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.settings import Settings
from journeys import cli
from tests.starter.conftest import issued, payment
from worker import build_worker

JOURNEYS = str(Path(sys.executable).parent / "journeys")


def _env(settings: Settings, temporal_env: WorkflowEnvironment) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    env.update(
        TEMPORAL_ADDRESS=temporal_env.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
        DATABASE_URL=settings.store_url,
        DATA_DIR=str(settings.data_dir),
        LOG_FORMAT="json",
    )
    return env


async def _journeys(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        JOURNEYS,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def worker(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[None]:
    async with build_worker(temporal_env.client, settings):
        yield


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_import_applies_good_lines_and_reports_bad_ones_by_line_and_field(
    temporal_env: WorkflowEnvironment, settings: Settings, worker: None, tmp_path: Path
) -> None:
    first, second = issued(), issued()
    bad = issued()
    bad["data"]["invoice"]["currency"] = "KRONOR"
    first_id = first["data"]["invoice"]["id"]
    file = _write_jsonl(
        tmp_path / "events.jsonl",
        [
            json.dumps(payment(first_id, amount="1250.00")),
            json.dumps(bad),
            "",
            json.dumps(first),
            "{not json",
            json.dumps(second),
        ],
    )
    env = _env(settings, temporal_env)
    status, out, err = await _journeys(env, tmp_path, "events", "import", str(file))

    assert status == 1, (out, err)
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert problems == [
        "line 2: data.invoice.currency: 'KRONOR' is not an ISO 4217 currency code",
        "line 5: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
    ]
    assert "3 applied" in out and "2 failed" in out
    assert "berit@example.se" not in err and "+46701234567" not in err

    # The payment that came before its invoice was applied once the invoice arrived.
    handle = temporal_env.client.get_workflow_handle(workflow_id_for(first_id))
    result = JourneyState.model_validate(await asyncio.wait_for(handle.result(), timeout=30))
    assert result.phase == "paid"

    # Re-importing is safe: the same answers, nothing new, still exit 1 for the bad lines.
    status, out, _ = await _journeys(env, tmp_path, "events", "import", str(file))
    assert status == 1 and "3 applied" in out


async def test_status_and_agent_talk_to_the_journey(
    temporal_env: WorkflowEnvironment, settings: Settings, worker: None, tmp_path: Path
) -> None:
    event = issued()
    invoice_id = event["data"]["invoice"]["id"]
    env = _env(settings, temporal_env)
    file = _write_jsonl(tmp_path / "one.jsonl", [json.dumps(event)])
    assert (await _journeys(env, tmp_path, "events", "import", str(file)))[0] == 0

    status, out, err = await _journeys(env, tmp_path, "status", invoice_id, "--json")
    assert status == 0, err
    state = json.loads(out)
    assert state["invoice_id"] == invoice_id and state["phase"] == "scheduled"

    status, out, err = await _journeys(
        env, tmp_path, "agent", "pause", invoice_id, "--agent", "a1", "--note", "on the phone"
    )
    assert status == 0, err
    assert "phase" in out and "paused" in out

    status, out, err = await _journeys(env, tmp_path, "agent", "pause", invoice_id, "--agent", "a1")
    assert status == 1
    assert "error: pause refused: the journey is already paused" in err

    status, out, err = await _journeys(env, tmp_path, "status", "inv_nobody_knows")
    assert status == 1
    assert "error: no journey for invoice 'inv_nobody_knows'" in err


def test_check_validates_without_applying(runner: CliRunner, tmp_path: Path) -> None:
    bad = payment("inv_1", amount="12,50")
    file = _write_jsonl(tmp_path / "e.jsonl", [json.dumps(issued()), json.dumps(bad)])
    result = runner.invoke(cli.app, ["events", "import", str(file), "--check"])
    assert result.exit_code == 1
    assert "line 2: data.amount: must be a decimal string" in result.output
    assert "1 valid, 1 invalid" in result.output


def test_agent_options_are_checked_in_the_users_words(runner: CliRunner) -> None:
    result = runner.invoke(cli.app, ["agent", "extend", "inv_1", "--agent", "a1"])
    assert result.exit_code == 1
    assert "error: --due-date: Field required" in result.output

    result = runner.invoke(
        cli.app, ["agent", "pause", "inv_1", "--agent", "a1", "--due-date", "2026-12-01"]
    )
    assert result.exit_code == 1
    assert "--due-date: not used by the pause action" in result.output

    result = runner.invoke(
        cli.app, ["agent", "extend", "inv_1", "--agent", "a1", "--due-date", "soon"]
    )
    assert result.exit_code == 1
    assert "--due-date: Input should be a valid date" in result.output

    result = runner.invoke(cli.app, ["agent", "forgive", "inv_1", "--agent", "a1"])
    assert result.exit_code == 2  # Typer lists the valid action names


def test_a_missing_file_is_one_clear_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["events", "import", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert "error: cannot read" in result.output
