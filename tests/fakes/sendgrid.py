"""A fake of SendGrid's v3 Mail Send endpoint, answering the way SendGrid documents."""

from __future__ import annotations

import time
import uuid

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

MAIL_SEND = "/v3/mail/send"


def sendgrid_error(status: int, message: str, field: str | None = None) -> FakeResponse:
    """SendGrid's error body: `{"errors": [{"message", "field", "help"}]}`."""
    return FakeResponse.json(
        status, {"errors": [{"message": message, "field": field, "help": None}]}
    )


def sendgrid_answer(status: int) -> FakeResponse:
    """A realistic answer for a status code."""
    if 200 <= status < 300:
        return FakeResponse(status, b"", {"X-Message-Id": uuid.uuid4().hex[:22]})
    if status == 400:
        return sendgrid_error(
            400,
            "The to email does not contain a valid address.",
            "personalizations.0.to.0.email",
        )
    if status == 401:
        return sendgrid_error(
            401, "The provided authorization grant is invalid, expired, or revoked"
        )
    if status == 403:
        return sendgrid_error(403, "access forbidden")
    if status == 413:
        return sendgrid_error(
            413, "The JSON payload you have included in your request is too large."
        )
    if status == 429:
        reset = int(time.time()) + 7
        response = sendgrid_error(429, "too many requests")
        response.headers.update(
            {
                "X-RateLimit-Limit": "600",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            }
        )
        return response
    return sendgrid_error(status, "internal server error" if status >= 500 else "error")


class FakeSendGrid(FakeServer):
    def __init__(self, api_key: str = "SG.test-key") -> None:
        super().__init__()
        self.api_key = api_key

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        if isinstance(scripted, FakeResponse):
            return scripted
        if request.method != "POST" or request.path.split("?")[0] != MAIL_SEND:
            return sendgrid_error(404, "not found")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return sendgrid_answer(401)
        return sendgrid_answer(scripted if scripted is not None else 202)

    @property
    def mails(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0] == MAIL_SEND]
