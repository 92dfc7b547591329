"""The README's "Tenants" section lists exactly what a tenant may set (infra/tenants.py), and
docs/production.md says how tenants are rolled out."""

from __future__ import annotations

import re

import pytest

from infra.settings import REPO_ROOT, Settings
from infra.tenants import TENANT_SECRETS, TENANT_SETTINGS

README = REPO_ROOT / "README.md"
BLOCK = re.compile(r"<!-- tenant-settings:.*?-->\n(.*?)<!-- /tenant-settings -->", re.DOTALL)


def settings_block() -> str:
    """The README's list as it must read: paste this between the markers when it changes."""

    def names(found: frozenset[str]) -> str:
        return ", ".join(f"`{name.upper()}`" for name in sorted(found))

    return (
        f"- settings (`--set KEY=VALUE`): {names(TENANT_SETTINGS)}\n"
        f"- secrets (`--secret KEY=ENV_VAR`): {names(TENANT_SECRETS)}\n"
    )


def test_the_readme_lists_exactly_what_a_tenant_may_set() -> None:
    [listed] = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert listed == settings_block(), (
        f"README.md's tenant settings should read:\n{settings_block()}"
    )


def test_what_a_tenant_may_set_are_settings() -> None:
    assert set(Settings.model_fields) >= (TENANT_SETTINGS | TENANT_SECRETS)
    assert not TENANT_SETTINGS & TENANT_SECRETS


def test_production_docs_describe_every_compose_service_and_the_tenants_rollout() -> None:
    """Section 2's table names each service of docker-compose.yml (the tenant's one-shot too),
    and section 5 the order tenants need: migration 0006, then the search attribute."""
    yaml = pytest.importorskip("yaml", reason="PyYAML reads docker-compose.yml (test extra)")
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    docs = (REPO_ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z-]+)` \|", docs, flags=re.MULTILINE))
    assert set(compose["services"]) - {"prometheus", "grafana"} <= rows
    rollout = docs[docs.index("**The release that brings tenants**") :]
    assert rollout.index("Migration 0006 first") < rollout.index("Register the `Tenant` search")
