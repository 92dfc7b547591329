"""Authorisation route by route: every route the app serves has an entry in `ROUTES`, the table
below, and behaves as its entry says.

The routes are read off the app twice, from its OpenAPI document and from `app.routes` (so that
a route hidden with `include_in_schema=False` is covered too). A route without an entry fails
`test_every_route_has_an_entry_in_the_table`, naming it: whoever adds a route decides here who
may call it, and the behaviour tests then hold the route to that decision. A route that changes
state (POST, PUT, PATCH, DELETE) can only be classified as needing a role, a webhook signature
or the customer page's token.

Webhooks: tests/security/test_webhook_signatures.py; the customer page's token:
tests/security/test_customer_page_scope.py; the dev inbox: tests/security/test_dev_routes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from starter.api import create_app
from starter.auth import Role
from tests.api_server import clients_from, serving
from tests.security.conftest import ROLE_KEYS, Secured
from tests.starter.conftest import issued

# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Public:
    """Anyone, no key: reads only (documentation, liveness, metrics, the page's stylesheet)."""


@dataclass(frozen=True)
class AnyKey:
    """Reads: any valid key, whatever its role."""


@dataclass(frozen=True)
class NeedsRole:
    """Changes state: a key holding `role` (or the bootstrap key, which holds every role)."""

    role: Role


@dataclass(frozen=True)
class Webhook:
    """A provider's call: its signature (or, for Inbound Parse, its token), never an API key."""

    provider: Literal["twilio", "sendgrid-events", "sendgrid-inbound", "stripe"]


@dataclass(frozen=True)
class CustomerPage:
    """No API key: the link's signed token is the credential, for its one invoice."""


@dataclass(frozen=True)
class DevOnly:
    """Any valid key, and only while the outbox delivers (404 with SendGrid and Twilio)."""


Access = Public | AnyKey | NeedsRole | Webhook | CustomerPage | DevOnly

ROUTES: dict[str, Access] = {
    "GET /": Public(),  # redirects to /docs
    "GET /docs": Public(),
    "GET /docs/oauth2-redirect": Public(),
    "GET /redoc": Public(),
    "GET /openapi.json": Public(),
    "GET /healthz": Public(),
    "GET /readyz": Public(),
    "GET /metrics": Public(),
    "GET /pay-assets/page.css": Public(),
    "GET /v1/auth/whoami": AnyKey(),
    "GET /v1/invoices/{invoice_id}/journey": AnyKey(),
    "GET /v1/dead-letters": AnyKey(),
    "GET /v1/reports/journeys": AnyKey(),
    "POST /v1/events": NeedsRole("billing"),
    "POST /v1/invoices/{invoice_id}/actions": NeedsRole("agent"),
    "POST /v1/webhooks/twilio/sms": Webhook("twilio"),
    "POST /v1/webhooks/twilio/voice": Webhook("twilio"),
    "POST /v1/webhooks/twilio/status": Webhook("twilio"),
    "POST /v1/webhooks/sendgrid/events": Webhook("sendgrid-events"),
    "POST /v1/webhooks/sendgrid/inbound": Webhook("sendgrid-inbound"),
    "POST /v1/webhooks/stripe": Webhook("stripe"),
    "GET /pay/{token}": CustomerPage(),
    "POST /pay/{token}/{action}": CustomerPage(),
    "GET /dev/inbox": DevOnly(),
    "GET /dev/inbox/letters/{message_id}.pdf": DevOnly(),
    "GET /dev/outbox": DevOnly(),
}

TENANT_SCOPED: frozenset[str] = frozenset(
    {
        "POST /v1/events",
        "GET /v1/invoices/{invoice_id}/journey",
        "POST /v1/invoices/{invoice_id}/actions",
        "GET /v1/reports/journeys",
        "GET /v1/dead-letters",
    }
)
"""The routes that read or act on one tenant's data: each takes `?tenant=` and answers only
from that tenant's store and journeys (starter/tenancy.py). Held to it route by route in
tests/security/test_tenant_isolation.py."""

NOT_TENANT_SCOPED: frozenset[str] = frozenset({"GET /v1/auth/whoami"})
"""Keyed routes that touch no tenant's data: whoever adds a keyed route puts it in one of the
two sets."""

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", *STATE_CHANGING})


def routes_of(app: FastAPI) -> set[str]:
    """`METHOD /path` of every route, from the OpenAPI document and from `app.routes`."""
    found = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in HTTP_METHODS
    }
    for route in iter_route_contexts(app.routes):
        methods = set(route.methods or {"*"})  # a mount answers every method
        if "GET" in methods:
            methods.discard("HEAD")  # Starlette answers HEAD wherever it answers GET
        found |= {f"{method} {route.path}" for method in methods}
    return found


