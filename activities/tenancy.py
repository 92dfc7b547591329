"""Each activity works as the tenant its request names (domain.tenants): that tenant's
settings, store, providers' credentials and templates.

A worker serves every tenant, so it cannot hold one set of senders or one policy file: it
holds one per tenant, built the first time a tenant's request comes and rebuilt when that
tenant's settings change (`infra.tenants.tenant_settings` re-reads a tenant's row every 30 s;
an unchanged row gives equal settings and keeps what was built). The default tenant's
settings are the worker's own, so a deployment without tenants builds everything once, at
start, exactly as before tenants existed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from temporalio.exceptions import ApplicationError

from infra.settings import Settings
from infra.tenants import TenantConfigError, UnknownTenant, tenant_settings

T = TypeVar("T")

TENANT_UNAVAILABLE = "TenantUnavailable"
"""The request's tenant has no usable settings here (unknown to this deployment's control
store, or its profile names a variable this worker lacks). Retried: an operator can fix it
without the journey losing the step."""


def settings_of(base: Settings, tenant: str) -> Settings:
    """The tenant's settings, or a retryable `ApplicationError` naming what is wrong."""
    try:
        return tenant_settings(base, tenant)
    except (UnknownTenant, TenantConfigError) as err:
        raise ApplicationError(str(err), type=TENANT_UNAVAILABLE, non_retryable=False) from None


class PerTenant(Generic[T]):
    """Something built from a tenant's settings (its senders, its policy file), once per
    tenant, and again when those settings change. Thread-safe: deliveries run in threads."""

    def __init__(self, build: Callable[[Settings], T], fixed: Mapping[str, T] | None = None):
        self._build = build
        self._fixed = dict(fixed or {})
        """Tenants whose value was given, not built (the default tenant's injected senders)."""
        self._built: dict[str, tuple[Settings, T]] = {}
        self._lock = threading.Lock()

    def get(self, settings: Settings) -> T:
        """The value for `settings.tenant`, built from `settings` unless it was built from
        the same (or equal) settings before."""
        tenant = settings.tenant
        if tenant in self._fixed:
            return self._fixed[tenant]
        with self._lock:
            hit = self._built.get(tenant)
            if hit is not None and (hit[0] is settings or hit[0] == settings):
                return hit[1]
            value = self._build(settings)
            self._built[tenant] = (settings, value)
            return value
