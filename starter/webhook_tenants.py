"""Which tenant a provider's webhook is for (domain/tenants.py, infra/tenants.py).

Every provider request is checked with the secret of the tenant it is for, and applied in
that tenant's store and to that tenant's journeys only: a request signed with one tenant's
secret can never touch another tenant's journeys, because the secret that verifies it is the
tenant that handles it.

- Twilio names its account (`AccountSid`) in every webhook: the tenant is the one whose
  TWILIO_ACCOUNT_SID it is; where several tenants share an account, the one whose
  TWILIO_FROM_NUMBER is the message's own number. The auth token then checks the signature.
- SendGrid's Event Webhook names nothing before it is verified: the tenant is the one whose
  SENDGRID_WEBHOOK_PUBLIC_KEY verifies it.
- Stripe likewise: the tenant whose STRIPE_WEBHOOK_SECRET verifies the signature.
- SendGrid Inbound Parse: the reply address names the tenant (infra/customer_links.py).

What a webhook answers is the tenant's too: its texts, its customer-service phone and hours,
its policy file (`tenant_policy_file`), never the process's default company's.

A deployment without registered tenants answers exactly as before: everything is the default
tenant's. A tenant whose profile cannot make settings (a secret's variable unset) is left out
with an error log, so that one tenant's misconfiguration does not stop the others' webhooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.policies import PolicyFile
from domain.tenants import DEFAULT_TENANT
from infra.logging import get_logger
from infra.settings import Settings
from infra.tenants import (
    TenantConfigError,
    UnknownTenant,
    cached_tenant_ids,
    tenant_settings,
)
from starter.tenancy import TenantRefused, own_policies

log = get_logger("starter.webhooks.tenants")


def every_tenant(base: Settings) -> list[Settings]:
    """Each tenant's settings, the default tenant's first; misconfigured tenants left out.
    Runs on every webhook: the registry is read at most once per the settings' cache time."""
    found: list[Settings] = []
    for tenant in cached_tenant_ids(base):
        try:
            found.append(tenant_settings(base, tenant))
        except (UnknownTenant, TenantConfigError) as err:
            log.error("tenant left out of webhook routing", tenant=tenant, error=str(err))
    return found


async def every_tenant_async(base: Settings) -> list[Settings]:
    return await asyncio.to_thread(every_tenant, base)


def one_tenant(base: Settings, tenant: str) -> Settings | None:
    """The tenant's settings, or None (logged) if it is unknown or misconfigured."""
    try:
        return tenant_settings(base, tenant)
    except (UnknownTenant, TenantConfigError) as err:
        log.warning("webhook for a tenant that cannot be served", tenant=tenant, error=str(err))
        return None


def tenant_policy_file(settings: Settings, loaded: PolicyFile | None) -> PolicyFile | None:
    """The policy file of the tenant a webhook is for: `loaded` (the process's, read at
    start) for the default tenant, else the tenant's own. None (logged) when the tenant's file
    cannot be read: a webhook still answers (a caller on the line still hears the menu), just
    without what the file would have said; the API refuses such a tenant (503) instead."""
    if settings.tenant == DEFAULT_TENANT:
        return loaded
    try:
        return own_policies(settings)
    except TenantRefused as err:
        log.error("tenant's policy file unreadable", tenant=settings.tenant, error=err.problem)
        return None


def twilio_tenant(
    tenants: list[Settings], account_sid: str | None, own_number: str | None
) -> Settings | None:
    """The tenant a Twilio webhook is for, by its account and, if several tenants share that
    account, by the message's or call's own number. None: no tenant has that account (or
    number). A request naming no account (Twilio always names it) is the default tenant's, as
    is any request while the default tenant names no account and no tenant claims it."""
    default = next((t for t in tenants if t.tenant == DEFAULT_TENANT), None)
    if not account_sid:
        return default
    same = [t for t in tenants if t.twilio_account_sid == account_sid]
    if not same:
        if default is not None and not default.twilio_account_sid:
            return default
        return None
    if len(same) == 1:
        return same[0]
    number = (own_number or "").strip()
    by_number = [t for t in same if number and t.twilio_from_number == number]
    if len(by_number) == 1:
        return by_number[0]
    if by_number and default in by_number:
        # Tenants that inherit the deployment's account and number send as the default.
        return default
    return None


def first_verified(
    tenants: list[Settings],
    secret_of: Callable[[Settings], str | None],
    verify: Callable[[str], bool],
) -> Settings | None:
    """The first tenant whose secret verifies the request (`verify(secret)` is True); tenants
    without the secret are skipped (the caller refuses first when none has it), and a secret
    several tenants share is checked once."""
    tried: set[str] = set()
    for settings in tenants:
        secret = secret_of(settings)
        if not secret or secret in tried:
            continue
        if verify(secret):
            return settings
        tried.add(secret)
    return None
