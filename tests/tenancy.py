"""Registering tenants in a test's store: the registry row, the tenant's own store migrated
and emptied (a PostgreSQL schema outlives runs), the settings cache forgotten."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.migrations import upgrade_tenant
from infra.settings import Settings
from infra.tenants import TenantProfile, forget_cached, save_profile, tenant_settings
from tests.conftest import empty_store


def add_tenant(
    base: Settings,
    tenant: str,
    settings: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
) -> Settings:
    """Register `tenant` in `base`'s control store; its settings, as the worker makes them."""
    profile = TenantProfile(
        id=tenant, name=f"{tenant.title()} AB", settings=settings or {}, secrets=secrets or {}
    )
    save_profile(base.store_url, profile, replace=True)
    forget_cached()
    empty_store(upgrade_tenant(base, tenant))
    return tenant_settings(base, tenant)


@pytest.fixture
def tenants_forgotten() -> Iterator[None]:
    """No tenant settings cached from another test's store (or left for the next)."""
    forget_cached()
    yield
    forget_cached()
