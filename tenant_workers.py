"""The delivery workers of every tenant: one per (tenant, channel), each on the tenant's own
task queue and held to the tenant's own provider rates.

Each tenant sends through its own SendGrid and Twilio accounts, whose rate limits are its own:
the server holds each (tenant, channel) queue to that tenant's rate, so one tenant's morning
wave neither meets another's 429s nor spends its sending rate. The default tenant's queues
are the ones the worker always had (`workflows.activity_calls.channel_task_queue`).

The tenants are read at start and again every `WORKER_TENANT_REFRESH_SECONDS` (30 s by
default, as often as a tenant's changed settings take effect: `infra.tenants.CACHE_SECONDS`),
and the running workers are made to match, without a restart: a tenant registered since
(`journeys tenants add`) has its store migrated and its workers started; a tenant whose
queues or rates changed (`journeys tenants add --replace`) has its workers stopped gracefully
(activities in flight finish within `WORKER_GRACEFUL_SHUTDOWN_SECONDS`) and new ones started
at its new rates; a tenant no longer registered (`journeys tenants remove`) has its workers
stopped. The default tenant's are never stopped. A tenant whose settings cannot be made here
(a secret's variable missing on this machine) is logged and tried again at the next refresh,
its running workers left as they are; the other tenants are served meanwhile.

A tenant's old workers are stopped before its new ones start, not after: the SDK refuses two
workers of one process on one task queue. Its queues go unpolled while the old workers finish
their activities; the tasks wait on the server meanwhile, none is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.worker import Worker

from domain.tenants import DEFAULT_TENANT
from domain.values import Channel
from infra.logging import get_logger
from infra.migrations import upgrade_all, upgrade_tenant
from infra.settings import Settings
from infra.tenants import (
    TenantConfigError,
    TenantProfile,
    UnknownTenant,
    check_profile,
    read_profiles,
)
from workflows.activity_calls import channel_task_queue

log = get_logger("worker")


_TENANT_PROBLEMS = (UnknownTenant, TenantConfigError)


Queues = dict[Channel, tuple[str, float | None]]
"""A tenant's delivery task queue per channel and the deliveries per second it is held to."""


def delivery_queues(settings: Settings) -> Queues:
    """The tenant's (of `settings`) task queue per channel and the deliveries per second the
    server holds it to (None: no limit, the outbox)."""
    return {
        channel: (channel_task_queue(settings.temporal_task_queue, channel, settings.tenant), rate)
        for channel, rate in settings.channel_rates().items()
    }


Registry = dict[str, TenantProfile | None]
"""Every tenant's profile by id, the default tenant's (its settings are the deployment's)
first, as None."""


def read_registry(base: Settings) -> Registry:
    """The registry in one read: every refresh needs each tenant's profile anyway."""
    return {DEFAULT_TENANT: None, **{p.id: p for p in read_profiles(base.store_url)}}


def upgrade_stores(base: Settings) -> list[str]:
    """Bring the control store and every tenant's store to the newest migration (what
    `infra.migrations.upgrade_all` does), skipping, with an error logged, a tenant whose
    store cannot be found here (the variable of its own DATABASE_URL unset): one tenant's
    mistake must not keep the worker from serving the others. The tenants whose stores are
    ready."""

    def skip(tenant: str, err: Exception) -> None:
        log.error("tenant store not migrated", tenant=tenant, error=str(err))

    return list(upgrade_all(base, skip))


@dataclass
class TenantCrew:
    """One tenant's delivery workers, the queues and rates they were built with, and (once
    started) the task running each."""

    tenant: str
    queues: Queues
    workers: list[Worker]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False

    @property
    def rates(self) -> dict[str, float | None]:
        """Task queue to the deliveries per second it is held to (what the logs show)."""
        return dict(self.queues.values())

    def start(self, on_done: Callable[[TenantCrew, asyncio.Task[None]], None]) -> None:
        if self.tasks:
            return
        for worker in self.workers:
            task = asyncio.create_task(worker.run(), name=f"worker {worker.task_queue}")
            task.add_done_callback(lambda done: on_done(self, done))
            self.tasks.append(task)

    async def stop(self) -> None:
        """Stop polling, let the activities in flight finish (the workers' graceful timeout),
        and wait until every worker has let go of its queue."""
        self.stopping = True
        if not self.tasks:
            return  # never started: nothing polls, and `Worker.shutdown` would wait forever
        running = [w for w, task in zip(self.workers, self.tasks, strict=True) if not task.done()]
        await asyncio.gather(*(w.shutdown() for w in running))
        await asyncio.gather(*self.tasks, return_exceptions=True)


