"""`journeys db`: the schema of every store, the control store's and each tenant's (Alembic,
through infra/migrations.py).

`upgrade` and `downgrade` act on every store unless told otherwise, because a release (and
its rollback) is one schema for all tenants; `current` shows every store and fails the
deploy's check if any is behind. Mounted as `journeys db` and in `python -m journeys.ops_cli
db`; like ops_cli it needs nothing from journeys/cli.py, which is why ops_cli takes its
`settings_or_exit` and `one_line` from here.

Exit statuses: 0 fine, 1 a store is behind the newest revision (`current`), 2 the command
could not run (bad configuration, a store unreachable or not found, an unknown revision).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from infra.settings import Settings
from infra.tenants import TenantProfile, tenant_store

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def settings_or_exit() -> Settings:
    """The settings from the environment, or the bad ones named on stderr and exit status 2."""
    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in x['loc']).upper()}: {x['msg']}" for x in e.errors()
        )
        err.print(f"error: bad configuration: {problems}", markup=False)
        raise typer.Exit(2) from None


def one_line(e: BaseException) -> str:
    """An error as one line: a store error by its driver's own message, without the SQL."""
    cause = getattr(e, "orig", None) or e
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]


def _safe(url: str) -> str:
    """A store's URL as the commands print it: its credentials masked."""
    from infra.logging import mask_url_secrets

    return mask_url_secrets(url)


db_app = typer.Typer(
    help="The schema of the store and every tenant's: Alembic migrations (DATABASE_URL).",
    no_args_is_help=True,
)


def _db(action: str, fn: Any, *args: Any) -> Any:
    from alembic.util import CommandError

    from infra.migrations import MigrationError
    from infra.tenants import TenantConfigError

    try:
        return fn(*args)
    except (MigrationError, TenantConfigError) as e:
        err.print(f"error: {e}", markup=False)
    except CommandError as e:  # Alembic's: an unknown revision, a downgrade target above
        err.print(f"error: {action} failed: {one_line(e)}", markup=False)
    except SQLAlchemyError as e:
        err.print(f"error: {action} failed: {one_line(e)}", markup=False)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Option("--revision", help="Target revision; default the newest.")
    ] = "head",
) -> None:
    """Migrate the store, then every tenant's store, to the newest schema (or --revision).
    Safe to run again."""
    from infra import migrations

    settings = settings_or_exit()
    _upgrade_one("", settings.store_url, migrations.upgrade, settings.store_url, revision)
    for tenant in _db("reading the tenants", _registered_tenants, settings):
        url = _db("finding its store", tenant_store, settings, tenant)
        label = f"tenant {tenant.id}: "
        _upgrade_one(label, url, migrations.upgrade_tenant, settings, tenant, revision)


def _upgrade_one(label: str, url: str, upgrade: Any, *args: Any) -> None:
    from infra import migrations

    before = _db("reading the schema", migrations.current, url)
    _db("upgrade", upgrade, *args)
    after = _db("reading the schema", migrations.current, url)
    state = "already at" if before == after else f"upgraded {before or 'empty'} ->"
    out.print(f"{label}{_safe(url)}: {state} {after}", markup=False)


def _registered_tenants(settings: Settings) -> list[TenantProfile]:
    """The tenants the control store registers; none while it is older than the registry."""
    from sqlalchemy import inspect

    from infra.store import get_engine
    from infra.tenants import read_profiles

    if not inspect(get_engine(settings.store_url)).has_table("tenants"):
        return []
    return read_profiles(settings.store_url)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to go back to; 'base' drops every table.")
    ],
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            help="Only this tenant's store ('default': the control store only); "
            "default: every store.",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Undo migrations down to REVISION: every tenant's store, then the control store (a
    release's rollback is for all), or with --tenant one store. Stops at the first failure.
    Columns and tables the migrations added are dropped, with their data."""
    from infra import migrations

    settings = settings_or_exit()
    stores = _stores_to_downgrade(settings, tenant)
    if not yes:
        names = ", ".join(f"{label or 'control store '}{_safe(url)}" for label, url in stores)
        typer.confirm(
            f"Downgrade {names} to {revision}? Data in dropped tables and columns is lost",
            abort=True,
        )
    for label, url in stores:
        _db(f"{label}downgrade of {_safe(url)}", migrations.downgrade, url, revision)
        now = _db(f"{label}reading the schema", migrations.current, url)
        out.print(f"{label}{_safe(url)}: now at {now or 'base (no tables)'}", markup=False)


def _stores_to_downgrade(settings: Settings, tenant: str | None) -> list[tuple[str, str]]:
    """(Label, URL) of the stores a downgrade touches, in order. Every URL is found before any
    store is touched, so that a tenant whose store cannot be found stops nothing halfway. The
    control store goes last because it holds the registry: until it is rolled back it still
    lists every tenant, so a run stopped by a failure can simply be run again (a store
    already at the target is left as it is)."""
    from domain.tenants import DEFAULT_TENANT
    from infra.tenants import UnknownTenant, read_profile

    if tenant == DEFAULT_TENANT:
        return [("", settings.store_url)]
    if tenant is not None:
        profile = _db("reading the tenants", read_profile, settings.store_url, tenant)
        if profile is None:
            err.print(f"error: {UnknownTenant(tenant)}", markup=False)
            raise typer.Exit(2)
        return [(f"tenant {tenant}: ", _db("finding its store", tenant_store, settings, profile))]
    tenants = [
        (f"tenant {t.id}: ", _db("finding its store", tenant_store, settings, t))
        for t in _db("reading the tenants", _registered_tenants, settings)
    ]
    return [*tenants, ("", settings.store_url)]


@db_app.command("current")
def db_current() -> None:
    """Each store's schema revision and whether it is the newest: the control store's, then
    every tenant's, one line each. Exit status 1 if any is behind (a deploy's check), 2 if
    one cannot be read (the others are still shown)."""
    from infra import migrations

    settings = settings_or_exit()
    newest = _db("reading the migrations", migrations.head)
    behind = not _show_current("", settings.store_url, newest)
    status = 1 if behind else 0
    for tenant in _db("reading the tenants", _registered_tenants, settings):
        label = f"tenant {tenant.id}: "
        try:
            url = _db(f"{label}finding its store", tenant_store, settings, tenant)
            if not _show_current(label, url, newest):
                status = max(status, 1)
        except typer.Exit:
            status = 2
    if status:
        raise typer.Exit(status)


def _show_current(label: str, url: str, newest: str) -> bool:
    """Print the store's line; whether it is at the newest revision."""
    from infra import migrations

    now: str | None = _db(f"{label}reading the schema", migrations.current, url)
    if now is None:
        out.print(f"{label}{_safe(url)}: not migrated (newest is {newest})", markup=False)
        return False
    state = "up to date" if now == newest else f"behind, newest is {newest}"
    out.print(f"{label}{_safe(url)}: {now} ({state})", markup=False)
    return now == newest
