"""Letters through a print-and-post provider, over a small JSON-over-HTTP interface
(docs/production.md, "Letters: the print-and-post interface"):

- `POST {LETTER_PROVIDER_URL}/v1/letters` with `Authorization: Bearer <LETTER_PROVIDER_KEY>`,
  `Idempotency-Key: <invoice id>:<step key>` and `{"reference", "recipient": [lines],
  "document": <PDF, base64>}`; 200 or 201 with `{"id"}` when the letter is accepted (a
  repeated key answers the first letter's id and prints nothing twice).
- `GET {LETTER_PROVIDER_URL}/v1/letters?reference=<reference>&created_after=<ISO time>`:
  200 `{"data": [{"id", "reference", "status", "created_at"}, ...]}`, the letters posted with
  that client reference (`<invoice id>:<step key>`), to find a letter whose answer was lost.

The same rules as SendGrid and Twilio (`ProviderSender`): the step is claimed in the ledger
before the provider is called; 401/403 and other 4xx are permanent, 408, 429 (honouring
`Retry-After`) and 5xx are retried. The provider's list (`lookup`) decides both about a lost
answer and, on the next attempt, about a step an interrupted attempt left "sending" (a worker
killed, or stopped past its grace, mid-send: `activities/ledger.py`, `reconcile`); only when
the provider cannot say either way is the step left "uncertain", never posted twice.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Final

import httpx
from temporalio.exceptions import ApplicationError

from activities.errors import (
    DELIVERY_REJECTED,
    LOOKUP_SKEW,
    PROVIDER_UNAVAILABLE,
    DeliveryOutcomeUnknown,
    http_answer_error,
    permanent,
    retryable,
)
from activities.rendering import RenderedMessage
from activities.senders import ProviderSender
from domain.payloads import DeliveryRequest
from infra.settings import Settings

PROVIDER: Final = "post"


def idempotency_key(request: DeliveryRequest) -> str:
    return f"{request.invoice_id}:{request.step_key}"


def classify_post_error(
    status: int, headers: httpx.Headers, where: str, now: float
) -> ApplicationError:
    message = f"print-and-post provider answered HTTP {status} for {where}"
    return http_answer_error(status, message, headers, now)


class LetterProviderSender(ProviderSender):
    """Posts one letter's PDF; the ledger around it is `ProviderSender`'s."""

    provider: Final = PROVIDER

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(settings.store_url, settings.provider_timeout_seconds)
        assert settings.letter_provider_url and settings.letter_provider_key
        self._base = settings.letter_provider_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {settings.letter_provider_key}"}
        self._timeout = httpx.Timeout(settings.provider_timeout_seconds)
        self._transport = transport

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self._timeout, headers=self._headers, transport=self._transport)

    def send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        """Returns the provider's letter id."""
        if message.document is None:
            raise permanent(f"letter {request.step_key} has no PDF", type=DELIVERY_REJECTED)
        key = idempotency_key(request)
        where = f"invoice {request.invoice_id} step {request.step_key}"
        payload = {
            "reference": key,
            "recipient": [request.customer_name, *request.to.splitlines()],
            "document": base64.b64encode(message.document).decode("ascii"),
        }
        started = datetime.now(UTC)
        with self._client() as client:
            try:
                response = client.post(
                    f"{self._base}/v1/letters", json=payload, headers={"Idempotency-Key": key}
                )
            except httpx.ConnectError as exc:
                raise retryable(
                    f"print-and-post provider unreachable for {where}: {type(exc).__name__}",
                    type=PROVIDER_UNAVAILABLE,
                ) from None
            except httpx.HTTPError as exc:
                return self._after_lost_answer(request, message, started, exc)
        if not 200 <= response.status_code < 300:
            raise classify_post_error(response.status_code, response.headers, where, time.time())
        return str(response.json().get("id", ""))

    def lookup(
        self, request: DeliveryRequest, message: RenderedMessage, since: datetime
    ) -> str | None:
        """The provider's id for this step's letter if it lists one posted since `since`
        under the step's reference; None if it lists none. Raises a retryable error when the
        provider cannot be asked (`ledger.Reconcile`)."""
        key = idempotency_key(request)
        where = f"invoice {request.invoice_id} step {request.step_key}"
        params = {"reference": key, "created_after": since.astimezone(UTC).isoformat()}
        try:
            with self._client() as client:
                answer = client.get(f"{self._base}/v1/letters", params=params)
        except httpx.HTTPError as exc:
            raise retryable(
                f"print-and-post provider could not be asked about {where}: {type(exc).__name__}",
                type=PROVIDER_UNAVAILABLE,
            ) from None
        if answer.status_code != 200:
            raise classify_post_error(answer.status_code, answer.headers, where, time.time())
        for letter in answer.json().get("data") or []:
            if letter.get("reference") == key and letter.get("id"):
                return str(letter["id"])
        return None

    def _after_lost_answer(
        self,
        request: DeliveryRequest,
        message: RenderedMessage,
        started: datetime,
        cause: Exception,
    ) -> str:
        """The POST's answer was lost: the provider's list says whether the letter is there.
        Not there, the POST is retried (its Idempotency-Key keeps a late arrival from being
        printed twice); the provider unable to say, the step is "uncertain"."""
        where = f"invoice {request.invoice_id} step {request.step_key}"
        try:
            found = self.lookup(request, message, started - LOOKUP_SKEW)
        except ApplicationError:
            raise DeliveryOutcomeUnknown(
                f"no answer from the print-and-post provider for {where}: {type(cause).__name__}"
            ) from None
        if found is not None:
            return found
        raise retryable(
            f"print-and-post provider lost the request for {where}; it holds no letter",
            type=PROVIDER_UNAVAILABLE,
        )
