"""Stored journey histories, replayed against the current workflow code by test_replay.

Journey tests save the history they produced when `JOURNEYS_RECORD_HISTORIES=1`; commit the
new files when a release changes the workflow, so that every released version keeps being
replayed and a change that would break running journeys fails CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

HISTORY_DIR = Path(__file__).parent


async def save_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    if os.environ.get("JOURNEYS_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    (HISTORY_DIR / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
