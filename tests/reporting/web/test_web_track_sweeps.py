"""The track record, the sweeps and the runs' explanations, in process: what each page shows (the
figures of ``coincast track`` and ``coincast sweep show``, never computed again), what it
refuses (404 for every name that leads outside its folder) and that hostile text is
escaped."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import web_fixtures
from fastapi.testclient import TestClient
from web_world import RECORDS, SECRET, SWEEP, SWEEP_TRIALS, World

from coincast.data.sources import synthetic_candles
from coincast.data.store import Store
from coincast.data.store.ledger import Forecast, Ledger
from coincast.evaluation.live import track
from coincast.evaluation.sweep import Place, lines, load_leaderboard
from coincast.evaluation.verdicts import fmt_ratio
from coincast.reporting.web import create_app

world = web_fixtures.world  # the fixtures, by name


@pytest.fixture(scope="module")
def client(world: World) -> TestClient:
    return TestClient(create_app(world.store, world.runs, world.backtests),
                      base_url="http://127.0.0.1")  # fmt: skip


def figure_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" class="figure"[^>]*>(.*?)</script>',
                      html, re.S)  # fmt: skip
    return json.loads(found.group(1))


def cells(html: str, row_class: str) -> list[list[str]]:
    rows = re.findall(rf'<tr class="{row_class}"[^>]*>(.*?)</tr>', html, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


# -- the track record -------------------------------------------------------------------------


def test_the_track_page_shows_the_figures_of_coincast_track(client, world):
    r = client.get("/track")
    assert r.status_code == 200
    shown = cells(r.text, "record")
    assert [(c[0], c[1], c[2], int(c[3]), int(c[4])) for c in shown] == [
        (*key, *counts) for key, counts in RECORDS.items()
    ]
    with Store(world.store, readonly=True) as s:
        rows = track(s)
    for row, c in zip(rows, shown, strict=True):  # formatted as cli/live.py does
        assert c[5] == f"{row.mae:,.4g}" and c[7] == f"{row.rel_mae:,.4g}"
        assert c[9] == f"{row.dm_p:,.4g}" and c[10] == f"{row.directional:.0%}"
    assert shown[0][8] == f"{rows[0].coverage:.0%}" and shown[1][8] == "-"  # no bands: no coverage
    assert 'href="/track/bitcoin/1d/btc-1d"' in r.text and 'id="ledger"' in r.text


def test_a_record_page_charts_forecast_against_actual(client):
    r = client.get("/track/bitcoin/1d/btc-1d")
    assert r.status_code == 200
    assert re.search(r'<span class="scored">19</span>.*<span class="pending">3</span>', r.text)
    traces = {t["name"]: t for t in figure_of(r.text)["data"]}
    assert len(traces["actual close"]["x"]) == 10  # the scored target bars
    assert len(traces["forecast, 1 ahead"]["y"]) == 10 and len(traces["pending, 1 ahead"]["y"]) == 1
    assert len(traces["forecast, 2 ahead"]["y"]) == 9 and len(traces["pending, 2 ahead"]["y"]) == 2
    assert traces["forecast, 2 ahead"]["visible"] == "legendonly"
    band = traces["band, 1 ahead"]
    assert len(band["x"]) == 2 * 11 and band["fill"] == "toself"
    assert max(traces["pending, 1 ahead"]["x"]) > max(traces["actual close"]["x"])
    assert len(cells(r.text, "scored")) == 19 and len(cells(r.text, "pending")) == 3


def test_a_record_without_bands_has_no_band(client):
    traces = figure_of(client.get("/track/ethereum/1d/eth-live").text)["data"]
    assert [t["name"] for t in traces] == ["actual close", "forecast, 1 ahead", "pending, 1 ahead"]


def test_a_store_without_a_ledger_says_so(world, tmp_path):
    store = tmp_path / "plain.db"
    with Store(store) as s:
        s.write_candles(synthetic_candles(20, coin="bitcoin"))
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    r = client.get("/track")
    assert r.status_code == 200 and 'id="no-ledger"' in r.text and 'id="ledger"' not in r.text
    assert "No live forecasts recorded yet: run coincast update" in r.text
    assert client.get("/track/bitcoin/1d/btc-1d").status_code == 404
    assert not (tmp_path / "sweeps").exists()


def _hostile_store(world: World, tmp_path, run: str):
    store = tmp_path / "hostile.db"
    shutil.copy(world.store, store)
    with Store(store) as s:
        frame = s.read_candles("bitcoin", "1h")
        last = int(frame.index[-1].value // 1_000_000)
        Ledger(s).append([Forecast(run, "cd" * 32, "synthetic", "bitcoin", "usd", "1h", last,
                                   float(frame["close"].iloc[-1]), last + 3_600_000, 1, 1.0,
                                   None, None, "2026-12-01T00:00:00+00:00")])  # fmt: skip
    return store


def test_a_hostile_run_name_is_escaped_and_not_linked(world, tmp_path):
    store = _hostile_store(world, tmp_path, "<script>alert(1)</script>")
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    r = client.get("/track")
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert len(cells(r.text, "record")) == 3 and r.text.count('class="record-link"') == 2


# -- the sweeps -------------------------------------------------------------------------------


def test_the_sweeps_page_lists_the_sweep_with_its_verdict(client, world):
    r = client.get("/sweeps")
    assert r.status_code == 200
    board = load_leaderboard(Place.beside(world.store, SWEEP))
    [row] = cells(r.text, "sweep")  # the symlink leading outside is no sweep
    assert row[0] == SWEEP and int(row[1]) == SWEEP_TRIALS
    best = min(t["valid_score"] for t in board["trials"])
    assert row[2] == f"{best:.4f}"
    assert row[3] == "; ".join(board["verdict"]["words"])
    assert f'href="/sweeps/{SWEEP}/report.html"' in r.text


def test_a_sweep_page_shows_the_verdict_then_the_trials(client, world):
    r = client.get(f"/sweeps/{SWEEP}")
    assert r.status_code == 200
    board = load_leaderboard(Place.beside(world.store, SWEEP))
    verdict = re.findall(r"<li>(.*?)</li>", r.text.split('id="verdict"')[1].split("</ul>")[0])
    assert verdict == lines(board)[: len(board["verdict"]["words"])]
    assert r.text.index('id="verdict"') < r.text.index('id="trials"')
    trials = cells(r.text, "trial")
    assert [int(t[0]) for t in trials] == [t["number"] for t in board["trials"]]
    assert [t[2] for t in trials] == [f"hidden={t['params']['hidden']}" for t in board["trials"]]
    assert sum(t[4] != "-" for t in trials) == 1  # top_k = 1: one trial saw the test period
    assert 'id="baselines"' in r.text and "drift" in r.text
    assert "leak.png" not in r.text  # a symlink is no file of the folder


@pytest.mark.parametrize(("file", "kind"), [("report.html", "text/html"),
                                            ("leaderboard.json", "application/json")])  # fmt: skip
def test_a_sweep_folder_serves_its_files(client, world, file, kind):
    r = client.get(f"/sweeps/{SWEEP}/{file}")
    assert r.status_code == 200 and r.headers["content-type"].startswith(kind)
    assert r.content == (world.sweeps / SWEEP / file).read_bytes()
    assert "sandbox" in r.headers["content-security-policy"]


def _copy_store(world: World, tmp_path):
    store = tmp_path / "coincast.db"
    shutil.copy(world.store, store)
    return store


def test_an_unfinished_sweep_says_so_without_optuna(world, tmp_path):
    store = _copy_store(world, tmp_path)
    (tmp_path / "sweeps" / "half" / "trial-0000").mkdir(parents=True)
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    assert "not finished" in client.get("/sweeps").text
    r = client.get("/sweeps/half")
    assert r.status_code == 200 and 'id="not-finished"' in r.text
    assert not (tmp_path / "sweeps.db").exists()  # no Optuna storage opened, none made


def test_an_unfinished_sweep_shows_the_trials_finished_so_far(world, tmp_path):
    store = _copy_store(world, tmp_path)
    half = tmp_path / "sweeps" / "half"
    shutil.copytree(world.sweeps / SWEEP, half, symlinks=True)
    (half / "leaderboard.json").unlink()  # stopped before the end: trial folders only
    about = {}
    for f in sorted(half.glob("trial-*/scores.json")):
        a = json.loads(f.read_text())
        about[a["trial"]] = a
    broken = half / "trial-0999"
    broken.mkdir()
    (broken / "scores.json").write_text("{not json")  # left out, not an error page
    (half / "trial-0998").mkdir()
    (half / "trial-0998" / "scores.json").symlink_to(next(iter(half.glob("trial-0*/scores.json"))))
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    r = client.get("/sweeps/half")
    assert r.status_code == 200 and 'id="not-finished"' in r.text
    shown = cells(r.text, "trial-so-far")
    assert sorted(int(c[0]) for c in shown) == sorted(about)
    for number, state, _, score in shown:
        a = about[int(number)]
        assert state == a["state"] and score == fmt_ratio(a["score"])
    complete = [a["score"] for a in about.values() if a["state"] == "complete"]
    listing = cells(client.get("/sweeps").text, "sweep")
    assert listing[0][:3] == ["half", f"{len(about)} so far", fmt_ratio(min(complete))]
    assert not (tmp_path / "sweeps.db").exists()


def test_a_hostile_leaderboard_is_escaped(world, tmp_path):
    store = _copy_store(world, tmp_path)
    shutil.copytree(world.sweeps / SWEEP, tmp_path / "sweeps" / "evil", symlinks=True)
    path = tmp_path / "sweeps" / "evil" / "leaderboard.json"
    board = json.loads(path.read_text())
    board["trials"][0]["params"] = {"<img src=x onerror=alert(1)>": "<b>bold</b>"}
    board["verdict"]["words"] = ["<script>alert(2)</script>"]
    path.write_text(json.dumps(board))
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    for url in ("/sweeps", "/sweeps/evil"):
        r = client.get(url)
        assert r.status_code == 200
        assert "<script>alert(2)" not in r.text and "&lt;script&gt;alert(2)" in r.text
    assert "<img src=x" not in r.text and "<b>bold</b>" not in r.text


def test_a_broken_leaderboard_is_shown_with_the_reason(world, tmp_path):
    store = _copy_store(world, tmp_path)
    (tmp_path / "sweeps" / "broken").mkdir(parents=True)
    (tmp_path / "sweeps" / "broken" / "leaderboard.json").write_text("{not json")
    client = TestClient(create_app(store, tmp_path, tmp_path), base_url="http://127.0.0.1")
    assert "leaderboard.json cannot be read: JSONDecodeError" in client.get("/sweeps").text
    assert "leaderboard.json cannot be read" in client.get("/sweeps/broken").text


def test_no_sweeps_folder_says_what_to_run(tmp_path):
    client = TestClient(create_app(tmp_path / "none.db", tmp_path, tmp_path),
                        base_url="http://127.0.0.1")  # fmt: skip
    r = client.get("/sweeps")
    assert r.status_code == 200 and 'id="no-sweeps"' in r.text
    assert client.get(f"/sweeps/{SWEEP}").status_code == 404
    assert 'id="no-ledger"' in client.get("/track").text
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "sweeps").exists()


def test_the_nav_bar_has_sweeps_and_home_is_the_coins(client):
    r = client.get("/")
    assert 'href="/sweeps"' in r.text and 'id="coins"' in r.text


# -- the explanations -------------------------------------------------------------------------


def test_a_run_links_its_explanation_when_it_has_one(client, world, tmp_path):
    r = client.get("/runs/btc-1d")
    assert 'id="explain-link" href="/runs/btc-1d/explain/explain.html"' in r.text
    page = client.get("/runs/btc-1d/explain/explain.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == (world.runs / "btc-1d" / "explain" / "explain.html").read_bytes()
    assert "sandbox" in page.headers["content-security-policy"]
    assert client.get("/runs/btc-1d/explain/saliency.png").headers["content-type"] == "image/png"
    runs = tmp_path / "runs"
    shutil.copytree(world.runs / "btc-1d", runs / "plain", ignore=shutil.ignore_patterns("explain"))
    bare = TestClient(create_app(world.store, runs, tmp_path), base_url="http://127.0.0.1")
    assert bare.get("/runs/plain").status_code == 200
    assert "explain-link" not in bare.get("/runs/plain").text


def test_an_explain_folder_leading_outside_is_none(world, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(world.runs / "btc-1d", runs / "r", ignore=shutil.ignore_patterns("explain"))
    (runs / "r" / "explain").symlink_to(world.root / "outside", target_is_directory=True)
    client = TestClient(create_app(world.store, runs, tmp_path), base_url="http://127.0.0.1")
    r = client.get("/runs/r")
    assert r.status_code == 200 and "explain-link" not in r.text
    r = client.get("/runs/r/explain/explain.html")
    assert r.status_code == 404 and SECRET not in r.text


# -- what no URL reaches ------------------------------------------------------------------------

TRAVERSAL = [
    "/track/..%2f..%2foutside/1d/btc-1d", "/track/bitcoin/..%2f..%2f/btc-1d",
    "/track/bitcoin/1d/%2e%2e", "/track/bitcoin/1d/..%2f..%2foutside", "/track/BTC/1d/btc-1d",
    "/track/bitcoin/7x/btc-1d", "/track/bitcoin/1h/btc-1d", "/track/dogecoin/1d/btc-1d",
    "/track/bitcoin/1d/%2Fetc%2Fpasswd", "/track/bitcoin/1d/.hidden",
    "/sweeps/%2e%2e", "/sweeps/..%2foutside", "/sweeps/%2Fetc%2Fpasswd", "/sweeps/escape",
    "/sweeps/escape/report.html", "/sweeps/escape/leaderboard.json", "/sweeps/nope",
    f"/sweeps/{SWEEP}/%2e%2e%2f%2e%2e%2foutside%2fsecret.png",
    f"/sweeps/{SWEEP}/..%5c..%5coutside%5csecret.png", f"/sweeps/{SWEEP}/%2Fetc%2Fpasswd",
    f"/sweeps/{SWEEP}/leak.png", f"/sweeps/{SWEEP}/trial-0000", f"/sweeps/{SWEEP}/nope.png",
    f"/sweeps/{SWEEP}/%2e%2e", "/sweeps/%2e%2e/coincast.db",
    "/runs/btc-1d/explain/%2e%2e", "/runs/btc-1d/explain/..%2frun.json",
    "/runs/btc-1d/explain/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside%2fsecret.png",
    "/runs/btc-1d/explain/leak.png", "/runs/btc-1d/explain/%2Fetc%2Fpasswd",
    "/runs/escape/explain/explain.html", "/runs/%2e%2e/explain/explain.html",
    "/runs/nope/explain/explain.html", "/runs/btc-1d/explain/model.safetensors",
]  # fmt: skip


@pytest.mark.parametrize("url", TRAVERSAL)
def test_names_leading_outside_their_folder_are_404(client, url):
    r = client.get(url)
    assert r.status_code == 404, r.text[:200]
    assert SECRET not in r.text and "root:" not in r.text and "Not found" in r.text


@pytest.mark.parametrize("name", ["%3Cscript%3Ealert(1)%3C%2Fscript%3E", "a%22onload%3D1"])
def test_a_hostile_name_in_a_url_is_escaped_in_the_404(client, name):
    for url in (f"/sweeps/{name}", f"/track/bitcoin/1d/{name}", f"/runs/btc-1d/explain/{name}"):
        r = client.get(url)
        assert r.status_code == 404 and "<script>" not in r.text and '"onload' not in r.text


def test_the_new_pages_are_read_only(client, world):
    before = world.store.read_bytes()
    board = (world.sweeps / SWEEP / "leaderboard.json").read_bytes()
    study = (world.root / "sweeps.db").read_bytes()
    for url in ("/track", "/track/bitcoin/1d/btc-1d", "/sweeps", f"/sweeps/{SWEEP}",
                "/runs/btc-1d"):  # fmt: skip
        r = client.get(url)
        assert r.status_code == 200, url
        assert "script-src 'self'" in r.headers["content-security-policy"]
    assert client.post("/track").status_code == 405
    assert world.store.read_bytes() == before
    assert (world.sweeps / SWEEP / "leaderboard.json").read_bytes() == board
    assert (world.root / "sweeps.db").read_bytes() == study
