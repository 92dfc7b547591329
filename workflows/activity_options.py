"""How long the journey lets each activity take, how it retries, and on which task queue.

Kept apart from `workflows.journey` so that the journey reads as what it does; these are the
knobs an operator asks about ("how long do we retry an SMS?").
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from domain.models import Channel

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

HANDOVER_TIMEOUT = timedelta(seconds=60)
HANDOVER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=30), maximum_interval=timedelta(hours=1)
)
"""The agency may be down for hours; the claim waits for it rather than being dropped."""


def channel_task_queue(base: str, channel: Channel) -> str:
    """Deliveries run on a queue per channel so each can be rate-limited to its provider."""
    return f"{base}-{channel}"
