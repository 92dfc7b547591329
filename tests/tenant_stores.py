"""A registered tenant for tests: its profile in the control store, its secrets in
environment variables (set through `monkeypatch`, so they go with the test), its own store
migrated and emptied (as the default tenant's is for each test), and the settings cache
forgotten so that the next request reads the new profile."""

from __future__ import annotations

import pytest

from infra.migrations import upgrade_tenant
from infra.settings import Settings
from infra.tenants import TenantProfile, forget_cached, save_profile, tenant_settings
from tests.conftest import empty_store


def register_tenant(
    base: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tenant: str,
    settings: dict[str, str],
    secrets: dict[str, str],
) -> Settings:
    """Register `tenant` with these settings and secrets (secret setting name to its value:
    each goes into an environment variable of its own); the tenant's settings."""
    variables: dict[str, str] = {}
    for name, value in secrets.items():
        variable = f"TEST_{tenant.upper().replace('-', '_')}_{name.upper()}"
        monkeypatch.setenv(variable, value)
        variables[name] = variable
    profile = TenantProfile(id=tenant, name=tenant.title(), settings=settings, secrets=variables)
    save_profile(base.store_url, profile, replace=True)
    forget_cached()
    empty_store(upgrade_tenant(base, tenant))
    return tenant_settings(base, tenant)
