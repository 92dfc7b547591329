"""A second tenant for tests: registered in the test's control store, its own store migrated
and emptied, its own policy file.

    acme = add_tenant(settings)            # Settings of tenant "acme"
    acme = add_tenant(settings, "globex", policies=path, brand_name="Globex")

or the `acme` fixture (import it into a conftest.py or a test module). The tenant's store
outlives a test (a SQLite file beside the control store, or a PostgreSQL schema), so it is
emptied here as the control store is by the `store_url` fixture; the control store's
`tenants` table is emptied by that fixture, so every test registers its tenants again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from infra.migrations import upgrade_tenant
from infra.settings import Settings
from infra.tenants import TenantProfile, forget_cached, save_profile, tenant_settings
from starter.tenancy import forget_policies
from tests.conftest import empty_store

SECOND_TENANT = "acme"


def add_tenant(
    settings_: Settings,
    tenant: str = SECOND_TENANT,
    *,
    policies: Path | None = None,
    settings: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
    **overrides: str,
) -> Settings:
    """Register `tenant` (its name: the id capitalised) with `overrides` as its settings
    (TENANT_SETTINGS names, values as the environment gives them) and `policies` as its
    policy file (default: the deployment's); its store migrated and emptied. Its settings."""
    forget_cached()
    forget_policies()
    base = settings_
    values = {"policy_file": str(policies or base.policy_file), **(settings or {}), **overrides}
    variables = {}
    for name, value in (secrets or {}).items():
        assert monkeypatch is not None
        variable = f"TEST_{tenant.upper()}_{name.upper()}"
        monkeypatch.setenv(variable, value)
        variables[name] = variable
    profile = TenantProfile(id=tenant, name=tenant.capitalize(), settings=values, secrets=variables)
    save_profile(base.store_url, profile, replace=True)
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
