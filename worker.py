"""The Temporal worker: runs `InvoiceJourney` and the activities that do its I/O.

`python worker.py` and `journeys worker` both land in `run_worker`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities import build_activities
from journeys.logging import configure_logging, get_logger
from journeys.settings import Settings, get_settings
from journeys.store import init_db
from journeys.temporal import connect
from workflows.journey import InvoiceJourney


def build_worker(client: Client, settings: Settings) -> Worker:
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[InvoiceJourney],
        activities=build_activities(settings),
        max_concurrent_activities=50,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    log = get_logger("worker")
    init_db(settings.store_url)
    client = await connect(settings)
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
    # Leave without interpreter teardown: a process that used a Temporal worker can abort in
    # shutdown ("PyGILState_Release", exit 134) after its work succeeded (sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
