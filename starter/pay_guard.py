"""What stands in front of the customer page: rate limits and the forms' CSRF check.

Rate limits are sliding windows kept in the API process (one process serves the page in the
embedded default and per replica in production, so the effective limit there is the
per-process limit times the replicas). Requests are counted per client address, which slows
anyone trying links at random, and actions per link, so a leaked link cannot flood a journey
with updates.

CSRF: the page sets a random nonce in a cookie (HttpOnly, SameSite=Lax, path /pay) and
every form carries an HMAC of the link and that nonce. A form posted from another site has
neither the cookie's value nor the secret, so it cannot produce the field.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from infra.customer_links import csrf_value

WINDOW_SECONDS = 600.0
CSRF_COOKIE = "pay_csrf"


@dataclass
class RateLimiter:
    """At most `limit` hits per key within `window` seconds."""

    limit: int
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def allow(self, key: str) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 100_000:  # forget idle keys rather than grow without bound
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
        return True


@dataclass
class PageGuard:
    per_address: RateLimiter
    per_link: RateLimiter


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def csrf_nonce(request: Request) -> tuple[str, bool]:
    """The cookie's nonce, or a new one (True: the response must set it)."""
    nonce = request.cookies.get(CSRF_COOKIE, "")
    if 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
        return nonce, False
    return secrets.token_urlsafe(24), True


def csrf_ok(request: Request, secret: bytes, token: str, submitted: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(submitted, csrf_value(secret, token, nonce))
