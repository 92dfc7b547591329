"""A scriptable HTTP server in a thread: records every request, answers from a script."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """Form fields (last value wins), as Twilio receives them."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}


@dataclass
class FakeResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (to provoke client timeouts)."""

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> FakeResponse:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
            delay,
        )


Script = int | FakeResponse


@dataclass
class Faults:
    """Unscripted requests fail or hang at these rates, as a provider having a bad day does.

    `fail_rate`: answered with one of `fail_statuses` (nothing is created). `slow_rate`: the
    request is handled (a message is created) but the answer comes `slow_delay` seconds late,
    past the client's timeout, so the client cannot know. Seeded: a run repeats."""

    fail_rate: float = 0.0
    slow_rate: float = 0.0
    slow_delay: float = 5.0
    fail_statuses: tuple[int, ...] = (429, 500, 503)
    max_failures_per_request: int = 2
    """A request (the same body) fails at most this often: outages pass, and the client's
    retry backoff doubles each time, so an unbounded streak only makes a run long."""
    seed: int = 12
    rng: random.Random = field(init=False)
    failed: int = 0
    slowed: int = 0
    _streaks: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def roll(self, body: bytes = b"") -> tuple[str, int]:
        draw = self.rng.random()
        key = hash(body)
        if draw < self.fail_rate:
            if self._streaks.get(key, 0) >= self.max_failures_per_request:
                return "ok", 0  # this request's outage is over
            self._streaks[key] = self._streaks.get(key, 0) + 1
            self.failed += 1
            return "fail", self.rng.choice(self.fail_statuses)
        if draw < self.fail_rate + self.slow_rate:
            self.slowed += 1
            return "slow", 0
        return "ok", 0


class FakeServer:
    """Subclasses implement `respond(request, scripted)` to shape answers like their API.

    `script(...)` queues answers (a status code, or a full FakeResponse) for the next requests;
    once the queue is empty the server answers success.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.faults: Faults | None = None
        self.in_flight = 0
        """Requests being answered right now (a slow answer counts until it is written)."""
        self.send_delay = 0.0
        """Seconds every request that is not a GET (a send) waits before it is answered,
        handled first: a provider slow to answer, or a send in flight for a shutdown test."""
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the client died mid-request: a provider accepts nothing of it
                request = RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.in_flight += 1
                try:
                    response = fake._answer(request)
                    if response.delay:
                        time.sleep(response.delay)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                try:
                    self.send_response(response.status)
                    for name, value in response.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.body)))
                    self.end_headers()
                    if response.body:
                        self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- scripting -------------------------------------------------------------------------

    def script(self, *answers: Script) -> None:
        with self._lock:
            self._script.extend(answers)

    def _answer(self, request: RecordedRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
            unscripted = self.faults is not None and scripted is None
            fate, status = (
                self.faults.roll(self.fault_key(request))
                if self.faults and unscripted
                else ("ok", 0)
            )
        if fate == "fail":
            return self.respond(request, status)
        response = self.respond(request, scripted)
        if fate == "slow":
            response.delay = max(response.delay, self.faults.slow_delay if self.faults else 0)
        if request.method != "GET":
            response.delay = max(response.delay, self.send_delay)
        return response

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        raise NotImplementedError

    def fault_key(self, request: RecordedRequest) -> bytes:
        """What makes two requests "the same request retried", for `Faults`' streaks."""
        return request.path.encode() + request.body

    def count(self, path_suffix: str = "") -> int:
        return sum(1 for r in self.requests if r.path.split("?")[0].endswith(path_suffix))
