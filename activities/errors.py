"""Error vocabulary shared by the senders.

Temporal decides whether to retry from the exception alone, so every provider answer is
turned into either a retryable or a non-retryable `ApplicationError` with a stable `type`
that the workflow and the UI can show. Messages carry the invoice id, the step key and the
provider's own words, scrubbed of addresses and phone numbers, because these messages end up
in workflow history and logs.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from temporalio.exceptions import ApplicationError

from infra.logging import redact

if TYPE_CHECKING:
    from activities.rendering import RenderedMessage
    from domain.payloads import DeliveryRequest

DELIVERY_REJECTED = "DeliveryRejected"
PROVIDER_AUTH_FAILED = "ProviderAuthFailed"
INVALID_RECIPIENT = "InvalidRecipient"
RECIPIENT_OPTED_OUT = "RecipientOptedOut"
PROVIDER_RATE_LIMITED = "ProviderRateLimited"
PROVIDER_UNAVAILABLE = "ProviderUnavailable"
INVALID_REQUEST = "InvalidRequest"
TEMPLATE_ERROR = "TemplateError"
RECONCILING = "DeliveryReconciling"
"""An interrupted send is too recent to be settled from the provider's record yet."""

_MAX_RETRY_DELAY = timedelta(hours=1)
LOOKUP_SKEW = timedelta(minutes=2)
"""The provider's clock and ours may differ; a look-up looks this much further back."""


class DeliveryOutcomeUnknown(Exception):
    """The request may have reached the provider, but no answer came back (a read timeout,
    a dropped connection). Sending again could contact the customer twice."""


def scrub(text: str, *secrets: str | None) -> str:
    """Remove the recipient (and any other address-like text) from a provider's message."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact(text).strip()


def retryable(
    message: str, *, type: str, next_retry_delay: timedelta | None = None
) -> ApplicationError:
    return ApplicationError(
        message, type=type, non_retryable=False, next_retry_delay=next_retry_delay
    )


def permanent(message: str, *, type: str) -> ApplicationError:
    return ApplicationError(message, type=type, non_retryable=True)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after(headers: Mapping[str, str], now: float) -> timedelta | None:
    """How long the provider asked us to wait, from `Retry-After` or `X-RateLimit-Reset`.

    `Retry-After` is seconds or an HTTP date (RFC 9110); SendGrid's `X-RateLimit-Reset` is the
    Unix time at which the limit resets. `now` is passed in to keep this a pure function.
    """
    delay: float | None = None
    value = _header(headers, "Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            delay = float(value)
        else:
            try:
                delay = email.utils.parsedate_to_datetime(value).timestamp() - now
            except (TypeError, ValueError, IndexError):
                delay = None
    if delay is None:
        reset = _header(headers, "X-RateLimit-Reset")
        if reset:
            try:
                delay = float(reset.strip()) - now
            except ValueError:
                delay = None
    if delay is None:
        return None
    return min(timedelta(seconds=max(delay, 1.0)), _MAX_RETRY_DELAY)


def http_answer_error(
    status: int, message: str, headers: Mapping[str, str], now: float
) -> ApplicationError:
    """The error for a provider's non-2xx HTTP answer, by the rule SendGrid and the letter
    provider share: 401/403 a permanent auth failure; 429 retried after the delay the provider
    asked for (`now` is the Unix time); 408 and 5xx retried; any other 4xx a permanent
    rejection, since the same request cannot succeed."""
    if status in (401, 403):
        return permanent(message, type=PROVIDER_AUTH_FAILED)
    if status == 429:
        return retryable(
            message, type=PROVIDER_RATE_LIMITED, next_retry_delay=retry_after(headers, now)
        )
    if status >= 500 or status == 408:
        return retryable(message, type=PROVIDER_UNAVAILABLE)
    return permanent(message, type=DELIVERY_REJECTED)


LOOKUP_TRIES = (0.0, 0.5, 2.0)
"""Pauses before each look-up of a send whose answer was lost: the look-up can fail too."""


def lookup_after_lost_answer(
    lookup: Callable[[DeliveryRequest, RenderedMessage, datetime], str | None],
    request: DeliveryRequest,
    message: RenderedMessage,
    started: datetime,
) -> str | None:
    """The provider's id for a send whose answer never came, if the provider has the message
    (its own record says so); None if it has not or cannot be asked, and the step stays
    "uncertain" (never sent blindly again)."""
    for pause in LOOKUP_TRIES:
        time.sleep(pause)
        try:
            return lookup(request, message, started - LOOKUP_SKEW)
        except ApplicationError:
            continue
    return None