def table_problems(app: FastAPI, table: dict[str, Access]) -> list[str]:
    """Everything wrong between the app's routes and the table, one sentence each."""
    found = routes_of(app)
    problems = [
        f"new route {route} has no entry in the authorisation table "
        "(tests/security/test_route_authorisation.py, ROUTES)"
        for route in sorted(found - table.keys())
    ]
    problems += [
        f"the authorisation table lists {route}, which the app does not serve"
        for route in sorted(table.keys() - found)
    ]
    for route, access in sorted(table.items()):
        if route.split(" ", 1)[0] in STATE_CHANGING and isinstance(
            access, Public | AnyKey | DevOnly
        ):
            problems.append(f"{route} changes state but is classified {type(access).__name__}")
    return problems


def product_app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(_env_file=None, data_dir=tmp_path))


def test_every_route_has_an_entry_in_the_table(tmp_path: Path) -> None:
    problems = table_problems(product_app(tmp_path), ROUTES)
    assert not problems, "\n".join(problems)


def test_a_route_added_without_an_entry_fails_by_name(tmp_path: Path) -> None:
    app = product_app(tmp_path)

    @app.post("/v1/x")
    def new_route() -> None: ...

    @app.delete("/v1/hidden", include_in_schema=False)
    def hidden_route() -> None: ...

    hidden, shown = table_problems(app, ROUTES)
    assert shown.startswith("new route POST /v1/x has no entry in the authorisation table")
    assert hidden.startswith("new route DELETE /v1/hidden has no entry")
    misfiled = {**ROUTES, "POST /v1/x": Public(), "DELETE /v1/hidden": AnyKey()}
    assert table_problems(app, misfiled) == [
        "DELETE /v1/hidden changes state but is classified AnyKey",
        "POST /v1/x changes state but is classified Public",
    ]


def test_the_documentation_says_which_routes_take_a_key(tmp_path: Path) -> None:
    """/docs shows the key fields on exactly the routes that check a key."""
    for path, operations in product_app(tmp_path).openapi()["paths"].items():
        for method, operation in operations.items():
            access = ROUTES[f"{method.upper()} {path}"]
            keyed = isinstance(access, AnyKey | NeedsRole | DevOnly)
            assert bool(operation.get("security")) == keyed, (method, path, access)


