"""`journeys links show|revoke`: customer service sends a link again, or withdraws it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.migrations import init_db
from infra.store import session_scope
from journeys.links_cli import links_app
from tests.factories import invoice_row

runner = CliRunner()


def test_show_then_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'journeys.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pay.example.com")
    init_db(url)
    with session_scope(url) as s:
        s.add(invoice_row("inv_9", date(2026, 11, 1), customer_id="cus_9"))
    shown = runner.invoke(links_app, ["show", "inv_9"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("https://pay.example.com/pay/")
    assert shown.output.strip().endswith("(active)") and "inv_9" not in shown.output
    revoked = runner.invoke(links_app, ["revoke", "inv_9"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert runner.invoke(links_app, ["show", "inv_9"]).output.strip().endswith("(revoked)")
    missing = runner.invoke(links_app, ["revoke", "inv_nope"])
    assert missing.exit_code == 1 and "no invoice 'inv_nope'" in missing.output
