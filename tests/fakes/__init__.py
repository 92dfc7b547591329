"""Local fake HTTP servers that answer like SendGrid, Twilio and a collection agency.

They are real HTTP servers on 127.0.0.1 (a thread each), so the real `sendgrid`, `twilio` and
`httpx` clients are exercised end to end: URL building, auth headers, encodings, timeouts and
the libraries' own error handling. Fixtures are in `tests.fakes.fixtures`.
"""

from tests.fakes.agency import FakeAgency
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.server import FakeResponse, FakeServer, RecordedRequest
from tests.fakes.twilio import FakeTwilio

__all__ = [
    "FakeAgency",
    "FakeResponse",
    "FakeSendGrid",
    "FakeServer",
    "FakeTwilio",
    "RecordedRequest",
]
