"""What every Twilio webhook surface (SMS, voice, delivery status) shares.

Every request must carry a valid `X-Twilio-Signature` (HMAC of the full public URL and the
form fields with TWILIO_AUTH_TOKEN, checked by Twilio's own `RequestValidator`); anything else
is answered 403 and changes nothing. Each request is handled once per provider id (MessageSid,
CallSid plus keypress, SID plus status): a repeat answers what the first one did.
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
from workflows.journey import InvoiceJourney

log = get_logger("starter.webhooks.twilio")

PROVIDER: Final = "twilio"
PREFIX: Final = "/v1/webhooks/twilio"


def twilio_router() -> APIRouter:
    """A router for one surface; all of them answer below the same prefix."""
    return APIRouter(prefix=PREFIX, tags=["webhooks"])


async def verified_form(request: Request, settings: SettingsDep) -> Form:
    """The form fields of a request Twilio signed; 403 for anything else."""
    form = await read_form(request)
    signature = request.headers.get(SIGNATURE_HEADER)
    token = signing_secret(
        settings.twilio_auth_token,
        "TWILIO_AUTH_TOKEN",
        SIGNATURE_HEADER,
        "Twilio webhook",
        path=request.url.path,
    )
    if not signature:
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: missing")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = public_url(request, settings)
    if not RequestValidator(token).validate(url, form, signature, algorithm):
        log.warning("Twilio webhook with a bad signature refused", url=url)
        raise HTTPException(status_code=403, detail=f"{SIGNATURE_HEADER}: does not match")
    return form


TwilioForm = Annotated[Form, Depends(verified_form)]


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


async def ask_agent(client: Client, targets: Iterable[Target], task: AgentTask) -> None:
    """The same task to each journey: a person reads what the customer said or asked."""
    for t in targets:
        await signal_journey(client, t.invoice_id, InvoiceJourney.agent_task, task)


@dataclass(frozen=True)
class Refusal:
    reason: str
    closed: bool = False
    """The journey had ended (or never ran): nothing to refuse, nothing to promise."""


async def respond(client: Client, target: Target, response: CustomerResponse) -> Refusal | None:
    """None when the journey took the response; else why not (the validator's own words)."""
    try:
        await customer_response(client, target.invoice_id, response)
    except RequestRefused as err:
        return Refusal(str(err))
    except (JourneyClosed, JourneyNotFound) as err:
        return Refusal(str(err), closed=True)
    return None