class TenantWorkers:
    """Every tenant's delivery workers, the default tenant's too: built at start (`build_all`),
    run from `start`, and kept matching the registry (`refresh`, every
    `WORKER_TENANT_REFRESH_SECONDS` while running) until `shutdown`."""

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
        self.crews: dict[str, TenantCrew] = {}
        """The workers of each tenant served."""
        self.retired: list[TenantCrew] = []
        """Workers stopped while the rest ran: replaced, or their tenant removed."""
        self._started = False
        self._stopping = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None
        self._refreshing = asyncio.Lock()
        """One refresh at a time: two would both replace the same tenant's workers."""
        self._failed: asyncio.Future[None] | None = None
        """Set by `run`: resolved at shutdown, or with the error of a worker that failed."""

    @property
    def tenants(self) -> set[str]:
        """Tenants whose delivery workers exist."""
        return set(self.crews)

    def wanted(self, profile: TenantProfile | None) -> Queues:
        """The queues and rates the workers of the tenant of `profile` (None: the default
        tenant) must have; raises `TenantConfigError` if its settings cannot be made."""
        if profile is None:
            return delivery_queues(self._settings)
        return delivery_queues(check_profile(profile, self._settings))

    def build(self, tenant: str, queues: Queues) -> TenantCrew:
        """The tenant's delivery workers, one per channel, at `queues`' rates (not running)."""
        workers = [
            Worker(
                self._client,
                task_queue=queue,
                activities=[self._activities[channel]],
                max_task_queue_activities_per_second=rate,
                **self._common,
            )
            for channel, (queue, rate) in queues.items()
        ]
        crew = self.crews[tenant] = TenantCrew(tenant, dict(queues), workers)
        if self._started:
            crew.start(self._on_done)
        return crew

    def build_all(self) -> None:
        """Every tenant's delivery workers, for the start (a tenant whose settings cannot be
        made is logged, and tried again at each refresh)."""
        try:
            registry = read_registry(self._settings)
        except SQLAlchemyError as err:  # the next refresh tries again
            log.error("tenant registry unreadable; serving the tenants known", error=str(err))
            registry = {DEFAULT_TENANT: None}
        for tenant, profile in registry.items():
            try:
                self.build(tenant, self.wanted(profile))
            except _TENANT_PROBLEMS as err:
                log.error(
                    "tenant not served: its settings are wrong", tenant=tenant, error=str(err)
                )

    def start(self) -> None:
        """Run every tenant's workers, and refresh them from the registry from now on."""
        if self._started:
            return
        self._started = True
        for crew in self.crews.values():
            crew.start(self._on_done)
        self._refresher = asyncio.create_task(self._refresh_forever(), name="tenant refresh")

    async def run(self) -> None:
        """`start`, then wait for `shutdown`; raises the error of a worker that fails by
        itself, as the journey worker's own would (the process leaves and is restarted)."""
        self._failed = asyncio.get_running_loop().create_future()
        self.start()
        await self._failed

    def _on_done(self, crew: TenantCrew, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        log.error(
            "tenant worker failed", tenant=crew.tenant, worker=task.get_name(), error=str(error)
        )
        if not crew.stopping and self._failed is not None and not self._failed.done():
            self._failed.set_exception(error or RuntimeError(task.get_name()))

    async def refresh(self) -> dict[str, str]:
        """Make the running workers match the registry: each tenant changed to what was done
        ("started", "restarted", "stopped"). The registry unreadable: nothing changes (a
        store hiccup must not stop every tenant's deliveries)."""
        async with self._refreshing:
            try:
                registry = await asyncio.to_thread(read_registry, self._settings)
            except SQLAlchemyError as err:
                log.error("tenant registry unreadable; serving the tenants known", error=str(err))
                return {}
            changes = await asyncio.gather(
                *(self._reconcile(t, profile) for t, profile in registry.items()),
                *(self._remove(t) for t in list(self.crews) if t not in registry),
            )
        return {tenant: done for tenant, done in changes if done}

    async def _reconcile(self, tenant: str, profile: TenantProfile | None) -> tuple[str, str]:
        crew = self.crews.get(tenant)
        try:
            if crew is None:
                await asyncio.to_thread(upgrade_tenant, self._settings, profile or tenant)
            queues = self.wanted(profile)
        except _TENANT_PROBLEMS as err:
            log.error("tenant not served: its settings are wrong", tenant=tenant, error=str(err))
            return tenant, ""
        except Exception as err:  # its store or the registry unreachable: the next look
            log.error("tenant refresh failed", tenant=tenant, error=str(err))
            return tenant, ""
        if crew is not None and crew.queues == queues:
            return tenant, ""
        if crew is not None:
            await self._retire(crew)
        if self._stopping.is_set():
            return tenant, ""
        new = self.build(tenant, queues)
        if crew is None:
            log.info("tenant workers started", tenant=tenant, rates=new.rates)
            return tenant, "started"
        log.info("tenant workers restarted", tenant=tenant, old_rates=crew.rates, rates=new.rates)
        return tenant, "restarted"

    async def _remove(self, tenant: str) -> tuple[str, str]:
        crew = self.crews.get(tenant)
        if crew is None or tenant == DEFAULT_TENANT:
            return tenant, ""
        await self._retire(crew)
        log.info("tenant workers stopped", tenant=tenant, reason="no longer registered")
        return tenant, "stopped"

    async def _retire(self, crew: TenantCrew) -> None:
        """Out of the record first, so that a `shutdown` meanwhile does not stop it twice."""
        del self.crews[crew.tenant]
        self.retired.append(crew)
        await crew.stop()

    async def _refresh_forever(self) -> None:
        interval = self._settings.worker_tenant_refresh_seconds
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            if self._stopping.is_set():
                return
            try:
                await self.refresh()
            except Exception as err:  # a store hiccup: the next refresh tries again
                log.error("tenant refresh failed", error=str(err))

    async def shutdown(self) -> None:
        """Stop refreshing and every tenant's workers (a refresh under way finishes stopping
        what it was stopping, and starts nothing)."""
        self._stopping.set()
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(None)
        waits: list[Any] = [crew.stop() for crew in list(self.crews.values())]
        if self._refresher is not None:
            waits.append(self._refresher)
        await asyncio.gather(*waits, return_exceptions=True)
