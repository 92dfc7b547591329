"""A fake of Twilio's 2010-04-01 Messages and Calls resources, answering as Twilio does."""

from __future__ import annotations

import base64
import re
import threading
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest, Script

TWILIO_FROM = "+46766861004"
"""The company's Twilio number in tests: the product sends from it, the fake records it."""

_CODE_MARKER = "X-Fake-Twilio-Code"  # internal: a scripted error by Twilio code
_RESOURCE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)\.json$")

ERROR_MESSAGES: dict[int, str] = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: (
        "Permission to send an SMS has not been enabled for the region indicated by "
        "the 'To' number: {to}."
    ),
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number {to} is not a valid mobile number",
    20500: "An internal server error has occurred",
}


def twilio_error(status: int, code: int, to: str = "", delay: float = 0.0) -> FakeResponse:
    """Twilio's legacy error body: code, message, more_info, status."""
    message = ERROR_MESSAGES.get(code, "Error").format(to=to)
    return FakeResponse.json(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        delay=delay,
    )


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-token") -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.created: dict[str, list[dict[str, Any]]] = {"Messages": [], "Calls": []}
        """What Twilio holds: every message and call it accepted, as its API shows them
        (a message it accepted but answered too late for the client is here too)."""
        self._created_lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from_number": TWILIO_FROM,
            "twilio_api_base_url": self.url,
        }

    def script_error(self, status: int, code: int) -> None:
        """Queue an error with a Twilio error code (e.g. 400 / 21211)."""
        self.script(FakeResponse(status, b"", {_CODE_MARKER: str(code)}))

    def _authorised(self, request: RecordedRequest) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    def respond(self, request: RecordedRequest, scripted: Script | None) -> FakeResponse:
        match = _RESOURCE.match(request.path.split("?")[0])
        if match is None or request.method not in ("POST", "GET"):
            return twilio_error(404, 20404)
        if request.method == "GET":
            return self._list(request, match["kind"], match["sid"], scripted)
        form = request.form()
        to = form.get("To", "")
        if isinstance(scripted, FakeResponse):
            code = scripted.headers.get(_CODE_MARKER)
            if code is not None:
                return twilio_error(scripted.status, int(code), to, scripted.delay)
            return scripted
        if not self._authorised(request) or match["sid"] != self.account_sid:
            return twilio_error(401, 20003)
        status = scripted if scripted is not None else 201
        if status == 201:
            created = self._created(match["kind"], match["sid"], form)
            with self._created_lock:
                self.created[match["kind"]].append(created)
            return FakeResponse.json(201, created)
        if status == 400:
            return twilio_error(400, 21211, to)
        if status == 401:
            return twilio_error(401, 20003)
        if status == 429:
            return twilio_error(429, 20429)
        return twilio_error(status, 20500)

    def _list(
        self, request: RecordedRequest, kind: str, account_sid: str, scripted: Script | None
    ) -> FakeResponse:
        """`GET .../Messages.json` or `Calls.json`: Twilio's list, filtered by To and From,
        newest first, one page (PageSize), in Twilio's page shape."""
        if isinstance(scripted, FakeResponse):
            return scripted
        if not self._authorised(request) or account_sid != self.account_sid:
            return twilio_error(401, 20003)
        if isinstance(scripted, int) and scripted >= 400:
            return twilio_error(scripted, 20429 if scripted == 429 else 20500)
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.path).query).items()}
        with self._created_lock:
            items = list(reversed(self.created[kind]))
        for name in ("To", "From"):
            if name in query:
                items = [i for i in items if i.get(name.lower()) == query[name]]
        size = int(query.get("PageSize", "50"))
        uri = request.path
        page = {
            kind.lower(): items[:size],
            "end": max(len(items[:size]) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
        return FakeResponse.json(200, page)

    def _created(self, kind: str, account_sid: str, form: dict[str, str]) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        if kind == "Messages":
            sid = "SM" + uuid.uuid4().hex
            return {
                "account_sid": account_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
                },
                "to": form.get("To"),
                "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            }
        sid = "CA" + uuid.uuid4().hex
        return {
            "twiml": form.get("Twiml"),
            "account_sid": account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form.get("From"),
            "from_formatted": form.get("From"),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + uuid.uuid4().hex,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {},
            "to": form.get("To"),
            "to_formatted": form.get("To"),
            "trunk_sid": None,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}.json",
            "queue_time": "0",
        }

    @property
    def messages(self) -> list[RecordedRequest]:
        """POSTs to Messages (creations tried, whatever the answer)."""
        return [
            r for r in self.requests if r.path.endswith("/Messages.json") and r.method == "POST"
        ]

    @property
    def calls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/Calls.json") and r.method == "POST"]
