"""A fake collection agency: `POST /handovers` opens a case, keyed by `Idempotency-Key`."""

from __future__ import annotations

from typing import Any

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

HANDOVERS = "/handovers"


class FakeAgency(FakeServer):
    def __init__(self, token: str = "agency-token") -> None:
        super().__init__()
        self.token = token
        self.cases: dict[str, str] = {}

    @property
    def handover_url(self) -> str:
        return self.url + HANDOVERS

    def settings(self) -> dict[str, Any]:
        return {"collection_agency_url": self.handover_url, "collection_agency_token": self.token}

    def fault_key(self, request: RecordedRequest) -> bytes:
        """A retried handover carries the same key; its evidence may differ (timestamps)."""
        return request.headers.get("idempotency-key", "").encode() or request.body

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        if isinstance(scripted, FakeResponse):
            return scripted
        if request.method != "POST" or request.path != HANDOVERS:
            return FakeResponse.json(404, {"error": "not found"})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return FakeResponse.json(401, {"error": "unauthorized"})
        status = scripted if scripted is not None else 201
        if status >= 300:
            return FakeResponse.json(status, {"error": f"scripted failure {status}"})
        key = request.headers.get("idempotency-key", "")
        reference = self.cases.setdefault(key, f"AG-{len(self.cases) + 1:05d}")
        return FakeResponse.json(status, {"reference": reference, "status": "received"})
