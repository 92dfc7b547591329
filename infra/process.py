"""How short-lived processes end.

A process that used a Temporal client or worker can abort during interpreter shutdown
("Fatal Python error: PyGILState_Release", exit 134) after all its work succeeded
(temporalio/sdk-python issue 300). Commands therefore leave with `os._exit` once their output
is flushed, so a finished job can never turn into a crash, nor a failure into success.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")


def leave(status: int) -> NoReturn:
    """Flush what was printed (os._exit skips it) and exit with `status`, skipping teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def run_abandoning_threads(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` without its last step, which waits for every thread of the loop's
    default executor however long it runs.

    A worker that stops cancels the activities still running when its graceful-shutdown
    window ends; an activity that waits on a thread (`asyncio.to_thread`: SQL, a provider's
    SDK) is cancelled, but its thread goes on until the provider answers or times out.
    Waiting for it would make the window a lie. The process leaves (`leave`) instead, which
    ends the thread wherever it is: its ledger row was committed "sending" before the provider
    was called, a transaction it had open is rolled back by the database, and the activity's
    retry settles the step from the provider's record (activities/ledger.py).
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()  # shuts the executor down without waiting for its threads
