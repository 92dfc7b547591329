"""Every webhook route of the authorisation table (`Webhook` entries) takes only its provider's
valid signature: unsigned, wrongly signed, signed for another body, or carrying an API key
instead, it is refused 403 and nothing reaches the store or a journey. Without its secret
configured it refuses everything, however the request is signed."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlencode

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from tests.fakes.fixtures import TWILIO_FROM
from tests.security.conftest import Secured
from tests.security.test_route_authorisation import ROUTES, Webhook, essence
from tests.starter.conftest import running_stack
from tests.webhooks.conftest import (
    BOOTSTRAP_KEY,
    EMAIL,
    INBOUND_TOKEN,
    PHONE,
    SendGridKeys,
    stripe_signature,
    twilio_signature,
)

Forgery = Literal["signed", "unsigned", "wrong secret", "another body", "api key instead", "time"]
"""How a request is signed: correctly, or one of `FORGERIES`."""

FORGERIES: tuple[Forgery, ...] = (
    "unsigned",
    "wrong secret",
    "another body",
    "api key instead",
    "time",
)
""""time": a signature whose time is too old (Stripe) or was changed after signing (SendGrid);
Twilio's signature carries no time. For Inbound Parse each stands for a way to get the token
wrong (none, another, in the form instead of the URL, one character short)."""
Send = Callable[[Secured, str, Forgery], Awaitable[httpx.Response]]


def _other_sendgrid_key() -> SendGridKeys:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SendGridKeys(private, base64.b64encode(der).decode())


def _api_key(how: Forgery) -> dict[str, str]:
    return {"X-API-Key": BOOTSTRAP_KEY} if how == "api key instead" else {}


async def twilio(secured: Secured, path: str, how: Forgery) -> httpx.Response:
    """An SMS "STOP" (or a keypress, or a failed status) from the journey's customer."""
    params = {
        "From": PHONE,
        "To": TWILIO_FROM,
        "Body": "STOP",
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "CallSid": f"CA{uuid.uuid4().hex}",
        "Digits": "2",
        "MessageStatus": "failed",
        "ErrorCode": "30003",
    }
    signed = {**params, "Body": "START"} if how == "another body" else params
    token = "not-the-auth-token" if how == "wrong secret" else None
    headers = {"Content-Type": "application/x-www-form-urlencoded", **_api_key(how)}
    if how not in ("unsigned", "api key instead"):
        headers["X-Twilio-Signature"] = (
            twilio_signature(path, signed, token) if token else twilio_signature(path, signed)
        )
    return await secured.stack.http.post(path, content=urlencode(params), headers=headers)


async def sendgrid_events(secured: Secured, path: str, how: Forgery) -> httpx.Response:
    """An unsubscribe for the journey's customer."""
    event = {
        "event": "unsubscribe",
        "email": EMAIL,
        "sg_event_id": uuid.uuid4().hex,
        "timestamp": int(time.time()),
        "invoice_id": secured.invoice_id,
    }
    payload = json.dumps([event])
    timestamp = str(int(time.time()))
    signer = _other_sendgrid_key() if how == "wrong secret" else secured.sendgrid
    signed = payload.replace("unsubscribe", "delivered") if how == "another body" else payload
    headers = {"Content-Type": "application/json", **_api_key(how)}
    if how not in ("unsigned", "api key instead"):
        headers["X-Twilio-Email-Event-Webhook-Signature"] = signer.sign(signed, timestamp)
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
    if how == "time":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(int(timestamp) - 1)
    return await secured.stack.http.post(path, content=payload, headers=headers)


async def sendgrid_inbound(secured: Secured, path: str, how: Forgery) -> httpx.Response:
    """A reply naming the journey's invoice. SendGrid does not sign Inbound Parse: the token
    in the URL stands in for a signature."""
    token = {"signed": INBOUND_TOKEN, "wrong secret": "not-the-token", "time": INBOUND_TOKEN[:-1]}
    url = f"{path}?token={token[how]}" if how in token else path
    form = {"from": f"Berit <{EMAIL}>", "subject": f"faktura {secured.invoice_number}"}
    if how == "another body":
        form["token"] = INBOUND_TOKEN
    files = {**{k: (None, v) for k, v in form.items()}, "text": (None, "Jag har betalat")}
    return await secured.stack.http.post(url, files=files, headers=_api_key(how))


async def stripe(secured: Secured, path: str, how: Forgery) -> httpx.Response:
    """An invoice voided for the journey's invoice."""
    invoice = {"id": secured.invoice_id, "object": "invoice"}
    event: dict[str, object] = {"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.voided"}
    event |= {"object": "event", "created": int(time.time())}
    payload = json.dumps({**event, "data": {"object": invoice}})
    signed = payload.replace("voided", "paid") if how == "another body" else payload
    headers = {"Content-Type": "application/json", **_api_key(how)}
    if how == "wrong secret":
        headers["Stripe-Signature"] = stripe_signature(signed, secret="whsec_not_the_secret")
    elif how == "time":  # beyond Stripe's five minutes
        headers["Stripe-Signature"] = stripe_signature(signed, at=int(time.time()) - 600)
    elif how in ("signed", "another body"):
        headers["Stripe-Signature"] = stripe_signature(signed)
    return await secured.stack.http.post(path, content=payload, headers=headers)


SENDERS: dict[str, Send] = {
    "twilio": twilio,
    "sendgrid-events": sendgrid_events,
    "sendgrid-inbound": sendgrid_inbound,
    "stripe": stripe,
}


def webhooks() -> list[tuple[str, Webhook]]:
    found = [(route, a) for route, a in ROUTES.items() if isinstance(a, Webhook)]
    assert found
    return found


async def test_webhooks_take_only_valid_signatures(secured: Secured) -> None:
    for route, access in webhooks():
        path = route.split(" ", 1)[1]
        send = SENDERS[access.provider]
        store, (state, reached) = secured.snapshot(), await secured.journey()
        for how in FORGERIES:
            if how == "time" and access.provider == "twilio":
                continue  # Twilio's signature carries no time
            refused = await send(secured, path, how)
            assert refused.status_code == 403, (route, how, refused.text)
            assert refused.json()["detail"], (route, how)
        assert secured.snapshot() == store, f"{route}: a refused request changed the store"
        after, reached_after = await secured.journey()
        assert (essence(after), reached_after) == (essence(state), reached), route

        accepted = await send(secured, path, "signed")  # the refusals were the signature's
        assert accepted.status_code not in (401, 403), (route, accepted.text)
        assert accepted.status_code < 500, (route, accepted.text)


async def test_webhooks_without_their_secret_refuse_everything(
    temporal_env: WorkflowEnvironment, settings: Settings, sendgrid_keys: SendGridKeys
) -> None:
    """No TWILIO_AUTH_TOKEN, SENDGRID_WEBHOOK_PUBLIC_KEY, SENDGRID_INBOUND_TOKEN or
    STRIPE_WEBHOOK_SECRET: requests signed with the values the tests use are refused too."""
    assert not (settings.twilio_auth_token or settings.stripe_webhook_secret)
    async with running_stack(temporal_env, settings) as stack:
        bare = Secured(stack, {}, sendgrid_keys, "inv_none", "0")
        store = bare.snapshot()
        for route, access in webhooks():
            path = route.split(" ", 1)[1]
            refused = await SENDERS[access.provider](bare, path, "signed")
            assert refused.status_code == 403, (route, refused.text)
            assert "cannot be checked without" in refused.json()["detail"], route
        assert bare.snapshot() == store
