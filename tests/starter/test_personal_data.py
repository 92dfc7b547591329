"""Personal data never leaves through the side doors: logs, search attributes, workflow ids,
memos, Web UI details, metric labels, error messages.

Three customers with data found nowhere else in the suite go through the real API, worker
and dev server: reminders by email, SMS and call, a changed record, a payment and its
thank-you, a void, a handover to collection, an agent's action, a refused event. Then
everything an operator sees besides the store and the messages themselves is grepped for
their names, email addresses and phone numbers (E.164, without `+`, international and
national forms). The log safety net (`infra.logging.redact`, which masks emails and E.164
numbers) is switched off here: the rule is that nothing personal is logged at all, and a
leak the net would hide must fail this test too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import phonenumbers
import pytest
import structlog
from prometheus_client import generate_latest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import infra.logging
from domain.models import workflow_id_for
from domain.state import JourneyState
from infra.logging import configure_logging
from infra.settings import Settings
from tests.fakes.agency import FakeAgency
from tests.fakes.fixtures import (
    agency_settings,
    fake_agency,
    fake_sendgrid,
    fake_twilio,
    sendgrid_settings,
    twilio_settings,
)
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.twilio import FakeTwilio
from tests.starter.conftest import Stack, issued, payment, running_stack, voided
from tests.starter.test_customer_updates import updated
from tests.workflows.journey_driver import JourneyDriver

CUSTOMERS: list[dict[str, Any]] = [
    {  # loyal: email, SMS, call, then pays and is thanked
        "name": "Torvald Läckström",
        "email": "torvald.lackstrom@example.net",
        "phone": "+46708887766",
        "postal_address": ["Läckgränd 4", "113 44 Stockholm"],
    },
    {  # standard: moves to a new address without SMS consent, then the invoice is voided
        "name": "Ingegerd Sekretessdotter",
        "email": "ingegerd.sekretess@example.org",
        "phone": "+46707776655",
        "customer_since": "2024-06-01",
    },
    {  # new, no email: SMS and call, a letter, then handed over to collection
        "name": "Olof Dataskyddsson",
        "email": None,
        "phone": "+46706665544",
        "postal_address": ["Skyddsvägen 3", "222 33 Lund"],
        "customer_since": "2026-06-01",
        "consent": {"email": True, "sms": True, "call": True},
    },
]
MOVED_EMAIL = "ingegerd.ny@example.com"

__all__ = [  # the fakes' fixtures
    "agency_settings",
    "fake_agency",
    "fake_sendgrid",
    "fake_twilio",
    "sendgrid_settings",
    "twilio_settings",
]


@pytest.fixture
async def provider_stack(
    temporal_env: WorkflowEnvironment,
    sendgrid_settings: Settings,
    twilio_settings: Settings,
    agency_settings: Settings,
) -> AsyncIterator[Stack]:
    """The API and worker with SendGrid, Twilio and the collection agency configured (their
    fakes): what production sends, refuses and hands over goes through the real clients."""
    fields = ("sendgrid_api_key", "sendgrid_api_host")
    settings = twilio_settings.model_copy(
        update={
            **{f: getattr(sendgrid_settings, f) for f in fields},
            "collection_agency_url": agency_settings.collection_agency_url,
            "collection_agency_token": agency_settings.collection_agency_token,
        }
    )
    async with running_stack(temporal_env, settings) as stack:
        yield stack


def secrets() -> list[str]:
    found: list[str] = [MOVED_EMAIL]
    for c in CUSTOMERS:
        found += [c["name"], *c["name"].split()]
        if c["email"]:
            found.append(c["email"])
        phone = phonenumbers.parse(c["phone"], None)
        for style in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
        ):
            text = phonenumbers.format_number(phone, style)
            found += [text, "".join(ch for ch in text if ch.isdigit())]
        found += c.get("postal_address", [])
    return found


def leaks(text: str) -> list[str]:
    return sorted({s for s in secrets() if s in text})


@contextmanager
def json_logs() -> Iterator[None]:
    """The product's own logging (JSON, DEBUG) to the current `sys.stderr`, as production
    configures it; the test switches the redaction safety net off around it."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "DEBUG")
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        structlog.reset_defaults()


