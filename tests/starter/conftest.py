"""The starter's test stack: the real API over HTTP on a free loopback port, a real worker,
and the shared Temporal test server (tests/conftest.py), plus sample billing events.

Temporal keeps workflows across tests while the store is emptied for each one, so every
sample invoice gets a fresh id: a journey id can never be reused (REJECT_DUPLICATE).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from starter.api import create_app
from tests.api_server import serving
from tests.factories import SPEC_EXAMPLE
from worker import build_worker


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def customer(customer_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(SPEC_EXAMPLE["data"]["customer"])
    return {**body, "id": customer_id, **overrides}


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


@asynccontextmanager
async def running_stack(
    env: WorkflowEnvironment, settings: Settings, port: int | None = None
) -> AsyncIterator[Stack]:
    """The API (`create_app`) served on a loopback port, next to a worker."""
    app = create_app(settings, client=env.client)
    async with (
        serving(app, port) as base_url,
        build_worker(env.client, settings),
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Stack(http, env.client, env, settings, base_url)


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[Stack]:
    async with running_stack(temporal_env, settings) as running:
        yield running
