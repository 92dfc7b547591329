"""The Temporal worker: runs `InvoiceJourney` and the activities that do its I/O.

`python worker.py` runs `run_worker`; `journeys worker` (journeys/devstack.py) builds the same
`JourneyWorker`. Both stop the same way on SIGTERM or SIGINT (a deploy, `docker compose stop`,
Ctrl-C): the worker stops polling, running activities get `WORKER_GRACEFUL_SHUTDOWN_SECONDS`
to finish, and those still running then are cancelled. A cancelled send is safe to cut off:
its ledger row was committed "sending" before the provider was called, and the retry on the
next worker settles it from the provider's own record (activities/ledger.py) instead of
sending again. The process then leaves with status 0 through `infra.process.leave`.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import temporalio.exceptions
from temporalio.client import Client
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from activities.build import build_activities
from activities.contracts import CHANNEL_ACTIVITIES
from activities.metrics import MetricsInterceptor, serve_worker_metrics
from infra.logging import configure_logging, get_logger
from infra.process import leave, run_abandoning_threads
from infra.settings import Settings, get_settings
from infra.temporal import connect
from tenant_workers import TenantWorkers, upgrade_stores
from workflows.journey import InvoiceJourney

log = get_logger("worker")

STOP_MARGIN_SECONDS = 15.0
"""How long a stop may take beyond the activities' grace (cancelled activities reporting,
workflow tasks finishing) before the worker gives up waiting for the server."""


class ActivityTally(Interceptor):
    """Counts the activities running in this process and how those running at a stop ended,
    for the "worker stopping" and "worker stopped" log lines."""

    def __init__(self) -> None:
        self.running = 0
        self.stopping = False
        self.finished = 0
        """Activities that ended by themselves (sent, failed) after the stop began."""
        self.cancelled = 0
        """Activities cut off when the grace ran out (or cancelled otherwise during a stop)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TalliedActivity(next, self)


class _TalliedActivity(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, tally: ActivityTally) -> None:
        super().__init__(next)
        self._tally = tally

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        tally = self._tally
        tally.running += 1
        cancelled = False
        try:
            return await self.next.execute_activity(input)
        except (asyncio.CancelledError, temporalio.exceptions.CancelledError):
            cancelled = True
            raise
        finally:
            tally.running -= 1
            if tally.stopping:
                if cancelled:
                    tally.cancelled += 1
                else:
                    tally.finished += 1


class JourneyWorker:
    """The journey worker on the base task queue plus one delivery worker per tenant and
    channel.

    Each channel has its own task queue (`<queue>-email`, `-sms`, `-call`), and each tenant
    its own set of them (`<queue>-email@<tenant>`; the default tenant's are unsuffixed), so
    that the server can hold its activities to the tenant's provider's sending rate across
    every worker process: a morning wave of reminders queues up instead of meeting Twilio's
    or SendGrid's 429s. The base worker keeps every activity too, for journeys scheduled
    before the channel queues. The delivery workers are `tenants`' (tenant_workers.py), which
    keeps them matching the registry every `WORKER_TENANT_REFRESH_SECONDS`: a tenant added,
    changed or removed while this runs. It behaves like one SDK `Worker`: `async with`,
    `run()`, `shutdown()`.
    """

    def __init__(
        self,
        workers: list[Worker],
        tenants: TenantWorkers,
        tally: ActivityTally | None = None,
        grace: float = 0.0,
    ) -> None:
        self.workers = workers
        """The journey worker (and any other not a tenant's delivery worker)."""
        self.tenants = tenants
        self.tally = tally or ActivityTally()
        self.grace = grace

    async def run(self) -> None:
        await asyncio.gather(*(w.run() for w in self.workers), self.tenants.run())

    async def shutdown(self) -> None:
        """Stop polling, give running activities the grace, cancel the rest; logged with
        counts. Bounded: with the server gone the SDK could otherwise wait forever."""
        tally = self.tally
        tally.stopping = True
        log.info("worker stopping", activities_running=tally.running, grace_seconds=self.grace)
        stopping = asyncio.gather(
            *(w.shutdown() for w in self.workers),
            self.tenants.shutdown(),
        )
        try:
            await asyncio.wait_for(stopping, timeout=self.grace + STOP_MARGIN_SECONDS)
        except TimeoutError:
            log.error(
                "worker stop timed out",
                activities_running=tally.running,
                timeout_seconds=self.grace + STOP_MARGIN_SECONDS,
            )
            raise
        log.info(
            "worker stopped",
            activities_finished=tally.finished,
            activities_cancelled=tally.cancelled,
            activities_running=tally.running,
        )

    async def __aenter__(self) -> JourneyWorker:
        for w in self.workers:
            await w.__aenter__()
        self.tenants.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(
            *(w.__aexit__(None, None, None) for w in self.workers),
            self.tenants.shutdown(),
        )


def activity_name(fn: Callable[..., Any]) -> str:
    """The name an activity is registered and invoked under (`activities.contracts`)."""
    return str(getattr(fn, "__temporal_activity_definition").name)


def build_worker(client: Client, settings: Settings) -> JourneyWorker:
    """The journey worker for `settings` (the default tenant's, the deployment's), with the
    delivery workers of every tenant registered now; those of later ones follow."""
    activities = build_activities(settings)
    by_name = {activity_name(a): a for a in activities}
    tally = ActivityTally()
    common: dict[str, Any] = {
        "interceptors": [MetricsInterceptor(settings), tally],
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
            sticky_queue_schedule_to_start_timeout=timedelta(
                seconds=settings.worker_sticky_timeout_seconds
            ),
            **common,
        )
    ]
    contact = {ch: by_name[activity_name(fn)] for ch, fn in CHANNEL_ACTIVITIES.items()}
    tenants = TenantWorkers(client, settings, contact, common)
    tenants.build_all()
    return JourneyWorker(workers, tenants, tally, settings.worker_graceful_shutdown_seconds)


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (instead of the default: die at once, or raise
    KeyboardInterrupt wherever the loop happens to be)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_until(worker: JourneyWorker, stop: asyncio.Event) -> None:
    """Run `worker` until `stop` is set, then shut it down gracefully; a worker that fails by
    itself raises its error."""
    running = asyncio.create_task(worker.run(), name="worker")
    stopper = asyncio.create_task(stop.wait(), name="stop")
    await asyncio.wait([running, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not running.done():
        await worker.shutdown()
    await running


async def run_worker(settings: Settings) -> None:
    stop = stop_on_signals()
    upgrade_stores(settings)  # the control store and every tenant's
    client = await connect(settings)
    serve_worker_metrics(settings)
    worker = build_worker(client, settings)
    tenants = sorted(worker.tenants.tenants)
    log.info("worker started", task_queue=settings.temporal_task_queue, tenants=tenants)
    await run_until(worker, stop)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    status = 1
    try:
        run_abandoning_threads(run_worker(settings))
        status = 0
    except KeyboardInterrupt:  # a signal before the loop ran
        status = 0
    except Exception:
        log.exception("worker failed")
    leave(status)  # see infra.process: no interpreter teardown after a Temporal worker


if __name__ == "__main__":
    main()
