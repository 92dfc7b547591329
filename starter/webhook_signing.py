"""What every provider's webhook (Twilio, SendGrid, Stripe) does before it checks a signature
(or, for SendGrid Inbound Parse, which is not signed, the token in its URL).

A webhook whose secret is not configured refuses every request 403, and says so in an error
log: the fix is the operator's (set the secret), not the provider's, and a webhook that cannot
check what it is sent must not trust it.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from infra.logging import get_logger

log = get_logger("starter.webhooks")


def signing_secret(
    value: str | None, setting: str, header: str, surface: str, **log_fields: Any
) -> str:
    """`value` (the secret named `setting`) if it is set; else a 403 naming the `header` that
    cannot be checked, and an error log naming the `surface` refused."""
    if not value:
        log.error(f"{surface} refused: {setting} is not set", **log_fields)
        raise HTTPException(
            status_code=403, detail=f"{header}: cannot be checked without {setting}"
        )
    return value