async def _run_journeys(stack: Stack, fake_twilio: FakeTwilio) -> list[str]:
    """The three journeys, each to where its story ends; their invoice ids."""
    driver = JourneyDriver(stack.env, stack.settings)
    events = [issued(**{k: v for k, v in c.items()}) for c in CUSTOMERS]
    response = await stack.http.post("/v1/events", json=events)
    assert response.status_code == 202, response.text
    ids = [e["data"]["invoice"]["id"] for e in events]
    handles: list[WorkflowHandle[Any, JourneyState]] = [
        stack.client.get_workflow_handle(workflow_id_for(i), result_type=JourneyState) for i in ids
    ]
    first, second, third = handles

    await driver.through_step(first, 2)
    await stack.http.post(
        f"/v1/invoices/{ids[0]}/actions", json={"action": "resume", "agent": "a1"}
    )  # refused (not paused): its refusal is an error message too
    assert (await stack.http.post("/v1/events", json=payment(ids[0]))).status_code == 202
    assert (await first.result()).phase == "paid"

    await driver.through_step(second, 0)
    cus = events[1]["data"]["customer"]["id"]
    moved = updated(
        cus, **{**CUSTOMERS[1], "email": MOVED_EMAIL, "consent": {"email": True, "sms": False}}
    )
    assert (await stack.http.post("/v1/events", json=moved)).status_code == 202
    await driver.through_step(second, 1)
    assert (await stack.http.post("/v1/events", json=voided(ids[1]))).status_code == 202
    assert (await second.result()).phase == "voided"

    fake_twilio.script_error(400, 21211)  # its first SMS: Twilio's text names the number
    await stack.env.fast_forward(third, None)
    handed_over = await third.result()
    assert handed_over.phase == "handed_over"
    refusals = [h.detail for h in handed_over.history if h.outcome == "failed"]
    assert len(refusals) == 1 and "InvalidRecipient" in refusals[0], refusals

    bad = issued(**{**CUSTOMERS[0], "phone": "+4670888"})  # refused: no valid number
    refused = await stack.http.post("/v1/events", json=bad)
    assert refused.status_code == 422 and leaks(refused.text) == [], refused.text
    return ids


async def _visible(stack: Stack, invoice_ids: list[str]) -> str:
    """What Temporal shows an operator of each journey without opening its history: the
    list entry (id, search attributes, memo), the Web UI summary, details and current
    details."""
    seen: list[str] = []
    query = f'TaskQueue = "{stack.settings.temporal_task_queue}"'
    listed = [w async for w in stack.client.list_workflows(query)]
    assert {w.id for w in listed} >= {workflow_id_for(i) for i in invoice_ids}
    for execution in listed:
        seen += [execution.id, repr(execution.search_attributes)]
        seen.append(json.dumps(await execution.memo(), default=str))
        handle = stack.client.get_workflow_handle(execution.id)
        desc = await handle.describe()
        seen += [await desc.static_summary() or "", await desc.static_details() or ""]
        seen.append(repr(desc.typed_search_attributes))
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        seen.append(str(metadata))
    for invoice_id in invoice_ids:  # the journey's state, as the API and `status` show it
        seen.append((await stack.http.get(f"/v1/invoices/{invoice_id}/journey")).text)
    return "\n".join(seen)


async def test_no_personal_data_in_logs_visibility_metrics_or_errors(
    provider_stack: Stack,
    fake_sendgrid: FakeSendGrid,
    fake_twilio: FakeTwilio,
    fake_agency: FakeAgency,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = provider_stack
    monkeypatch.setattr(infra.logging, "redact", lambda text: text)
    with json_logs():
        invoice_ids = await _run_journeys(stack, fake_twilio)
        visible = await _visible(stack, invoice_ids)
        api_metrics = (await stack.http.get("/metrics")).text
    process_metrics = generate_latest().decode()  # the worker's counters share the process
    logs = capsys.readouterr().err

    assert "journeys_steps_total" in process_metrics
    assert "InvoiceId" in visible and "Invoice " in visible
    assert sum(1 for line in logs.splitlines() if line.startswith("{")) > 20
    # The data did go where it belongs: the providers and the agency.
    assert fake_sendgrid.requests and fake_twilio.requests and fake_agency.requests
    sent = " ".join(r.body.decode(errors="replace") for r in fake_sendgrid.requests)
    assert "torvald.lackstrom@example.net" in sent
    for where, text in {
        "logs": logs,
        "visibility": visible,
        "API /metrics": api_metrics,
        "worker metrics": process_metrics,
    }.items():
        assert leaks(text) == [], f"{where}: {leaks(text)}"
