"""Schema migrations of the store, with Alembic: `journeys db upgrade` and friends in code.

The scripts live in `migrations/` at the repository root (env.py and versions/). They are
found relative to this package, so these functions work from any working directory; an
installed copy without the source tree looks in `<prefix>/share/reminder-journeys/migrations`,
where the Dockerfile puts them.

Every change to the tables in infra/store.py needs a new revision in migrations/versions/
(tests/production/test_migrations.py fails while models and migrations differ). How to write
one is in docs/evolving-journeys.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine, inspect, pool
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import infra.journey_configs  # noqa: F401  (and the versioned journey configurations)
import infra.store  # noqa: F401  (registers the tables on SQLModel.metadata)
import infra.store_page  # noqa: F401  (and the customer-page tables)
import infra.tenants  # noqa: F401  (and the tenant registry)
from domain.tenants import DEFAULT_TENANT
from infra.settings import Settings
from infra.store import get_engine
from infra.tenants import (
    TenantConfigError,
    TenantProfile,
    UnknownTenant,
    prepare_tenant_store,
    read_profile,
    read_profiles,
    tenant_store,
    tenant_store_url,
)

BASELINE = "0001"
"""The first revision: the schema as `init_db` (create_all) made it before migrations existed."""

BASELINE_TABLES = frozenset(
    {"customers", "invoices", "journey_events", "contact_attempts", "outbox", "handovers"}
)

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "migrations",
    Path(sys.prefix) / "share" / "reminder-journeys" / "migrations",
)


class MigrationError(RuntimeError):
    """The database cannot be migrated as asked; the message says why and what to do."""


def migrations_dir() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "env.py").is_file():
            return candidate
    searched = ", ".join(str(c) for c in _CANDIDATES)
    raise MigrationError(f"the migration scripts are missing (looked in {searched})")


def alembic_config(url: str) -> Config:
    """An Alembic config for `url`, without alembic.ini: nothing depends on the cwd."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # `%` is ConfigParser's interpolation character; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision in migrations/versions/."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    if len(heads) != 1:
        raise MigrationError(f"migrations have {len(heads)} heads ({', '.join(heads)}): merge them")
    return heads[0]


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _state(url: str) -> tuple[str | None, set[str]]:
    with _connect(url) as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    return revision, tables


def current(url: str) -> str | None:
    """The database's revision, or None if it was never migrated (or is empty)."""
    return _state(url)[0]


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest). Safe to run again.

    A store created before migrations existed (tables made by `create_all`, no
    alembic_version) is adopted with its data: stamped as the newest revision if it matches
    the models, else as the baseline and then upgraded.
    """
    revision_now, tables = _state(url)
    config = alembic_config(url)
    if revision_now is None and tables & BASELINE_TABLES:
        revision_now = _adopt(url, config, tables)
    if revision == "head" and revision_now == head():
        return
    command.upgrade(config, revision)


def _adopt(url: str, config: Config, tables: set[str]) -> str:
    """Stamp a store that `create_all` made: as head if it already matches the models (it was
    made by this release), else as the baseline, so that upgrade adds what came after."""
    missing = BASELINE_TABLES - tables
    if missing:
        raise MigrationError(
            "the database has some of the store's tables but no migration record, and "
            f"lacks {', '.join(sorted(missing))}: it was not made by this product"
        )

    known = set(SQLModel.metadata.tables)
    drift = [d for d in differences(url) if _table_of(d) in known]
    adopted = head() if not drift else BASELINE
    command.stamp(config, adopted)
    return adopted


def _table_of(diff: Any) -> str | None:
    """The table an autogenerate diff is about (tables the models don't know are left alone)."""
    if isinstance(diff, list):  # modify_* diffs come as a list of tuples about one column
        return _table_of(diff[0]) if diff else None
    kind, *rest = diff
    if kind in ("add_table", "remove_table"):
        return str(rest[0].name)
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        return str(rest[0].table.name)
    if kind in ("add_fk", "remove_fk"):
        return str(rest[0].parent.name)
    if kind in ("add_column", "remove_column") or kind.startswith("modify_"):
        return str(rest[1])
    return None


def downgrade(url: str, revision: str) -> None:
    """Undo migrations down to `revision` ("base" removes every table: all data is lost)."""
    command.downgrade(alembic_config(url), revision)


def differences(url: str, metadata: MetaData | None = None) -> list[Any]:
    """How the database differs from the models in infra/store.py (empty: no drift).

    Alembic's autogenerate comparison, as a list of its diff tuples; meant for a database
    upgraded to head, where any entry means a model changed without a migration.
    """
    if metadata is None:
        metadata = SQLModel.metadata
    with _connect(url) as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def init_db(url: str) -> Engine:
    """Bring the store's schema to the newest migration (the embedded default and tests)."""
    upgrade(url)  # creates the SQLite folder; adopts stores made by create_all
    return get_engine(url)


def upgrade_tenant(base: Settings, tenant: str | TenantProfile, revision: str = "head") -> str:
    """Bring one tenant's store to `revision` (made first if it is new); its URL. A profile
    may be one not registered yet: `journeys tenants add` makes the store before the row, so
    a tenant is never registered without one."""
    if isinstance(tenant, str):
        if tenant == DEFAULT_TENANT:
            upgrade(base.store_url, revision)
            return base.store_url
        found = read_profile(base.store_url, tenant)
        if found is None:
            raise UnknownTenant(tenant)
        tenant = found
    url = tenant_store(base, tenant)
    if url == tenant_store_url(base.store_url, tenant.id):
        prepare_tenant_store(url, tenant.id)  # its schema beside the control store's
    upgrade(url, revision)
    return url


def upgrade_all(
    base: Settings, skip: Callable[[str, TenantConfigError | UnknownTenant], None] | None = None
) -> dict[str, str]:
    """The control store, then every registered tenant's: tenant id to its store's URL.
    With `skip`, a tenant whose store cannot be found here (its DATABASE_URL's variable
    unset) is handed to it and left out instead of stopping the rest."""
    ready = {DEFAULT_TENANT: upgrade_tenant(base, DEFAULT_TENANT)}
    for profile in read_profiles(base.store_url):  # one query, not one per tenant
        try:
            ready[profile.id] = upgrade_tenant(base, profile)
        except (TenantConfigError, UnknownTenant) as err:
            if skip is None:
                raise
            skip(profile.id, err)
    return ready
