"""What every Twilio webhook surface (SMS, voice, delivery status) shares.

Every request must carry a valid `X-Twilio-Signature` (HMAC of the full public URL and the
form fields with TWILIO_AUTH_TOKEN, checked by Twilio's own `RequestValidator`); anything else
is answered 403 and changes nothing. The token is that of the tenant whose Twilio account
(and, on a shared account, number) the request names (starter/webhook_tenants.py); everything
after that happens in that tenant's store and journeys. Each request is handled once per
provider id (MessageSid, CallSid plus keypress, SID plus status): a repeat answers what the
first one did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from temporalio.client import Client
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from domain.messages import AgentTask, CustomerResponse
from domain.tenants import DEFAULT_TENANT
from infra.logging import get_logger
from infra.settings import Settings
from starter.actions import JourneyClosed, JourneyNotFound, RequestRefused, customer_response
from starter.routing import (
    Form,
    SettingsDep,
    Target,
    public_url,
    read_form,
    remember,
    seen,
    signal_journey,
)
from starter.webhook_signing import signing_secret
from starter.webhook_tenants import every_tenant_async, twilio_tenant
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.twilio")

PROVIDER: Final = "twilio"
PREFIX: Final = "/v1/webhooks/twilio"


def twilio_router() -> APIRouter:
    """A router for one surface; all of them answer below the same prefix."""
    return APIRouter(prefix=PREFIX, tags=["webhooks"])


def own_number(form: Form, path: str) -> str | None:
    """Our own number in a Twilio webhook: the one texted or called (`To`) on an inbound
    message or call; the caller (`From`) on a status callback or a call we placed (the
    reminder call's keypresses)."""
    inbound = path.endswith("/sms") or form.get("Direction") == "inbound"
    return form.get("To") if inbound else form.get("From")


async def verified_form(request: Request, settings: SettingsDep) -> Form:
    """The form fields of a request Twilio signed for one of our tenants; 403 for anything
    else. The tenant's settings are kept for `twilio_settings`."""
    form = await read_form(request)
    tenants = await every_tenant_async(settings)
    tenant = twilio_tenant(tenants, form.get("AccountSid"), own_number(form, request.url.path))
    if tenant is None:
        log.warning("Twilio webhook for no tenant refused", path=request.url.path)
        raise HTTPException(
            status_code=403,
            detail="AccountSid: no tenant has this Twilio account (and number)",
        )
    signature = request.headers.get(SIGNATURE_HEADER)
    token = signing_secret(
        tenant.twilio_auth_token,
        "TWILIO_AUTH_TOKEN",
        SIGNATURE_HEADER,
        "Twilio webhook",
        path=request.url.path,
        tenant=tenant.tenant,
    )
    if not signature:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: missing")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = public_url(request, settings)
    if not RequestValidator(token).validate(url, form, signature, algorithm):
        log.warning("Twilio webhook with a bad signature refused", url=url, tenant=tenant.tenant)
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: does not match")
    request.state.tenant_settings = tenant
    return form


TwilioForm = Annotated[Form, Depends(verified_form)]


def twilio_settings(request: Request, form: TwilioForm) -> Settings:
    """The settings of the tenant whose Twilio account sent the (verified) request."""
    settings: Settings = request.state.tenant_settings
    return settings


TenantSettings = Annotated[Settings, Depends(twilio_settings)]
"""Use instead of `SettingsDep` in a Twilio webhook: the store and journeys of its tenant."""


def twiml(xml: str) -> Response:
    return Response(content=xml, media_type="application/xml")


async def answer_once(
    settings: Settings, key: str | None, answer: Callable[[], Awaitable[str]]
) -> str:
    """`answer()` the first time `key` comes, then what it answered, so that Twilio's retries
    change nothing. Without a key (Twilio sent no id) every request is answered anew."""
    if key and (done := await seen(settings, PROVIDER, key)):
        return done.outcome
    outcome = await answer()
    if key:
        await remember(settings, PROVIDER, key, outcome)
    return outcome


async def ask_agent(
    client: Client, targets: Iterable[Target], task: AgentTask, tenant: str = DEFAULT_TENANT
) -> None:
    """The same task to each journey: a person reads what the customer said or asked."""
    for t in targets:
        await signal_journey(client, t.invoice_id, InvoiceJourney.agent_task, task, tenant)


@dataclass(frozen=True)
class Refusal:
    reason: str
    closed: bool = False
    """The journey had ended (or never ran): nothing to refuse, nothing to promise."""


async def respond(
    client: Client, target: Target, response: CustomerResponse, tenant: str = DEFAULT_TENANT
) -> Refusal | None:
    """None when the journey took the response; else why not (the validator's own words)."""
    try:
        await customer_response(client, target.invoice_id, response, tenant)
    except RequestRefused as err:
        return Refusal(str(err))
    except (JourneyClosed, JourneyNotFound) as err:
        return Refusal(str(err), closed=True)
    return None
