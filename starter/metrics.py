"""Prometheus metrics of the API process (`GET /metrics`).

What ops watch from outside Temporal: how many billing events arrive and how they end, how
many are refused (a billing system sending bad data), what agents do, journeys started and
webhook requests refused. What happens inside journeys (steps, fallbacks, provider errors,
lateness, handovers, ends) is measured by the worker (activities/metrics.py) on its own port.

Every metric of a tenant's request carries `tenant` (`default` for the default tenant): its
values are the registered tenants' ids only, since a request naming any other is refused
before it is counted, so the label adds one series per tenant, no more. Two metrics have none,
because they count what is refused before its tenant is known: a webhook's signature decides
its tenant (`journeys_webhook_refusals_total`), and a customer-page link that is bad, expired
or revoked may name none (`journeys_customer_page_refused_total`).
"""

from __future__ import annotations

from prometheus_client import Counter

TENANT_HELP = " Label tenant: a registered tenant's id or default (one series per tenant)."

EVENTS = Counter(
    "journeys_billing_events_total",
    "Billing events accepted, by type and outcome status." + TENANT_HELP,
    ["type", "status", "tenant"],
)
EVENTS_REFUSED = Counter(
    "journeys_billing_events_refused_total",
    "Billing event payloads refused as invalid (kept as dead letters)." + TENANT_HELP,
    ["tenant"],
)
AGENT_ACTIONS = Counter(
    "journeys_agent_actions_total",
    "Agent actions by action and result (applied, refused, replayed)." + TENANT_HELP,
    ["action", "result", "tenant"],
)
JOURNEYS_STARTED = Counter(
    "journeys_started_total",
    "Journeys started, by segment (counted where they start: ingest of invoice.issued)."
    + TENANT_HELP,
    ["segment", "tenant"],
)
WEBHOOK_REFUSALS = Counter(
    "journeys_webhook_refusals_total",
    "Webhook requests refused (bad signature, bad body, unknown sender), by provider and "
    "HTTP status.",
    ["provider", "status_code"],
)
CUSTOMER_PAGE_ACTIONS = Counter(
    "journeys_customer_page_actions_total",
    "Answers sent from the customer page, by action and HTTP status (200 applied, 409 refused "
    "by the journey, 422 bad input, 503 no answer)." + TENANT_HELP,
    ["action", "status", "tenant"],
)
CUSTOMER_PAGE_REFUSED = Counter(
    "journeys_customer_page_refused_total",
    "Customer-page requests refused before reaching a journey, by reason (bad_link, "
    "revoked_link, expired_link, too_many, csrf).",
    ["reason"],
)
