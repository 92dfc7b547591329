"""The store's Alembic migrations: up, down and up again, on SQLite and PostgreSQL, and no drift.

The drift check is the one that guards later work: a table or column added to
infra/store.py without a migration makes `differences` non-empty, and this file fails
until a revision in migrations/versions/ creates it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import MetaData, create_engine, inspect
from sqlmodel import SQLModel

from infra import migrations
from infra.migrations import BASELINE, BASELINE_TABLES, MigrationError, init_db

STORE_TABLES = {table.name for table in SQLModel.metadata.sorted_tables}


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def round_trip(url: str) -> None:
    assert migrations.current(url) is None
    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()
    assert tables(url) >= STORE_TABLES

    migrations.upgrade(url)  # again: nothing to do, nothing breaks
    assert migrations.current(url) == migrations.head()

    migrations.downgrade(url, "base")
    assert migrations.current(url) is None
    assert tables(url) & STORE_TABLES == set()

    migrations.upgrade(url)
    assert migrations.current(url) == migrations.head()
    assert migrations.differences(url) == []


def drift_message(diffs: list[object]) -> str:
    lines = "\n".join(f"  {d}" for d in diffs)
    return (
        "infra/store.py and migrations/versions/ disagree; add a revision "
        f"(docs/evolving-journeys.md) for:\n{lines}"
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A folder that does not exist yet: upgrade creates it, as init_db does.
    return f"sqlite:///{tmp_path / 'store' / 'journeys.db'}"


def test_round_trip_on_sqlite(sqlite_url: str) -> None:
    round_trip(sqlite_url)


def test_round_trip_on_postgres(postgres_url: str) -> None:
    round_trip(postgres_url)


def test_models_match_migrations_on_sqlite(sqlite_url: str) -> None:
    migrations.upgrade(sqlite_url)
    diffs = migrations.differences(sqlite_url)
    assert diffs == [], drift_message(diffs)


def test_models_match_migrations_on_postgres(postgres_url: str) -> None:
    migrations.upgrade(postgres_url)
    diffs = migrations.differences(postgres_url)
    assert diffs == [], drift_message(diffs)


def test_drift_check_sees_a_model_change_without_migration(sqlite_url: str) -> None:
    """The guard itself works: a column added to a model, with no revision, is reported."""
    migrations.upgrade(sqlite_url)
    changed = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["invoices"].append_column(sa.Column("dunning_stop", sa.Boolean()))

    diffs = migrations.differences(sqlite_url, changed)

    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "invoices", "dunning_stop")]


def test_a_store_made_by_create_all_is_adopted_with_its_data(sqlite_url: str) -> None:
    """Stores made by create_all (the first releases' `init_db`) are adopted, data kept."""
    Path(sqlite_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(sqlite_url)
    try:
        SQLModel.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO customers (id, name, locale, timezone, consent_email, "
                    "consent_sms, consent_call, fee_agreed, is_business, vulnerable, updated_at)"
                    " VALUES ('cus_1', 'Berit', 'sv', 'Europe/Stockholm', 1, 0, 0, 0, 0, 0,"
                    " '2026-01-01 00:00:00')"
                )
            )
    finally:
        engine.dispose()
    assert migrations.current(sqlite_url) is None

    migrations.upgrade(sqlite_url)

    assert migrations.current(sqlite_url) == migrations.head()
    assert migrations.differences(sqlite_url) == []
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM customers")).scalar_one() == "Berit"
    finally:
        engine.dispose()


def test_an_older_create_all_store_is_stamped_baseline_and_upgraded(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    Path(sqlite_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        baseline = [t for t in SQLModel.metadata.sorted_tables if t.name in BASELINE_TABLES]
        SQLModel.metadata.create_all(engine, tables=baseline)
    finally:
        engine.dispose()

    migrations.upgrade(sqlite_url)

    assert migrations.current(sqlite_url) == migrations.head()
    assert tables(sqlite_url) >= STORE_TABLES
    assert migrations.differences(sqlite_url) == []


def test_a_foreign_half_schema_is_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url.replace("journeys.db", "other.db"))
    url = str(engine.url)
    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE invoices (id VARCHAR PRIMARY KEY)"))
    finally:
        engine.dispose()
    with pytest.raises(MigrationError, match="lacks"):
        migrations.upgrade(url)


def test_the_baseline_tables_are_store_tables() -> None:
    assert BASELINE_TABLES <= STORE_TABLES


def test_works_from_any_working_directory(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    migrations.upgrade(sqlite_url, BASELINE)
    assert migrations.current(sqlite_url) == BASELINE
    assert migrations.migrations_dir().is_absolute()


def test_tables_the_models_do_not_know_do_not_stop_adoption(sqlite_url: str) -> None:
    init_db(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE leftover (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("CREATE INDEX ix_leftover_id ON leftover (id)"))
    finally:
        engine.dispose()

    migrations.upgrade(sqlite_url)

    assert migrations.current(sqlite_url) == migrations.head()
    assert "leftover" in tables(sqlite_url)
