"""Two creditor companies in one deployment, side by side (issue 14's proof).

The default tenant and "acme" each issue an invoice with the SAME invoice id to a customer
with the SAME customer id, through the real API, one worker and one Temporal server. Each
company has its own policy (acme: its first reminder one day after the due date, a gentle
one, where the default company's loyal policy waits five days), its own opening hours (acme
answers 13:00-15:00 on weekdays; the default company 08:00-20:00), its own sender and its
own SendGrid account. Then:

- each journey is planned by its own tenant's policy and hours, and its reminder goes out
  from its own address through its own account, recorded in its own store only;
- each tenant's key sees its own journey under the shared invoice id and is refused the
  other's; an agent's pause through acme's key pauses acme's journey and not the default's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.state import JourneyState
from domain.tenants import workflow_id_for
from infra.settings import Settings
from infra.store import ContactAttemptRow, session_scope
from infra.temporal import TENANT
from starter.auth import create_key
from tests.fakes.sendgrid import FakeSendGrid
from tests.histories import save_history
from tests.starter.conftest import Stack, issued, running_stack
from tests.tenants import add_tenant
from tests.workflows.journey_driver import JourneyDriver

DEFAULT_KEY, ACME_KEY = "SG.default-company", "SG.acme-company"
DEFAULT_FROM, ACME_FROM = "billing@default.example", "ar@acme.example"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

_ACME_STEPS = """steps = [
  { offset_days = 1, channel = "email", template = "gentle_reminder" },
  { offset_days = 9, channel = "email", template = "final_notice", final_notice = true },
]
handover_after_days = 10
send_hour = 14
"""
ACME_POLICIES = (
    'jurisdiction = "SE"\n\n[opening_hours]\ntimezone = "Europe/Stockholm"\n\n'
    "[opening_hours.weekly]\n"
    + "".join(f'{day} = ["13:00-15:00"]\n' for day in ("mon", "tue", "wed", "thu", "fri"))
    + "".join(
        f"\n[segments.{segment}]\n{_ACME_STEPS}"
        for segment in ("loyal", "standard", "new", "habitual-late")
    )
)


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """One fake SendGrid holding both companies' accounts, each by its key."""
    with FakeSendGrid(DEFAULT_KEY, ACME_KEY) as server:
        yield server


