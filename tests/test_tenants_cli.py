"""`journeys tenants add` · `list` · `show` and `journeys db upgrade` across tenants, as a user
runs them (Typer's runner, the real store: SQLite, or PostgreSQL with JOURNEYS_TEST_DB=postgres).

Each test names its tenants afresh: on PostgreSQL a tenant's schema outlives the test (the
`test` database outlives runs), on SQLite its file sits beside the session's control store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner, Result

from infra import migrations
from infra.logging import mask_url_secrets as masked
from infra.settings import REPO_ROOT, Settings
from infra.store import get_engine
from infra.tenants import (
    TenantProfile,
    forget_cached,
    read_profile,
    read_profiles,
    save_profile,
    tenant_schema,
    tenant_settings,
    tenant_store_url,
)
from journeys import cli

GENTLE = REPO_ROOT / "config" / "policies-gentle.toml"


class Journeys(Protocol):
    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Result: ...


@pytest.fixture
def journeys(runner: CliRunner, settings: Settings) -> Journeys:
    """`journeys ARGS` in the CLI's environment: the test's control store, and none of the
    tenants' secrets but what `env` adds."""
    base = {"DATABASE_URL": settings.store_url, "DATA_DIR": str(settings.data_dir)}

    def run(*args: str, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(cli.app, list(args), env={**base, **(env or {})})

    return run


@pytest.fixture
def new_tenant(settings: Settings) -> Iterator[str]:
    """A tenant id no earlier run used; its PostgreSQL schema is dropped afterwards."""
    tenant = f"t{uuid.uuid4().hex[:10]}"
    yield tenant
    forget_cached()
    if not settings.store_url.startswith("sqlite"):
        with get_engine(settings.store_url).begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{tenant_schema(tenant)}" CASCADE'))


def tables_of(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def test_add_list_show_and_replace(
    journeys: Journeys,
    settings: Settings,
    new_tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    secret_variable = f"{new_tenant.upper()}_SENDGRID_API_KEY"
    monkeypatch.delenv(secret_variable, raising=False)
    added = journeys(
        *("tenants", "add", new_tenant, "--name", "Nordic Kredit AB"),
        *("--set", "POLICY_FILE=config/policies-gentle.toml"),
        *("--set", "sendgrid_from_email=billing@nordic.example"),
        *("--set", "TWILIO_FROM_NUMBER=+46700000001"),
        *("--set", "BRAND_PRIMARY_COLOR=#005f73"),
        *("--secret", f"SENDGRID_API_KEY={secret_variable}"),
    )
    assert added.exit_code == 0, added.output
    # The secret's variable is not set here: a warning, and the tenant is registered all the same.
    assert f"warning: {secret_variable} (the tenant's SENDGRID_API_KEY) is not set here" in (
        added.stderr
    )
    store = tenant_store_url(settings.store_url, new_tenant)
    assert f"tenant {new_tenant} (Nordic Kredit AB) registered" in added.stdout
    assert f"its store: {masked(store)} (at {migrations.head()})" in added.stdout
    assert {"invoices", "journey_events", "outbox"} <= tables_of(store)

    profile = read_profile(settings.store_url, new_tenant)
    assert profile == TenantProfile(
        id=new_tenant,
        name="Nordic Kredit AB",
        settings={
            "policy_file": str(GENTLE),  # saved absolute: the worker runs elsewhere
            "sendgrid_from_email": "billing@nordic.example",
            "twilio_from_number": "+46700000001",
            "brand_primary_color": "#005f73",
        },
        secrets={"sendgrid_api_key": secret_variable},
    )
    # What the worker and the API make of it, where the variable is set.
    monkeypatch.setenv(secret_variable, "SG.nordic-key")
    forget_cached()
    own = tenant_settings(settings, new_tenant)
    assert (own.sendgrid_api_key, own.policy_file, own.store_url) == (
        "SG.nordic-key",
        GENTLE,
        store,
    )
    assert own.tenant == new_tenant

    listed = journeys("tenants", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.index("default") < listed.stdout.index(new_tenant)
    assert f"{new_tenant}  Nordic Kredit AB" in listed.stdout
    assert "senders: billing@nordic.example, +46700000001" in listed.stdout
    assert f"policy:  {GENTLE}" in listed.stdout
    rows = json.loads(journeys("tenants", "list", "--json").stdout)
    assert [row["id"] for row in rows] == ["default", new_tenant]
    assert rows[1] == {
        "id": new_tenant,
        "name": "Nordic Kredit AB",
        "store": masked(store),
        "from_email": "billing@nordic.example",
        "from_number": "+46700000001",
        "policy_file": str(GENTLE),
    }
    assert rows[0]["store"] == masked(settings.store_url)

    shown = journeys("tenants", "show", new_tenant)
    assert shown.exit_code == 0, shown.output
    assert f"SENDGRID_API_KEY from ${secret_variable}" in shown.stdout
    assert "BRAND_PRIMARY_COLOR=#005f73" in shown.stdout
    assert "SG.nordic-key" not in shown.stdout
    as_json = journeys("tenants", "show", new_tenant, "--json")
    assert TenantProfile.model_validate_json(as_json.stdout) == profile

    # Adding it again is refused, and changes nothing; --replace replaces the whole profile.
    again = journeys("tenants", "add", new_tenant, "--name", "Other")
    assert again.exit_code == 1
    assert f"error: tenant {new_tenant} exists; --replace changes it" in again.stderr
    assert read_profile(settings.store_url, new_tenant) == profile
    replaced = journeys(
        *("tenants", "add", new_tenant, "--name", "Nordic Kredit Oy", "--replace"),
        *("--set", "brand_name=Nordic Kredit"),
    )
    assert replaced.exit_code == 0, replaced.output
    assert f"tenant {new_tenant} (Nordic Kredit Oy) changed" in replaced.stdout
    assert read_profile(settings.store_url, new_tenant) == TenantProfile(
        id=new_tenant, name="Nordic Kredit Oy", settings={"brand_name": "Nordic Kredit"}
    )
    forget_cached()
    assert tenant_settings(settings, new_tenant).policy_file == settings.policy_file


def test_show_and_list_of_the_default_tenant_and_an_unknown_one(
    journeys: Journeys, settings: Settings
) -> None:
    shown = journeys("tenants", "show", "default")
    assert shown.exit_code == 0, shown.output
    assert f"store: {masked(settings.store_url)}" in shown.stdout
    listed = json.loads(journeys("tenants", "list", "--json").stdout)
    assert [row["id"] for row in listed] == ["default"]
    assert listed[0]["from_email"] == settings.sendgrid_from_email

    unknown = journeys("tenants", "show", "nobody")
    assert unknown.exit_code == 1
    assert "error: no tenant 'nobody' (journeys tenants list shows them)" in unknown.stderr


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["--set", "TEMPORAL_ADDRESS=elsewhere:7233"],
            1,
            "temporal_address cannot be set per tenant (these can: bankgiro, ",
        ),
        (
            ["--set", "SENDGRID_API_KEY=SG.typed-by-mistake"],
            1,
            "sendgrid_api_key is a secret; name the environment variable that holds it",
        ),
        (["--set", "brand_primary_color=red"], 1, "brand_primary_color: String should match"),
        (["--set", "POLICY_FILE=/nowhere/policies.toml"], 1, "policy file not found"),
        (["--set", "brand_name"], 2, "--set takes KEY=VALUE, e.g. --set POLICY_FILE="),
        (["--secret", "X"], 2, "--secret takes KEY=VALUE, e.g. --secret SENDGRID_API_KEY="),
        (["--set", "brand_name="], 2, "--set BRAND_NAME= has no value"),
        (["--set", "brand_name=A", "--set", "BRAND_NAME=B"], 2, "BRAND_NAME is given twice"),
        (
            ["--secret", "SENDGRID_API_KEY=SG.typed-by-mistake"],
            1,
            "after '=' comes the NAME of the environment variable",
        ),
        (["--secret", "brand_name=ACME_BRAND"], 1, "brand_name is not a secret setting"),
    ],
)
def test_a_refused_profile_names_its_problem_and_registers_nothing(
    journeys: Journeys,
    settings: Settings,
    new_tenant: str,
    args: list[str],
    status: int,
    message: str,
) -> None:
    result = journeys("tenants", "add", new_tenant, "--name", "Acme AB", *args)
    assert result.exit_code == status, result.output
    assert message in result.stderr
    assert "typed-by-mistake" not in result.output  # a secret typed by mistake is not echoed
    assert read_profiles(settings.store_url) == []
    if settings.store_url.startswith("sqlite"):
        assert not Path(tenant_store_url(settings.store_url, new_tenant)[10:]).exists()


@pytest.mark.parametrize("tenant", ["Acme", "acme_1", "a", "9lives", "acme-", "default"])
def test_an_id_that_breaks_the_rule_is_refused(
    journeys: Journeys, settings: Settings, tenant: str
) -> None:
    result = journeys("tenants", "add", tenant, "--name", "Acme AB")
    assert result.exit_code == 1, result.output
    expected = (
        "the default tenant is configured by the environment"
        if tenant == "default"
        else f"tenant id '{tenant}' is not valid: 2 to 32 characters: lower-case letters"
    )
    assert expected in result.stderr
    assert read_profiles(settings.store_url) == []


def test_a_store_url_is_printed_without_its_password() -> None:
    url = "postgresql+psycopg://journeys:s3cret@db.example.com:5432/journeys?options=x"
    assert masked(url) == "postgresql+psycopg://journeys:***@db.example.com:5432/journeys?options=x"


def test_a_tenant_with_a_store_of_its_own(
    journeys: Journeys,
    settings: Settings,
    new_tenant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variable = f"{new_tenant.upper()}_DATABASE_URL"
    args = (
        "tenants",
        "add",
        new_tenant,
        "--name",
        "Acme AB",
        "--secret",
        f"database_url={variable}",
    )
    monkeypatch.delenv(variable, raising=False)
    unset = journeys(*args)
    assert unset.exit_code == 1
    assert f"environment variable {variable} (its database_url) is not set" in unset.stderr
    assert read_profiles(settings.store_url) == []

    own = f"sqlite:///{tmp_path / 'acme' / 'store.db'}"
    added = journeys(*args, env={variable: own})
    assert added.exit_code == 0, added.output
    assert "invoices" in tables_of(own)
    listed = json.loads(journeys("tenants", "list", "--json").stdout)
    assert listed[1]["store"] == f"${variable}"  # its variable, never its value


def test_db_upgrade_migrates_every_tenants_store(
    journeys: Journeys,
    settings: Settings,
    new_tenant: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Registered without a store (as a registry restored from a backup would be).
    save_profile(settings.store_url, TenantProfile(id=new_tenant, name="Acme AB"))
    store = tenant_store_url(settings.store_url, new_tenant)
    assert "invoices" not in tables_of(store)

    upgraded = journeys("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    head = migrations.head()
    lines = upgraded.stdout.splitlines()
    assert lines[0] == f"{masked(settings.store_url)}: already at {head}"
    assert lines[1] == f"tenant {new_tenant}: {masked(store)}: upgraded empty -> {head}"
    assert {"invoices", "journey_events", "outbox", "alembic_version"} <= tables_of(store)
    if not settings.store_url.startswith("sqlite"):
        with get_engine(settings.store_url).connect() as connection:
            found = connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": tenant_schema(new_tenant)},
            )
            assert {"invoices", "customers", "alembic_version"} <= {row[0] for row in found}

    again = journeys("db", "upgrade")
    assert (
        again.stdout.splitlines()[1] == f"tenant {new_tenant}: {masked(store)}: already at {head}"
    )

    # A tenant whose own store's variable is not set: the upgrade says which, and fails.
    other = f"{new_tenant}-b"
    variable = f"{new_tenant.upper()}_B_DATABASE_URL"
    monkeypatch.delenv(variable, raising=False)
    save_profile(
        settings.store_url,
        TenantProfile(id=other, name="Acme B", secrets={"database_url": variable}),
    )
    failed = journeys("db", "upgrade")
    assert failed.exit_code == 2
    assert f"environment variable {variable} (its database_url) is not set" in failed.stderr


def test_upgrade_all_makes_every_registered_tenants_store(
    settings: Settings, new_tenant: str
) -> None:
    save_profile(settings.store_url, TenantProfile(id=new_tenant, name="Acme AB"))
    store = tenant_store_url(settings.store_url, new_tenant)
    assert migrations.upgrade_all(settings) == {"default": settings.store_url, new_tenant: store}
    assert migrations.current(store) == migrations.head()
    assert "handovers" in tables_of(store)


def test_remove_unregisters_a_tenant_keeps_its_store_and_its_keys_go_with_it(
    journeys: Journeys, settings: Settings, new_tenant: str
) -> None:
    from starter.auth import create_key, list_keys, revoke_key

    added = journeys("tenants", "add", new_tenant, "--name", "Acme AB")
    assert added.exit_code == 0, added.output
    store = tenant_store_url(settings.store_url, new_tenant)
    theirs, _ = create_key(settings, "Acme ERP", "billing", new_tenant)
    old, _ = create_key(settings, "Acme old", "billing", new_tenant)
    revoke_key(settings, str(old.id))
    everyone, _ = create_key(settings, "Ops", "agent")

    # Its active key (by prefix, never the key) refuses the removal; nothing changes.
    refused = journeys("tenants", "remove", new_tenant)
    assert refused.exit_code == 1, refused.output
    assert f"error: tenant {new_tenant} has active API keys: {theirs.prefix} (" in refused.stderr
    assert "--revoke-keys" in refused.stderr and old.prefix not in refused.stderr
    assert read_profile(settings.store_url, new_tenant) is not None
    assert {k.id for k in list_keys(settings)} == {theirs.id, everyone.id}

    removed = journeys("tenants", "remove", new_tenant, "--revoke-keys")
    assert removed.exit_code == 0, removed.output
    assert f"tenant {new_tenant} (Acme AB) removed from the registry" in removed.stdout
    assert f"its API keys revoked: {theirs.prefix}\n" in removed.stdout
    assert f"its store is kept: {masked(store)} (its rows are erased separately" in removed.stdout
    assert f'Tenant = "{new_tenant}"' in removed.stdout
    assert read_profiles(settings.store_url) == []
    assert [k.id for k in list_keys(settings)] == [everyone.id]  # the key for every tenant stays
    assert {"invoices", "outbox"} <= tables_of(store)  # its rows are not touched
    forget_cached()
    listed = json.loads(journeys("tenants", "list", "--json").stdout)
    assert [row["id"] for row in listed] == ["default"]

    again = journeys("tenants", "remove", new_tenant)
    assert again.exit_code == 1
    assert f"error: no tenant '{new_tenant}' (journeys tenants list shows them)" in again.stderr


def test_remove_without_keys_and_the_default_tenant_refused(
    journeys: Journeys, settings: Settings, new_tenant: str
) -> None:
    save_profile(settings.store_url, TenantProfile(id=new_tenant, name="Acme AB"))
    removed = journeys("tenants", "remove", new_tenant)
    assert removed.exit_code == 0, removed.output
    assert "its API keys revoked" not in removed.stdout
    assert read_profiles(settings.store_url) == []

    default = journeys("tenants", "remove", "default")
    assert default.exit_code == 1
    assert "the default tenant is configured by the environment (.env): it cannot be removed" in (
        default.stderr
    )

    helped = journeys("tenants", "remove", "--help")
    assert helped.exit_code == 0
    assert "Tenant =" in helped.stdout and "--revoke-keys" in helped.stdout
