"""A whole sweep with the local engine: trials recorded, the leaderboard, and no test bar ever
given to a trial."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.evaluation.engines import LocalEngine
from coincast.evaluation.sweep import Periods, Place, SweepError, SweepPlan, parse_space, run_sweep
from coincast.series import make_frame

SPACE = {
    "params": {"hidden": [2, 4], "lr": {"low": 1e-3, "high": 1e-2, "log": True}},
    "fixed": {"epochs": 1, "lookback": 10, "threads": 1},
    "walk": {"refit_every": 15, "refit_epochs": 1},
}
PERIODS = Periods(valid=30, test=20)
ROWS = 130


def _plan(**kw) -> SweepPlan:
    base = dict(space=parse_space(SPACE), coins=("bitcoin",), trials=4, sampler="random",
                periods=PERIODS, top_k=2)  # fmt: skip
    return SweepPlan(**(base | kw))


def _frames(poison: bool = False) -> dict:
    f = synthetic_candles(ROWS, coin="bitcoin", seed=1)
    if poison:  # the test period's prices wildly off: a trial that saw them would score else
        cols = {c: f[c].to_numpy().copy() for c in ("open", "high", "low", "close", "volume")}
        for c in ("open", "high", "low", "close"):
            cols[c][-PERIODS.test :] *= 50.0
        ts = f.index.asi8 // 1_000_000
        f = make_frame(ts, cols, coin="bitcoin", quote="usd", interval="1d", source="synthetic")
    return {"1d": {"bitcoin": f}}


class Spy(LocalEngine):
    """The local engine, noting the last bar of every frame it is asked to send."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.sent: list[pd.Timestamp] = []

    def scatter(self, data):
        self.sent.append(max(f.index[-1] for f in data.values()))
        return super().scatter(data)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    place = Place.beside(tmp_path_factory.mktemp("clean") / "coincast.db", "clean")
    with Spy(workers=2) as engine:
        board = run_sweep(_frames(), _plan(), place, engine=engine)
    return board, place, engine.sent


def test_a_sweep_records_every_trial_and_its_leaderboard(clean):
    board, place, _ = clean
    assert set(board) >= {"trials", "spa", "reality_check", "mcs", "verdict"}
    trials = board["trials"]
    assert [t["state"] for t in trials] == ["complete"] * 4
    assert sorted(t["number"] for t in trials) == [0, 1, 2, 3]
    scores = [t["valid_score"] for t in trials]
    assert scores == sorted(scores)
    for t in trials:
        folder = place.folder / t["name"]
        table = pd.read_csv(folder / "table.csv")
        assert set(table["model"]) == {"lstm", "naive"} and len(table) == 2 * PERIODS.valid
        assert json.loads((folder / "config.json").read_text())["hidden"] == t["params"]["hidden"]
        assert t["config"]["lr"] == t["params"]["lr"]
        assert (folder / "test-table.csv").exists() == (t["test_score"] is not None)
    assert [t["test_score"] is not None for t in trials] == [True, True, False, False]
    assert board["spa"]["valid"]["models"] == 4 and board["spa"]["test"]["models"] == 2
    assert board["spa"]["valid"]["bars"] == PERIODS.valid
    assert set(board["mcs"]["test"]["included"]) <= {"trial-0000", "trial-0001", "trial-0002",
                                                     "trial-0003", "naive", "drift"}  # fmt: skip
    words = board["verdict"]["words"][0]
    assert words.startswith("the best of 4 configurations is") and "SPA p" in words
    assert set(board["baselines"]) == {"naive", "drift"}
    assert board["baselines"]["naive"]["test_score"] == 1.0
    assert json.loads((place.folder / "leaderboard.json").read_text())["trials"] == trials


def test_without_an_engine_the_trials_run_here_with_the_same_scores(clean, tmp_path):
    board, _, _ = clean
    # Pruning depends on how many trials were complete when a job was sent: with 2 workers
    # the 4th trial leaves with 2 complete (no threshold yet), in-process with 3. Compare the
    # same search with nothing pruned on either side.
    assert {t["state"] for t in board["trials"]} == {"complete"}
    plan = _plan(prune="series")
    alone = run_sweep(_frames(), plan, Place.beside(tmp_path / "coincast.db", "here"))
    keep = ("number", "params", "valid_score", "test_score")
    assert [{k: t[k] for k in keep} for t in alone["trials"]] == [
        {k: t[k] for k in keep} for t in board["trials"]
    ]
    assert alone["verdict"]["words"] == board["verdict"]["words"]


def test_no_trial_is_sent_a_test_bar(clean):
    _, _, sent = clean
    f = _frames()["1d"]["bitcoin"]
    valid_end, test_end = f.index[-PERIODS.test - 1], f.index[-1]
    assert sent == [valid_end, test_end]  # the trials' frames, then the test phase's, once


@pytest.mark.slow
def test_a_poisoned_test_period_changes_no_trial_score(clean, tmp_path):
    board, _, _ = clean
    place = Place.beside(tmp_path / "coincast.db", "poisoned")
    with LocalEngine(workers=2) as engine:
        poisoned = run_sweep(_frames(poison=True), _plan(), place, engine=engine)
    same = {t["number"]: t["valid_score"] for t in board["trials"]}
    assert {t["number"]: t["valid_score"] for t in poisoned["trials"]} == same
    assert poisoned["trials"][0]["test_score"] != board["trials"][0]["test_score"]


def test_a_name_taken_needs_resume(clean):
    _, place, _ = clean
    with pytest.raises(SweepError, match="a sweep named 'clean' exists; add --resume"):
        run_sweep(_frames(), _plan(), place)
    with pytest.raises(SweepError, match="was started with other coins"):
        run_sweep({"1d": {"eth": synthetic_candles(ROWS, coin="eth")}}, _plan(coins=("eth",)),
                  place, resume=True)  # fmt: skip
    with pytest.raises(SweepError, match="no sweep named 'other' to resume"):
        run_sweep(_frames(), _plan(), Place(place.name.replace("clean", "other"), place.storage,
                  place.folder), resume=True)  # fmt: skip


def test_a_trial_that_cannot_run_stops_the_sweep_with_its_settings(tmp_path):
    space = parse_space(SPACE | {"fixed": {"epochs": 1, "lookback": 200}})
    place = Place.beside(tmp_path / "coincast.db", "short")
    with pytest.raises(CoincastError, match=r"trial 0 \(hidden=.*\) failed on bitcoin/1d: "):
        run_sweep(_frames(), _plan(space=space), place)
