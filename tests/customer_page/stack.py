"""The customer page's test stack: the real API on a free loopback port whose links point at
itself, a real worker, the shared Temporal test server, and a policy with customer service
open around the clock, so that overdue steps go out and calls can be booked at any hour the
suite happens to run.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from domain.state import JourneyState
from infra.customer_links import page_secret, token_for
from infra.settings import REPO_ROOT, Settings
from infra.store import OutboxMessageRow, session_scope
from tests.starter.conftest import Stack, issued

SECRET = "test-customer-page-secret-0123456789abcdef"
OPEN_ALL_WEEK = "\n".join(
    f'{day} = ["00:00-24:00"]' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def open_all_week_policy(folder: Path) -> Path:
    text = (REPO_ROOT / "config" / "policies.toml").read_text(encoding="utf-8")
    text, n = re.subn(
        r"\[opening_hours\.weekly\]\n(?:\w+ = \[.*\]\n)+",
        f"[opening_hours.weekly]\n{OPEN_ALL_WEEK}\n",
        text,
    )
    assert n == 1, "config/policies.toml has no [opening_hours.weekly] block to replace"
    path = folder / "policies.toml"
    path.write_text(text, encoding="utf-8")
    return path


def page_settings(settings: Settings, port: int, **overrides: Any) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{port}",
            "customer_page_secret": SECRET,
            "policy_file": open_all_week_policy(settings.data_dir),
            **overrides,
        }
    )


def overdue(days: int = 12, **kw: Any) -> dict[str, Any]:
    """An invoice whose due date passed `days` ago: its first steps are due at once."""
    event = issued(issued_at=date.today() - timedelta(days=days + 28), **kw)
    return event


def page_path(settings: Settings, invoice_id: str) -> str:
    return f"/pay/{token_for(page_secret(settings), invoice_id)}"


async def journey(stack: Stack, invoice_id: str) -> JourneyState:
    response = await stack.http.get(f"/v1/invoices/{invoice_id}/journey")
    assert response.status_code == 200, response.text
    return JourneyState.model_validate(response.json())


async def wait_for_outbox(
    stack: Stack, invoice_id: str, channel: str, timeout: float = 30
) -> OutboxMessageRow:
    for _ in range(int(timeout / 0.1)):
        with session_scope(stack.settings.store_url) as s:
            row = s.exec(
                select(OutboxMessageRow).where(
                    OutboxMessageRow.invoice_id == invoice_id, OutboxMessageRow.channel == channel
                )
            ).first()
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {channel} for {invoice_id} in the outbox within {timeout} s")
