"""SMS and voice calls through Twilio's REST API (2010-04-01).

Twilio answers 201 when it has queued a message or call. 429 and 5xx are temporary. A 400
carries a Twilio error code saying what is wrong, and for the codes below the recipient is the
problem, so no retry can help (https://www.twilio.com/docs/api/errors).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import requests
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from activities.errors import (
    DELIVERY_REJECTED,
    INVALID_RECIPIENT,
    PROVIDER_AUTH_FAILED,
    PROVIDER_RATE_LIMITED,
    PROVIDER_UNAVAILABLE,
    RECIPIENT_OPTED_OUT,
    DeliveryOutcomeUnknown,
    permanent,
    retryable,
    scrub,
)
from activities.rendering import RenderedMessage
from activities.senders import LookupProviderSender
from domain.payloads import DeliveryRequest
from domain.values import Locale
from infra.settings import Settings

PROVIDER: Final = "twilio"

INVALID_RECIPIENT_CODES: frozenset[int] = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21217,  # phone number does not appear to be valid
        21408,  # permission to send to this region is not enabled
        21614,  # 'To' number is not a valid mobile number
    }
)
OPTED_OUT_CODES: frozenset[int] = frozenset({21610})  # recipient replied STOP

VOICE_LANGUAGES: dict[str, str] = {"sv": "sv-SE", "en": "en-US"}


def classify_twilio_error(
    status: int,
    code: int | None,
    message: str,
    *,
    invoice_id: str,
    step_key: str,
    recipient: str | None = None,
) -> ApplicationError:
    """The ApplicationError for a Twilio error answer (HTTP status plus Twilio error code)."""
    detail = scrub(message, recipient)
    label = f"Twilio error {code}" if code and code != status else "Twilio"
    text = f"{label} (HTTP {status}) for invoice {invoice_id} step {step_key}: {detail}"
    if status in (401, 403):
        return permanent(text, type=PROVIDER_AUTH_FAILED)
    if status == 429:
        return retryable(text, type=PROVIDER_RATE_LIMITED)
    if status >= 500 or status == 408:
        return retryable(text, type=PROVIDER_UNAVAILABLE)
    if code in OPTED_OUT_CODES:
        return permanent(text, type=RECIPIENT_OPTED_OUT)
    if code in INVALID_RECIPIENT_CODES:
        return permanent(text, type=INVALID_RECIPIENT)
    return permanent(text, type=DELIVERY_REJECTED)


def request_never_sent(exc: requests.RequestException) -> bool:
    """True when the connection failed before the request left us, so Twilio never saw it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def call_twiml(text: str, locale: Locale, gather_action: str | None = None) -> str:
    """TwiML that reads the call text in the customer's language.

    With a public callback URL the text is spoken inside `<Gather>`, so the promised keypress
    (1: promise to pay, 2: customer service) reaches our voice webhook.
    """
    spoken = " ".join(text.split())
    response = VoiceResponse()
    language = VOICE_LANGUAGES[locale]
    if gather_action:
        gather = response.gather(num_digits=1, action=gather_action, method="POST", timeout=8)
        gather.say(spoken, language=language)
    else:
        response.say(spoken, language=language)
    return str(response)


def make_client(settings: Settings) -> Client:
    """One client for SMS and calls, with a bounded timeout on every request."""
    client = Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=TwilioHttpClient(timeout=settings.provider_timeout_seconds),
    )
    if settings.twilio_api_base_url:
        # Every `api` domain request is built from `Domain.base_url` (absolute_url), so this
        # routes Messages and Calls to the override. Edge/region rewriting would mangle it.
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        client.edge = None
        client.region = None
    return client


