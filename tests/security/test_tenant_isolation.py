"""Tenant isolation route by route: a key scoped to one tenant can neither read nor act on
another tenant's invoices, reports or dead letters, whether it names the other tenant
(403, nothing changes) or not (it only ever reaches its own tenant's store and journeys).

Two tenants share one deployment here, the default one and "acme", each with an invoice of
the same invoice, customer and event ids (two journeys, two stores), and one invoice of its
own. Every route of `TENANT_SCOPED` (tests/security/test_route_authorisation.py) is held to
the rules; a route added there without a request below fails by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.state import JourneyState
from domain.tenants import workflow_id_for
from infra.settings import Settings
from infra.store import CustomerRow, InvoiceRow, session_scope
from infra.temporal import TENANT
from infra.tenants import TenantProfile, save_profile
from starter import auth
from tests.fuzz.conftest import store_snapshot
from tests.reporting.seed import seed_outcomes
from tests.security.conftest import ROLE_KEYS, TALKED_TO, secured_settings
from tests.security.test_route_authorisation import ROUTES, TENANT_SCOPED, NeedsRole
from tests.starter.conftest import Stack, issued, running_stack
from tests.tenants import add_tenant
from tests.webhooks.conftest import BOOTSTRAP_KEY, SendGridKeys
from workflows.journey import InvoiceJourney

ACME = "acme"
DEFAULT = "default"


@dataclass
class TwoTenants:
    stack: Stack
    acme: Settings
    keys: dict[tuple[str, str], str]
    """(tenant, role) -> a key scoped to that tenant; ("all", "bootstrap") -> API_KEY."""
    shared: str
    """An invoice id both tenants have (same customer id and event id too)."""
    own: dict[str, str]
    """Tenant -> an invoice id only that tenant has."""

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def key(self, tenant: str, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[(tenant, role)]}

    def store(self, tenant: str) -> str:
        return (self.acme if tenant == ACME else self.settings).store_url

    def snapshot(self) -> dict[str, Any]:
        return {tenant: store_snapshot(self.store(tenant)) for tenant in (DEFAULT, ACME)}

    async def journeys(self) -> dict[str, tuple[Any, ...]]:
        """Every journey's state and how many requests from outside reached it."""
        out = {}
        for tenant in (DEFAULT, ACME):
            for invoice_id in (self.shared, self.own[tenant]):
                out[workflow_id_for(invoice_id, tenant)] = await journey_essence(
                    self.stack.client, workflow_id_for(invoice_id, tenant)
                )
        return out


async def journey_essence(client: Client, workflow_id: str) -> tuple[Any, ...]:
    handle = client.get_workflow_handle(workflow_id)
    state = await handle.query(InvoiceJourney.state)
    history = await handle.fetch_history()
    reached = sum(1 for e in history.events if e.event_type in TALKED_TO)
    return (state.phase, state.paused_until, state.open_tasks, state.history, reached)


async def post_issued(
    http: httpx.AsyncClient, event: dict[str, Any], tenant: str | None = None
) -> dict[str, Any]:
    params = {"tenant": tenant} if tenant else {}
    answer = await http.post(
        "/v1/events", json=event, params=params, headers={"X-API-Key": BOOTSTRAP_KEY}
    )
    assert answer.status_code == 202, answer.text
    outcome: dict[str, Any] = answer.json()["outcomes"][0]
    return outcome


@pytest.fixture
async def two(
    temporal_env: WorkflowEnvironment, settings: Settings, sendgrid_keys: SendGridKeys
) -> AsyncIterator[TwoTenants]:
    configured = secured_settings(settings, sendgrid_keys)
    acme = add_tenant(configured, ACME)
    keys = {
        (tenant, role): auth.create_key(configured, f"{tenant} {role}", role, tenant)[1]
        for tenant in (DEFAULT, ACME)
        for role in ROLE_KEYS
    }
    keys[("all", "bootstrap")] = BOOTSTRAP_KEY
    async with running_stack(temporal_env, configured) as stack:
        shared = issued()
        for tenant in (None, ACME):
            await post_issued(stack.http, shared, tenant)
        own = {DEFAULT: issued(), ACME: issued()}
        await post_issued(stack.http, own[DEFAULT])
        await post_issued(stack.http, own[ACME], ACME)
        yield TwoTenants(
            stack,
            acme,
            keys,
            shared["data"]["invoice"]["id"],
            {t: e["data"]["invoice"]["id"] for t, e in own.items()},
        )


# --- requests, one per tenant-scoped route ------------------------------------------------------

Request = Callable[[TwoTenants, str], tuple[str, str, Any]]
"""(the tenants, an invoice id) -> method, URL, body."""

