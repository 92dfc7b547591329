"""`--tenant` on the commands that read or act on one tenant's data, and API keys scoped to a
tenant: the same resolution and the same words as the API's `?tenant=` (starter/tenancy.py).

Real processes for the commands that talk to Temporal (as tests/test_cli.py runs them),
Typer's runner for the store-only ones."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from domain.tenants import workflow_id_for
from infra.settings import Settings
from infra.store import ApiKeyRow, CustomerRow, DeadLetterRow, InvoiceRow, session_scope
from journeys import cli
from starter import deadletters
from tests.factories import invoice_row
from tests.reporting.seed import seed_outcomes
from tests.starter.conftest import issued
from tests.tenants import add_tenant
from tests.test_cli import _env, _journeys, _write_jsonl, worker
from workflows.journey import InvoiceJourney

__all__ = ["worker"]  # a fixture: the worker for the test's task queue

ACME = "acme"
UNKNOWN = "error: --tenant: no tenant 'nosuch'"
DAY = date(2026, 11, 2)


@pytest.fixture
def env_of(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The test's settings as the environment of an in-process command."""
    monkeypatch.setenv("DATABASE_URL", settings.store_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("API_KEY", raising=False)
    return settings


def test_keys_are_created_for_one_tenant_or_all_and_listed_with_it(
    runner: CliRunner, env_of: Settings
) -> None:
    add_tenant(env_of, ACME)
    app = cli.app
    scoped = runner.invoke(
        app, ["keys", "create", "--role", "agent", "--name", "Anna", "--tenant", ACME]
    )
    assert scoped.exit_code == 0, scoped.output
    assert "tenant acme" in scoped.output
    every = runner.invoke(app, ["keys", "create", "--role", "billing", "--name", "ERP"])
    assert every.exit_code == 0 and "every tenant" in every.output, every.output
    for tenant, words in (("nosuch", "no tenant 'nosuch'"), ("Bad_Id", "is not valid")):
        refused = runner.invoke(
            app, ["keys", "create", "--role", "agent", "--name", "X", "--tenant", tenant]
        )
        assert refused.exit_code == 1, refused.output
        assert "error: --tenant: " in refused.output and words in refused.output
    with session_scope(env_of.store_url) as s:
        rows = s.exec(select(ApiKeyRow).order_by(ApiKeyRow.id)).all()  # type: ignore[arg-type]
        assert [(r.name, r.tenant) for r in rows] == [("Anna", ACME), ("ERP", None)]
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split("│")[3].strip(): line for line in listed.output.splitlines() if "│" in line}
    assert "acme" in lines["Anna"] and "all" in lines["ERP"], listed.output


def test_store_only_commands_read_the_tenants_store(
    runner: CliRunner, env_of: Settings, tmp_path: Path
) -> None:
    acme = add_tenant(env_of, ACME)
    deadletters.record(env_of, "stripe", {"mine": "default"}, "default's letter")
    deadletters.record(acme, "stripe", {"mine": "acme"}, "acme's letter")
    for tenant, letter, other in (
        (ACME, "acme's", "default's"),
        ("default", "default's", "acme's"),
    ):
        listed = runner.invoke(cli.app, ["dead-letters", "list", "--tenant", tenant])
        assert listed.exit_code == 0, listed.output
        assert letter in listed.output and other not in listed.output, listed.output

    seed_outcomes(env_of.store_url)  # finished journeys in the default tenant only
    report = runner.invoke(cli.app, ["report", "--format", "json", "--tenant", ACME])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["journeys"] == 0
    default = runner.invoke(cli.app, ["report", "--format", "json"])
    assert json.loads(default.output)["journeys"] > 0

    with session_scope(acme.store_url) as s:
        s.add(CustomerRow(id="cus_a", name="A"))
        s.add(invoice_row("inv_a", DAY, customer_id="cus_a"))
    shown = runner.invoke(cli.app, ["links", "show", "inv_a", "--tenant", ACME])
    assert shown.exit_code == 0 and "/pay/" in shown.output, shown.output
    missing = runner.invoke(cli.app, ["links", "show", "inv_a"])
    assert missing.exit_code == 1 and "no invoice 'inv_a'" in missing.output, missing.output

    for args in (
        ["dead-letters", "list"],
        ["report"],
        ["links", "show", "inv_a"],
        ["links", "revoke", "inv_a"],
    ):
        refused = runner.invoke(cli.app, [*args, "--tenant", "nosuch"])
        assert refused.exit_code == 1, (args, refused.output)
        assert UNKNOWN in refused.output, (args, refused.output)
    with session_scope(acme.store_url) as s:
        assert len(s.exec(select(DeadLetterRow)).all()) == 1


async def test_journey_commands_act_on_the_tenants_journeys(
    temporal_env: WorkflowEnvironment, settings: Settings, worker: None, tmp_path: Path
) -> None:
    acme = add_tenant(settings, ACME)
    env = _env(settings, temporal_env)
    event = issued()
    invoice_id, customer_id = event["data"]["invoice"]["id"], event["data"]["customer"]["id"]
    file = _write_jsonl(tmp_path / "events.jsonl", [json.dumps(event)])

    code, out, err = await _journeys(env, tmp_path, "events", "import", str(file), "--tenant", ACME)
    assert code == 0, err
    assert "1 applied (1 started)" in out, out
    with session_scope(acme.store_url) as s:
        assert s.get(InvoiceRow, invoice_id) is not None
    with session_scope(settings.store_url) as s:
        assert s.get(InvoiceRow, invoice_id) is None

    code, out, err = await _journeys(env, tmp_path, "status", invoice_id, "--tenant", ACME)
    assert code == 0, err
    assert f"workflow acme:invoice-{invoice_id}" in out, out
    code, out, err = await _journeys(env, tmp_path, "status", invoice_id)
    assert code == 1 and f"no journey for invoice {invoice_id!r}" in err, err

    pause = ("agent", "pause", invoice_id, "--agent", "Anna", "--until", "2099-01-01")
    code, out, err = await _journeys(env, tmp_path, *pause, "--tenant", ACME, "--json")
    assert code == 0, err
    assert json.loads(out)["paused_until"] == "2099-01-01"

    for args in (
        ("status", invoice_id),
        pause,
        ("events", "import", str(file)),
        ("gdpr", "erase", customer_id, "--yes"),
    ):
        code, out, err = await _journeys(env, tmp_path, *args, "--tenant", "nosuch")
        assert code == 1 and UNKNOWN in err, (args, err)

    code, out, err = await _journeys(
        env, tmp_path, "gdpr", "erase", customer_id, "--yes", "--tenant", ACME
    )
    assert code == 0, err
    assert f"customer {customer_id} erased: 1 running journey(s) told" in out, out
    handle = temporal_env.client.get_workflow_handle(workflow_id_for(invoice_id, ACME))
    assert (await handle.query(InvoiceJourney.state)).phase == "erased"
