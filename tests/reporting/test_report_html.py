"""`journeys report --html FILE`: one self-contained page with three inline SVG charts,
opened in headless Chromium (Debian's, as the customer page's browser tests use it), which
loads nothing but the file; a screenshot is saved in build/screenshots/."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.settings import REPO_ROOT, Settings
from journeys import cli
from tests.reporting.seed import seed_outcomes, seed_ratings

CHROMIUM = Path(os.environ.get("JOURNEYS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"


@pytest.fixture
def page_file(
    runner: CliRunner, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Path]:
    monkeypatch.setenv("DATABASE_URL", settings.store_url)
    seed_outcomes(settings.store_url)
    target = tmp_path / "report.html"
    seed_ratings(settings.store_url)
    result = runner.invoke(cli.app, ["report", "--format", "csv", "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert f"report with charts written to {target}" in result.stderr
    assert result.stdout.startswith("segment,step,")  # the chosen format still goes to stdout
    yield target


def test_the_page_is_self_contained_with_three_charts(page_file: Path) -> None:
    page = page_file.read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    assert not re.search(r"(?i)https?://|<script|<link|<img|@import|url\(", page)
    # the funnel: all segments, step 1 reached by 5 journeys, 2 resolved there
    assert "step 1: reached: 5</title>" in page and "step 1: resolved: 2</title>" in page
    assert ">4.50 (n=2)</text>" in page  # CSAT at step 1
    assert ">1 (25000.00 SEK)</text>" in page  # standard lost one customer
    assert "<td>0.6667</td>" in page and "<td>3.66</td>" in page
    assert "6 finished journeys" in page


def test_a_missing_folder_is_one_clear_line(
    runner: CliRunner, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.store_url)
    result = runner.invoke(cli.app, ["report", "--html", "/nonexistent/dir/r.html"])
    assert result.exit_code == 1
    assert "--html /nonexistent/dir/r.html: folder /nonexistent/dir does not exist" in (
        result.stderr
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
async def test_chromium_renders_it_from_the_file_alone(page_file: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(page_file.as_uri())
            assert await page.locator("svg").count() == 3
            # steps 0-4: 2 funnel bars and 1 CSAT bar each; 2 segments with a leakage bar
            assert await page.locator("svg rect").count() == 5 * 2 + 5 + 2
            assert "Resolution funnel per step" in await page.inner_text("body")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "journeys-report.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            await browser.close()
    assert requested == [page_file.as_uri()]
