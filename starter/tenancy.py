"""Which tenant a request or a command is about, decided in one place.

Every tenant-scoped route takes the same optional query parameter `tenant`, and every
command that reads or acts on one tenant's data the same `--tenant`: one way to name a
tenant, one set of refusals, whoever asks. Without it, a key scoped to one tenant means its
own tenant, anything else the default tenant, so a deployment without tenants (and every
client written before them) works unchanged.

Refusals (`TenantRefused`), the same words for the API and the command line:

- an id that breaks the rule (domain.tenants): 422;
- an id no tenant has: 404, "no tenant 'x'";
- a key scoped to another tenant: 403, naming the key's tenant;
- a tenant whose profile cannot make settings (a missing variable): 503.

What a tenant-scoped route gets (`TenantDep`) is the tenant's `Settings`: its id
(`.tenant`), its store, its policy file, its providers. Code that already takes `settings`
is tenant-correct once handed these: no query takes a tenant filter, the store is the
tenant's own.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Query, Request

from domain.policies import PolicyConfigError, PolicyFile
from domain.tenants import DEFAULT_TENANT, valid_tenant
from infra.policy_file import PolicyFileCache
from infra.settings import Settings
from infra.tenants import TenantConfigError, UnknownTenant, tenant_settings
from starter.ingest import Ingest
from starter.openapi_doc import Problem
from starter.routing import SettingsDep, app_ingest


class TenantRefused(Exception):
    """A tenant a caller may not use, with the HTTP status the API answers and the problem in
    words (without the field's name: `tenant:` for the API, `--tenant:` for a command)."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


def resolve_tenant(
    base: Settings, requested: str | None, key_tenant: str | None = None
) -> Settings:
    """The settings of the tenant a caller names (`requested`), or of its key's tenant, or of
    the default tenant; `key_tenant` is the tenant a key is scoped to (None: every tenant,
    and the command line, which holds the deployment's own settings)."""
    tenant = requested if requested is not None else (key_tenant or DEFAULT_TENANT)
    try:
        valid_tenant(tenant)
    except ValueError as err:
        raise TenantRefused(422, str(err)) from None
    if key_tenant is not None and tenant != key_tenant:
        raise TenantRefused(
            403,
            f"this key is for tenant {key_tenant!r} only; it may not read or act for tenant "
            f"{tenant!r}",
        )
    try:
        return tenant_settings(base, tenant)
    except UnknownTenant as err:
        raise TenantRefused(404, str(err)) from None
    except TenantConfigError as err:
        raise TenantRefused(503, f"tenant {tenant!r} cannot be served: {err}") from None


# --- policies per tenant ----------------------------------------------------------------------

_POLICIES: dict[Path, PolicyFileCache] = {}


def tenant_policies(settings: Settings, default: PolicyFile) -> PolicyFile:
    """The tenant's policy file: `default` (what the process loaded at start) when the tenant
    uses the deployment's file, else its own, read once per path and again when it changes.
    A bad or missing file is a `TenantRefused` (503) naming the file, not a crash."""
    if settings.tenant == DEFAULT_TENANT:
        return default
    return own_policies(settings)


def own_policies(settings: Settings) -> PolicyFile:
    """The policy file `settings` name, read once per path and again when it changes (for a
    caller that has no process-loaded file to fall back on); `TenantRefused` as above."""
    cache = _POLICIES.setdefault(settings.policy_file, PolicyFileCache(settings.policy_file))
    try:
        return cache.get()
    except (PolicyConfigError, OSError) as err:
        raise TenantRefused(
            503, f"tenant {settings.tenant!r}: its policy file cannot be read: {err}"
        ) from None


def forget_policies() -> None:
    """Drop the policy files read so far (tests that change one in place)."""
    _POLICIES.clear()


# --- FastAPI ----------------------------------------------------------------------------------


TENANT_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "The key is scoped to another tenant."},
    404: {"model": Problem, "description": "No such tenant (or invoice, where one is named)."},
    422: {"model": Problem},
    503: {"model": Problem, "description": "The tenant's configuration cannot be used."},
}
"""What `?tenant=` may answer, for the OpenAPI document of every tenant-scoped route."""


def _http(err: TenantRefused) -> HTTPException:
    prefix = "Authorization: " if err.status == 403 else "tenant: "
    return HTTPException(status_code=err.status, detail=prefix + err.problem)


async def request_tenant(
    request: Request,
    settings: SettingsDep,
    tenant: Annotated[
        str | None,
        Query(
            description="The tenant (creditor company) to read or act for. Default: the "
            "key's own tenant if it is scoped to one, else the default tenant."
        ),
    ] = None,
) -> Settings:
    """The settings of the request's tenant (`.tenant` names it). Needs the route's
    `require_role` to have run (FastAPI runs a route's `dependencies` before its
    parameters' own), which leaves the caller on the request. Async on purpose: the tenant
    it binds to the log context stays bound for the route (a sync dependency would bind it
    in a worker thread's copy of the context)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError("a tenant-scoped route must check the caller's key first")
    resolve = partial(resolve_tenant, settings, tenant, principal.tenant)
    named = tenant if tenant is not None else principal.tenant
    try:
        # Another tenant's settings may need the registry (a store read, cached for 30 s):
        # off the event loop. The default tenant's are the app's own.
        scoped = resolve() if named in (None, DEFAULT_TENANT) else await asyncio.to_thread(resolve)
    except TenantRefused as err:
        raise _http(err) from None
    structlog.contextvars.bind_contextvars(tenant=scoped.tenant)
    return scoped


TenantDep = Annotated[Settings, Depends(request_tenant)]


def tenant_ingest(request: Request, scope: TenantDep) -> Ingest:
    """The billing-event ingest of the request's tenant: its store, its policy file, its
    journeys (tenant in their input and workflow ids)."""
    ingest = app_ingest(request)
    if scope.tenant == DEFAULT_TENANT:
        return ingest
    try:
        policies = tenant_policies(scope, ingest.policies)
    except TenantRefused as err:
        raise _http(err) from None
    return ingest.for_tenant(scope, policies)


TenantIngestDep = Annotated[Ingest, Depends(tenant_ingest)]
