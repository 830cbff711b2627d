"""A backtest's forecasts as tidy frames: ``forecasts()`` one row per model, cutoff and step,
``to_long()`` laid out as StatsForecast's cross_validation, both checked against what the
forecasts must be on ``np.arange`` data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_backtest import LastPlusH, arange_frame

from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.run import run_backtest
from coincast.models.baselines import make_baseline

SPEC = WalkForward(horizon=3, test=12, refit_every=4)


def wobbly(n: int = 80) -> pd.DataFrame:
    """close = 100 + t + a small wobble, so drift has a band (a straight line leaves none)."""
    frame = arange_frame(n)
    wobble = 0.25 * np.sin(np.arange(n))
    for col in ("open", "high", "low", "close"):
        frame[col] += wobble
    return frame


def close_at(frame: pd.DataFrame, ts: pd.Series) -> np.ndarray:
    return frame["close"].to_numpy()[frame.index.get_indexer(ts)]


def backtest():
    return run_backtest(wobbly(), SPEC, models=[LastPlusH(), "drift"])


def test_forecasts_are_one_tidy_row_per_model_cutoff_and_step():
    frame = wobbly()
    f = backtest().forecasts()
    assert f.columns.tolist() == ["coin", "model", "cutoff", "ts", "step", "y", "yhat", "lo", "hi"]
    assert sorted(set(f["model"])) == ["drift", "naive", "stub"]
    day = pd.Timedelta(days=1)
    assert (f["ts"] - f["cutoff"] == f["step"] * day).all()
    # y is the forecast bar's close, naive repeats the cutoff's close, the stub adds h
    np.testing.assert_array_equal(f["y"], close_at(frame, f["ts"]))
    naive = f[f["model"] == "naive"]
    np.testing.assert_array_equal(naive["yhat"], close_at(frame, naive["cutoff"]))
    stub = f[f["model"] == "stub"]
    np.testing.assert_array_equal(stub["yhat"], close_at(frame, stub["cutoff"]) + stub["step"])
    # every model forecasts the same bars: the 12 test bars, each from every cutoff in reach
    assert f.groupby("model").size().nunique() == 1
    assert (stub.groupby("ts").size().to_numpy() <= 3).all()
    assert stub["ts"].min() == frame.index[-12] and stub["ts"].max() == frame.index[-1]
    pivot = f.pivot_table(index="ts", columns=["model", "step"], values="yhat")
    assert pivot.shape[1] == 3 * 3


def test_to_long_is_statsforecast_cross_validation_layout():
    r = backtest()
    long = r.to_long()
    assert long.columns.tolist() == ["unique_id", "ds", "cutoff", "y", "stub", "drift", "naive"]
    assert (long["unique_id"] == "c").all()
    assert long.sort_values(["unique_id", "cutoff", "ds"]).index.tolist() == long.index.tolist()
    # one row per (cutoff, ds): the three models side by side
    f = r.forecasts()
    assert len(long) == len(f[f["model"] == "naive"])
    frame = wobbly()
    np.testing.assert_array_equal(long["y"], close_at(frame, long["ds"]))
    np.testing.assert_array_equal(long["naive"], close_at(frame, long["cutoff"]))
    steps = (long["ds"] - long["cutoff"]) / pd.Timedelta(days=1)
    np.testing.assert_array_equal(long["stub"], close_at(frame, long["cutoff"]) + steps)
    # and each model column is that model's yhat from the tidy frame
    drift = f[f["model"] == "drift"].set_index(["cutoff", "ts"])["yhat"]
    np.testing.assert_array_equal(long.set_index(["cutoff", "ds"])["drift"], drift)


def test_to_long_bands_only_for_models_with_one():
    r = run_backtest(wobbly(), SPEC, models=[LastPlusH(), make_baseline("drift")])
    long = r.to_long(bands=True)
    banded = [c for c in long.columns if c.endswith(("-lo", "-hi"))]
    have = {m for m, g in r.table.groupby("model") if g["lo"].notna().any()}
    assert banded == [f"{m}-{s}" for m in long.columns[4:] if m in have for s in ("lo", "hi")]
    assert have == {"drift", "naive"} and "stub-lo" not in long.columns
    for m in have:
        assert (long[f"{m}-lo"] <= long[m]).all() and (long[m] <= long[f"{m}-hi"]).all()
