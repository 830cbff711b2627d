"""The LSTM learns a volatility process that can be learned, and says so against EWMA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coincast.evaluation.adapters import LSTMTraining
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.risk_run import run_risk_backtest
from coincast.models.config import LSTMConfig
from coincast.series import make_frame


def known_volatility(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """Daily candles whose volatility follows a 40-day cycle (known, learnable), with each
    day's realized variance from 24 hourly returns (the ``rv`` column)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sigma = 0.03 * np.exp(0.9 * np.sin(2 * np.pi * t / 40))  # daily volatility
    hourly = rng.standard_normal((n, 24)) * (sigma / np.sqrt(24))[:, None]
    r = hourly.sum(axis=1)
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    path = open_[:, None] * np.exp(np.cumsum(hourly, axis=1))
    cols = {"open": open_, "high": np.maximum(path.max(axis=1), open_),
            "low": np.minimum(path.min(axis=1), open_), "close": close,
            "volume": np.full(n, 1e6)}  # fmt: skip
    ts = np.int64(1_577_836_800_000) + t.astype("int64") * 86_400_000
    frame = make_frame(ts, cols, coin="cycle", quote="usd", interval="1d", source="synthetic")
    frame["rv"] = (hourly**2).sum(axis=1)
    return frame


@pytest.mark.slow
def test_the_lstm_beats_ewma_on_a_volatility_it_can_learn():
    cfg = LSTMConfig(target="volatility", hidden=16, layers=1, lookback=40, epochs=40,
                     patience=8, log_every=0, seed=0, threads=1)  # fmt: skip
    how = LSTMTraining(cfg, refit_epochs=5)
    spec = WalkForward(test=120, refit_every=60)
    r = run_risk_backtest(known_volatility(), spec, models=["lstm", "ewma", "garch"], lstm=how)
    s = r.scores.set_index("model")
    assert r.meta["measure"] == "realized"
    assert s.loc["lstm", "qlike"] < 0.8 * s.loc["ewma", "qlike"]
    assert s.loc["lstm", "dm_ewma_pvalue"] < 0.05 and s.loc["lstm", "dm_ewma_stat"] < 0
    assert any(v.startswith("lstm: QLIKE") and "better than GARCH" in v for v in r.verdicts)
