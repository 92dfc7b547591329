"""Email through SendGrid's v3 Mail Send API.

SendGrid answers 202 when it has accepted a message; 429 and 5xx mean "try again later";
400/401/403/413 mean the request itself is wrong and retrying cannot help
(https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send).
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail, ReplyTo
from temporalio.exceptions import ApplicationError

from activities.errors import (
    PROVIDER_UNAVAILABLE,
    DeliveryOutcomeUnknown,
    http_answer_error,
    retryable,
    scrub,
)
from activities.rendering import RenderedMessage
from activities.senders import LookupProviderSender
from domain.payloads import DeliveryRequest
from domain.tenants import DEFAULT_TENANT
from infra import customer_links
from infra.settings import Settings

PROVIDER: Final = "sendgrid"


def sendgrid_error_text(body: bytes | str | None) -> str:
    """SendGrid's own explanation, from its `{"errors": [{"message", "field"}]}` shape."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        payload: Any = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list):
        return text.strip()[:500]
    parts: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        message = str(error.get("message") or "").strip()
        field = error.get("field")
        parts.append(f"{message} (field: {field})" if field else message)
    return "; ".join(p for p in parts if p)[:500]


def classify_sendgrid_error(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str],
    *,
    invoice_id: str,
    step_key: str,
    recipient: str | None = None,
    now: float = 0.0,
) -> ApplicationError:
    """The ApplicationError for a non-2xx Mail Send answer; `now` is the Unix time, for
    turning `X-RateLimit-Reset` into a delay."""
    detail = scrub(sendgrid_error_text(body), recipient)
    message = f"SendGrid answered HTTP {status} for invoice {invoice_id} step {step_key}" + (
        f": {detail}" if detail else ""
    )
    return http_answer_error(status, message, headers, now)


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    return {str(k): str(v) for k, v in raw.items()}


class SendGridSender(LookupProviderSender):
    """Sends one rendered email; the ledger around it is `ProviderSender`'s."""

    provider: Final = PROVIDER

    def __init__(self, settings: Settings, client: SendGridAPIClient | None = None) -> None:
        super().__init__(settings.store_url, settings.provider_timeout_seconds)
        self._from = settings.sendgrid_from_email
        self._settings = settings
        self._client = client or SendGridAPIClient(
            api_key=settings.sendgrid_api_key, host=settings.sendgrid_api_host
        )
        # python_http_client copies `timeout` into every per-path client it builds
        # (`_build_client`) and passes it to urlopen, so this bounds every request.
        self._client.client.timeout = settings.provider_timeout_seconds
        # At DEBUG, python_http_client logs the whole payload, recipient included.
        payload_logger = logging.getLogger("python_http_client.client")
        if payload_logger.getEffectiveLevel() < logging.INFO:
            payload_logger.setLevel(logging.INFO)

    def build_mail(self, request: DeliveryRequest, message: RenderedMessage) -> Mail:
        mail = Mail(
            from_email=self._from,
            to_emails=request.to,
            subject=message.subject or "",
            plain_text_content=message.body,
        )
        # Echoed back in SendGrid's event webhook, so events find their journey without
        # anyone looking up an address.
        # A reply comes back through Inbound Parse to this journey, found by the opaque id.
        if reply_to := customer_links.reply_address(self._settings, request.invoice_id):
            mail.reply_to = ReplyTo(reply_to)
        args = [
            CustomArg("invoice_id", request.invoice_id),
            CustomArg("step_key", request.step_key),
        ]
        if request.tenant != DEFAULT_TENANT:
            # The event webhook applies each event in the tenant it names (mail without one,
            # as all mail before tenants, is the default tenant's).
            args.append(CustomArg("tenant", request.tenant))
        mail.custom_arg = args
        return mail

    def lookup(
        self, request: DeliveryRequest, message: RenderedMessage, since: datetime
    ) -> str | None:
        """The X-Message-Id of this step's email if SendGrid has it, from the Email Activity
        API (`GET /v3/messages`, queried by the `invoice_id` and `step_key` custom args every
        mail carries). Its `msg_id` is the X-Message-Id followed by `.filter...`. Raises a
        retryable error when SendGrid cannot be asked. (The real feed needs the Email Activity
        add-on and lags by seconds to minutes; the ledger's settle time covers the lag.)"""
        query = (
            f"unique_args['invoice_id']=\"{request.invoice_id}\" AND "
            f"unique_args['step_key']=\"{request.step_key}\""
        )
        where = f"invoice {request.invoice_id} step {request.step_key}"
        try:
            response = self._client.client.messages.get(query_params={"query": query, "limit": 10})
            payload: Any = json.loads(response.body or b"{}")
        except HTTPError as exc:
            detail = scrub(sendgrid_error_text(exc.body), request.to)
            raise retryable(
                f"SendGrid could not be asked about {where}: HTTP {exc.status_code} {detail}",
                type=PROVIDER_UNAVAILABLE,
            ) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise retryable(
                f"SendGrid could not be asked about {where}: {type(exc).__name__}",
                type=PROVIDER_UNAVAILABLE,
            ) from None
        messages = payload.get("messages") if isinstance(payload, dict) else None
        for found in messages or []:
            msg_id = str(found.get("msg_id") or "") if isinstance(found, dict) else ""
            if msg_id:
                return msg_id.split(".", 1)[0]
        return None

    def _send(self, request: DeliveryRequest, message: RenderedMessage) -> str:
        mail = self.build_mail(request, message)
        where = f"invoice {request.invoice_id} step {request.step_key}"
        try:
            response = self._client.send(mail)
        except HTTPError as exc:
            raise classify_sendgrid_error(
                int(exc.status_code),
                exc.body,
                _headers(exc.headers),
                invoice_id=request.invoice_id,
                step_key=request.step_key,
                recipient=request.to,
                now=time.time(),
            ) from None
        except urllib.error.URLError as exc:
            # Raised while connecting or writing the request: SendGrid never got it.
            reason = scrub(str(exc.reason), request.to)
            raise retryable(
                f"SendGrid unreachable for {where}: {reason}", type=PROVIDER_UNAVAILABLE
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer: the email may have been accepted.
            raise DeliveryOutcomeUnknown(
                f"no answer from SendGrid for {where}: {type(exc).__name__}: "
                f"{scrub(str(exc), request.to)}"
            ) from None
        status = int(response.status_code)
        headers = _headers(response.headers)
        if not 200 <= status < 300:  # pragma: no cover - python_http_client raises for these
            raise classify_sendgrid_error(
                status,
                response.body,
                headers,
                invoice_id=request.invoice_id,
                step_key=request.step_key,
                recipient=request.to,
                now=time.time(),
            )
        return next((v for k, v in headers.items() if k.lower() == "x-message-id"), "")