REQUESTS: dict[str, Request] = {
    "POST /v1/events": lambda t, invoice_id: ("POST", "/v1/events", issued()),
    "GET /v1/invoices/{invoice_id}/journey": lambda t, invoice_id: (
        "GET",
        f"/v1/invoices/{invoice_id}/journey",
        None,
    ),
    "POST /v1/invoices/{invoice_id}/actions": lambda t, invoice_id: (
        "POST",
        f"/v1/invoices/{invoice_id}/actions",
        {"action": "pause", "agent": "isolation-test"},
    ),
    "GET /v1/reports/journeys": lambda t, invoice_id: ("GET", "/v1/reports/journeys", None),
    "GET /v1/dead-letters": lambda t, invoice_id: ("GET", "/v1/dead-letters", None),
}


def role_of(route: str) -> str:
    access = ROUTES[route]
    return access.role if isinstance(access, NeedsRole) else "read-only"


async def call(
    two: TwoTenants,
    route: str,
    key: dict[str, str],
    tenant: str | None = None,
    invoice_id: str | None = None,
) -> httpx.Response:
    assert route in REQUESTS, f"{route}: add a request to REQUESTS"
    method, url, body = REQUESTS[route](two, invoice_id or two.shared)
    params = {"tenant": tenant} if tenant is not None else {}
    return await two.stack.http.request(method, url, json=body, params=params, headers=key)


# --- the tests ----------------------------------------------------------------------------------


async def test_the_same_ids_in_two_tenants_are_two_journeys_and_two_stores(
    two: TwoTenants,
) -> None:
    event = issued()
    default = await post_issued(two.stack.http, event)
    acme = await post_issued(two.stack.http, event, ACME)
    invoice_id, customer_id = event["data"]["invoice"]["id"], event["data"]["customer"]["id"]
    assert (default["status"], acme["status"]) == ("started", "started")
    assert default["workflow_id"] == f"invoice-{invoice_id}"
    assert acme["workflow_id"] == f"acme:invoice-{invoice_id}"
    for tenant in (DEFAULT, ACME):
        handle = two.stack.client.get_workflow_handle(workflow_id_for(invoice_id, tenant))
        described = await handle.describe()
        assert described.typed_search_attributes.get(TENANT) == tenant
        state = await handle.query(InvoiceJourney.state)
        assert (state.invoice_id, state.tenant) == (invoice_id, tenant)
        with session_scope(two.store(tenant)) as s:
            assert s.get(InvoiceRow, invoice_id) is not None, tenant
            assert s.get(CustomerRow, customer_id) is not None, tenant
            other = two.own[ACME if tenant == DEFAULT else DEFAULT]
            assert s.get(InvoiceRow, other) is None, f"{tenant} holds the other's invoice"
    assert two.store(DEFAULT) != two.store(ACME)


async def test_a_scoped_key_naming_another_tenant_is_refused_and_nothing_changes(
    two: TwoTenants,
) -> None:
    before, journeys = two.snapshot(), await two.journeys()
    for route in sorted(TENANT_SCOPED):
        for mine, theirs in ((ACME, DEFAULT), (DEFAULT, ACME)):
            answer = await call(two, route, two.key(mine, role_of(route)), tenant=theirs)
            assert answer.status_code == 403, (route, mine, answer.text)
            detail = answer.json()["detail"]
            assert detail.startswith("Authorization: "), (route, detail)
            assert f"tenant {mine!r} only" in detail and repr(theirs) in detail, detail
    assert two.snapshot() == before, "a refusal changed a store"
    assert await two.journeys() == journeys, "a refusal reached a journey"


async def test_unknown_and_invalid_tenants_are_refused_by_every_route(two: TwoTenants) -> None:
    before, journeys = two.snapshot(), await two.journeys()
    bootstrap = two.key("all", "bootstrap")
    for route in sorted(TENANT_SCOPED):
        unknown = await call(two, route, bootstrap, tenant="nosuch")
        assert unknown.status_code == 404, (route, unknown.text)
        assert unknown.json()["detail"].startswith("tenant: no tenant 'nosuch'"), unknown.text
        invalid = await call(two, route, bootstrap, tenant="Not_A_Tenant")
        assert invalid.status_code == 422, (route, invalid.text)
        assert "tenant id 'Not_A_Tenant' is not valid" in invalid.json()["detail"]
    assert two.snapshot() == before
    assert await two.journeys() == journeys


