"""Backtests on an engine: each model's walk one job, the table the same as one after another.

Every network is tiny (8 hidden units, one layer, two epochs) and walks 10 cutoffs. The LSTM
runs on two threads in the driver and in the workers alike: the driver has used PyTorch's
thread pool before the local engine starts its workers (which must not hang).
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.errors import CoincastError
from coincast.evaluation.adapters import LSTMTraining
from coincast.evaluation.backtest import WalkForward, walk_forward
from coincast.evaluation.engines import LocalEngine, TaskLost
from coincast.evaluation.risk_run import run_risk_backtest
from coincast.evaluation.run import run_backtest
from coincast.models.baselines import Naive
from coincast.models.forecaster import LSTMConfig

SPEC = WalkForward(test=10, refit_every=5)
MODELS = ["lstm", "naive", "drift"]
VARIANTS = ["single", "global+exog"]


def _frames() -> dict[str, pd.DataFrame]:
    return {c: synthetic_candles(120, coin=c, seed=s) for s, c in enumerate(("a", "b", "c"))}


def _backtest(engine=None, progress=None):
    frames = _frames()
    cfg = LSTMConfig(hidden=8, layers=1, lookback=5, epochs=2, threads=2, log_every=0,
                     exog=["c"])  # fmt: skip
    others = {c: frames[c] for c in ("a", "b")}
    how = LSTMTraining(cfg, refit_epochs=1, variants=VARIANTS, others=others,
                       exog={"c": frames["c"]})  # fmt: skip
    return run_backtest(frames["a"], SPEC, models=MODELS, lstm=how, engine=engine,
                        progress=progress)  # fmt: skip


@pytest.fixture(scope="module")
def alone():
    """The backtest without an engine: one model after another, here."""
    return _backtest()


@pytest.mark.timeout(300)
def test_the_local_engine_gives_the_same_backtest(alone):
    calls = []
    with LocalEngine(workers=2) as engine:
        r = _backtest(engine, progress=lambda *c: calls.append(c))
    names = ["lstm-single", "lstm-global+exog", "naive", "drift"]
    assert r.table["model"].unique().tolist() == names  # the order of the models
    pd.testing.assert_frame_equal(r.table, alone.table)
    pd.testing.assert_frame_equal(r.scores, alone.scores)
    pd.testing.assert_frame_equal(r.comparison, alone.comparison)
    # the models come back fitted: the first LSTM's history and its forecast from all data
    assert r.history == alone.history and len(r.history) == 2
    pd.testing.assert_frame_equal(r.forecast, alone.forecast)
    assert calls[: len(names)] == [(n, 0, 10) for n in names]  # each bar shown at the start
    assert sorted(calls[len(names) :]) == sorted((n, 10, 10) for n in names)  # then filled


class Failing(Naive):
    """Naive until its second fit, which fails as a model's fit can."""

    name = "failing"

    def fit(self, frame: pd.DataFrame) -> Failing:
        if getattr(self, "fitted", False):
            raise CoincastError(f"failing cannot fit {len(frame)} rows")
        self.fitted = True
        return super().fit(frame)


class Dying(Naive):
    """A model whose process dies at its first fit."""

    name = "dying"

    def fit(self, frame: pd.DataFrame) -> Dying:
        os._exit(3)


def test_a_jobs_own_error_comes_back_as_it_is():
    frame = synthetic_candles(100)
    with LocalEngine(workers=2) as engine, pytest.raises(CoincastError) as caught:
        walk_forward([Naive(), Failing()], frame, SPEC, engine=engine)
    assert type(caught.value) is CoincastError
    assert str(caught.value) == "failing cannot fit 91 rows"  # its update at cutoff 2 refits


def test_a_walk_whose_worker_died_is_one_line_naming_the_model():
    with LocalEngine(workers=1) as engine, pytest.raises(TaskLost) as caught:
        walk_forward([Dying()], synthetic_candles(100), SPEC, engine=engine)
    message = str(caught.value)
    assert message.startswith("the walk of model dying was lost (a worker process died")
    assert message.endswith("); run the backtest again") and "\n" not in message


@pytest.mark.timeout(300)
def test_the_risk_backtest_on_the_local_engine_gives_the_same_table():
    frame = synthetic_candles(300, seed=4)
    models = ["garch", "ewma", "histvol"]
    alone = run_risk_backtest(frame, WalkForward(test=20, refit_every=10), models=models)
    with LocalEngine(workers=2) as engine:
        r = run_risk_backtest(frame, WalkForward(test=20, refit_every=10), models=models,
                              engine=engine)  # fmt: skip
    assert r.table["model"].unique().tolist() == models
    pd.testing.assert_frame_equal(r.table, alone.table)
    pd.testing.assert_frame_equal(r.forecast, alone.forecast)  # fitted models came back


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_dask_cluster_gives_the_same_backtest(alone):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from coincast.evaluation.dask_engine import DaskEngine

    with DaskEngine(workers=2) as engine:
        r = _backtest(engine)
    pd.testing.assert_frame_equal(r.table, alone.table)
    pd.testing.assert_frame_equal(r.forecast, alone.forecast)
