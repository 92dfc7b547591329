"""The Temporal worker: runs `InvoiceJourney` and the activities that do its I/O.

`python worker.py` and `journeys worker` both land in `run_worker`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.build import build_activities
from activities.contracts import CHANNEL_ACTIVITIES
from activities.metrics import MetricsInterceptor, serve_worker_metrics
from infra.logging import configure_logging, get_logger
from infra.migrations import init_db
from infra.process import leave
from infra.settings import Settings, get_settings
from infra.temporal import connect
from workflows.activity_calls import channel_task_queue
from workflows.journey import InvoiceJourney


class JourneyWorker:
    """The journey worker on the base task queue plus one delivery worker per channel.

    Each channel has its own task queue (`<queue>-email`, `-sms`, `-call`) so that the server
    can hold its activities to the provider's sending rate across every worker process: a
    morning wave of reminders queues up instead of meeting Twilio's or SendGrid's 429s. The
    base worker keeps every activity too, for journeys scheduled before the channel queues.
    It behaves like one SDK `Worker`: `async with`, `run()`, `shutdown()`.
    """

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers

    async def run(self) -> None:
        await asyncio.gather(*(w.run() for w in self.workers))

    async def shutdown(self) -> None:
        await asyncio.gather(*(w.shutdown() for w in self.workers))

    async def __aenter__(self) -> JourneyWorker:
        for w in self.workers:
            await w.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(w.__aexit__(None, None, None) for w in self.workers))


def activity_name(fn: Callable[..., Any]) -> str:
    """The name an activity is registered and invoked under (`activities.contracts`)."""
    return str(getattr(fn, "__temporal_activity_definition").name)


def build_worker(client: Client, settings: Settings) -> JourneyWorker:
    activities = build_activities(settings)
    by_name = {activity_name(a): a for a in activities}
    common = {
        "interceptors": [MetricsInterceptor(settings)],
        "max_concurrent_activities": settings.worker_max_concurrent_activities,
        "graceful_shutdown_timeout": timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    }
    workers = [
        Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=[InvoiceJourney],
            activities=activities,
            max_cached_workflows=settings.worker_max_cached_workflows,
            max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
            **common,  # type: ignore[arg-type]
        )
    ]
    for channel, rate in settings.channel_rates().items():
        workers.append(
            Worker(
                client,
                task_queue=channel_task_queue(settings.temporal_task_queue, channel),
                activities=[by_name[activity_name(CHANNEL_ACTIVITIES[channel])]],
                max_task_queue_activities_per_second=rate,
                **common,  # type: ignore[arg-type]
            )
        )
    return JourneyWorker(workers)


async def run_worker(settings: Settings) -> None:
    log = get_logger("worker")
    init_db(settings.store_url)
    client = await connect(settings)
    serve_worker_metrics(settings)
    worker = build_worker(client, settings)
    log.info("worker started", task_queue=settings.temporal_task_queue)
    await worker.run()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    status = 0
    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        status = 0
    leave(status)  # see infra.process: no interpreter teardown after a Temporal worker


if __name__ == "__main__":
    main()
