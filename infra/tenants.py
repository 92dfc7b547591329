"""The tenants a deployment serves, and each one's settings and store.

A tenant is registered once (`journeys tenants add`) in the `tenants` table of the control
store (the default tenant's store, `DATABASE_URL`): its name, the settings it overrides and,
for its secrets, the names of the environment variables that hold them (a secret is never
written to the store). `tenant_settings(base, tenant)` is the `Settings` every part of the
product uses for that tenant: the deployment's own settings (Temporal, the API, workers,
logging) with the tenant's company settings on top; what the tenant leaves unset is the
product's default, never the default tenant's value (`own_defaults`). The
default tenant has no row and no overrides: a deployment that never adds a tenant runs
exactly as before tenants existed.

Each tenant's rows live in a store of its own: a SQLite file next to the control store's, or
a schema of its own (`tenant_<id>`) in the same PostgreSQL database, unless the tenant names
its own DATABASE_URL. Isolation is by construction: no query can forget a tenant filter,
because a tenant's code path never holds another tenant's store. Customer, invoice and event
ids may repeat across tenants; a tenant can be backed up, erased or moved as a whole.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field as PydanticField
from pydantic import ValidationError
from sqlalchemy import Column, Text, text
from sqlmodel import Field, SQLModel, col, select

from domain.tenants import DEFAULT_TENANT, TenantId
from domain.values import Model
from infra.settings import Settings
from infra.store import ApiKeyRow, get_engine, session_scope, utcnow

TENANT_SETTINGS = frozenset(
    {
        "policy_file",
        "templates_dir",
        "sendgrid_from_email",
        "sendgrid_inbound_domain",
        "sendgrid_webhook_public_key",
        "twilio_account_sid",
        "twilio_from_number",
        "email_sends_per_second",
        "sms_sends_per_second",
        "calls_per_second",
        "letters_per_second",
        "customer_service_phone",
        "customer_service_hours",
        "collection_agency_url",
        "letter_provider_url",
        "bankgiro",
        "plusgiro",
        "company_address",
        "brand_name",
        "brand_logo_file",
        "brand_primary_color",
        "brand_accent_color",
        "customer_page_link_days",
        "leakage_window_days",
        "leakage_silence_days",
        "report_cost_currency",
        "report_cost_per_email",
        "report_cost_per_sms",
        "report_cost_per_call_minute",
        "report_call_minutes",
    }
)
"""What a tenant may set for itself (everything about the company, its customers and its
providers). The rest (Temporal, the API's address, worker sizes, logging) is the
deployment's."""

TENANT_SECRETS = frozenset(
    {
        "sendgrid_api_key",
        "sendgrid_inbound_token",
        "twilio_auth_token",
        "stripe_webhook_secret",
        "collection_agency_token",
        "letter_provider_key",
        "database_url",
    }
)
"""What a tenant takes from an environment variable it names: its credentials, and its own
store if it has one."""


class TenantProfile(Model):
    """A tenant as registered: what `journeys tenants show` prints (secrets by their
    variable's name only)."""

    id: TenantId
    name: str = PydanticField(min_length=1, max_length=200)
    settings: dict[str, str] = {}
    """Setting name (lower case, as in `Settings`) to its value, as the environment would
    give it."""
    secrets: dict[str, str] = {}
    """Secret setting name to the environment variable that holds its value."""


class TenantRow(SQLModel, table=True):
    """A registered tenant (the control store only; the default tenant has no row)."""

    __tablename__ = "tenants"

    id: str = Field(primary_key=True)
    name: str
    profile: str = Field(sa_column=Column(Text, nullable=False))
    """The `TenantProfile` as JSON."""
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class UnknownTenant(LookupError):
    """A tenant id no tenant has: the message names it."""

    def __init__(self, tenant: str) -> None:
        super().__init__(f"no tenant {tenant!r} (journeys tenants list shows them)")
        self.tenant = tenant


class TenantHasKeys(Exception):
    """A tenant still has active API keys scoped to it: the message names them by prefix."""

    def __init__(self, tenant: str, prefixes: list[str]) -> None:
        super().__init__(
            f"tenant {tenant} has active API keys: {', '.join(prefixes)} "
            "(revoke them with journeys keys revoke, or give --revoke-keys)"
        )
        self.prefixes = prefixes


class TenantConfigError(ValueError):
    """A tenant's profile that cannot make settings (an unknown or secret setting, a value of
    the wrong kind, a missing variable): the message names the setting and the tenant."""


def check_profile(profile: TenantProfile, base: Settings) -> Settings:
    """The tenant's settings, or the first problem with its profile as a `TenantConfigError`.
    Secrets' variables must be set where this runs (the worker and the API both need them)."""
    for name in profile.settings:
        if name in TENANT_SECRETS:
            raise TenantConfigError(
                f"tenant {profile.id}: {name} is a secret; name the environment variable "
                "that holds it (--secret) instead of its value"
            )
        if name not in TENANT_SETTINGS:
            raise TenantConfigError(
                f"tenant {profile.id}: {name} cannot be set per tenant "
                f"(these can: {', '.join(sorted(TENANT_SETTINGS))})"
            )
    values: dict[str, Any] = dict(profile.settings)
    for name in profile.secrets:
        if name not in TENANT_SECRETS:
            raise TenantConfigError(
                f"tenant {profile.id}: {name} is not a secret setting "
                f"(these are: {', '.join(sorted(TENANT_SECRETS))})"
            )
        values[name] = secret_value(profile, name)
    values["database_url"] = tenant_store(base, profile)
    merged = {**base.model_dump(), **own_defaults(), **values}
    try:
        # Validated as the environment's strings are: a rate is a float, a path a Path.
        return Settings.model_validate(merged).for_tenant(profile.id, base.store_url)
    except ValidationError as err:
        first = err.errors()[0]
        raise TenantConfigError(f"tenant {profile.id}: {first['loc'][0]}: {first['msg']}") from None


def secret_value(profile: TenantProfile, name: str) -> str:
    """The value of the tenant's secret `name`, from the environment variable it names."""
    variable = profile.secrets[name]
    value = os.environ.get(variable)
    if not value:
        raise TenantConfigError(
            f"tenant {profile.id}: environment variable {variable} (its {name}) is not set"
        )
    return value


def tenant_store(base: Settings, profile: TenantProfile) -> str:
    """The URL of a tenant's store: its own DATABASE_URL if it names one, else beside the
    control store. Needs none of its other secrets: a store is migrated where only the
    database is reachable (the compose stack's one-shots)."""
    if "database_url" in profile.secrets:
        return secret_value(profile, "database_url")
    return tenant_store_url(base.store_url, profile.id)


def own_defaults() -> dict[str, Any]:
    """The product's defaults for everything a tenant may set: a tenant never inherits the
    default company's identity (its senders, credentials, address, brand, policies). A
    tenant without its own SendGrid key uses the outbox, not another company's account."""
    fields = Settings.model_fields
    return {
        name: fields[name].get_default(call_default_factory=True)
        for name in TENANT_SETTINGS | TENANT_SECRETS
    }


def tenant_store_url(base_url: str, tenant: str) -> str:
    """Where a tenant's rows live when it names no DATABASE_URL: beside the control store."""
    if tenant == DEFAULT_TENANT:
        return base_url
    if base_url.startswith("sqlite:///"):
        path = base_url.removeprefix("sqlite:///")
        stem, dot, suffix = path.rpartition(".")
        return f"sqlite:///{stem}-{tenant}.{suffix}" if dot else f"sqlite:///{path}-{tenant}"
    if base_url.startswith("sqlite"):
        raise TenantConfigError("an in-memory SQLite store cannot hold tenants")
    parts = urlsplit(base_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={tenant_schema(tenant)}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tenant_schema(tenant: str) -> str:
    """The PostgreSQL schema of a tenant's rows (a tenant id's '-' is not an identifier's)."""
    return "tenant_" + tenant.replace("-", "_")


def prepare_tenant_store(url: str, tenant: str) -> None:
    """Make the tenant's store reachable before its tables are migrated: on PostgreSQL its
    schema must exist, or the search path it is reached by is empty."""
    if url.startswith("sqlite"):
        return
    schema = tenant_schema(tenant)
    base = urlunsplit(urlsplit(url)._replace(query=""))
    with get_engine(base).begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


# --- the registry -------------------------------------------------------------------------


def read_profiles(control_url: str) -> list[TenantProfile]:
    """Every registered tenant, by id."""
    with session_scope(control_url) as session:
        rows = session.exec(select(TenantRow).order_by(TenantRow.id)).all()
        return [TenantProfile.model_validate_json(row.profile) for row in rows]


def read_profile(control_url: str, tenant: str) -> TenantProfile | None:
    with session_scope(control_url) as session:
        row = session.get(TenantRow, tenant)
        return None if row is None else TenantProfile.model_validate_json(row.profile)


def save_profile(control_url: str, profile: TenantProfile, *, replace: bool = False) -> bool:
    """Register the tenant (or, with `replace`, change it); False if it existed and
    `replace` was not given. Its settings take effect within `CACHE_SECONDS` everywhere."""
    if profile.id == DEFAULT_TENANT:
        raise TenantConfigError(
            "the default tenant is configured by the environment, not registered"
        )
    body = profile.model_dump_json()
    with session_scope(control_url) as session:
        row = session.get(TenantRow, profile.id)
        if row is not None and not replace:
            return False
        if row is None:
            session.add(TenantRow(id=profile.id, name=profile.name, profile=body))
        else:
            row.name, row.profile, row.updated_at = profile.name, body, utcnow()
            session.add(row)
    forget_cached()
    return True


def delete_profile(control_url: str, tenant: str, *, revoke_keys: bool = False) -> list[str]:
    """Unregister the tenant, in one transaction with revoking its API keys if `revoke_keys`:
    the prefixes of the keys revoked. Raises `UnknownTenant`, `TenantConfigError` for the
    default tenant, or `TenantHasKeys` while keys scoped to it are active and `revoke_keys`
    is not given. Its store is not touched: erasing its rows is a step of its own."""
    if tenant == DEFAULT_TENANT:
        raise TenantConfigError(
            "the default tenant is configured by the environment, not registered: it cannot "
            "be removed"
        )
    with session_scope(control_url) as session:
        row = session.get(TenantRow, tenant)
        if row is None:
            raise UnknownTenant(tenant)
        keys = session.exec(
            select(ApiKeyRow)
            .where(ApiKeyRow.tenant == tenant, col(ApiKeyRow.revoked_at).is_(None))
            .order_by(col(ApiKeyRow.id))
        ).all()
        if keys and not revoke_keys:
            raise TenantHasKeys(tenant, [key.prefix for key in keys])
        for key in keys:
            key.revoked_at = utcnow()
            session.add(key)
        session.delete(row)
        prefixes = [key.prefix for key in keys]
    forget_cached()
    return prefixes


# --- settings per tenant, cached ------------------------------------------------------------

CACHE_SECONDS = 30.0
"""How long a process keeps a tenant's settings before reading its row again: a changed
tenant takes effect within this, without a restart."""

_CACHE: dict[tuple[str, str], tuple[float, Settings]] = {}


def tenant_settings(base: Settings, tenant: str) -> Settings:
    """The settings of `tenant`: `base` itself for the default tenant, else `base` with the
    tenant's profile on top. Raises `UnknownTenant` or `TenantConfigError`."""
    if tenant == DEFAULT_TENANT:
        return base
    key, now = (base.store_url, tenant), time.monotonic()
    hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    profile = read_profile(base.store_url, tenant)
    if profile is None:
        raise UnknownTenant(tenant)
    settings = check_profile(profile, base)
    _CACHE[key] = (now, settings)
    return settings


def tenant_ids(base: Settings) -> list[str]:
    """The default tenant and every registered one."""
    return [DEFAULT_TENANT, *(p.id for p in read_profiles(base.store_url))]


_IDS: dict[str, tuple[float, list[str]]] = {}


def cached_tenant_ids(base: Settings) -> list[str]:
    """`tenant_ids`, read from the registry at most once per `CACHE_SECONDS` (as each
    tenant's settings are): for what runs on every request, such as a provider's webhook."""
    now = time.monotonic()
    hit = _IDS.get(base.store_url)
    if hit is None or now - hit[0] >= CACHE_SECONDS:
        hit = _IDS[base.store_url] = (now, tenant_ids(base))
    return list(hit[1])


def forget_cached() -> None:
    """Drop the cached settings and tenant ids (a tenant was changed in this process, or a
    test's store)."""
    _CACHE.clear()
    _IDS.clear()


def profile_json(profile: TenantProfile) -> str:
    """The profile as `journeys tenants show --json` prints it."""
    return json.dumps(profile.model_dump(mode="json"), indent=2, sort_keys=True)