@pytest.fixture
async def two_companies(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    fake_sendgrid: FakeSendGrid,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> AsyncIterator[tuple[Stack, Settings]]:
    """The API and a worker for the default company (SendGrid with its own key and sender)
    and acme (registered before the worker starts: its own policies, key and sender)."""
    base = settings.model_copy(
        update={
            **fake_sendgrid.settings(),
            "sendgrid_api_key": DEFAULT_KEY,
            "sendgrid_from_email": DEFAULT_FROM,
            "provider_timeout_seconds": 2.0,
        }
    )
    policies = tmp_path / "acme-policies.toml"
    policies.write_text(ACME_POLICIES, encoding="utf-8")
    acme = add_tenant(
        base,
        "acme",
        policies=policies,
        settings={"sendgrid_from_email": ACME_FROM},
        secrets={"sendgrid_api_key": ACME_KEY},
        monkeypatch=monkeypatch,
    )
    async with running_stack(temporal_env, base) as stack:
        yield stack, acme


def _headers(settings: Settings, role: str, tenant: str) -> dict[str, str]:
    _, key = create_key(settings, f"{tenant} {role}", role, tenant)
    return {"Authorization": f"Bearer {key}"}


def _attempts(settings: Settings) -> list[tuple[str, str, str]]:
    with session_scope(settings.store_url) as session:
        rows = session.exec(select(ContactAttemptRow)).all()
        return [(r.invoice_id, r.template, r.status) for r in rows]


def _local(moment: datetime) -> datetime:
    return moment.astimezone(STOCKHOLM)


async def test_two_tenants_same_ids_each_by_its_own_policy_hours_sender_and_key(
    two_companies: tuple[Stack, Settings], fake_sendgrid: FakeSendGrid
) -> None:
    stack, acme = two_companies
    base = stack.settings
    keys = {
        tenant: {role: _headers(base, role, tenant) for role in ("billing", "agent")}
        for tenant in ("default", "acme")
    }
    event = issued("inv_shared", customer_id="cus_shared", issued_at=date.today())
    due = date.fromisoformat(event["data"]["invoice"]["due_date"])
    for tenant in ("default", "acme"):
        answer = await stack.http.post("/v1/events", json=event, headers=keys[tenant]["billing"])
        assert answer.status_code == 202, answer.text
        [outcome] = answer.json()["outcomes"]
        assert outcome["workflow_id"] == workflow_id_for("inv_shared", tenant)

    handles: dict[str, WorkflowHandle[Any, JourneyState]] = {
        tenant: stack.client.get_workflow_handle(
            workflow_id_for("inv_shared", tenant), result_type=JourneyState
        )
        for tenant in ("default", "acme")
    }
    driver = JourneyDriver(stack.env, base)
    states = {
        t: await driver.settle(h, lambda s: s.next_step is not None) for t, h in handles.items()
    }

    # Each journey is planned by its own company's policy and opening hours.
    assert states["default"].tenant == "default" and states["acme"].tenant == "acme"
    assert states["default"].policy_name == "loyal" and states["acme"].policy_name == "loyal"
    assert states["default"].config_digest != states["acme"].config_digest
    first = {t: s.next_step for t, s in states.items()}
    assert first["default"] is not None and first["acme"] is not None
    assert (first["default"].template, first["acme"].template) == (
        "gentle_reminder",
        "gentle_reminder",
    )
    acme_at, default_at = _local(first["acme"].at), _local(first["default"].at)
    assert acme_at.date() >= due + timedelta(days=1) and acme_at.weekday() < 5
    assert 13 <= acme_at.hour < 15, acme_at  # acme's hours, not the default company's
    assert default_at.date() >= due + timedelta(days=5) and default_at.weekday() < 5
    assert 8 <= default_at.hour < 20, default_at
    assert acme_at < default_at  # acme's policy reminds four days earlier
    for tenant, handle in handles.items():
        described = await handle.describe()
        assert described.typed_search_attributes.get(TENANT) == tenant

    # Each reminder goes out from its own sender through its own account, in its own store.
    await driver.through_step(handles["acme"], 0)
    await driver.through_step(handles["default"], 0)
    sent = {(fake_sendgrid.account_of(r), r.json()["from"]["email"]) for r in fake_sendgrid.mails}
    assert sent == {(ACME_KEY, ACME_FROM), (DEFAULT_KEY, DEFAULT_FROM)}
    assert _attempts(acme) == [("inv_shared", "gentle_reminder", "sent")]
    assert _attempts(base) == [("inv_shared", "gentle_reminder", "sent")]

    # Neither key sees or acts on the other company's journey.
    await _keys_see_only_their_own(stack.http, keys)
    await driver.settle(handles["acme"], lambda s: s.phase == "paused")
    assert (await driver.state(handles["default"])).phase != "paused"
    # A tenant's journey (its queues, its tenant in every request) replays from now on.
    await save_history(handles["acme"], "tenant_journey_paused")


async def _keys_see_only_their_own(
    http: httpx.AsyncClient, keys: dict[str, dict[str, dict[str, str]]]
) -> None:
    url = "/v1/invoices/inv_shared/journey"
    for tenant, other in (("default", "acme"), ("acme", "default")):
        own = await http.get(url, headers=keys[tenant]["agent"])
        assert own.status_code == 200, own.text
        assert own.json()["workflow_id"] == workflow_id_for("inv_shared", tenant)
        refused = await http.get(f"{url}?tenant={other}", headers=keys[tenant]["agent"])
        assert refused.status_code == 403, refused.text
        assert f"'{tenant}'" in refused.text
        report = await http.get(
            f"/v1/reports/journeys?tenant={other}", headers=keys[tenant]["agent"]
        )
        assert report.status_code == 403, report.text
    pause = {
        "action": "pause",
        "agent": "a1",
        "until": (date.today() + timedelta(days=60)).isoformat(),
    }
    refused = await http.post(
        "/v1/invoices/inv_shared/actions?tenant=default", json=pause, headers=keys["acme"]["agent"]
    )
    assert refused.status_code == 403, refused.text
    paused = await http.post(
        "/v1/invoices/inv_shared/actions", json=pause, headers=keys["acme"]["agent"]
    )
    assert paused.status_code == 200, paused.text
