"""`journeys worker` and `journeys api` as a deploy runs them: real processes started with the
installed console script, configured only by their environment, stopped by a signal.

The shutdown and readiness tests drive them; the children die with the test run
(`bench.server.die_with_parent`, the benchmarks' own helper).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.server import die_with_parent, free_port
from infra.settings import Settings

JOURNEYS = str(Path(sys.executable).parent / "journeys")
READY_MARK = "Press Ctrl-C to stop."
"""The last line of the banner `journeys worker` and `journeys api` print once running."""

PASSED_ON = ("PATH", "PYTHONPATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def product_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """The environment a container would get: the settings that differ from the defaults
    (as `NAME=value`), and nothing of the test's own environment but the basics."""
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    defaults = Settings.model_fields
    values = settings.model_dump() | overrides
    for name, value in values.items():
        field = defaults.get(name)
        if value is None or (field is not None and value == field.default):
            continue
        env[name.upper()] = str(value)
    env.setdefault("WORKER_METRICS_PORT", "0")
    env["LOG_FORMAT"] = "json"
    return env


class ProductProcess:
    """One `journeys <command>` child (or another argv, ready when its output shows
    `ready_mark`), its output in `log_path`."""

    def __init__(
        self,
        command: str | list[str],
        env: dict[str, str],
        log_path: Path,
        ready_mark: str = READY_MARK,
    ) -> None:
        self.argv = [JOURNEYS, command] if isinstance(command, str) else command
        self.command = " ".join(self.argv)
        self.ready_mark = ready_mark
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self._offset = 0

    async def start(self, timeout: float = 90.0) -> None:
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=self.log_path.parent,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while self.ready_mark not in self.output():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.command} did not start:\n{self.output()}")
            await asyncio.sleep(0.1)

    def output(self) -> str:
        """What this run (since the last `start`) wrote."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        """This run's JSON log lines whose event is `name`."""
        found = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("event") == name:
                    found.append(entry)
        return found

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout=timeout)

    async def kill(self) -> None:
        if self.alive and self.proc is not None:
            self.proc.kill()
            await self.proc.wait()


class ApiProcess(ProductProcess):
    """`journeys api` on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        super().__init__(
            "api", {**env, "API_HOST": "127.0.0.1", "API_PORT": str(self.port)}, log_path
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 90.0) -> None:
        await super().start(timeout)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2) as http:
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the API does not answer:\n{self.output()}")
                await asyncio.sleep(0.1)
