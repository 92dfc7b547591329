"""Fixtures for the production checks: a throwaway PostgreSQL database for migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.conftest import POSTGRES_URL

MIGRATIONS_DB = "journeys_migrations_test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database of its own on the test server (not the shared `test` one).

    Skipped when no PostgreSQL answers, unless the suite runs with JOURNEYS_TEST_DB=postgres,
    where a missing server is a failure.
    """
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {MIGRATIONS_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {MIGRATIONS_DB}"))
    except OperationalError as e:
        admin.dispose()
        if os.environ.get("JOURNEYS_TEST_DB") == "postgres":
            raise
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {e.orig}")
    url = make_url(POSTGRES_URL).set(database=MIGRATIONS_DB)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {MIGRATIONS_DB} WITH (FORCE)"))
        admin.dispose()
