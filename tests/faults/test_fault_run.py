"""The fault-injection run, small (bench/faults.py; README "Fault injection"): 300 journeys
through worker, Temporal server and API crashes and flaky providers, with nothing lost,
missed or sent twice. Its report is printed in the test output.

The run keeps its own store (SQLite in a temporary folder) whatever JOURNEYS_TEST_DB says, so
it runs once, with the SQLite pass of `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JOURNEYS = 300


@pytest.mark.store_independent  # the fault run has its own SQLite store
def test_nothing_lost_missed_or_sent_twice_through_crashes_and_outages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "bench/faults.py",
            "--journeys",
            str(JOURNEYS),
            "--post-seconds",
            "20",
            "--worker-kills",
            "6",
            "--server-kills",
            "2",
            "--timeout",
            "600",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    with capsys.disabled():
        print("\n" + run.stdout)
    assert "verdict         CLEAN" in run.stdout, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"journeys        {JOURNEYS} ({JOURNEYS} closed" in run.stdout
    for fault in ("worker SIGKILLs 6", "Temporal server SIGKILLs 2", "API SIGKILLs 1"):
        assert fault in run.stdout
    assert "worker SIGKILLs during a send" in run.stdout
