"""Alembic environment for the store (infra/store.py).

The URL comes from, in order: a connection handed over in `config.attributes["connection"]`,
`sqlalchemy.url` set on the config (what `infra.migrations` does), or the product's own
settings (`Settings().store_url`: DATABASE_URL, else the SQLite file in DATA_DIR), so that the
`alembic` command and `journeys db upgrade` always agree on which database they change.

SQLite cannot ALTER most things in place, so migrations run in batch mode there
(`render_as_batch`): Alembic copies the table, changes the copy and swaps it in.
"""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text
from sqlmodel import SQLModel

import infra.journey_configs  # noqa: F401  (and the versioned journey configurations)
import infra.store  # noqa: F401  (registers every table on SQLModel.metadata)
import infra.store_page  # noqa: F401  (and the customer-page tables)
import infra.tenants  # noqa: F401  (and the tenant registry)
from infra.settings import Settings

config = context.config
target_metadata = SQLModel.metadata

if config.config_file_name is not None:  # the `alembic` command with alembic.ini
    fileConfig(config.config_file_name, disable_existing_loggers=False)

MIGRATION_LOCK = 0x6A6F75726E657973  # "journeys": one advisory lock id for every process


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings().store_url


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Let `alembic revision --autogenerate` write plain SQLAlchemy types in its draft.

    sqlmodel maps `str` to AutoString and `datetime` to UTCDateTime; the revision files stay
    independent of sqlmodel's internals with the types those wrap.
    """
    if kind == "type":
        from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

        if isinstance(obj, AutoString):
            return "sa.String()"
        if isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes may start `journeys db upgrade` at once (a rolling deploy):
            # the first takes the lock and migrates; the others wait, then find the schema
            # current. The lock ends with the transaction (PostgreSQL DDL is transactional).
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = _url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: a migration run holds no connections afterwards (a later DROP DATABASE or a
    # SQLite file swap is never blocked by this process).
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
