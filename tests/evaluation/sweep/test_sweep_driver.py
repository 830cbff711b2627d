"""The driver's logic without training: an in-process engine whose jobs return made-up
scores, so pruning, lost workers and the grid are tested in milliseconds."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import optuna
import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.evaluation.engines import TaskLost
from coincast.evaluation.sweep import Periods, Place, SweepPlan, parse_space
from coincast.evaluation.sweep import study as driver

PERIODS = Periods(valid=10, test=5)


def fake_series(frames, coin, config, walk):
    """A job's answer without a backtest: naive and the model's errors on the last bars."""
    f = frames[coin].iloc[-walk["bars"] :]
    y = f["close"].to_numpy()
    hidden = (config or {}).get("hidden", 1)
    worse = 1.0 + hidden / 100 + (0.5 if coin == "bad" and hidden > 4 else 0.0)
    noise = np.random.default_rng(int(hidden * 10)).normal(0.0, 0.2, len(y))
    rows = []
    for v, e in zip(y, noise, strict=True):
        rows.append({"model": "naive", "yhat": v - 1.0 + e})
        rows.append({"model": "lstm" if config else "drift", "yhat": v - worse + 2 * e})
    table = pd.DataFrame(rows).assign(series=walk["series"], coin=coin, ts=0, step=1)
    table["cutoff"] = [i for i in range(len(y)) for _ in (0, 1)]
    table["y"] = [v for v in y for _ in (0, 1)]
    model = "lstm" if config else "drift"
    return {"table": table, "rel_mae": {model: worse, "naive": 1.0}}


class Inline:
    """An engine that runs each job at once, in this process, with :func:`fake_series`."""

    workers = 2

    def __init__(self, lose: set[int] = frozenset()) -> None:
        self.lose, self.jobs = set(lose), 0

    def scatter(self, data):
        return data

    def submit(self, fn, *args):
        fut = Future()
        self.jobs += 1
        if self.jobs in self.lose:
            fut.set_exception(TaskLost("a worker died"))
        else:
            fut.set_result(fake_series(*args))
        return fut

    def as_completed(self, futures):
        return iter(list(futures))

    def result(self, fut):
        return fut.result()

    def close(self):
        pass


def _frames(*coins):
    return {"1d": {c: synthetic_candles(60, coin=c, seed=i) for i, c in enumerate(coins)}}


def _plan(coins, **kw):
    space = parse_space({"params": {"hidden": [1, 2, 4, 8, 16]}, "fixed": {"epochs": 1}})
    return SweepPlan(**(dict(space=space, coins=coins, trials=5, periods=PERIODS, top_k=2) | kw))


def _study(place):
    return optuna.load_study(study_name=place.name, storage=place.storage)


def test_the_driver_prunes_between_series(tmp_path):
    place = Place.beside(tmp_path / "c.db", "p")
    plan = _plan(("bad", "good"), trials=12, sampler="random")
    board = driver.run_sweep(_frames("bad", "good"), plan, place, engine=Inline())
    states = {t.number: t.state.name for t in _study(place).get_trials()}
    assert (
        sum(s == "COMPLETE" for s in states.values()) + sum(s == "PRUNED" for s in states.values())
        == 12
    )
    pruned = [t for t in _study(place).get_trials() if t.state.name == "PRUNED"]
    assert pruned and all(t.params["hidden"] > 4 for t in pruned)
    assert all(len(t.user_attrs["valid"]) == 1 for t in pruned)  # stopped after one series
    assert {r["state"] for r in board["trials"]} == {"complete", "pruned"}
    assert board["spa"]["valid"]["models"] == 12 - len(pruned)  # complete trials only


def test_no_pruning_runs_every_trial_to_the_end(tmp_path):
    place = Place.beside(tmp_path / "c.db", "none")
    plan = _plan(("bad", "good"), trials=12, sampler="random", prune="none")
    board = driver.run_sweep(_frames("bad", "good"), plan, place, engine=Inline())
    assert {t.state.name for t in _study(place).get_trials()} == {"COMPLETE"}
    assert board["spa"]["valid"]["models"] == 12
    assert board["verdict"]["words"][0].startswith("the best of 12 configurations is")


def test_a_lost_worker_runs_the_trial_again(tmp_path):
    place = Place.beside(tmp_path / "c.db", "lost")
    driver.run_sweep(_frames("a"), _plan(("a",)), place, engine=Inline(lose={2}))
    trials = _study(place).get_trials()
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(failed) == 1 and len([t for t in trials if t.state.name == "COMPLETE"]) == 5
    again = [t for t in trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(again) == 1 and again[0].params == failed[0].params


def test_the_grid_visits_each_point_once_and_stops(tmp_path, caplog):
    place = Place.beside(tmp_path / "c.db", "grid")
    board = driver.run_sweep(_frames("a"), _plan(("a",), trials=9, sampler="grid"), place,
                             engine=Inline())  # fmt: skip
    assert sorted(t["params"]["hidden"] for t in board["trials"]) == [1, 2, 4, 8, 16]
    assert "the grid holds 5 configurations" in caplog.text


def test_the_test_period_is_touched_once(tmp_path):
    place = Place.beside(tmp_path / "c.db", "once")
    engine = Inline()
    driver.run_sweep(_frames("a"), _plan(("a",)), place, engine=engine)
    jobs = engine.jobs
    assert jobs == 5 + 2 + 1  # five trials, the top two and the baselines on the test period
    driver.run_sweep(_frames("a"), _plan(("a",)), place, engine=engine, resume=True)
    assert engine.jobs == jobs  # nothing left to run, and the test period is not looked at again


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_sweep_scored_on_its_test_period_searches_no_further(tmp_path, sampler):
    place = Place.beside(tmp_path / "c.db", sampler)
    driver.run_sweep(_frames("a"), _plan(("a",), trials=3, sampler=sampler), place,
                     engine=Inline())  # fmt: skip
    with pytest.raises(driver.SweepError, match="other sampler"):
        driver.run_sweep(_frames("a"), _plan(("a",), sampler="grid"), place, resume=True)
    with pytest.raises(driver.SweepError, match="scored on its test period already"):
        driver.run_sweep(_frames("a"), _plan(("a",), trials=5, sampler=sampler), place,
                         engine=Inline(), resume=True)  # fmt: skip
    board = driver.run_sweep(_frames("a"), _plan(("a",), trials=3, sampler=sampler), place,
                             engine=Inline(), resume=True)  # fmt: skip
    assert len(board["trials"]) == 3 and board["mcs"] is not None
