"""The Temporal dev server as a child of `journeys dev`: started, awaited, stopped in order.

It runs in its own session so the terminal's Ctrl-C reaches only `journeys dev`, which stops the
demo, the API and the worker first; on Linux it also gets SIGTERM if we die without cleaning
up, so no orphan keeps port 7233 busy. Its output goes to `<DATA_DIR>/temporal.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from typing import TextIO

from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from infra.logging import get_logger
from infra.settings import Settings
from infra.temporal import SEARCH_ATTRIBUTES, connect, dev_server_command

log = get_logger("journeys.dev")


SERVER_START_TIMEOUT = 60.0
"""Seconds the dev server gets to answer; its first start creates the SQLite schema."""
SERVER_STOP_TIMEOUT = 10.0


class StackError(RuntimeError):
    """The stack cannot start; the message says what to do about it."""


def _port_of(address: str) -> int:
    _, _, port = address.rpartition(":")
    if not port.isdigit():
        raise StackError(f"TEMPORAL_ADDRESS {address!r} has no port")
    return int(port)


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise StackError(
                f"port {port} ({what}) is already in use: is another `journeys dev` running? "
                "Stop it, or free the port."
            ) from None


def _die_with_parent() -> None:
    """Runs in the server's child process: ask Linux to SIGTERM it when we die."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class TemporalDevServer:
    """`temporal server start-dev` as a child process, its output in `<DATA_DIR>/temporal.log`."""

    def __init__(self, settings: Settings) -> None:
        self.port = _port_of(settings.temporal_address)
        self.ui_port = settings.temporal_ui_port
        self.namespace = settings.temporal_namespace
        self.data_dir = settings.data_dir
        self.log_path = settings.data_dir / "temporal.log"
        self.proc: asyncio.subprocess.Process | None = None
        self._log: TextIO | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            *dev_server_command(self.port, self.data_dir / "temporal.db"),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
        ]

    async def start(self) -> None:
        check_port_free("127.0.0.1", self.port, "Temporal gRPC")
        check_port_free("127.0.0.1", self.ui_port, "Temporal UI")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("a", encoding="utf-8")
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def _tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_ready(self, settings: Settings) -> Client:
        """Connect once the server answers; make sure our search attributes exist.

        start-dev registers `--search-attribute`s on every start and accepts ones that are
        already in its SQLite file, but a database made by an older version of this project may
        lack a newer attribute, so missing ones are added here rather than trusted.
        """
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SERVER_START_TIMEOUT
        last_error: Exception | None = None
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise StackError(
                    f"the Temporal dev server exited with status {self.proc.returncode}; "
                    f"last lines of {self.log_path}:\n{self._tail()}"
                )
            try:
                client = await asyncio.wait_for(connect(settings), timeout=5)
                await self._ensure_search_attributes(client)
                return client
            except Exception as err:  # not up yet: connection refused, namespace not ready
                last_error = err
                await asyncio.sleep(0.5)
        raise StackError(
            f"the Temporal dev server did not answer within {SERVER_START_TIMEOUT:.0f} s "
            f"({last_error}); see {self.log_path}"
        )

    async def _ensure_search_attributes(self, client: Client) -> None:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        missing = {
            key.name: int(key.indexed_value_type)
            for key in SEARCH_ATTRIBUTES
            if key.name not in listed.custom_attributes
        }
        if missing:
            log.info("registering search attributes", names=sorted(missing))
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=self.namespace,
                    search_attributes=missing,  # type: ignore[arg-type]
                )
            )

    async def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout=SERVER_STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
