"""Registering a tenant in tests, one way for every suite: its profile in the test's control
store, its secrets in environment variables of their own (set through `monkeypatch`, so they
go with the test), its policy file, its own store migrated and emptied, and both caches
forgotten (the settings read per tenant and the policy files read per path), so that the
next request or activity reads the new profile.

    acme = add_tenant(settings)                                   # tenant "acme"
    acme = add_tenant(settings, "bolag", settings={"templates_dir": str(own)})
    acme = add_tenant(
        settings, settings={"twilio_account_sid": SID},
        secrets={"twilio_auth_token": TOKEN}, monkeypatch=monkeypatch,
    )
    acme = add_tenant(settings, policies=policy_file_with(base, tmp_path, new_max_years=100))

or the `acme` fixture (import it into a conftest.py or a test module). The tenant's store
outlives a test (a SQLite file beside the control store, or a PostgreSQL schema), so it is
emptied here as the control store is by the `store_url` fixture; the control store's
`tenants` table is emptied by that fixture, so every test registers its tenants again. Tests
whose tenants' settings must not leak into the next test's requests use the fixture
`tenants_forgotten`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.migrations import upgrade_tenant
from infra.settings import Settings
from infra.tenants import TenantProfile, forget_cached, save_profile, tenant_settings
from starter.tenancy import forget_policies
from tests.conftest import empty_store

SECOND_TENANT = "acme"


def secret_variable(tenant: str, name: str) -> str:
    """The environment variable a test tenant's secret setting `name` is held in."""
    return f"TEST_{tenant.upper().replace('-', '_')}_{name.upper()}"


def add_tenant(
    base: Settings,
    tenant: str = SECOND_TENANT,
    *,
    settings: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
    policies: Path | None = None,
) -> Settings:
    """Register (or replace) `tenant` in `base`'s control store, named after its id
    capitalised: `settings` are its overrides (TENANT_SETTINGS names, values as the
    environment gives them), `secrets` its secret settings' VALUES (each put into an
    environment variable of its own through `monkeypatch`, which they need), `policies` its
    policy file (default: the deployment's). Its settings, as the worker and the API make
    them."""
    if secrets and monkeypatch is None:
        raise ValueError(
            f"tenant {tenant}: secrets {sorted(secrets)} need monkeypatch (their environment "
            "variables must go with the test)"
        )
    variables: dict[str, str] = {}
    for name, value in (secrets or {}).items():
        variables[name] = secret_variable(tenant, name)
        assert monkeypatch is not None
        monkeypatch.setenv(variables[name], value)
    values = {"policy_file": str(policies or base.policy_file), **(settings or {})}
    profile = TenantProfile(id=tenant, name=tenant.capitalize(), settings=values, secrets=variables)
    save_profile(base.store_url, profile, replace=True)
    forget_cached()
    forget_policies()
    empty_store(upgrade_tenant(base, tenant))
    return tenant_settings(base, tenant)


def policy_file_with(base: Path, folder: Path, **values: Any) -> Path:
    """A copy of the policy file `base` in `folder` with top-level keys of its tables
    replaced (`new_max_years=100`): a tenant's own policies, told apart by what they decide."""
    text = base.read_text(encoding="utf-8")
    for key, value in values.items():
        text, found = re.subn(rf"(?m)^{key}\s*=\s*[^#\n]*", f"{key} = {value} ", text)
        assert found, f"{key} is not in {base}"
    path = folder / f"policies-{len(list(folder.glob('policies-*')))}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def acme(settings: Settings) -> Settings:
    """A second tenant, "acme", on the deployment's policy file: its settings."""
    return add_tenant(settings)


@pytest.fixture
def tenants_forgotten() -> Iterator[None]:
    """No tenant settings or policy file cached from another test's store (or left for the
    next one)."""
    forget_cached()
    forget_policies()
    yield
    forget_cached()
    forget_policies()
