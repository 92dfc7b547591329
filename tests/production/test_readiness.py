"""`/healthz` and `/readyz` (starter/health.py): readiness turns red within seconds when the
store or Temporal stops answering, names which one, leaks no credentials, and turns green
again; liveness stays green throughout.

The outages are real: `journeys api` runs as a process against a Temporal dev server of its
own, which is SIGKILLed, and against PostgreSQL through a loopback proxy that is switched off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from bench.chaos import kill_server
from bench.server import BenchServer, free_port
from infra.settings import Settings
from starter.api import create_app
from tests.api_server import serving
from tests.fakes.tcpproxy import TcpProxy
from tests.production.processes import ApiProcess, product_env

RED_WITHIN = 5.0
"""Seconds from an outage to a red `/readyz` (two 2-second checks at most, and the probe)."""

READY = {"status": "ready", "checks": {"store": "ok", "temporal": "ok"}}


async def test_ready_when_both_answer(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    app = create_app(settings, client=temporal_env.client)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        answer = await http.get("/readyz")
        assert (answer.status_code, answer.json()) == (200, READY)
        assert (await http.get("/healthz")).json() == {"status": "ok"}


async def test_a_store_that_refuses_is_named_without_its_url_or_password(
    temporal_env: WorkflowEnvironment, settings: Settings
) -> None:
    closed = free_port()
    url = f"postgresql+psycopg://journeys:pw-s3cret@127.0.0.1:{closed}/journeys"
    app = create_app(settings.model_copy(update={"database_url": url}), client=temporal_env.client)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        started = time.monotonic()
        answer = await http.get("/readyz")
        took = time.monotonic() - started
        assert (await http.get("/healthz")).status_code == 200
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["temporal"] == "ok"
    assert body["checks"]["store"] == "failed (OperationalError)"
    assert body["detail"] == "store: failed (OperationalError)"
    for secret in ("pw-s3cret", "journeys:", str(closed), "127.0.0.1"):
        assert secret not in answer.text
    assert took < RED_WITHIN


@pytest.fixture
async def own_temporal(tmp_path: Path) -> AsyncIterator[BenchServer]:
    async with BenchServer(tmp_path / "temporal", tuned=True) as server:
        yield server


async def readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    answer = await http.get("/readyz")
    return answer.status_code, answer.json()


async def red_within(http: httpx.AsyncClient, check: str) -> tuple[float, dict[str, object]]:
    """Poll `/readyz` as a probe would until `check` fails; how long it took, and the body."""
    started = time.monotonic()
    while time.monotonic() - started < 30:
        status, body = await readiness(http)
        checks = body["checks"]
        assert isinstance(checks, dict)
        if status == 503 and checks[check] != "ok":
            return time.monotonic() - started, body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never named {check}")


@pytest.mark.store_independent
async def test_killing_temporal_turns_readiness_red_within_seconds(
    own_temporal: BenchServer, settings: Settings, tmp_path: Path
) -> None:
    api = ApiProcess(
        product_env(settings, temporal_address=own_temporal.address), tmp_path / "api.log"
    )
    try:
        await api.start()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
            assert await readiness(http) == (200, READY)
            await kill_server(own_temporal)
            took, body = await red_within(http, "temporal")
            assert body["checks"] == {"store": "ok", "temporal": "failed (UNAVAILABLE)"}
            assert body["detail"] == "temporal: failed (UNAVAILABLE)"
            assert (await http.get("/healthz")).status_code == 200
        print(f"readyz red {took:.2f} s after Temporal was killed")
        assert took < RED_WITHIN, f"red after {took:.1f} s"
    finally:
        await api.kill()


@pytest.mark.store_independent
async def test_losing_the_store_turns_readiness_red_and_back(
    temporal_env: WorkflowEnvironment, settings: Settings, postgres_url: str, tmp_path: Path
) -> None:
    target = make_url(postgres_url)
    proxy = await TcpProxy(target.host or "127.0.0.1", target.port or 5432).start()
    through = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    address = temporal_env.client.service_client.config.target_host
    env = product_env(settings, database_url=through, temporal_address=address)
    api = ApiProcess(env, tmp_path / "api.log")
    try:
        await api.start()
        async with httpx.AsyncClient(base_url=api.base_url, timeout=10) as http:
            assert await readiness(http) == (200, READY)
            await proxy.stop()
            took, body = await red_within(http, "store")
            assert body["checks"]["temporal"] == "ok"  # type: ignore[index]
            assert str(body["checks"]["store"]).startswith(("failed", "no answer"))  # type: ignore[index]
            assert str(proxy.port) not in str(body)
            assert (await http.get("/healthz")).status_code == 200

            await proxy.start()
            started = time.monotonic()
            while (await readiness(http))[0] != 200:
                assert time.monotonic() - started < 30, "readiness never turned green again"
                await asyncio.sleep(0.1)
        print(f"readyz red {took:.2f} s after the store went away")
        assert took < RED_WITHIN, f"red after {took:.1f} s"
    finally:
        await api.kill()
        await proxy.stop()
