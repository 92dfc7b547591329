"""The embedded Temporal dev server for benchmarks: on free ports with a throw-away SQLite
file and our search attributes, started with the tuned flags `journeys dev` uses
(`infra.temporal.TUNED_DEV_SERVER_ARGS`) or with the server's defaults, to compare them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TextIO

from temporalio.client import Client

from infra.temporal import dev_server_command

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def die_with_parent() -> None:
    """Runs in a child before exec: Linux sends it SIGTERM when the benchmark dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def spawn_module(
    module: str, args: Sequence[str], stdout: int | TextIO | BinaryIO, stderr: BinaryIO
) -> asyncio.subprocess.Process:
    """A benchmark child (`python -m <module>`) from the repository root, no stdin, that
    dies with the benchmark."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        cwd=Path(__file__).resolve().parent.parent,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=die_with_parent,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class BenchServer:
    """`temporal server start-dev` on free ports with its state in `<folder>/temporal.db`.

    Use as `async with BenchServer(folder, tuned=True) as server:`; `server.client` is
    connected with the SDK's default converter (bare workflows and history reads).
    """

    def __init__(
        self, folder: Path, *, tuned: bool, extra_args: Sequence[str] = (), ui: bool = False
    ) -> None:
        self.folder = folder
        self.tuned = tuned
        self.extra_args = tuple(extra_args)
        self.ui = ui
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None
        self._client: Client | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not started"
        return self.proc.pid

    @property
    def db_path(self) -> Path:
        return self.folder / "temporal.db"

    @property
    def log_path(self) -> Path:
        return self.folder / "temporal.log"

    @property
    def client(self) -> Client:
        assert self._client is not None, "the server is not started"
        return self._client

    def command(self) -> list[str]:
        cmd = dev_server_command(self.port, self.db_path, tuned=self.tuned) + [
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--log-level",
            "error",
        ]
        if self.ui:
            cmd += ["--ui-port", str(free_port())]
        else:
            cmd.append("--headless")
        return cmd + list(self.extra_args)

    async def __aenter__(self) -> BenchServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            self._client = await self._connect()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _connect(self) -> Client:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the dev server exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                client = await asyncio.wait_for(Client.connect(self.address), timeout=5)
                await client.count_workflows()  # the namespace answers, visibility too
                return client
            except Exception as err:  # not up yet
                last = err
                await asyncio.sleep(0.3)
        raise RuntimeError(f"the dev server did not answer in {START_TIMEOUT:.0f} s: {last}")

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