async def test_without_naming_a_tenant_a_scoped_key_reaches_only_its_own(
    two: TwoTenants,
) -> None:
    http, journeys = two.stack.http, await two.journeys()
    read, agent = two.key(ACME, "read-only"), two.key(ACME, "agent")
    route = "GET /v1/invoices/{invoice_id}/journey"
    # The default tenant's own invoice exists, but not for acme.
    missing = await call(two, route, read, invoice_id=two.own[DEFAULT])
    assert missing.status_code == 404, missing.text
    assert missing.json()["detail"] == f"no journey for invoice {two.own[DEFAULT]!r}"
    shared = JourneyState.model_validate((await call(two, route, read)).json())
    assert (shared.tenant, shared.workflow_id) == (ACME, f"acme:invoice-{two.shared}")

    actions = "POST /v1/invoices/{invoice_id}/actions"
    before = two.snapshot()
    refused = await call(two, actions, agent, invoice_id=two.own[DEFAULT])
    assert refused.status_code == 404, refused.text
    assert two.snapshot() == before and await two.journeys() == journeys
    paused = await call(two, actions, agent)  # the shared id: acme's journey, not default's
    assert paused.status_code == 200, paused.text
    assert paused.json()["phase"] == "paused"
    after = await two.journeys()
    assert after[f"invoice-{two.shared}"] == journeys[f"invoice-{two.shared}"]
    assert after[f"acme:invoice-{two.shared}"][0] == "paused"

    # Events: a new invoice posted with acme's billing key is acme's.
    event = issued()
    posted = await http.post("/v1/events", json=event, headers=two.key(ACME, "billing"))
    assert posted.status_code == 202, posted.text
    new_id = event["data"]["invoice"]["id"]
    assert posted.json()["outcomes"][0]["workflow_id"] == f"acme:invoice-{new_id}"
    for tenant, present in ((ACME, True), (DEFAULT, False)):
        with session_scope(two.store(tenant)) as s:
            assert (s.get(InvoiceRow, new_id) is not None) == present, tenant


async def test_dead_letters_and_reports_are_the_tenants_own(two: TwoTenants) -> None:
    http = two.stack.http
    for tenant in (DEFAULT, ACME):
        bad = {"id": f"evt_bad_{tenant}", "type": "invoice.issued", "data": {}}
        refused = await http.post("/v1/events", json=bad, headers=two.key(tenant, "billing"))
        assert refused.status_code == 422, refused.text
    for tenant in (DEFAULT, ACME):
        letters = await http.get("/v1/dead-letters", headers=two.key(tenant, "read-only"))
        assert letters.status_code == 200, letters.text
        payloads = [letter["payload"] for letter in letters.json()]
        assert len(payloads) == 1 and f"evt_bad_{tenant}" in payloads[0], (tenant, payloads)
        named = await http.get(
            "/v1/dead-letters", params={"tenant": tenant}, headers=two.key("all", "bootstrap")
        )
        assert named.json() == letters.json()

    seed_outcomes(two.store(DEFAULT))  # finished journeys in the default tenant only
    reports = {
        tenant: await http.get("/v1/reports/journeys", headers=two.key(tenant, "read-only"))
        for tenant in (DEFAULT, ACME)
    }
    assert reports[DEFAULT].json()["journeys"] > 0
    assert reports[ACME].json()["journeys"] == 0
    named = await http.get(
        "/v1/reports/journeys", params={"tenant": ACME}, headers=two.key("all", "bootstrap")
    )
    assert {**named.json(), "as_of": None} == {**reports[ACME].json(), "as_of": None}


async def test_a_key_for_every_tenant_names_the_one_it_means(two: TwoTenants) -> None:
    """The bootstrap key (and any key created without --tenant) means the default tenant
    unless it names another."""
    http, bootstrap = two.stack.http, two.key("all", "bootstrap")
    url = f"/v1/invoices/{two.own[ACME]}/journey"
    assert (await http.get(url, headers=bootstrap)).status_code == 404
    named = await http.get(url, params={"tenant": ACME}, headers=bootstrap)
    assert named.status_code == 200 and named.json()["tenant"] == ACME, named.text
    me = await http.get("/v1/auth/whoami", headers=two.key(ACME, "agent"))
    assert me.json() == {"name": "acme agent", "role": "agent", "tenant": ACME}


async def test_a_tenant_that_cannot_be_served_is_503_naming_why(
    two: TwoTenants, tmp_path: Path
) -> None:
    """A registered tenant whose secret's variable is unset, or whose policy file is bad:
    the request is refused naming the problem, and nothing is applied."""
    profile = TenantProfile(id="broken", name="Broken", secrets={"twilio_auth_token": "NO_VAR_X"})
    save_profile(two.settings.store_url, profile)
    bad_policies = tmp_path / "bad.toml"
    bad_policies.write_text("[segments.standard]\nsteps = 'no'\n", encoding="utf-8")
    bad = add_tenant(two.settings, "badpolicy", policies=bad_policies)
    bootstrap, before = two.key("all", "bootstrap"), two.snapshot()
    bad_store = store_snapshot(bad.store_url)

    answer = await call(two, "GET /v1/dead-letters", bootstrap, tenant="broken")
    assert answer.status_code == 503, answer.text
    assert "environment variable NO_VAR_X" in answer.json()["detail"], answer.text
    posted = await call(two, "POST /v1/events", bootstrap, tenant="badpolicy")
    assert posted.status_code == 503, posted.text
    assert "policy file cannot be read" in posted.json()["detail"], posted.text
    assert str(bad_policies) in posted.json()["detail"]
    assert two.snapshot() == before
    assert store_snapshot(bad.store_url) == bad_store, "the refused event was applied"
