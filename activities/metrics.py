"""Prometheus metrics of the worker, recorded around activities (never in workflow code, which
replays): the worker serves them on its own `/metrics` port (WORKER_METRICS_PORT).

`MetricsInterceptor` wraps every activity the worker runs, so that the delivery activities
(owned by activities/delivery.py) and the handover are measured without changing them:

- `journeys_steps_total{channel,result}`: every attempt to deliver a reminder step, by the
  channel it went out on and how it ended (sent, already_sent, uncertain; rerouted when a
  local delivery met a worker with a provider and went on through the queue; failed when the
  provider refused for good, error when it will be retried).
- `journeys_fallbacks_total{from_channel,to_channel}`: a step delivered on another channel
  than its policy's (no consent, a bad address, a failed channel), counted on its first attempt.
- `journeys_provider_errors_total{channel,status_code}`: provider errors by HTTP status, or
  `unreachable` when no answer came.
- `journeys_step_lateness_seconds{channel}`: from when the journey scheduled a step's delivery
  (its timer fired at the planned time) to when the delivery ran: queueing behind sending
  rates, worker capacity, retries.
- `journeys_handovers_total`: claims handed to collection.
- `journeys_ended_total{outcome,segment}` is counted by the outcome activity itself.

Each also carries `tenant`, the journey's (`default` for the default tenant's): a journey's
tenant is one the API resolved from the registry when it started it, so the label has one
value per registered tenant, no more.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram, start_http_server
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.tenancy import PerTenant, settings_of
from domain.outcomes import step_index_of
from domain.payloads import DeliveryRequest, DeliveryResult, HandoverRequest
from domain.tenants import DEFAULT_TENANT
from infra.logging import get_logger
from infra.policy_file import PolicyFileCache
from infra.settings import Settings
from infra.store import InvoiceRow, session_scope

log = get_logger(__name__)

TENANT_HELP = " Label tenant: a registered tenant's id or default (one series per tenant)."

JOURNEYS_ENDED = Counter(
    "journeys_ended_total",
    "Journeys that ended, by outcome and segment." + TENANT_HELP,
    ["outcome", "segment", "tenant"],
)
STEPS = Counter(
    "journeys_steps_total",
    "Reminder step delivery attempts, by channel and result." + TENANT_HELP,
    ["channel", "result", "tenant"],
)
FALLBACKS = Counter(
    "journeys_fallbacks_total",
    "Steps delivered on another channel than the policy's, by the policy's and the used one."
    + TENANT_HELP,
    ["from_channel", "to_channel", "tenant"],
)
PROVIDER_ERRORS = Counter(
    "journeys_provider_errors_total",
    "Errors from SendGrid or Twilio, by channel and HTTP status code (or unreachable)."
    + TENANT_HELP,
    ["channel", "status_code", "tenant"],
)
STEP_LATENESS = Histogram(
    "journeys_step_lateness_seconds",
    "Seconds from a step's scheduled delivery to its run." + TENANT_HELP,
    ["channel", "tenant"],
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 86400),
)
HANDOVERS = Counter(
    "journeys_handovers_total", "Claims handed over to collection." + TENANT_HELP, ["tenant"]
)

SEGMENT_CACHE_SIZE = 10_000
DELIVERY_ACTIVITIES = frozenset({"send_email", "send_sms", "place_call"})
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


def provider_status(err: BaseException) -> str:
    """The provider's HTTP status named in a delivery error, or `unreachable`."""
    match = _HTTP_STATUS.search(str(err))
    return match.group(1) if match else "unreachable"


def serve_worker_metrics(settings: Settings) -> Any:
    """Start the worker's `/metrics` server (a daemon thread); None when the port is 0."""
    if not settings.worker_metrics_port:
        return None
    server, _thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host
    )
    log.info("worker metrics serving", port=settings.worker_metrics_port)
    return server


class MetricsInterceptor(Interceptor):
    """Give it to every `Worker` of the journey worker (worker.py). A step's policy is its
    tenant's: read from that tenant's store and policy file (`activities.tenancy`)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._policies = PerTenant(lambda s: PolicyFileCache(s.policy_file))
        self._segments: dict[tuple[str, str], str | None] = {}
        """(Tenant, invoice id) to segment, so a journey's steps cost one store read, not
        one each."""

    def _segment(self, settings: Settings, invoice_id: str) -> str | None:
        key = (settings.tenant, invoice_id)
        if key not in self._segments:
            with session_scope(settings.store_url) as session:
                row = session.get(InvoiceRow, invoice_id)
                segment = row.segment if row is not None else None
            if len(self._segments) >= SEGMENT_CACHE_SIZE:
                self._segments.pop(next(iter(self._segments)))  # the oldest entry
            self._segments[key] = segment
        return self._segments[key]

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MeasuredActivity(next, self)

    def policy_channel(
        self, invoice_id: str, index: int, tenant: str = DEFAULT_TENANT
    ) -> str | None:
        """The channel the invoice's policy gives step `index`, or None if unknown."""
        try:
            settings = settings_of(self._settings, tenant)
            policies = self._policies.get(settings).get()
        except Exception:  # metrics never fail a delivery
            return None
        policy = policies.segments.get(self._segment(settings, invoice_id) or "")
        if policy is None or index >= len(policy.steps):
            return None
        return policy.steps[index].channel


class _MeasuredActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: MetricsInterceptor) -> None:
        super().__init__(next)
        self._owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        name = info.activity_type
        request = input.args[0] if input.args else None
        if name not in DELIVERY_ACTIVITIES or not isinstance(request, DeliveryRequest):
            result = await self.next.execute_activity(input)
            if name == "hand_over" and isinstance(request, HandoverRequest):
                HANDOVERS.labels(request.tenant).inc()
            return result
        index = step_index_of(request.step_key)
        if index is not None:
            await self._before_step(request, index, info)
        try:
            result = await self.next.execute_activity(input)
        except ApplicationError as err:
            PROVIDER_ERRORS.labels(request.channel, provider_status(err), request.tenant).inc()
            if index is not None:
                result_name = "failed" if err.non_retryable else "error"
                STEPS.labels(request.channel, result_name, request.tenant).inc()
            raise
        if index is not None and isinstance(result, DeliveryResult):
            STEPS.labels(request.channel, result.status, request.tenant).inc()
        return result

    async def _before_step(self, request: DeliveryRequest, index: int, info: Any) -> None:
        if info.attempt != 1:
            return
        if info.scheduled_time is not None:
            late = (datetime.now(UTC) - info.scheduled_time).total_seconds()
            STEP_LATENESS.labels(request.channel, request.tenant).observe(max(0.0, late))
        try:
            planned = await asyncio.to_thread(
                self._owner.policy_channel, request.invoice_id, index, request.tenant
            )
        except Exception as err:  # a store hiccup must not fail the delivery
            log.warning("fallback metric skipped", error=str(err))
            return
        if planned is not None and planned != request.channel:
            FALLBACKS.labels(planned, request.channel, request.tenant).inc()
