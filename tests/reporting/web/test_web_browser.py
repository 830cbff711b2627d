"""The dashboard in a real browser: the system's headless Chromium, driven by Playwright,
against the real server (uvicorn on a free port). It checks what a person sees: the coins,
charts drawn with their points, the training curve, the report behind its link, and that no
request leaves this machine. Screenshots go to the test's tmp_path (and, with
``COINCAST_SCREENSHOT=path``, the series page to that path, for the README)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import web_fixtures
from web_world import RECORDS, SWEEP, SWEEP_TRIALS

world = web_fixtures.world  # the fixtures, by name
live_server = web_fixtures.live_server

CHROMIUM = Path("/usr/lib/chromium/chromium-headless-shell")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no headless Chromium at {CHROMIUM}: apt-get install chromium-headless-shell "
    "(.ci/run does)",
)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A page that may reach the dashboard only: any other request fails and is recorded,
    as are script errors (a CSP violation, a plotly error)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.outside, page.errors = [], []

    def only_local(route):
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    yield page
    assert page.outside == [], "the page asked for something outside this machine"
    assert page.errors == []
    context.close()


def drawn_points(page, chart: str) -> int:
    """Points plotly drew in the chart: markers, or vertices of the line's SVG path."""
    page.wait_for_selector(f"#{chart} .scatterlayer .trace path", state="attached")
    return page.evaluate(
        """(id) => {
        const div = document.getElementById(id);
        const markers = div.querySelectorAll('.scatterlayer .points path').length;
        const line = div.querySelector('.scatterlayer .js-line');
        const vertices = line ? (line.getAttribute('d').match(/[ML]/g) || []).length : 0;
        return Math.max(markers, vertices);
    }""",
        chart,
    )


def test_the_coins_page_and_a_series_chart(page, live_server, tmp_path):
    page.goto(live_server + "/")
    coins = page.locator("#coins tr.coin td.name").all_inner_texts()
    assert coins == ["bitcoin", "ethereum"]
    page.screenshot(path=tmp_path / "coins.png", full_page=True)
    page.locator("tr[data-coin=bitcoin] a.series", has_text="1d").click()
    page.wait_for_url("**/series/bitcoin/1d**")
    assert drawn_points(page, "close-chart") >= 300
    assert "300 bars" in page.inner_text("main")
    page.screenshot(path=tmp_path / "series.png", full_page=True)
    if os.environ.get("COINCAST_SCREENSHOT"):
        page.screenshot(path=os.environ["COINCAST_SCREENSHOT"])


def test_a_run_shows_its_training_curve_and_forecast(page, live_server, tmp_path):
    page.goto(live_server + "/runs")
    page.click("#runs a:text('btc-1d')")
    page.wait_for_url("**/runs/btc-1d")
    page.wait_for_selector("#training-chart .scatterlayer .trace", state="attached")
    traces = page.locator("#training-chart .scatterlayer .trace").count()
    assert traces == 2  # training and validation loss
    assert page.locator("#training-chart .scatterlayer .points path").count() >= 2
    page.screenshot(path=tmp_path / "run.png", full_page=True)
    page.click("#forecast-link")
    page.wait_for_url("**/runs/btc-1d/forecast")
    assert drawn_points(page, "forecast-chart") > 0
    page.screenshot(path=tmp_path / "forecast.png", full_page=True)


def test_the_report_link_opens_the_report(page, live_server, tmp_path):
    page.goto(live_server + "/backtests")
    assert page.locator("#backtests tr.backtest").count() == 1
    page.click("#backtests a:text('bt1')")
    page.wait_for_url("**/backtests/bt1")
    assert page.locator("figure img").count() >= 2
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.click("#report-link")
    page.wait_for_url("**/backtests/bt1/report.html")
    assert "drift" in page.inner_text("body")
    assert page.locator("img").count() > 0
    page.screenshot(path=tmp_path / "report.png")


def trace_points(page, chart: str) -> dict[str, int]:
    """Points per trace of the plotly figure drawn in ``chart`` (its graph div's data)."""
    page.wait_for_selector(f"#{chart} .scatterlayer .trace", state="attached")
    return page.evaluate(
        "(id) => Object.fromEntries("
        "document.getElementById(id).data.map(t => [t.name, t.x.length]))",
        chart,
    )


def test_the_track_record_and_a_record_chart(page, live_server, tmp_path):
    page.goto(live_server + "/track")
    rows = page.locator("#records tr.record")
    assert rows.count() == len(RECORDS)
    for i, ((coin, interval, run), (scored, pending)) in enumerate(RECORDS.items()):
        row = rows.nth(i)
        assert row.locator("td").nth(0).inner_text() == coin
        assert row.locator("td").nth(1).inner_text() == interval
        assert row.locator("td").nth(2).inner_text() == run
        assert row.locator("td.scored").inner_text() == str(scored)
        assert row.locator("td.pending").inner_text() == str(pending)
    page.screenshot(path=tmp_path / "track.png", full_page=True)
    page.click("#records a.record-link:text('btc-1d')")
    page.wait_for_url("**/track/bitcoin/1d/btc-1d")
    points = trace_points(page, "record-chart")
    assert points["actual close"] == 10
    assert points["forecast, 1 ahead"] == 10 and points["pending, 1 ahead"] == 1
    assert points["forecast, 2 ahead"] == 9 and points["pending, 2 ahead"] == 2
    assert drawn_points(page, "record-chart") >= 10 + 10 + 1  # the shown traces' markers
    assert page.locator("#record-chart .legend .traces").count() == len(points)
    page.screenshot(path=tmp_path / "record.png", full_page=True)


def test_the_sweeps_and_a_leaderboard(page, live_server, tmp_path):
    page.goto(live_server + "/sweeps")
    row = page.locator("#sweeps tr.sweep")
    assert row.count() == 1
    assert row.locator("td.trials").inner_text() == str(SWEEP_TRIALS)
    assert "better than naive" in row.locator("td.verdict").inner_text()
    page.screenshot(path=tmp_path / "sweeps.png", full_page=True)
    page.click(f"#sweeps a:text('{SWEEP}')")
    page.wait_for_url(f"**/sweeps/{SWEEP}")
    verdict = page.locator("#verdict li").all_inner_texts()
    assert verdict and verdict[0].startswith(f"the best of {SWEEP_TRIALS} configurations is")
    assert page.locator("#trials tr.trial").count() == SWEEP_TRIALS
    assert f"{SWEEP_TRIALS} trials" in page.inner_text("main")
    page.screenshot(path=tmp_path / "sweep.png", full_page=True)
    page.click("#report-link")
    page.wait_for_url(f"**/sweeps/{SWEEP}/report.html")
    assert f"coincast sweep: {SWEEP}" in page.title()
    assert page.locator("img").count() >= 1  # its pictures, inline


def test_the_explain_link_opens_the_explanation(page, live_server, tmp_path):
    page.goto(live_server + "/runs/btc-1d")
    page.click("#explain-link")
    page.wait_for_url("**/runs/btc-1d/explain/explain.html")
    assert page.locator("img").count() >= 3  # the layer, saliency and gradient pictures
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=tmp_path / "explain.png", full_page=True)


def test_a_missing_page_says_so(page, live_server):
    response = page.goto(live_server + "/runs/nope")
    assert response.status == 404 and "Not found" in page.inner_text("main")
    page.errors.clear()  # the browser logs the 404 itself