class _TwilioSender(LookupProviderSender):
    provider: Final = PROVIDER

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        super().__init__(settings.store_url, settings.provider_timeout_seconds)
        if not settings.twilio_from_number:
            raise ValueError("TWILIO_FROM_NUMBER is required to send through Twilio")
        self._from = settings.twilio_from_number
        self._client = client or make_client(settings)
        base = settings.public_base_url.rstrip("/") if settings.public_base_url else None
        self._status_callback = f"{base}/v1/webhooks/twilio/status" if base else None
        self._voice_action = f"{base}/v1/webhooks/twilio/voice" if base else None

    def _create(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        raise NotImplementedError

    def _listed(self, request: DeliveryRequest) -> Iterable[Any]:
        """Twilio's own list of what we sent this recipient from our number, newest first."""
        raise NotImplementedError

    def _same(self, listed: Any, message: RenderedMessage) -> bool:
        return True

    def lookup(
        self, request: DeliveryRequest, message: RenderedMessage, since: datetime
    ) -> str | None:
        """The sid of this step's message or call if Twilio has one created since `since`:
        what Twilio's Messages or Calls list says (filtered by To and From), not a guess.
        Raises a retryable error when Twilio cannot be asked."""
        where = f"invoice {request.invoice_id} step {request.step_key}"
        try:
            for listed in self._listed(request):
                created = listed.date_created
                if created is not None and _utc(created) < _utc(since):
                    continue
                if self._same(listed, message):
                    return str(listed.sid)
            return None
        # TwilioException, the base class: the list raises it bare for an error page
        # ("Unable to fetch page", a 5xx), besides its REST and service subclasses.
        except (TwilioException, requests.RequestException) as exc:
            reason = scrub(f"{type(exc).__name__}: {exc}", request.to)
            raise retryable(
                f"Twilio could not be asked about {where}: {reason}", type=PROVIDER_UNAVAILABLE
            ) from None

    def _send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        where = f"invoice {request.invoice_id} step {request.step_key}"
        try:
            return self._create(request, message)
        except TwilioRestException as exc:
            raise classify_twilio_error(
                int(exc.status),
                int(exc.code) if exc.code is not None else None,
                str(exc.msg),
                invoice_id=request.invoice_id,
                step_key=request.step_key,
                recipient=request.to,
            ) from None
        except TwilioServiceException as exc:
            raise classify_twilio_error(
                int(exc.status),
                int(exc.code),
                f"{exc.title}: {exc.detail}" if exc.detail else str(exc.title),
                invoice_id=request.invoice_id,
                step_key=request.step_key,
                recipient=request.to,
            ) from None
        except requests.RequestException as exc:
            reason = f"{type(exc).__name__}: {scrub(str(exc), request.to)}"
            if request_never_sent(exc):
                raise retryable(
                    f"Twilio unreachable for {where}: {reason}", type=PROVIDER_UNAVAILABLE
                ) from None
            raise DeliveryOutcomeUnknown(f"no answer from Twilio for {where}: {reason}") from None


LOOKUP_LIMIT = 50


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class TwilioSmsSender(_TwilioSender):
    def _listed(self, request: DeliveryRequest) -> Iterable[Any]:
        listed: Iterable[Any] = self._client.messages.list(
            to=request.to, from_=self._from, limit=LOOKUP_LIMIT
        )
        return listed

    def _same(self, listed: Any, message: RenderedMessage) -> bool:
        return " ".join(str(listed.body or "").split()) == " ".join(message.body.split())

    def _create(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        if self._status_callback:
            created = self._client.messages.create(
                to=request.to,
                from_=self._from,
                body=message.body,
                status_callback=self._status_callback,
            )
        else:
            created = self._client.messages.create(
                to=request.to, from_=self._from, body=message.body
            )
        return str(created.sid or "")


class TwilioCallSender(_TwilioSender):
    """A call has no text to compare in Twilio's list; a call to this number from ours since
    the step was claimed is this step's (one call step per journey and day)."""

    def _listed(self, request: DeliveryRequest) -> Iterable[Any]:
        listed: Iterable[Any] = self._client.calls.list(
            to=request.to, from_=self._from, limit=LOOKUP_LIMIT
        )
        return listed

    def _create(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        twiml = call_twiml(message.body, request.locale, self._voice_action)
        if self._status_callback:
            created = self._client.calls.create(
                to=request.to,
                from_=self._from,
                twiml=twiml,
                status_callback=self._status_callback,
            )
        else:
            created = self._client.calls.create(to=request.to, from_=self._from, twiml=twiml)
        return str(created.sid or "")
