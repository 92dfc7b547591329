"""The starter's test stack: the real API over HTTP on a free loopback port, a real worker,
and the shared Temporal test server (tests/conftest.py), plus sample billing events.

Temporal keeps workflows across tests while the store is emptied for each one, so every
sample invoice gets a fresh id: a journey id can never be reused (REJECT_DUPLICATE).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from journeys.devstack import ApiServer
from starter.api import create_app
from worker import build_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def customer(customer_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": customer_id,
        "name": "Berit Andersson",
        "email": "berit@example.se",
        "phone": "+46701234567",
        "locale": "sv",
        "timezone": "Europe/Stockholm",
        "customer_since": "2020-03-01",
        "consent": {"email": True, "sms": True, "call": True},
        "fee_agreed": True,
        "is_business": False,
    }
    body.update(overrides)
    return body


def issued(
    invoice_id: str | None = None,
    *,
    event_id: str | None = None,
    customer_id: str | None = None,
    amount: str = "1250.00",
    issued_at: date | None = None,
    **customer_overrides: Any,
) -> dict[str, Any]:
    invoice_id = invoice_id or new_id("inv")
    customer_id = customer_id or new_id("cus")
    day = issued_at or date.today()
    return {
        "id": event_id or new_id("evt"),
        "type": "invoice.issued",
        "occurred_at": "2026-11-02T09:00:00Z",
        "data": {
            "invoice": {
                "id": invoice_id,
                "number": invoice_id.removeprefix("inv_"),
                "customer_id": customer_id,
                "currency": "SEK",
                "amount_due": amount,
                "issued_at": day.isoformat(),
                "due_date": (day + timedelta(days=28)).isoformat(),
                "ocr": "10014",
                "payment_url": f"https://billing.example/pay/{invoice_id}",
            },
            "customer": customer(customer_id, **customer_overrides),
        },
    }


def payment(invoice_id: str, amount: str = "1250.00", **kw: Any) -> dict[str, Any]:
    return {
        "id": kw.get("event_id") or new_id("evt"),
        "type": "invoice.payment_received",
        "occurred_at": "2026-11-20T09:00:00Z",
        "data": {"invoice_id": invoice_id, "amount": amount, "paid_at": "2026-11-20"},
    }


def voided(invoice_id: str) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "type": "invoice.voided",
        "occurred_at": "2026-11-20T09:00:00Z",
        "data": {"invoice_id": invoice_id},
    }


@dataclass
class Stack:
    http: httpx.AsyncClient
    client: Client
    env: WorkflowEnvironment
    settings: Settings
    base_url: str


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Stack]:
    """uvicorn in this event loop (real sockets, real HTTP), next to a worker."""
    port = free_port()
    app = create_app(settings, client=temporal_env.client)
    server = ApiServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or serving.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with (
            build_worker(temporal_env.client, settings),
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Stack(http, temporal_env.client, temporal_env, settings, base_url)
    finally:
        server.should_exit = True
        await serving
