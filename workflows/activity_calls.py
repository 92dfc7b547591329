"""How the journey calls its activities: by reference to `activities.contracts`, with how long
each may take, how it retries, and on which task queue.

Workflow code (it runs in the journey's event loop). Kept apart from `workflows.journey` so
that the journey reads as what it does ("deliver", "hand over", "record the outcome"); these
are the knobs an operator asks about ("how long do we retry an SMS?").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from activities.contracts import (
    CHANNEL_ACTIVITIES,
    ConfigContract,
    DeliveryContract,
    HandoverContract,
    OutcomeContract,
)
from domain.journey_config import JourneyConfig
from domain.models import ConfigRef
from domain.payloads import DeliveryRequest, DeliveryResult, HandoverRequest, HandoverResult
from domain.state import JourneyOutcome
from domain.tenants import DEFAULT_TENANT
from domain.values import Channel

PERMANENT_DELIVERY_ERRORS = [
    "InvalidRecipient",
    "RecipientOptedOut",
    "ProviderAuthFailed",
    "DeliveryRejected",
]
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=PERMANENT_DELIVERY_ERRORS,
)
"""Providers' 429s and 5xx are retried for up to the schedule-to-close window; a wrong
number or an opted-out recipient is not."""
DELIVERY_ATTEMPT_TIMEOUT = timedelta(seconds=60)
DELIVERY_GIVE_UP_AFTER = timedelta(hours=6)
BAD_ADDRESS_ERRORS = {"InvalidRecipient", "RecipientOptedOut"}
"""Errors that say the address itself is unusable: the step moves to the next channel."""

STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
OUTCOME_TIMEOUT = timedelta(seconds=30)

CONFIG_TIMEOUT = timedelta(seconds=10)
CONFIG_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["UnknownJourneyConfig", "InvalidJourneyConfig"],
)
"""A store that does not answer is retried for as long as it takes (without its policy a
journey can do nothing); an unknown digest or a corrupt row is not (activities.journey_config)."""

HANDOVER_TIMEOUT = timedelta(seconds=60)
HANDOVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30), maximum_interval=timedelta(hours=1)
)
"""The agency may be down for hours; the claim waits for it rather than being dropped."""


def channel_task_queue(base: str, channel: Channel, tenant: str = DEFAULT_TENANT) -> str:
    """Deliveries run on a queue per tenant and channel so each can be rate-limited to the
    tenant's provider account (each tenant has its own, with its own limits): one tenant's
    morning wave cannot spend another's sending rate. The default tenant's queues keep the
    names they had before tenants (`<base>-email`), so its running journeys and stored
    histories go on as they were; another tenant's are `<base>-email@<tenant>` (a tenant id
    has no '@'). A tenant's journeys all start after it existed: no patch is needed."""
    queue = f"{base}-{channel}"
    return queue if tenant == DEFAULT_TENANT else f"{queue}@{tenant}"


LEAN_JOURNEY_PATCH = "lean-journey"
"""Journeys started since this patch leave the search attributes the starter set alone and
record their outcome in a local activity. Journeys started before it replay as they ran."""

CHANNEL_QUEUES_PATCH = "per-channel-task-queues"
"""Journeys scheduled before the channel queues existed keep delivering on the base queue."""


ROUTE_AT_SEND_PATCH = "route-at-send"
"""Journeys since this patch follow the worker's providers: a local (outbox) delivery the
worker answers `rerouted` goes through the channel's rate-limited queue, and so does every
later one on that channel."""


