"""A fake of SendGrid's v3 Mail Send endpoint, answering the way SendGrid documents."""

from __future__ import annotations

import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

MAIL_SEND = "/v3/mail/send"
MESSAGES = "/v3/messages"
_CONDITION = re.compile(r"unique_args\['(?P<key>\w+)'\]\s*=\s*\"(?P<value>[^\"]*)\"")


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
    def __init__(self, api_key: str = "SG.test-key", *other_accounts: str) -> None:
        """One SendGrid account per key: `api_key`, and the keys in `other_accounts` (two
        tenants with accounts of their own). Each account's Email Activity API lists only
        that account's mails, as SendGrid's does."""
        super().__init__()
        self.api_key = api_key
        self.api_keys = frozenset({api_key, *other_accounts})
        self.accepted: list[dict[str, Any]] = []
        """What SendGrid holds: every mail it accepted, as the Email Activity API lists it,
        plus the custom args (a mail accepted but answered too late is here too)."""
        self._accepted_lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The settings that send the product's real client here (URL and key), for
        `Settings(**...)` or `model_copy(update=...)`; each fake has its own."""
        return {"sendgrid_api_key": self.api_key, "sendgrid_api_host": self.url}

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        if isinstance(scripted, FakeResponse):
            return scripted
        path = request.path.split("?")[0]
        if self.account_of(request) is None:
            return sendgrid_answer(401)
        if request.method == "GET" and path == MESSAGES:
            if scripted is not None and scripted >= 400:
                return sendgrid_answer(scripted)
            return self._activity(request)
        if request.method != "POST" or path != MAIL_SEND:
            return sendgrid_error(404, "not found")
        answer = sendgrid_answer(scripted if scripted is not None else 202)
        if 200 <= answer.status < 300:
            self._accept(request, answer.headers["X-Message-Id"])
        return answer

    def account_of(self, request: RecordedRequest) -> str | None:
        """The key of the account a request was made with; None for no or an unknown key."""
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        return key if scheme == "Bearer" and key in self.api_keys else None

    def _accept(self, request: RecordedRequest, message_id: str) -> None:
        mail = request.json()
        to = [t.get("email") for p in mail.get("personalizations", []) for t in p.get("to", [])]
        with self._accepted_lock:
            self.accepted.append(
                {
                    "msg_id": f"{message_id}.filter0001.{len(self.accepted)}.0",
                    "from_email": (mail.get("from") or {}).get("email"),
                    "to_email": to[0] if to else None,
                    "subject": mail.get("subject"),
                    "status": "delivered",
                    "opens_count": 0,
                    "clicks_count": 0,
                    "last_event_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "custom_args": dict(mail.get("custom_args") or {}),
                    "account": self.account_of(request),
                }
            )

    def _activity(self, request: RecordedRequest) -> FakeResponse:
        """`GET /v3/messages?query=...&limit=N`: the Email Activity API, answering the
        `unique_args['key']="value" AND ...` conditions of its query language."""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
        wanted = {m["key"]: m["value"] for m in _CONDITION.finditer(query.get("query", ""))}
        limit = int(query.get("limit", "10"))
        account = self.account_of(request)
        with self._accepted_lock:
            found = [
                {k: v for k, v in a.items() if k not in ("custom_args", "account")}
                for a in self.accepted
                if a.get("account", self.api_key) == account  # a mail put in by a test
                and all(a["custom_args"].get(k) == v for k, v in wanted.items())
            ]
        return FakeResponse.json(200, {"messages": found[:limit]})

    @property
    def mails(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0] == MAIL_SEND]
