"""How short-lived processes end.

A process that used a Temporal client or worker can abort during interpreter shutdown
("Fatal Python error: PyGILState_Release", exit 134) after all its work succeeded
(temporalio/sdk-python issue 300). Commands therefore leave with `os._exit` once their output
is flushed, so a finished job can never turn into a crash, nor a failure into success.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def leave(status: int) -> NoReturn:
    """Flush what was printed (os._exit skips it) and exit with `status`, skipping teardown."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
