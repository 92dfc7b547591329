"""structlog setup: readable in development, JSON in production, never personal data.

Every line carries `invoice_id` and `workflow_id` when they are known, and `tenant` on a
tenant's request: activities and API handlers bind them with `bind_journey()` (contextvars;
starter/tenancy.py binds the tenant of every tenant-scoped request), so no call site has to
remember.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from domain.tenants import DEFAULT_TENANT, workflow_id_for

_EMAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+\d{7,15}")
_URL_SECRETS = (
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), r"\1***@"),  # a URL's password
    (re.compile(r"([?&](?:token|api_key|key|secret)=)[^&\s\"'#]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"(/pay/[A-Za-z0-9_-]{22}\.)[A-Za-z0-9_-]{16}"), r"\1***"),  # a page link's
)


def redact(text: str) -> str:
    """Mask emails and E.164 phone numbers: a safety net under the rule of never logging them.
    Credentials that travel in URLs are masked too: a password in a database URL, a `token=`
    in a query (SendGrid Inbound Parse's), a customer-page link's signature (the link id, which
    opens nothing alone, is kept to tell requests apart)."""
    return _PHONE.sub("+***", _EMAIL.sub("***@***", mask_url_secrets(text)))


def mask_url_secrets(text: str) -> str:
    """Only the credentials in URLs masked, as `redact` masks them: for a store's URL that a
    command prints (`journeys tenants`), where the email rule would mangle `user@host.domain`."""
    for pattern, replacement in _URL_SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def _journey_ids(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.setdefault("invoice_id", None)
    event_dict.setdefault("workflow_id", None)
    return event_dict


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _journey_ids,
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Route the standard library (temporalio, uvicorn) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer, foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))


PAYLOAD_LOGGERS = ("python_http_client",)
"""Libraries that log whole requests at DEBUG: SendGrid's HTTP client logs every email
(recipient, name, message) and its headers (the API key). Kept at INFO or above whatever
LOG_LEVEL says, whenever logging is configured: a guard in the sender alone depended on
logging being configured before the sender was built (tests/starter/test_personal_data.py)."""


def bind_journey(
    invoice_id: str, workflow_id: str | None = None, tenant: str = DEFAULT_TENANT
) -> None:
    """The journey's ids, and its tenant, on every line that follows in this context."""
    structlog.contextvars.bind_contextvars(
        invoice_id=invoice_id,
        workflow_id=workflow_id or workflow_id_for(invoice_id, tenant),
        tenant=tenant,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
