"""The delivery workers of every tenant: one per (tenant, channel), each on the tenant's own
task queue and held to the tenant's own provider rates.

Each tenant sends through its own SendGrid and Twilio accounts, whose rate limits are its own:
the server holds each (tenant, channel) queue to that tenant's rate, so one tenant's morning
wave neither meets another's 429s nor spends its sending rate. The default tenant's queues
are the ones the worker always had (`workflows.activity_calls.channel_task_queue`).

The tenants are read at start and again every `WORKER_TENANT_REFRESH_SECONDS` (30 s by
default, as often as a tenant's changed settings take effect: `infra.tenants.CACHE_SECONDS`):
a tenant registered while
the worker runs (`journeys tenants add`) has its store migrated and its workers started
within that, without a restart. A tenant whose settings cannot be made here (a secret's
variable missing on this machine) is logged and tried again at the next refresh; the other
tenants are served meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.worker import Worker

from domain.tenants import DEFAULT_TENANT
from domain.values import Channel
from infra.logging import get_logger
from infra.migrations import upgrade_all, upgrade_tenant
from infra.settings import Settings
from infra.tenants import TenantConfigError, UnknownTenant, tenant_ids, tenant_settings
from workflows.activity_calls import channel_task_queue

log = get_logger("worker")


_TENANT_PROBLEMS = (UnknownTenant, TenantConfigError)


def delivery_queues(settings: Settings) -> dict[Channel, tuple[str, float | None]]:
    """The tenant's (of `settings`) task queue per channel and the deliveries per second the
    server holds it to (None: no limit, the outbox)."""
    return {
        channel: (channel_task_queue(settings.temporal_task_queue, channel, settings.tenant), rate)
        for channel, rate in settings.channel_rates().items()
    }


def registered_tenants(base: Settings) -> list[str]:
    """Every tenant, the default one first; just the default one while the registry cannot
    be read (logged: the next refresh tries again)."""
    try:
        return tenant_ids(base)
    except SQLAlchemyError as err:
        log.error("tenant registry unreadable; serving the tenants known", error=str(err))
        return [DEFAULT_TENANT]


def upgrade_stores(base: Settings) -> list[str]:
    """Bring the control store and every tenant's store to the newest migration (what
    `infra.migrations.upgrade_all` does), skipping, with an error logged, a tenant whose
    store cannot be found here (the variable of its own DATABASE_URL unset): one tenant's
    mistake must not keep the worker from serving the others. The tenants whose stores are
    ready."""

    def skip(tenant: str, err: Exception) -> None:
        log.error("tenant store not migrated", tenant=tenant, error=str(err))

    return list(upgrade_all(base, skip))


class TenantWorkers:
    """Builds a tenant's delivery workers, knows which tenants have them, and starts the
    workers of tenants registered later (`refresh`, every `WORKER_TENANT_REFRESH_SECONDS`
    while running).

    The workers built at start are handed to `worker.JourneyWorker` with the others; those
    of later tenants run as tasks of their own here, and stop with the rest."""

    def __init__(
        self,
        client: Client,
        settings: Settings,
        activities: Mapping[Channel, Callable[..., Any]],
        common: Mapping[str, Any],
    ) -> None:
        self._client = client
        self._settings = settings
        self._activities = dict(activities)
        self._common = dict(common)
        self.tenants: set[str] = set()
        """Tenants whose delivery workers exist."""
        self.added: dict[Worker, asyncio.Task[None]] = {}
        """Workers started after the start, with the task running each."""
        self._refresher: asyncio.Task[None] | None = None
        self._stopping = False

    def build(self, tenant: str) -> list[Worker]:
        """The tenant's delivery workers, one per channel, at its rates; raises
        `UnknownTenant` or `TenantConfigError` if its settings cannot be made."""
        settings = tenant_settings(self._settings, tenant)
        workers = [
            Worker(
                self._client,
                task_queue=queue,
                activities=[self._activities[channel]],
                max_task_queue_activities_per_second=rate,
                **self._common,
            )
            for channel, (queue, rate) in delivery_queues(settings).items()
        ]
        self.tenants.add(tenant)
        return workers

    def build_all(self) -> list[Worker]:
        """Every tenant's delivery workers, for the start (a tenant whose settings cannot be
        made is logged, and tried again at each refresh)."""
        workers: list[Worker] = []
        for tenant in registered_tenants(self._settings):
            try:
                workers += self.build(tenant)
            except _TENANT_PROBLEMS as err:
                log.error(
                    "tenant not served: its settings are wrong", tenant=tenant, error=str(err)
                )
        return workers

    async def refresh(self) -> list[str]:
        """Start the workers of tenants registered since the last look; the tenants started."""
        known = await asyncio.to_thread(registered_tenants, self._settings)
        started = []
        for tenant in known:
            if tenant in self.tenants or self._stopping:
                continue
            try:
                await asyncio.to_thread(upgrade_tenant, self._settings, tenant)
                workers = self.build(tenant)
            except _TENANT_PROBLEMS as err:
                log.error(
                    "tenant not served: its settings are wrong", tenant=tenant, error=str(err)
                )
                continue
            for worker in workers:
                task = asyncio.create_task(worker.run(), name=f"worker {worker.task_queue}")
                task.add_done_callback(_log_failure)
                self.added[worker] = task
            log.info(
                "tenant workers started",
                tenant=tenant,
                task_queues=[w.task_queue for w in workers],
            )
            started.append(tenant)
        return started

    def start_refreshing(self) -> None:
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever(), name="tenant refresh")

    async def _refresh_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._settings.worker_tenant_refresh_seconds)
            try:
                await self.refresh()
            except Exception as err:  # a store hiccup: the next refresh tries again
                log.error("tenant refresh failed", error=str(err))

    async def stop_refreshing(self) -> None:
        self._stopping = True
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher

    async def shutdown(self) -> None:
        """Stop the workers started after the start (the others stop with `JourneyWorker`)."""
        await self.stop_refreshing()
        await asyncio.gather(*(w.shutdown() for w in self.added))
        await asyncio.gather(*self.added.values(), return_exceptions=True)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("tenant worker failed", worker=task.get_name(), error=str(task.exception()))
