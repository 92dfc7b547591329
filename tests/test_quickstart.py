"""`journeys dev` as the README's quick start runs it: a real process tree on free ports.

Checks what a newcomer relies on: the stack comes up (Temporal with its UI, worker, API),
the demo's journeys are visible through the API, a billing event posted over HTTP starts a
journey, Ctrl-C/SIGTERM stops everything with status 0 and frees the ports, and a second start
on the same data folder (search attributes already registered) works too.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx

from tests.api_server import free_port
from tests.starter.conftest import issued

JOURNEYS = str(Path(sys.executable).parent / "journeys")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class DevStack:
    def __init__(self, tmp_path: Path) -> None:
        self.temporal, self.ui, self.api = free_port(), free_port(), free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "API_"))},
            "DATA_DIR": str(tmp_path / "data"),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal}",
            "TEMPORAL_UI_PORT": str(self.ui),
            "API_PORT": str(self.api),
            "LOG_FORMAT": "json",
        }
        self.env.pop("DATABASE_URL", None)
        self.cwd = tmp_path
        self.proc: asyncio.subprocess.Process | None = None
        self.out = b""

    async def start(self, *args: str) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            JOURNEYS,
            "dev",
            *args,
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        text = ""
        while "Press Ctrl-C to stop." not in text:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=60)
            assert line, f"journeys dev ended early:\n{text}"
            text += line.decode()
        return text

    async def read_until(self, marker: str) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        text = ""
        while marker not in text:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=90)
            assert line, f"journeys dev ended early:\n{text}"
            text += line.decode()
        return text

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.communicate(), timeout=40)
        assert self.proc.returncode is not None
        return self.proc.returncode


def _invoice(invoices: list[tuple[str, str]], key: str) -> str:
    return next(invoice for invoice, _ in invoices if invoice.endswith(f"-{key}"))


async def test_dev_stack_comes_up_runs_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    stack = DevStack(tmp_path)
    try:
        banner = await stack.start("--demo", "--seconds-per-day", "1")
        assert f"http://localhost:{stack.ui}" in banner
        assert f"http://localhost:{stack.api}/docs" in banner
        assert f"http://localhost:{stack.api}/dev/inbox" in banner
        demo = await stack.read_until("Follow one:")
        invoices = re.findall(r"^\s+(inv-[0-9a-f]{4}-\w+)\s+(\S+)", demo, re.MULTILINE)
        segments = {segment for _, segment in invoices}
        assert len(invoices) == 6 and {"loyal", "habitual-late", "new", "standard"} <= segments

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.api}") as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ui = httpx.get(f"http://127.0.0.1:{stack.ui}", timeout=10)
            assert ui.status_code == 200 and "<html" in ui.text.lower()
            state = (await http.get(f"/v1/invoices/{invoices[0][0]}/journey")).json()
            assert state["invoice_id"] == invoices[0][0]

            event = issued()
            response = await http.post("/v1/events", json=event)
            assert response.status_code == 202
            assert response.json()["outcomes"][0]["status"] == "started"
            invoice_id = event["data"]["invoice"]["id"]
            journey = await http.get(f"/v1/invoices/{invoice_id}/journey")
            assert journey.status_code == 200 and journey.json()["segment"] == "loyal"

            # The demo's script ends (about 20 journey days); the stack must keep running.
            await stack.read_until("[demo] all scripted customer actions done")
            await asyncio.sleep(0.5)
            assert stack.proc is not None and stack.proc.returncode is None
            assert (await http.get("/healthz")).status_code == 200
            paid = (await http.get(f"/v1/invoices/{_invoice(invoices, 'nora')}/journey")).json()
            assert paid["phase"] == "paid"

        assert await stack.stop(signal.SIGTERM) == 0
    finally:
        if stack.proc is not None and stack.proc.returncode is None:
            stack.proc.kill()
            await stack.proc.wait()
    for port in (stack.temporal, stack.ui, stack.api):
        assert not _port_open(port), f"port {port} still busy after stopping"

    # Again on the same data folder: the server's SQLite state and search attributes exist.
    again = DevStack(tmp_path)
    again.temporal, again.ui, again.api = stack.temporal, stack.ui, stack.api
    again.env = stack.env
    try:
        await again.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{again.api}") as http:
            state = (await http.get(f"/v1/invoices/{invoice_id}/journey")).json()
            assert state["invoice_id"] == invoice_id  # the journey survived the restart
        assert await again.stop(signal.SIGINT) == 0
    finally:
        if again.proc is not None and again.proc.returncode is None:
            again.proc.kill()
            await again.proc.wait()
    assert not _port_open(again.temporal)
