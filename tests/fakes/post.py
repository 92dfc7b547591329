"""A fake print-and-post provider speaking the interface in activities/letter_sender.py:
`POST /v1/letters` keyed by `Idempotency-Key`, `GET /v1/letters/{key}` to reconcile."""

from __future__ import annotations

import base64
from urllib.parse import unquote

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

LETTERS = "/v1/letters"


class FakePost(FakeServer):
    def __init__(self, key: str = "post-key") -> None:
        super().__init__()
        self.key = key
        self.letters: dict[str, tuple[str, bytes]] = {}
        """Per idempotency key: the letter's id and its PDF, printed once."""

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return FakeResponse.json(401, {"error": "unauthorized"})
        if request.method == "GET" and request.path.startswith(LETTERS + "/"):
            found = self.letters.get(unquote(request.path[len(LETTERS) + 1 :]))
            if found is None:
                return FakeResponse.json(404, {"error": "no such letter"})
            return FakeResponse.json(200, {"id": found[0], "status": "printed"})
        if isinstance(scripted, FakeResponse):
            return scripted
        if request.method != "POST" or request.path != LETTERS:
            return FakeResponse.json(404, {"error": "not found"})
        status = scripted if scripted is not None else 201
        if status == 429:
            return FakeResponse.json(429, {"error": "slow down"}, {"Retry-After": "1"})
        if status >= 300:
            return FakeResponse.json(status, {"error": f"scripted failure {status}"})
        key = request.headers.get("idempotency-key", "")
        pdf = base64.b64decode(request.json()["document"])
        letter_id, _ = self.letters.setdefault(key, (f"L-{len(self.letters) + 1:05d}", pdf))
        return FakeResponse.json(status, {"id": letter_id, "status": "accepted"})

    def pdfs(self) -> list[bytes]:
        return [pdf for _, pdf in self.letters.values()]