def test_every_keyed_route_says_whether_it_is_a_tenants(tmp_path: Path) -> None:
    """A keyed route reads or acts on one tenant's data (and takes `tenant`), or touches none:
    a new route cannot slip in without deciding. (Keyless routes may filter by tenant: the
    embedded default's dev inbox shows every tenant's outbox.)"""
    keyed = set(of(AnyKey) + of(NeedsRole))
    assert keyed == TENANT_SCOPED | NOT_TENANT_SCOPED, sorted(keyed ^ TENANT_SCOPED)
    assert not TENANT_SCOPED & NOT_TENANT_SCOPED
    for path, operations in product_app(tmp_path).openapi()["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            if route not in keyed:
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert ("tenant" in names) == (route in TENANT_SCOPED), route


# --- behaviour, with keys configured -----------------------------------------------------------

Sample = Callable[[Secured], tuple[str, Any]]

SAMPLES: dict[str, Sample] = {
    "POST /v1/events": lambda s: ("/v1/events", issued()),
    "POST /v1/invoices/{invoice_id}/actions": lambda s: (
        f"/v1/invoices/{s.invoice_id}/actions",
        {"action": "pause", "agent": "security-test"},
    ),
}
"""For each route that needs a role: a request that the right key gets applied."""

PATHS: dict[str, Callable[[Secured], str]] = {
    "GET /v1/invoices/{invoice_id}/journey": lambda s: f"/v1/invoices/{s.invoice_id}/journey",
}
"""Concrete URLs for the read routes with path parameters."""


def of(access: type) -> list[str]:
    return [route for route, a in ROUTES.items() if isinstance(a, access)]


def essence(state: Any) -> tuple[Any, ...]:
    """What a refused request must not have changed in a journey."""
    return (state.phase, state.paused_until, state.open_tasks, state.history)


async def call(
    secured: Secured, method: str, url: str, body: Any = None, **headers: str
) -> httpx.Response:
    return await secured.stack.http.request(method, url, json=body, headers=headers)


async def test_state_changing_routes_refuse_every_key_but_the_right_role(
    secured: Secured,
) -> None:
    for route in of(NeedsRole):
        access = ROUTES[route]
        assert isinstance(access, NeedsRole)
        assert route in SAMPLES, f"{route}: add a request the right key gets applied to SAMPLES"
        method = route.split(" ", 1)[0]
        url, body = SAMPLES[route](secured)
        store, (state, reached) = secured.snapshot(), await secured.journey()

        refusals: dict[str, tuple[httpx.Response, int]] = {
            "no key": (await call(secured, method, url, body), 401),
            "unknown key": (await call(secured, method, url, body, **{"X-API-Key": "rj_x"}), 401),
            "revoked key": (
                await call(secured, method, url, body, **{"X-API-Key": secured.keys["revoked"]}),
                401,
            ),
            "key in the query": (
                await call(secured, method, f"{url}?api_key={secured.keys[access.role]}", body),
                401,
            ),
        }
        for role in ROLE_KEYS:
            if role != access.role:
                bearer = {"Authorization": f"Bearer {secured.keys[role]}"}
                refusals[f"{role} key"] = (await call(secured, method, url, body, **bearer), 403)
        for who, (response, status) in refusals.items():
            assert response.status_code == status, (route, who, response.text)
            assert response.json()["detail"].startswith("Authorization: "), (route, who)
        assert secured.snapshot() == store, f"{route}: a refusal changed the store"
        after, reached_after = await secured.journey()
        assert (essence(after), reached_after) == (essence(state), reached), route

        for key in (secured.keys[access.role], secured.keys["bootstrap"]):
            allowed = await call(secured, method, url, body, **{"X-API-Key": key})
            assert allowed.status_code not in (401, 403), (route, allowed.text)
            assert allowed.status_code < 500, (route, allowed.text)
    assert (await secured.journey())[0].phase == "paused"  # the agent's pause was applied


async def test_read_routes_take_any_valid_key_and_nothing_else(secured: Secured) -> None:
    for route in of(AnyKey):
        method, path = route.split(" ", 1)
        url = PATHS[route](secured) if route in PATHS else path
        assert "{" not in url, f"{route}: add its concrete URL to PATHS"
        for who, headers in {
            "no key": {},
            "unknown key": {"X-API-Key": "rj_unknown"},
            "revoked key": {"Authorization": f"Bearer {secured.keys['revoked']}"},
        }.items():
            refused = await call(secured, method, url, **headers)
            assert refused.status_code == 401, (route, who, refused.text)
        for role in (*ROLE_KEYS, "bootstrap"):
            answer = await call(secured, method, url, **{"X-API-Key": secured.keys[role]})
            assert answer.status_code == 200, (route, role, answer.text)


async def test_public_routes_answer_without_a_key_and_only_read(secured: Secured) -> None:
    for route in of(Public):
        method, path = route.split(" ", 1)
        assert method == "GET", route
        answer = await secured.stack.http.get(path, follow_redirects=False)
        assert answer.status_code in (200, 307), (route, answer.status_code)


async def test_without_keys_only_loopback_gets_in(
    settings: Settings, temporal_env: WorkflowEnvironment
) -> None:
    """The embedded default before any key exists: a caller from elsewhere is refused by every
    route that takes a key, also when a proxy on this host forwards it (uvicorn believes
    X-Forwarded-For from loopback: the caller is the forwarded address)."""
    app = create_app(settings)
    async with clients_from(app, "203.0.113.7", "127.0.0.1") as (stranger, local):
        for route in of(NeedsRole) + of(AnyKey) + of(DevOnly):
            method, path = route.split(" ", 1)
            url = path.format(invoice_id="inv_1", message_id=1)
            refused = await stranger.request(method, url, json={})
            assert refused.status_code == 401, (route, refused.text)
        me = await local.get("/v1/auth/whoami")
        assert me.json()["name"].startswith("local"), me.text
    served = create_app(settings, client=temporal_env.client)
    async with serving(served) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        assert (await http.get("/v1/auth/whoami")).status_code == 200
        forwarded = await http.get("/v1/auth/whoami", headers={"X-Forwarded-For": "203.0.113.7"})
        assert forwarded.status_code == 401, forwarded.text
