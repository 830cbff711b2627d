"""Every route of the dashboard, in process: what it shows, what it refuses (404 for missing
items and for every path that leads outside the roots), and that it changes nothing."""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import sqlite3
from urllib.parse import urlsplit

import pytest
import web_fixtures
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_world import SECRET, World

from coincast.cli import serve as serve_cli
from coincast.cli.app import app as cli_app
from coincast.reporting.web import create_app
from coincast.reporting.web.app import plotly_js

world = web_fixtures.world  # the fixtures, by name
live_server = web_fixtures.live_server


@pytest.fixture(scope="module")
def client(world: World) -> TestClient:
    return TestClient(create_app(world.store, world.runs, world.backtests),
                      base_url="http://127.0.0.1")  # fmt: skip


def digest(world: World) -> str:
    return hashlib.sha256(world.store.read_bytes()).hexdigest()


def test_the_coins_page_lists_every_coin_and_its_series(client):
    r = client.get("/")
    assert r.status_code == 200
    assert re.findall(r'data-coin="([^"]+)"', r.text) == ["bitcoin", "ethereum"]
    assert r.text.count('class="series"') == 3
    assert "/series/bitcoin/1h?source=synthetic&amp;quote=usd" in r.text


def test_a_series_page_holds_the_chart_of_every_close(client):
    r = client.get("/series/bitcoin/1d", params={"source": "synthetic", "quote": "usd"})
    assert r.status_code == 200
    assert "300 bars" in r.text and "/vendor/plotly.min.js" in r.text
    figure = re.search(r'<script type="application/json" class="figure"[^>]*>(.*?)</script>',
                       r.text, re.S).group(1)  # fmt: skip
    import json

    trace = json.loads(figure)["data"][0]
    assert len(trace["y"]) == 300 and trace["mode"] == "lines+markers"


def test_a_gap_in_the_store_is_a_break_in_the_line():
    import pandas as pd

    from coincast.data.sources import synthetic_candles
    from coincast.reporting.web.charts import close_figure

    frame = synthetic_candles(10)
    frame = pd.concat([frame.iloc[:4], frame.iloc[6:]])
    frame.attrs = synthetic_candles(10).attrs
    y = close_figure(frame, "t")["data"][0]["y"]
    assert len(y) == 9 and y[4] is None


def test_the_runs_page_lists_runs_from_run_json(client):
    r = client.get("/runs")
    assert r.status_code == 200
    assert 'href="/runs/btc-1d"' in r.text and "bitcoin" in r.text


def test_a_run_page_draws_its_training_curve(client):
    r = client.get("/runs/btc-1d")
    assert r.status_code == 200
    assert "training-chart" in r.text and "validation loss" in r.text
    assert 'href="/runs/btc-1d/forecast"' in r.text


def test_a_run_forecasts_from_the_latest_stored_bars(client):
    r = client.get("/runs/btc-1d/forecast")
    assert r.status_code == 200
    assert "forecast-chart" in r.text and "No forecast" not in r.text


def test_an_invalid_run_is_listed_with_the_reason(world, client, tmp_path):
    bad = world.runs / "broken"
    bad.mkdir()
    (bad / "run.json").write_text("{not json")
    try:
        assert "cannot be read" in client.get("/runs").text
        assert client.get("/runs/broken").status_code == 404
    finally:
        shutil.rmtree(bad)


def test_the_backtests_page_links_each_report(client):
    r = client.get("/backtests")
    assert r.status_code == 200
    assert 'href="/backtests/bt1/report.html"' in r.text and "drift" in r.text


def test_a_backtest_page_shows_its_scores_files_and_pictures(client):
    r = client.get("/backtests/bt1")
    assert r.status_code == 200
    assert 'id="scores"' in r.text and 'src="/backtests/bt1/actual_step1.png"' in r.text
    assert "leak.png" not in r.text  # a symlink is no file of the folder


