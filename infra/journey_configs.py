"""The versioned configuration store: each journey configuration once, keyed by its digest.

A row is written by the starter before the first journey that references it starts
(`store_config`, idempotent) and never changed or deleted: a running journey, a journey that
continues as new and a reopened one read their configuration by the digest they started
with. An edited policy file is a new digest and a new row; the old one stays for the
journeys that run it. Registered on SQLModel.metadata (infra/migrations.py and
migrations/env.py import this module); created by migration 0005.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Column, Text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from infra.store import session_scope, utcnow


class JourneyConfigRow(SQLModel, table=True):
    """One journey configuration (policy, holidays, opening hours, reference rates) as the
    canonical JSON its digest was computed from."""

    __tablename__ = "journey_configs"

    digest: str = Field(primary_key=True)
    """SHA-256 of `body`."""
    name: str = Field(index=True)
    """The policy's name, for people looking for a segment's versions."""
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ConfigDigestMismatch(ValueError):
    """A body whose SHA-256 is not the digest it is stored or asked under."""


def _check(digest: str, body: str) -> None:
    actual = hashlib.sha256(body.encode()).hexdigest()
    if actual != digest:
        raise ConfigDigestMismatch(f"configuration {digest[:12]} has content {actual[:12]}")


def store_config(url: str, digest: str, name: str, body: str) -> bool:
    """Store a configuration under its digest; False when it was there already. Safe to call
    from several processes at once: the same digest is the same content."""
    _check(digest, body)
    with session_scope(url) as session:
        if session.get(JourneyConfigRow, digest) is not None:
            return False
    try:
        with session_scope(url) as session:
            session.add(JourneyConfigRow(digest=digest, name=name, body=body))
    except IntegrityError:  # another starter stored it between the look and the write
        return False
    return True


def config_body(url: str, digest: str) -> str | None:
    """The canonical JSON stored under `digest`, checked against it; None if unknown."""
    with session_scope(url) as session:
        row = session.get(JourneyConfigRow, digest)
        body = None if row is None else row.body
    if body is not None:
        _check(digest, body)
    return body
