"""The sweep's page from a real tiny sweep: the leaderboard's verdict first, a panel per
searched setting, every trial in the table, real PNGs, user text escaped, and a sweep stopped
before its test period."""

from __future__ import annotations

import base64
import copy
import re
import shutil
from html import escape

import pytest
from conftest import PNG
from evaluation.sweep.test_sweep_study import PERIODS, ROWS, _plan

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.evaluation.engines import LocalEngine
from coincast.evaluation.sweep import Place, lines, load_leaderboard, run_sweep
from coincast.evaluation.sweep.leaderboard import verdict_words
from coincast.reporting.sweep_report import (
    NOT_YET,
    REPORT,
    SCORES_PNG,
    TEST_PNG,
    score_panels,
    sweep_space,
    write_sweep_report,
)

COIN = "<b>coin&\"x'"  # hostile, and a coin id all the same
NAME = "<i>sweep&\"y'"


def _frames() -> dict:
    return {"1d": {COIN: synthetic_candles(ROWS, coin=COIN, seed=1)}}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A finished sweep of four trials, its leaderboard and its page."""
    place = Place.beside(tmp_path_factory.mktemp("swept") / "coincast.db", NAME)
    with LocalEngine(workers=2) as engine:
        board = run_sweep(_frames(), _plan(coins=(COIN,)), place, engine=engine)
    page = write_sweep_report(board, place.folder)
    return board, place, page, page.read_text(encoding="utf-8")


class _Stop(Exception):
    """Stops a sweep after its last trial, before its one look at the test period."""


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    place = Place.beside(tmp_path_factory.mktemp("partial") / "coincast.db", "partial")

    def stop(done: int, total: int) -> None:
        if done == total:
            raise _Stop

    with pytest.raises(_Stop):
        run_sweep(_frames(), _plan(coins=(COIN,), trials=2), place, progress=stop)
    board = load_leaderboard(place)  # rebuilt from the study: validation only
    return board, place, write_sweep_report(board, place.folder)


def _section(text: str, sid: str) -> str:
    return re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S).group(1)


def test_the_page_leads_with_the_leaderboards_own_verdict(swept):
    board, _, page, text = swept
    assert page.name == REPORT == "report.html" and page.parent.name == NAME
    first = re.search(r"<section id=\"(\w+)\">.*?<ul class=\"headline\">(.*?)</ul>", text, re.S)
    assert first.group(1) == "verdict"
    said = re.findall(r"<li>(.*?)</li>", first.group(2))
    words = verdict_words(board)
    assert said == [escape(w) for w in words] and words == lines(board)[: len(words)]
    assert len(words) == 3 and words[0].startswith("the best of 4 configurations is")
    assert NOT_YET not in text


def test_every_searched_setting_has_a_panel(swept):
    board, _, _, text = swept
    panels = score_panels(board, sweep_space(board))
    assert [p.name for p in panels] == ["hidden", "lr"]
    hidden, lr = panels
    assert (hidden.kind, hidden.labels, hidden.log) == ("choice", ("2", "4"), False)
    assert (lr.kind, lr.log, lr.bounds) == ("range", True, (1e-3, 1e-2))
    assert len(lr.scores) == len(board["trials"]) and lr.scores[lr.best] == min(lr.scores)
    assert "against each searched setting: hidden, lr" in _section(text, "scores")


def test_the_trials_table_holds_every_trial(swept):
    board, _, _, text = swept
    trials = _section(text, "trials")
    body = re.search(r"<tbody>(.*?)</tbody>", trials, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    assert len(rows) == len(board["trials"]) == 4
    assert "4 trials finished: 4 complete, 0 pruned" in trials
    best = board["trials"][0]
    assert body.startswith(f'<tr class="best"><td>{best["name"]}</td><td>complete</td>')
    assert sum(r.endswith("<td>\u2013</td>") for r in rows) == 2  # beyond the top-k: no test


def test_the_best_configuration_is_shown_on_the_test_period(swept):
    board, _, _, text = swept
    test = _section(text, "test")
    best = board["trials"][0]
    assert f"<th>{escape(COIN)}/1d</th>" in test
    for model in (best["name"], "naive", "drift"):
        assert f'<td class="model">{model}</td>' in test
    assert f"{best['test_score']:.4f}" in test
    settings = _section(text, "settings")
    assert f"{PERIODS.valid} bars (" in settings and f"{PERIODS.test} bars (" in settings
    assert "<th>seed</th><td>0</td>" in settings and "<th>[params] lr</th>" in settings


def test_the_pictures_are_pngs_beside_the_page_and_inlined(swept):
    _, place, _, text = swept
    for name in (SCORES_PNG, TEST_PNG):
        assert (place.folder / name).read_bytes().startswith(PNG)
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(inlined) == 2 and all(base64.b64decode(b).startswith(PNG) for b in inlined)


def test_user_text_is_escaped(swept, tmp_path):
    board, place, _, text = swept
    for raw in (COIN, NAME):
        assert raw not in text and escape(raw) in text
    hostile = copy.deepcopy(board)
    hostile["trials"][1]["params"]["hidden"] = "<script>alert(1)</script>"
    folder = tmp_path / "copy"
    shutil.copytree(place.folder, folder)
    again = write_sweep_report(hostile, folder).read_text(encoding="utf-8")
    assert "<script>" not in again and "&lt;script&gt;alert(1)&lt;/script&gt;" in again


def test_a_pruned_trial_is_shown_as_such(swept, tmp_path):
    board, place, _, _ = swept
    cut = copy.deepcopy(board)
    cut["trials"][-1]["state"] = "pruned"
    folder = tmp_path / "copy"
    shutil.copytree(place.folder, folder)
    text = write_sweep_report(cut, folder).read_text(encoding="utf-8")
    assert "4 trials finished: 3 complete, 1 pruned" in text
    assert f'<tr class="pruned"><td>{cut["trials"][-1]["name"]}</td><td>pruned</td>' in text
    states = score_panels(cut, sweep_space(cut))[0].states
    assert sorted(states) == ["complete"] * 3 + ["pruned"]


def test_a_sweep_before_its_test_period_gets_the_page_of_what_exists(partial):
    board, place, page = partial
    text = page.read_text(encoding="utf-8")
    assert board["baselines"] is None and len(board["trials"]) == 2
    said = re.findall(r"<li>(.*?)</li>", _section(text, "verdict"))
    assert said == [escape(w) for w in verdict_words(board)] and len(said) == 1
    for sid in ("verdict", "test"):
        assert escape(NOT_YET) in _section(text, sid)
    assert (place.folder / SCORES_PNG).read_bytes().startswith(PNG)
    assert not (place.folder / TEST_PNG).exists()
    assert len(re.findall(r"<tbody>.*?</tbody>", _section(text, "trials"), re.S)) == 1


def test_a_missing_test_table_is_named(swept, tmp_path):
    board, place, _, _ = swept
    folder = tmp_path / "copy"
    shutil.copytree(place.folder, folder)
    gone = folder / board["trials"][0]["name"] / "test-table.csv"
    gone.unlink()
    said = rf"the sweep's table {re.escape(str(gone))} is missing; the sweep's folder was changed"
    with pytest.raises(CoincastError, match=said):
        write_sweep_report(board, folder)