@pytest.mark.parametrize(("file", "kind"), [("report.html", "text/html"),
                                            ("actual_step1.png", "image/png"),
                                            ("table.csv", "text/csv")])  # fmt: skip
def test_a_backtest_folder_serves_its_report_and_pictures(client, world, file, kind):
    r = client.get(f"/backtests/bt1/{file}")
    assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    assert r.content == (world.backtests / "bt1" / file).read_bytes()
    assert "sandbox" in r.headers["content-security-policy"]


def test_the_track_record_says_when_there_is_no_ledger(world, tmp_path):
    store = tmp_path / "no-ledger.db"
    shutil.copy(world.store, store)
    with sqlite3.connect(store) as db:  # the world's store without its ledger
        db.executescript("DROP TABLE outcomes; DROP TABLE forecasts;")
    client = TestClient(create_app(store, world.runs, world.backtests), base_url="http://127.0.0.1")
    r = client.get("/track")
    assert r.status_code == 200
    assert "no live forecasts recorded yet: run coincast update" in r.text.lower()


def test_the_track_record_shows_the_ledger(world, tmp_path):
    from coincast.data.store import Store
    from coincast.data.store.ledger import Forecast, Ledger
    from coincast.series import ms_from_index

    store = tmp_path / "with-ledger.db"
    shutil.copy(world.store, store)
    with Store(store) as s:
        key = next(i.key for i in s.list_series() if i.key.coin == "bitcoin")
        frame = s.read_candles("bitcoin", key.interval, source=key.source, quote=key.quote)
        last = int(ms_from_index(frame.index)[-1])
        Ledger(s).append([Forecast(
            run="btc-run", weights_sha256="ab" * 32, source=key.source, coin="bitcoin",
            quote=key.quote, interval=key.interval, last_ts=last,
            last_close=float(frame["close"].iloc[-1]), target_ts=last + 86_400_000, step=1,
            yhat=42.5, lo=None, hi=None, issued_at="2026-12-01T00:00:00+00:00",
        )])  # fmt: skip
    client = TestClient(create_app(store, world.runs, world.backtests), base_url="http://127.0.0.1")
    r = client.get("/track")
    assert 'id="ledger"' in r.text and "<td>42.5</td>" in r.text and "<th>target_bar</th>" in r.text
    assert "<td>btc-run</td>" in r.text


def test_plotly_is_served_from_the_installed_package(client):
    r = client.get("/vendor/plotly.min.js")
    assert r.status_code == 200 and r.content == plotly_js().read_bytes()
    assert client.get("/static/charts.js").status_code == 200


def test_empty_roots_say_what_to_run(tmp_path):
    client = TestClient(create_app(tmp_path / "none.db", tmp_path / "r", tmp_path / "b"),
                        base_url="http://127.0.0.1")  # fmt: skip
    assert "coincast fetch bitcoin" in client.get("/").text
    assert "No runs yet" in client.get("/runs").text
    assert "No backtests yet" in client.get("/backtests").text
    assert not (tmp_path / "none.db").exists()


MISSING = [
    "/nothing", "/series/dogecoin/1d", "/series/bitcoin/1w", "/series/bitcoin/7x",
    "/series/BTC/1d", "/series/bitcoin/1d?source=nope", "/series/bitcoin/1d?quote=U$D",
    "/runs/nope", "/runs/nope/forecast", "/backtests/nope", "/backtests/bt1/nope.png",
    "/backtests/bt1/report.txt", "/backtests/bt1/.hidden.png",
]  # fmt: skip
TRAVERSAL = [
    "/runs/..%2f..%2foutside", "/runs/%2e%2e", "/runs/%2e%2e%2f%2e%2e%2fetc",
    "/backtests/%2e%2e%2foutside/report.html",
    "/backtests/bt1/%2e%2e%2f%2e%2e%2foutside%2fsecret.png",
    "/backtests/bt1/..%5c..%5coutside%5csecret.png", "/backtests/%2Fetc%2Fpasswd/report.html",
    "/backtests/bt1/%2Fetc%2Fpasswd", "/backtests/escape", "/backtests/escape/report.html",
    "/runs/escape", "/backtests/bt1/leak.png", "/series/..%2f..%2fetc/1d",
]  # fmt: skip


