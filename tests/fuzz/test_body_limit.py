"""Bodies over MAX_REQUEST_BYTES (64 kB in the fuzz stack) are refused with 413 before they are
read whole: a declared length at once, a chunked body as soon as it passes the limit, while
the client is still sending. Proven on a raw socket, where nothing buffers for us."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fuzz.conftest import Fuzz, store_snapshot
from tests.webhooks.conftest import BOOTSTRAP_KEY, INBOUND

# Fuzzing does not depend on which store runs under it: once, in the SQLite pass.
pytestmark = pytest.mark.store_independent

LIMIT = 64 * 1024


def _exchange(fuzz: Fuzz, head: str, body_parts: list[bytes]) -> str:
    """Send the head and the parts, never the end of the body; return what the server said."""
    with socket.create_connection(("127.0.0.1", fuzz.api.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
        return answer.decode("latin-1")


def _head(path: str, extra: str) -> str:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {BOOTSTRAP_KEY}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    )


def test_a_declared_length_over_the_limit_is_refused_without_reading_a_byte(fuzz: Fuzz) -> None:
    before = store_snapshot(fuzz.settings.store_url)
    answer = _exchange(fuzz, _head("/v1/events", "Content-Length: 50000000\r\n"), [])
    assert answer.startswith("HTTP/1.1 413"), answer
    assert f'{{"detail":"body: larger than {LIMIT} bytes"}}' in answer
    assert store_snapshot(fuzz.settings.store_url) == before


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit(fuzz: Fuzz) -> None:
    chunk = b"x" * 16384
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)]  # 96 kB, never ended
    for path in ("/v1/events", "/v1/webhooks/stripe", "/v1/invoices/inv_x/actions"):
        answer = _exchange(fuzz, _head(path, "Transfer-Encoding: chunked\r\n"), parts)
        assert answer.startswith("HTTP/1.1 413"), (path, answer)
        assert "body: larger than" in answer


def test_bodies_under_the_limit_are_read(fuzz: Fuzz) -> None:
    answer = fuzz.post_json("/v1/events", {"id": "x" * (LIMIT // 2)})
    assert answer.status_code == 422
    assert "larger" not in answer.text


def test_inbound_parse_has_its_own_larger_limit(fuzz: Fuzz) -> None:
    """Whole emails with attachments: 32 MB, not MAX_REQUEST_BYTES."""
    text = "y" * (LIMIT * 2)
    answer = fuzz.http.post(INBOUND, files={"text": (None, text), "from": (None, "a@b.c")})
    assert answer.status_code != 413, answer.text
    big = fuzz.http.post(
        "/v1/webhooks/stripe",
        content=json.dumps({"id": text}),
        headers={"Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert big.json() == {"detail": f"body: larger than {LIMIT} bytes"}
