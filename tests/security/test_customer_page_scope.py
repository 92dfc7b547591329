"""The customer page's token grants one invoice and its own actions, nothing more: not another
invoice (forged, tampered or foreign tokens, another invoice named in the path, the query or
the form, a CSRF field of another link), not after it is revoked or expired, and not the API.

The page answers a person, with a friendly HTML page; tests/customer_page/test_page_http.py
has its words, this file its reach, with API keys configured (the page needs none)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import httpx

from infra.customer_links import link_id, page_secret, revoke, token_for
from infra.store import InvoiceRow, session_scope
from tests.security.conftest import Secured
from tests.security.test_route_authorisation import essence
from tests.starter.conftest import issued
from tests.webhooks.conftest import BOOTSTRAP_KEY

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def token(secured: Secured, invoice_id: str) -> str:
    return token_for(page_secret(secured.settings), invoice_id)


async def second_invoice(secured: Secured) -> str:
    event = issued(amount="2222.00")
    started = await secured.stack.http.post(
        "/v1/events", json=event, headers={"X-API-Key": BOOTSTRAP_KEY}
    )
    assert started.status_code == 202, started.text
    invoice_id: str = event["data"]["invoice"]["id"]
    return invoice_id


async def phase_of(secured: Secured, invoice_id: str) -> str:
    answer = await secured.stack.http.get(
        f"/v1/invoices/{invoice_id}/journey", headers={"X-API-Key": BOOTSTRAP_KEY}
    )
    phase: str = answer.json()["phase"]
    return phase


async def opened(http: httpx.AsyncClient, path: str) -> str:
    """Open the page (its CSRF cookie lands in `http`) and return its CSRF field."""
    page = await http.get(path)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match
    return match.group(1)


def promise() -> str:
    return (date.today() + timedelta(days=5)).isoformat()


async def test_a_token_reaches_its_own_invoice_only(secured: Secured) -> None:
    mine, other = secured.invoice_id, await second_invoice(secured)
    http, store = secured.stack.http, secured.snapshot()
    other_before = await phase_of(secured, other)
    mine_token, other_token = token(secured, mine), token(secured, other)
    page = await http.get(f"/pay/{mine_token}")  # no API key needed
    assert page.status_code == 200 and secured.invoice_number in page.text
    assert other.removeprefix("inv_") not in page.text and "2\xa0222" not in page.text

    mine_id, mine_sig = mine_token.split(".")
    other_id, other_sig = other_token.split(".")
    forged = {
        "my link id, its signature": f"{other_id}.{mine_sig}",
        "its link id, my signature": f"{mine_id}.{other_sig}",
        "signed with another secret": token_for(b"an attacker's own secret, 32+ chars", other),
        "its invoice id": other,
        "its link id alone": link_id(page_secret(secured.settings), other),
        "the bootstrap API key": BOOTSTRAP_KEY,
        "one character changed": f"{other_id}.{other_sig[:-1]}{chr(ord(other_sig[-1]) ^ 1)}",
    }
    csrf = await opened(http, f"/pay/{mine_token}")
    for how, bad in forged.items():
        shown = await http.get(f"/pay/{bad}", headers={"X-API-Key": BOOTSTRAP_KEY})
        assert shown.status_code == 403, (how, shown.status_code)
        assert other.removeprefix("inv_") not in shown.text, how
        acted = await http.post(
            f"/pay/{bad}/promise", data={"csrf": csrf, "promise_date": promise()}
        )
        assert acted.status_code == 403, (how, acted.status_code)

    # My page's CSRF field and cookie do not carry over to another link.
    crossed = await http.post(
        f"/pay/{other_token}/promise", data={"csrf": csrf, "promise_date": promise()}
    )
    assert crossed.status_code == 403 and "Ladda om sidan" in crossed.text
    assert await phase_of(secured, other) == other_before
    assert secured.snapshot() == store

    # Naming the other invoice in the query or the form acts on mine, never on it.
    done = await http.post(
        f"/pay/{mine_token}/promise?invoice_id={other}&invoice={other}",
        data={"csrf": csrf, "promise_date": promise(), "invoice_id": other, "token": other_token},
    )
    assert done.status_code == 200, done.text
    assert await phase_of(secured, mine) == "promised"
    assert await phase_of(secured, other) == other_before

    # The page's token is no API key.
    for headers in ({"X-API-Key": mine_token}, {"Authorization": f"Bearer {mine_token}"}):
        api = await http.get(f"/v1/invoices/{mine}/journey", headers=headers)
        assert api.status_code == 401, api.text


async def test_revoked_and_expired_links_neither_show_nor_act(secured: Secured) -> None:
    revoked_id, expired_id = secured.invoice_id, await second_invoice(secured)
    http = secured.stack.http
    csrf = {i: await opened(http, f"/pay/{token(secured, i)}") for i in (revoked_id, expired_id)}
    assert revoke(secured.settings, revoked_id)
    with session_scope(secured.settings.store_url) as s:
        row = s.get(InvoiceRow, expired_id)
        assert row is not None
        days = secured.settings.customer_page_link_days + 1
        row.closed_at = datetime.now(UTC) - timedelta(days=days)
        s.add(row)
    before = {i: await phase_of(secured, i) for i in csrf}
    state, reached = await secured.journey()
    store = secured.snapshot()
    for invoice_id, field in csrf.items():
        path = f"/pay/{token(secured, invoice_id)}"
        assert (await http.get(path)).status_code == 410
        for action, form in (
            ("promise", {"promise_date": promise()}),
            ("dispute", {"reason": "never ordered"}),
            ("call", {}),
        ):
            acted = await http.post(f"{path}/{action}", data={"csrf": field, **form})
            assert acted.status_code == 410, (invoice_id, action, acted.status_code)
        assert await phase_of(secured, invoice_id) == before[invoice_id]
    after, reached_after = await secured.journey()
    assert (essence(after), reached_after) == (essence(state), reached)
    assert secured.snapshot() == store
