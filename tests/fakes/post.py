"""A fake print-and-post provider speaking the interface in activities/letter_sender.py:
`POST /v1/letters` keyed by `Idempotency-Key`, and `GET /v1/letters?reference=...` listing the
letters a client reference names (the reference every letter carries: invoice id and step
key), newest first, as print-and-post APIs list their letters."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

LETTERS = "/v1/letters"


class FakePost(FakeServer):
    def __init__(self, key: str = "post-key") -> None:
        super().__init__()
        self.key = key
        self.letters: dict[str, tuple[str, bytes]] = {}
        """Per idempotency key: the letter's id and its PDF, printed once."""
        self.references: dict[str, str] = {}
        """Per idempotency key: the `reference` the letter was posted with (the key itself
        where a test put the letter in `letters` directly)."""
        self.created: dict[str, datetime] = {}

    def settings(self) -> dict[str, Any]:
        """Settings that send the product's letters to this fake (as the other fakes')."""
        return {"letter_provider_url": self.url, "letter_provider_key": self.key}

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return FakeResponse.json(401, {"error": "unauthorized"})
        if isinstance(scripted, FakeResponse):
            return scripted
        path = urlsplit(request.path).path
        if request.method == "GET" and path == LETTERS:
            if scripted is not None and scripted >= 300:
                return FakeResponse.json(scripted, {"error": f"scripted failure {scripted}"})
            return self._list(request)
        if request.method != "POST" or path != LETTERS:
            return FakeResponse.json(404, {"error": "not found"})
        status = scripted if scripted is not None else 201
        if status == 429:
            return FakeResponse.json(429, {"error": "slow down"}, {"Retry-After": "1"})
        if status >= 300:
            return FakeResponse.json(status, {"error": f"scripted failure {status}"})
        key = request.headers.get("idempotency-key", "")
        body = request.json()
        pdf = base64.b64decode(body["document"])
        letter_id, _ = self.letters.setdefault(key, (f"L-{len(self.letters) + 1:05d}", pdf))
        self.references.setdefault(key, str(body.get("reference", "")))
        self.created.setdefault(key, datetime.now(UTC))
        return FakeResponse.json(status, {"id": letter_id, "status": "accepted"})

    def _list(self, request: RecordedRequest) -> FakeResponse:
        """`GET /v1/letters?reference=R&created_after=T`: the letters posted with that
        reference at or after T (ISO 8601), newest first."""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
        after = query.get("created_after")
        since = datetime.fromisoformat(after) if after else None
        found = []
        for key, (letter_id, _pdf) in self.letters.items():
            created = self.created.setdefault(key, datetime.now(UTC))
            if self.references.get(key, key) != query.get("reference"):
                continue
            if since is not None and created < since:
                continue
            found.append(
                {
                    "id": letter_id,
                    "reference": self.references.get(key, key),
                    "status": "printed",
                    "created_at": created.isoformat(),
                }
            )
        found.sort(key=lambda letter: str(letter["created_at"]), reverse=True)
        return FakeResponse.json(200, {"data": found})

    def pdfs(self) -> list[bytes]:
        return [pdf for _, pdf in self.letters.values()]

    @property
    def posts(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST"]