@pytest.mark.parametrize("url", MISSING + TRAVERSAL)
def test_missing_items_and_paths_outside_the_roots_are_404(client, url):
    r = client.get(url)
    assert r.status_code == 404, r.text[:200]
    assert SECRET not in r.text and "root:" not in r.text
    assert "Not found" in r.text


@pytest.mark.parametrize("path", ["/backtests/../outside/report.html",
                                  "/backtests/bt1/../../outside/secret.png",
                                  "/runs/../../../../etc/passwd", "//etc/passwd",
                                  "/sweeps/../outside/report.html",
                                  "/sweeps/tiny/../../outside/secret.png",
                                  "/runs/btc-1d/explain/../../../outside/secret.png",
                                  "/track/bitcoin/1d/../../../outside"])  # fmt: skip
def test_raw_dot_dot_paths_never_reach_a_file(live_server, path):
    # http.client sends the path as written (httpx and browsers would normalise the dots)
    url = urlsplit(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode(errors="replace")
    assert r.status == 404 and SECRET not in body and "root:" not in body


def test_only_loopback_host_names_are_answered(client):
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8765"}).status_code == 200


def test_pages_are_read_only_and_guarded(client, world):
    before = digest(world)
    for url in [
        "/",
        "/series/bitcoin/1h",
        "/runs",
        "/runs/btc-1d",
        "/runs/btc-1d/forecast",
        "/backtests",
        "/backtests/bt1",
        "/track",
    ]:
        r = client.get(url)
        assert r.status_code == 200, url
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
    assert client.post("/").status_code == 405
    assert client.delete("/runs/btc-1d").status_code == 405
    assert digest(world) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_names(host):
    assert serve_cli.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "example.com", "::"])
def test_other_names_are_not_loopback(host):
    assert not serve_cli.is_loopback(host)


def test_serve_refuses_a_remote_bind_without_allow_remote(monkeypatch):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: calls.append(k))
    r = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "--allow-remote" in r.output and calls == []


def test_serve_binds_loopback_by_default_and_warns_for_remote(monkeypatch, world):
    calls = []
    monkeypatch.setattr("uvicorn.run", lambda app, **k: calls.append(k))
    r = CliRunner().invoke(cli_app, ["--store", str(world.store), "serve"])
    assert r.exit_code == 0, r.output
    assert calls[-1] == {"host": "127.0.0.1", "port": 8765, "log_level": "warning"}
    assert "http://127.0.0.1:8765/" in r.output
    r = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "9000",
                                     "--allow-remote"])  # fmt: skip
    assert r.exit_code == 0 and "WARNING:" in r.output
    assert calls[-1]["host"] == "0.0.0.0" and calls[-1]["port"] == 9000


def test_the_coin_list_follows_writes_to_the_store(tmp_path):
    from coincast.data.sources import synthetic_candles
    from coincast.data.store import Store

    store = tmp_path / "s.db"
    with Store(store) as s:
        s.write_candles(synthetic_candles(20, coin="bitcoin"))
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    assert 'data-coin="solana"' not in client.get("/").text
    with Store(store) as s:
        s.write_candles(synthetic_candles(20, coin="solana"))
    assert 'data-coin="solana"' in client.get("/").text


def test_a_changed_run_is_loaded_and_checked_again(world, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(world.runs / "btc-1d", runs / "btc-1d")
    client = TestClient(create_app(world.store, runs, tmp_path), base_url="http://127.0.0.1")
    assert "No forecast" not in client.get("/runs/btc-1d/forecast").text
    with (runs / "btc-1d" / "model.safetensors").open("ab") as f:
        f.write(b"\0")
    r = client.get("/runs/btc-1d/forecast")
    assert r.status_code == 200 and "No forecast" in r.text and "model.safetensors" in r.text