async def deliver(
    req: DeliveryRequest,
    summary: str,
    *,
    local: bool,
    routed: set[Channel] | None = None,
    patched: Callable[[str], bool] = workflow.patched,
) -> tuple[bool, str, str | None]:
    """Deliver one contact: (delivered, outcome for the history, error type if any).

    A channel without a provider's rate limit (the outbox) is delivered by a local activity
    (`local`), inside the workflow task that decided on it: one marker in the history instead
    of a task-queue round trip and a second workflow task. A rate-limited channel goes
    through its own task queue, where the server holds it to the rate.

    Which is which is the worker's configuration when the step is delivered: a worker with a
    provider for a channel answers a local delivery `rerouted` without sending
    (`activities.delivery`), and the step, and every later one on that channel (`routed`, the
    ledger's), goes through the queue. The outbox journeys' steady state costs nothing extra.
    `patched` is the journey's (`workflows.config_gate.ConfigGate.patched`)."""
    contact = CHANNEL_ACTIVITIES[req.channel]
    try:
        if local:
            result = await workflow.execute_local_activity_method(
                contact,
                req,
                retry_policy=DELIVERY_RETRY,
                summary=summary,
                start_to_close_timeout=DELIVERY_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_GIVE_UP_AFTER,
            )
            if result.status == "rerouted" and patched(ROUTE_AT_SEND_PATCH):
                if routed is not None:
                    routed.add(req.channel)
                result = await _queued(contact, req, summary, channel_queue=True, patched=patched)
        else:
            # A channel rerouted in this run is on the new code: its queue needs no patch.
            channel_queue = routed is not None and req.channel in routed
            result = await _queued(
                contact, req, summary, channel_queue=channel_queue, patched=patched
            )
    except (ActivityError, ApplicationError, TemporalTimeoutError) as err:
        # A queued activity's failure arrives wrapped in ActivityError; a local
        # activity's arrives as it was raised (or as the timeout that ended it).
        cause = err.cause if isinstance(err, ActivityError) else err
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "failed"
        return False, f"{kind}: {reason}", kind
    return True, f"{result.status} via {result.provider}", None


async def _queued(
    contact: Callable[[DeliveryContract, DeliveryRequest], Awaitable[DeliveryResult]],
    req: DeliveryRequest,
    summary: str,
    *,
    channel_queue: bool,
    patched: Callable[[str], bool],
) -> DeliveryResult:
    queue = None
    if channel_queue or patched(CHANNEL_QUEUES_PATCH):
        queue = channel_task_queue(workflow.info().task_queue, req.channel, req.tenant)
    return await workflow.execute_activity_method(
        contact,
        req,
        task_queue=queue,
        retry_policy=DELIVERY_RETRY,
        summary=summary,
        start_to_close_timeout=DELIVERY_ATTEMPT_TIMEOUT,
        schedule_to_close_timeout=DELIVERY_GIVE_UP_AFTER,
    )


async def hand_over(req: HandoverRequest) -> HandoverResult:
    return await workflow.execute_activity_method(
        HandoverContract.hand_over,
        req,
        start_to_close_timeout=HANDOVER_TIMEOUT,
        retry_policy=HANDOVER_RETRY,
        summary=f"hand over {req.balance:.2f} {req.currency} to collection",
    )


async def record_outcome(outcome: JourneyOutcome, *, local: bool) -> None:
    """The outcome row is one small write to our own store: a local activity, unless the
    journey started before that (its history has the activity)."""
    execute = workflow.execute_local_activity_method if local else workflow.execute_activity_method
    await execute(
        OutcomeContract.record_outcome,
        outcome,
        start_to_close_timeout=OUTCOME_TIMEOUT,
        retry_policy=STORE_RETRY,
        summary=f"record outcome: {outcome.phase}",
    )


async def load_config(ref: ConfigRef) -> JourneyConfig:
    """The configuration stored under `ref`, by local activity: its result is in the history,
    so a replay never reads the store and an edit made later cannot change it. A permanent
    failure fails the journey, naming the policy and version it could not read."""
    try:
        return await workflow.execute_local_activity_method(
            ConfigContract.load_journey_config,
            ref.digest,
            start_to_close_timeout=CONFIG_TIMEOUT,
            retry_policy=CONFIG_RETRY,
            summary=f"load configuration {ref.name} {ref.version}",
        )
    except (ActivityError, ApplicationError) as err:  # see `deliver` for why both
        cause = err.cause if isinstance(err, ActivityError) else err
        kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "failed"
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise ApplicationError(
            f"policy {ref.name} version {ref.version} could not be loaded: {reason}",
            type=kind,
            non_retryable=True,
        ) from err
