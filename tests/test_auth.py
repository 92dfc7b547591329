"""API keys with roles: 401 without a valid key, 403 with the wrong role; keys stored hashed;
the `keys` and `dead-letters` commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlmodel import select
from typer.testing import CliRunner

from infra.settings import Settings
from infra.store import ApiKeyRow, session_scope
from journeys.admin_cli import dead_letters_app, keys_app
from starter import auth, deadletters
from starter.auth import Principal, require_role
from tests.api_server import clients_from

BOOTSTRAP = "bootstrap-key-for-tests"


def protected_app(settings: Settings) -> FastAPI:
    """Routes guarded the way the lead wires the API: events billing, actions agent, reads any."""
    app = FastAPI()
    app.state.settings = settings

    @app.post("/v1/events", dependencies=[Depends(require_role("billing"))])
    def events() -> dict[str, str]:
        return {"ok": "events"}

    @app.post("/v1/invoices/{invoice_id}/actions")
    def actions(
        invoice_id: str, who: Annotated[Principal, Depends(require_role("agent"))]
    ) -> dict[str, str]:
        return {"ok": invoice_id, "by": who.name}

    @app.get("/v1/invoices/{invoice_id}/journey", dependencies=[Depends(require_role())])
    def journey(invoice_id: str) -> dict[str, str]:
        return {"ok": invoice_id}

    app.include_router(auth.router)
    app.include_router(deadletters.router)
    return app


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings.api_key = BOOTSTRAP
    transport = httpx.ASGITransport(app=protected_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_no_key_is_401_and_the_wrong_role_is_403(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    _, agent = auth.create_key(settings, "Anna", "agent")
    _, billing = auth.create_key(settings, "Fortnox sync", "billing")
    _, reader = auth.create_key(settings, "Dashboard", "read-only")

    missing = await http.post("/v1/events")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (await http.post("/v1/events", headers=bearer("rj_not-a-key"))).status_code == 401

    assert (await http.post("/v1/events", headers=bearer(billing))).status_code == 200
    wrong = await http.post("/v1/events", headers=bearer(agent))
    assert wrong.status_code == 403
    assert "'agent'" in wrong.json()["detail"] and "billing" in wrong.json()["detail"]

    action = await http.post("/v1/invoices/inv_1/actions", headers={"X-API-Key": agent})
    assert action.json() == {"ok": "inv_1", "by": "Anna"}
    assert (
        await http.post("/v1/invoices/inv_1/actions", headers=bearer(reader))
    ).status_code == 403

    for key in (agent, billing, reader):
        response = await http.get("/v1/invoices/inv_1/journey", headers=bearer(key))
        assert response.status_code == 200
    assert (await http.get("/v1/invoices/inv_1/journey")).status_code == 401


async def test_the_bootstrap_key_holds_every_role(http: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/v1/events"),
        ("POST", "/v1/invoices/inv_1/actions"),
        ("GET", "/v1/invoices/inv_1/journey"),
    ):
        response = await http.request(method, path, headers={"X-API-Key": BOOTSTRAP})
        assert response.status_code == 200, (path, response.text)
    me = await http.get("/v1/auth/whoami", headers=bearer(BOOTSTRAP))
    assert me.json() == {"name": "bootstrap", "role": "*"}


async def test_keys_are_stored_hashed_and_revocable(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    row, key = auth.create_key(settings, "Anna", "agent")
    assert key.startswith("rj_") and len(key) > 40
    with session_scope(settings.store_url) as s:
        [stored] = s.exec(select(ApiKeyRow)).all()
    assert stored.key_hash == auth.hash_key(key) and key not in stored.key_hash
    assert stored.prefix == key[:10]

    assert (await http.get("/v1/auth/whoami", headers=bearer(key))).json()["role"] == "agent"
    auth.revoke_key(settings, stored.prefix)
    assert (await http.get("/v1/auth/whoami", headers=bearer(key))).status_code == 401
    assert auth.list_keys(settings) == []
    assert [r.id for r in auth.list_keys(settings, include_revoked=True)] == [row.id]

    with pytest.raises(auth.UnknownKey):
        auth.revoke_key(settings, "rj_missing")
    with pytest.raises(ValueError, match="role"):
        auth.create_key(settings, "Eve", "admin")


async def test_dead_letters_are_listed_for_any_key(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    deadletters.record(settings, "stripe", {"id": "evt_1"}, "data.invoice.currency: bad")
    deadletters.record(settings, "twilio-sms", "From=%2B46700000000", "no customer")
    _, reader = auth.create_key(settings, "Dashboard", "read-only")
    assert (await http.get("/v1/dead-letters")).status_code == 401
    listed = await http.get("/v1/dead-letters", headers=bearer(reader))
    assert [d["source"] for d in listed.json()] == ["twilio-sms", "stripe"]
    only = await http.get("/v1/dead-letters?source=stripe", headers=bearer(reader))
    [letter] = only.json()
    assert (
        letter["payload"] == '{"id": "evt_1"}' and letter["reason"] == "data.invoice.currency: bad"
    )


# --- the commands ----------------------------------------------------------------------------


def test_keys_and_dead_letters_commands(settings: Settings) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": settings.store_url, "DATA_DIR": str(settings.data_dir)}

    created = runner.invoke(keys_app, ["create", "--role", "agent", "--name", "Anna"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("rj_")
    [row] = auth.list_keys(settings)
    assert auth.authenticate(settings, key) == Principal("Anna", "agent", row.id)

    listed = runner.invoke(keys_app, ["list"], env=env)
    assert listed.exit_code == 0
    assert key[:10] in listed.stdout and "Anna" in listed.stdout and key not in listed.stdout

    bad_role = runner.invoke(keys_app, ["create", "--role", "admin", "--name", "Eve"], env=env)
    assert bad_role.exit_code != 0

    revoked = runner.invoke(keys_app, ["revoke", str(row.id)], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert auth.authenticate(settings, key) is None
    assert runner.invoke(keys_app, ["revoke", "999999"], env=env).exit_code == 1

    assert "no dead letters" in runner.invoke(dead_letters_app, ["list"], env=env).stdout
    deadletters.record(settings, "sendgrid-inbound", {"from": "x@y.se"}, "matches no invoice")
    shown = runner.invoke(dead_letters_app, ["list", "--source", "sendgrid-inbound"], env=env)
    assert shown.exit_code == 0 and "matches no invoice" in shown.stdout


async def test_before_any_key_exists_only_loopback_is_let_in(settings: Settings) -> None:
    """The embedded default right after `make dev`: no API_KEY, no keys in the store."""
    settings.api_key = None
    app = protected_app(settings)
    async with clients_from(app, "127.0.0.1", "10.1.2.3") as (here, there):
        assert (await here.post("/v1/events")).status_code == 200
        assert (await here.post("/v1/invoices/inv_1/actions")).status_code == 200
        assert (await there.post("/v1/events")).status_code == 401

        _, key = auth.create_key(settings, "Anna", "agent")  # the first key ends open access
        assert (await here.post("/v1/events")).status_code == 401
        assert (
            await here.post("/v1/invoices/inv_1/actions", headers=bearer(key))
        ).status_code == 200
