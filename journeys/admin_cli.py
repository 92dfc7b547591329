"""`journeys keys ...` and `journeys dead-letters ...`: Typer sub-apps for journeys/cli.py.

These commands only touch the store (no Temporal), so they exit normally. The modules they use
are imported inside each command, so that registering the sub-apps keeps `journeys --help`
fast.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from domain.tenants import DEFAULT_TENANT
from infra.migrations import init_db
from infra.settings import Settings
from journeys.command import TENANT_HELP, UserError, err, load_settings, out

keys_app = typer.Typer(
    help="API keys for the HTTP API (roles: agent, billing, read-only).", no_args_is_help=True
)
dead_letters_app = typer.Typer(
    help="What came in and could not be applied (refused events, unmatched webhooks).",
    no_args_is_help=True,
)


@dead_letters_app.callback()
def _dead_letters() -> None:
    """What came in and could not be applied (refused events, unmatched webhooks)."""
    # A callback keeps `list` a subcommand: Typer would otherwise collapse a one-command app.


class RoleName(StrEnum):
    agent = "agent"
    billing = "billing"
    read_only = "read-only"


def _settings() -> Settings:
    try:
        settings = load_settings()
    except UserError as e:
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(1) from None
    init_db(settings.store_url)
    return settings


def _tenant_settings(tenant: str) -> Settings:
    """The tenant's settings as every command resolves `--tenant` (journeys.command)."""
    from journeys.command import tenant_settings

    try:
        return tenant_settings(tenant, _settings())
    except UserError as e:
        err.print(f"error: {e}", markup=False)
        raise typer.Exit(1) from None


TenantOption = Annotated[str, typer.Option("--tenant", help=TENANT_HELP)]


def _scope(tenant: str | None) -> str:
    return f"tenant {tenant}" if tenant else "every tenant"


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else ""


@keys_app.command("create")
def create_key(
    role: Annotated[RoleName, typer.Option(help="What the key may do.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'Anna'.")],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="The one tenant the key is for; without it, every tenant."),
    ] = None,
) -> None:
    """Create a key and print it, once: only its hash is kept."""
    from starter import auth

    settings = _settings()
    try:
        row, key = auth.create_key(settings, name, role.value, tenant)
    except ValueError as e:
        problem = str(e)
        err.print(f"error: {'--tenant: ' if tenant else ''}{problem}", markup=False)
        raise typer.Exit(1) from None
    err.print(
        f"API key {row.id} ({row.prefix}...) for {row.name}, role {row.role}, "
        f"{_scope(row.tenant)}. "
        "It is shown only now; store it safely:",
        markup=False,
    )
    out.print(key, markup=False)


@keys_app.command("list")
def list_keys(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """The keys (prefix, name, role), never the keys themselves."""
    from starter import auth

    rows = auth.list_keys(_settings(), include_revoked=all_)
    if not rows:
        out.print("no API keys" + ("" if all_ else " (use --all to include revoked ones)"))
        return
    table = Table("id", "prefix", "name", "role", "tenant", "created (UTC)", "revoked (UTC)")
    for r in rows:
        table.add_row(
            str(r.id),
            r.prefix,
            r.name,
            r.role,
            r.tenant or "all",
            _when(r.created_at),
            _when(r.revoked_at),
        )
    out.print(table)


@keys_app.command("revoke")
def revoke_key(
    key: Annotated[str, typer.Argument(help="The key's id or its visible prefix.")],
) -> None:
    """Revoke a key: it stops working at once."""
    from starter import auth

    try:
        row = auth.revoke_key(_settings(), key)
    except auth.UnknownKey as e:
        err.print(f"error: {e.args[0]}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"revoked API key {row.id} ({row.prefix}...) for {row.name}", markup=False)


@dead_letters_app.command("list")
def list_dead_letters(
    source: Annotated[
        str | None, typer.Option(help="Only this source, e.g. stripe, twilio-sms.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    full: Annotated[bool, typer.Option("--full", help="Show whole payloads.")] = False,
    tenant: TenantOption = DEFAULT_TENANT,
) -> None:
    """Newest first, with the reason each one could not be applied."""
    from starter import deadletters

    rows = deadletters.list_dead_letters(_tenant_settings(tenant), source=source, limit=limit)
    if not rows:
        out.print("no dead letters" + (f" from {source}" if source else ""), markup=False)
        return
    for r in rows:
        payload = r.payload if full else (r.payload[:200] + ("..." if len(r.payload) > 200 else ""))
        out.print(f"#{r.id}  {_when(r.received_at)} UTC  {r.source}", markup=False)
        out.print(f"    reason:  {r.reason}", markup=False)
        out.print(f"    payload: {payload}", markup=False)
