"""Which tenant's SendGrid account a webhook comes from (starter/webhook_tenants.py).

The Event Webhook is the tenant's whose verification key checks its signature; its events
name their tenant in the `tenant` custom arg (activities/sendgrid_sender.py), and an event
may only name a tenant that shares the signing account. Inbound Parse is the tenant's whose
reply address it was sent to, and must carry that tenant's token.
"""

from __future__ import annotations

import binascii
import secrets

from fastapi import HTTPException
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader

from domain.tenants import DEFAULT_TENANT
from infra import customer_links
from infra.logging import get_logger
from infra.settings import Settings
from starter.webhook_signing import signing_secret
from starter.webhook_tenants import first_verified, one_tenant

log = get_logger("starter.webhooks.sendgrid")

SIGNATURE = EventWebhookHeader.SIGNATURE
TIMESTAMP = EventWebhookHeader.TIMESTAMP


def signed_by(key: str, body: bytes, signature: str, timestamp: str) -> bool:
    """Whether the holder of the private half of `key` signed exactly this body."""
    try:
        verifier = EventWebhook()
        return bool(
            verifier.verify_signature(
                body.decode("utf-8"),
                signature,
                timestamp,
                verifier.convert_public_key_to_ecdsa(key),
            )
        )
    except (UnicodeDecodeError, binascii.Error, ValueError, TypeError):
        return False


def verify_events(
    tenants: list[Settings], body: bytes, signature: str | None, timestamp: str | None
) -> Settings:
    """The tenant whose SendGrid account signed exactly this body (its verification key
    checks the signature); 403 when none did."""
    if not any(t.sendgrid_webhook_public_key for t in tenants):
        signing_secret(None, "SENDGRID_WEBHOOK_PUBLIC_KEY", SIGNATURE, "SendGrid event webhook")
    if not signature or not timestamp:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE}, {TIMESTAMP}: missing")
    found = first_verified(
        tenants,
        lambda t: t.sendgrid_webhook_public_key,
        lambda key: signed_by(key, body, signature, timestamp),
    )
    if found is None:
        log.warning("SendGrid event webhook with a bad signature refused")
        raise HTTPException(status_code=403, detail=f"{SIGNATURE}: does not match")
    return found


def event_tenant(event: object) -> str:
    """The tenant an event's email was sent for (its `tenant` custom arg); mail sent before
    tenants carries none and is the default tenant's."""
    named = event.get("tenant") if isinstance(event, dict) else None
    return named if isinstance(named, str) and named else DEFAULT_TENANT


def event_tenants(base: Settings, verified: Settings, batch: list[object]) -> dict[str, Settings]:
    """The settings of every tenant the batch's events name. 403 for the whole batch (nothing
    applied) if one names a tenant whose account did not sign it: tenants that share one
    SendGrid account (the same verification key) share its webhook, no other may."""
    found: dict[str, Settings] = {verified.tenant: verified}
    for name in {event_tenant(e) for e in batch} - set(found):
        settings = one_tenant(base, name)
        if settings is None or (
            settings.sendgrid_webhook_public_key != verified.sendgrid_webhook_public_key
        ):
            log.warning(
                "SendGrid events for another tenant refused", tenant=name, signer=verified.tenant
            )
            raise HTTPException(
                status_code=403,
                detail=f"tenant: events for {name!r} not signed by that tenant's SendGrid account",
            )
        found[name] = settings
    return found


def token_holders(tenants: list[Settings], token: str | None) -> list[Settings]:
    """The tenants whose SENDGRID_INBOUND_TOKEN the URL carries (tenants that share one
    Inbound Parse share its token); 403 for none, before the body is read."""
    if not any(t.sendgrid_inbound_token for t in tenants):
        signing_secret(None, "SENDGRID_INBOUND_TOKEN", "token", "SendGrid inbound")
    given = (token or "").encode()
    holders = [
        t
        for t in tenants
        if t.sendgrid_inbound_token
        and secrets.compare_digest(given, t.sendgrid_inbound_token.encode())
    ]
    if not token or not holders:
        raise HTTPException(status_code=403, detail="token: missing or wrong")
    return holders


def inbound_tenant(holders: list[Settings], reply_ids: list[str]) -> Settings:
    """The tenant a reply is for: the one its reply address names, which must be one whose
    token the URL carries (403 otherwise); a reply without our address is the first token
    holder's (the default tenant's if it is one)."""
    named = [customer_links.tenant_of_reply(rid) for rid in reply_ids]
    if not named:
        return holders[0]
    for settings in holders:
        if settings.tenant in named:
            return settings
    log.warning("SendGrid inbound for another tenant refused", tenant=named[0])
    raise HTTPException(
        status_code=403, detail=f"token: not the inbound token of tenant {named[0]!r}"
    )
