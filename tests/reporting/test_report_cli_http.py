"""`journeys report` and `GET /v1/reports/journeys` on a store holding the portfolio: every
figure against the hand-computed report, in the table, JSON and CSV forms and over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from typer.testing import CliRunner

from domain.report_formats import COLUMNS
from infra.settings import Settings
from journeys import cli
from journeys.report_cli import HEADERS
from starter import auth
from starter.api import create_app
from tests.reporting.portfolio import (
    CLOSED,
    EXPECTED_CSV,
    as_json_value,
    expected_rows,
)
from tests.reporting.seed import seed_outcomes, seed_ratings


@pytest.fixture
def store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The portfolio in the store, and the environment `journeys` reads pointing at it."""
    monkeypatch.setenv("DATABASE_URL", settings.store_url)
    for name in ("REPORT_COST_PER_EMAIL", "LEAKAGE_WINDOW_DAYS", "LEAKAGE_SILENCE_DAYS"):
        monkeypatch.delenv(name, raising=False)
    seed_outcomes(settings.store_url)
    seed_ratings(settings.store_url)
    yield settings


def assert_json_report(document: dict[str, object]) -> None:
    rows = document["rows"]
    assert isinstance(rows, list)
    expected = expected_rows()
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        for column in COLUMNS:
            assert got[column] == as_json_value(column, want[column]), (want, column)


def test_csv(runner: CliRunner, store: Settings) -> None:
    result = runner.invoke(cli.app, ["report", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED_CSV


def test_json(runner: CliRunner, store: Settings) -> None:
    result = runner.invoke(cli.app, ["report", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["journeys"] == 6
    assert_json_report(document)


def test_table(runner: CliRunner, store: Settings) -> None:
    result = runner.invoke(cli.app, ["report"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for header in ("share resolved", "median days to pay", "LTV lost", "cost / resolved"):
        assert any(header in line for line in lines), header
    body = [
        [c.strip() for c in line.strip("│┃ ").split("│")]
        for line in lines
        if line.count("│") >= len(HEADERS) - 1
    ]
    assert body == [[want[c] or "-" for c in COLUMNS] for want in expected_rows()]
    assert "6 finished journeys" in result.stdout


def test_filters_and_bad_input(runner: CliRunner, store: Settings) -> None:
    day = CLOSED.date().isoformat()
    result = runner.invoke(
        cli.app,
        [
            "report",
            "--format",
            "csv",
            "--segment",
            "loyal",
            "--policy",
            "loyal",
            "--period-from",
            day,
            "--period-to",
            day,
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        "all,all,3,2,0.6667,3.0,4.00,1,0,,0,0.0000,3,1.50,0.62,0.31"
    )
    bad = runner.invoke(
        cli.app, ["report", "--period-from", "2026-07-01", "--period-to", "2026-06-01"]
    )
    assert bad.exit_code == 1
    assert "--period-from 2026-07-01 is after --period-to 2026-06-01" in bad.stderr
    worse = runner.invoke(cli.app, ["report", "--period-from", "June"])
    assert worse.exit_code == 2
    assert "--period-from" in worse.stderr


@pytest.fixture
async def http(store: Settings) -> AsyncIterator[httpx.AsyncClient]:
    store.api_key = None
    transport = httpx.ASGITransport(app=create_app(store), client=("10.0.0.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_http_report_for_a_read_only_key(http: httpx.AsyncClient, store: Settings) -> None:
    _, reader = auth.create_key(store, "Dashboard", "read-only")
    assert (await http.get("/v1/reports/journeys")).status_code == 401
    answer = await http.get("/v1/reports/journeys", headers={"X-API-Key": reader})
    assert answer.status_code == 200, answer.text
    assert_json_report(answer.json())

    loyal = await http.get(
        "/v1/reports/journeys",
        params={"segment": "loyal", "period_to": CLOSED.date().isoformat()},
        headers={"X-API-Key": reader},
    )
    first = loyal.json()["rows"][0]
    assert (first["reached"], first["resolved"], first["cost_per_resolved"]) == (3, 2, "0.31")
    assert loyal.json()["filter"]["segment"] == "loyal"

    bad = await http.get(
        "/v1/reports/journeys",
        params={"period_from": "2026-07-01", "period_to": "2026-06-01"},
        headers={"X-API-Key": reader},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "period_from: 2026-07-01 is after period_to 2026-06-01"


def test_journeys_nobody_rated_have_no_ratings(settings: Settings) -> None:
    from domain.reporting import ReportFilter
    from infra.report_store import journey_report, load_outcome_facts

    seed_outcomes(settings.store_url)
    facts = load_outcome_facts(settings.store_url)
    assert len(facts) == 6 and all(f.rating is None for f in facts)
    report = journey_report(settings, ReportFilter())
    assert (report.rows[0].csat_mean, report.rows[0].csat_count) == (None, 0)
    # ratings from elsewhere (e.g. SMS replies) can be given as a mapping
    given = journey_report(settings, ReportFilter(), extra_ratings={"inv_A": 5, "inv_D": 2})
    assert (str(given.rows[0].csat_mean), given.rows[0].csat_count) == ("3.50", 2)


def test_each_journeys_rating_is_read_from_the_customer_pages_table(settings: Settings) -> None:
    from infra.report_store import load_outcome_facts

    seed_outcomes(settings.store_url)
    seed_ratings(settings.store_url)
    rated = {f.invoice_id: f.rating for f in load_outcome_facts(settings.store_url)}
    assert rated == {
        "inv_A": 5,
        "inv_B": 3,
        "inv_C": 1,
        "inv_D": None,
        "inv_E": 4,
        "inv_F": None,
    }
