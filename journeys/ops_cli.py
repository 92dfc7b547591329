"""Operations commands: the pre-deploy replay check and the worker healthcheck.

`replay` is meant to be mounted as `journeys replay`; it, `worker-health` (the worker
container's healthcheck) and `db` (the stores' schemas, journeys/db_cli.py) also run as
`python -m journeys.ops_cli ...`, which needs nothing from journeys/cli.py.

Exit statuses: 0 fine, 1 the check failed (a replay failure, no polling worker), 2 the check
could not run (bad configuration, Temporal or the database unreachable).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from temporalio.client import Client, WorkflowHistory

from infra.process import leave
from infra.settings import Settings
from journeys.db_cli import db_app, err, one_line, out, settings_or_exit
from journeys.program import program

WORKFLOW_TYPE_QUERY = 'WorkflowType="InvoiceJourney"'
DEFAULT_REPLAY_LIMIT = 1000


def _connect_problem(e: Exception) -> str | None:
    from infra.temporal import TemporalConfigError

    if isinstance(e, TemporalConfigError):
        return f"bad configuration: {e}"
    if isinstance(e, RuntimeError) and "Failed client connect" in str(e):
        return f"cannot reach Temporal ({e}); is TEMPORAL_ADDRESS right?"
    return None


# --- journeys replay -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayedJourney:
    workflow_id: str
    run_id: str
    status: str
    failure: str | None = None


@dataclass
class ReplayReport:
    journeys: list[ReplayedJourney] = field(default_factory=list)

    @property
    def failed(self) -> list[ReplayedJourney]:
        return [j for j in self.journeys if j.failure is not None]


def replay_query(query: str | None) -> str:
    """Only journeys, narrowed by the user's own visibility query if given."""
    if query is None or not query.strip():
        return WORKFLOW_TYPE_QUERY
    return f"{WORKFLOW_TYPE_QUERY} AND ({query})"


async def replay_journeys(
    client: Client,
    *,
    query: str | None = None,
    limit: int | None = DEFAULT_REPLAY_LIMIT,
    workflows: Sequence[type] | None = None,
) -> ReplayReport:
    """Replay the histories of journeys on Temporal against this code (or `workflows`).

    Nothing runs for real: the Replayer feeds each recorded history to the workflow code and
    fails where the code would now decide differently (nondeterminism), which is what would
    happen to that journey on a worker running this code.
    """
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    if workflows is None:
        from workflows.journey import InvoiceJourney

        workflows = [InvoiceJourney]
    seen: list[tuple[str, str, str]] = []

    async def histories() -> AsyncIterator[WorkflowHistory]:
        async for execution in client.list_workflows(replay_query(query), limit=limit):
            status = execution.status.name.lower() if execution.status else "unknown"
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            history = await handle.fetch_history()
            seen.append((execution.id, execution.run_id, status))
            yield history

    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    report = ReplayReport()
    for workflow_id, run_id, status in seen:
        failure = results.replay_failures.get(run_id)
        report.journeys.append(
            ReplayedJourney(
                workflow_id, run_id, status, None if failure is None else one_line(failure)
            )
        )
    return report


async def _replay_with_settings(
    settings: Settings, query: str | None, limit: int | None
) -> ReplayReport:
    from infra.temporal import connect

    client = await connect(settings)
    return await replay_journeys(client, query=query, limit=limit)


def print_report(report: ReplayReport, limit: int | None, console: Console) -> None:
    for j in report.journeys:
        if j.failure is None:
            console.print(f"ok      {j.workflow_id}  ({j.status}, run {j.run_id})", markup=False)
        else:
            console.print(
                f"FAILED  {j.workflow_id}  ({j.status}, run {j.run_id}): {j.failure}",
                markup=False,
            )
    total, failed = len(report.journeys), len(report.failed)
    console.print(
        f"replayed {total} journeys against this code: {total - failed} ok, {failed} failed",
        markup=False,
    )
    if limit is not None and total >= limit:
        console.print(f"note: stopped at --limit {limit}; more journeys may match", markup=False)


def replay(
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            help='Visibility query ANDed to WorkflowType="InvoiceJourney", '
            "e.g. 'ExecutionStatus=\"Running\"' or 'Segment=\"loyal\"'.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many journeys (newest first).")
    ] = DEFAULT_REPLAY_LIMIT,
) -> None:
    """Pre-deploy check: replay journeys from Temporal against this code; 1 if any fails.

    A failure means that a worker running this code would break those journeys
    (nondeterminism): guard the change with workflow.patched (docs/evolving-journeys.md).
    """
    status = 2
    try:
        settings = settings_or_exit()
        report = asyncio.run(_replay_with_settings(settings, query, limit))
        print_report(report, limit, out)
        if not report.journeys:
            err.print(
                f"warning: no journeys matched in namespace {settings.temporal_namespace!r}",
                markup=False,
            )
        status = 1 if report.failed else 0
    except typer.Exit as e:
        status = e.exit_code
    except KeyboardInterrupt:
        status = 130
    except Exception as e:
        problem = _connect_problem(e)
        if problem is None:
            err.print_exception()
        else:
            err.print(f"error: {problem}", markup=False)
    leave(status)


# --- worker healthcheck ----------------------------------------------------------------------


async def worker_is_polling(client: Client, settings: Settings, hostname: str) -> bool:
    """Whether a worker on `hostname` polls our task queue for workflow and activity tasks.

    The SDK names a worker `<pid>@<hostname>`, and a container's hostname is its own, so this
    asks Temporal about this container's worker and no other replica's. Temporal forgets a
    poller a few minutes after its last poll: a hung or disconnected worker turns unhealthy.
    """
    from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(
                    name=settings.temporal_task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
                ),
                task_queue_type=kind,
            ),
            timeout=timedelta(seconds=5),
        )
        if not any(p.identity.endswith(f"@{hostname}") for p in response.pollers):
            return False
    return True


async def _worker_health(settings: Settings, hostname: str) -> bool:
    from infra.temporal import connect

    client = await connect(settings)
    return await worker_is_polling(client, settings, hostname)


def worker_health() -> None:
    """Healthcheck of a worker container: 0 if this host's worker polls TEMPORAL_TASK_QUEUE."""
    status = 2
    try:
        settings = settings_or_exit()
        hostname = socket.gethostname()
        polling = asyncio.run(asyncio.wait_for(_worker_health(settings, hostname), 15))
        if polling:
            out.print(f"worker on {hostname} polls {settings.temporal_task_queue}", markup=False)
            status = 0
        else:
            err.print(f"no worker on {hostname} polls {settings.temporal_task_queue}", markup=False)
            status = 1
    except typer.Exit as e:
        status = e.exit_code
    except Exception as e:
        err.print(f"error: {_connect_problem(e) or one_line(e)}", markup=False)
    leave(status)


# --- python -m journeys.ops_cli --------------------------------------------------------------

ops_app = program(
    "journeys-ops", "Operations: schema migrations, the replay check, the worker healthcheck."
)
ops_app.add_typer(db_app, name="db")
ops_app.command("replay")(replay)
ops_app.command("worker-health")(worker_health)


def _configure_logging() -> None:
    try:
        from infra.logging import configure_logging

        settings = Settings()
        configure_logging(settings.log_format, settings.log_level)
    except Exception:  # the command itself reports bad configuration
        return


if __name__ == "__main__":
    _configure_logging()
    ops_app()
