"""The risk walk-forward loop: alignment, no look-ahead, VaR from the model's errors, and the
whole risk backtest on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from coincast.data.sources import synthetic_candles
from coincast.evaluation.backtest import WalkForward
from coincast.evaluation.risk_backtest import COLUMNS, risk_walk_forward, with_measure
from coincast.evaluation.risk_run import risk_json, run_risk_backtest
from coincast.models.innovations import Normal
from coincast.series import future_index


class LastMeasure:
    """A stub: each future bar's variance is the last bar's measure times the step."""

    name, min_rows = "stub", 5

    def __init__(self) -> None:
        self.innovation = Normal()
        self.fits = self.updates = 0

    def fit(self, frame: pd.DataFrame) -> LastMeasure:
        self.fits += 1
        return self.update(frame)

    def update(self, frame: pd.DataFrame) -> LastMeasure:
        self.updates += 1
        self.last, self.ts = float(frame["rv"].iloc[-1]), frame.index[-1]
        self.interval = frame.attrs["interval"]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        idx = future_index(self.ts, self.interval, horizon)
        return pd.DataFrame(
            {"variance": self.last * np.arange(1, horizon + 1), "mean": 0.001}, index=idx
        )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return with_measure(synthetic_candles(120, seed=4))[0]


def test_each_row_holds_the_bar_it_forecasts_and_the_variance_from_its_cutoff(frame):
    t = risk_walk_forward([LastMeasure()], frame, WalkForward(test=20, horizon=3))
    assert list(t.columns) == list(COLUMNS)
    rv = frame["rv"]
    logc = np.log(frame["close"])
    for r in t.itertuples():
        assert r.ts == r.cutoff + pd.Timedelta(days=r.step)
        assert r.rv == rv.loc[r.ts]
        assert r.variance == pytest.approx(rv.loc[r.cutoff] * r.step)
        assert r.r == pytest.approx(logc.loc[r.ts] - logc.loc[r.ts - pd.Timedelta(days=1)])
    # the last test bar is forecast 1, 2 and 3 steps ahead; nothing after it is scored
    assert t["ts"].max() == frame.index[-1]
    assert len(t) == 20 + 19 + 18


def test_var_es_and_pit_come_from_the_mean_variance_and_the_models_errors(frame):
    t = risk_walk_forward([LastMeasure()], frame, WalkForward(test=10))
    sigma = np.sqrt(t["variance"])
    assert np.allclose(t["var1"], 0.001 + sigma * stats.norm.ppf(0.01))
    assert np.allclose(t["var5"], 0.001 + sigma * stats.norm.ppf(0.05))
    es5 = 0.001 - sigma * stats.norm.pdf(stats.norm.ppf(0.05)) / 0.05
    assert np.allclose(t["es5"], es5)
    assert np.allclose(t["pit"], stats.norm.cdf((t["r"] - 0.001) / sigma))


def test_refit_every_k_cutoffs_and_update_between(frame):
    m = LastMeasure()
    risk_walk_forward([m], frame, WalkForward(test=20, refit_every=7))
    assert m.fits == 3  # cutoffs 0, 7 and 14
    assert m.updates == 20


def test_a_poisoned_future_changes_no_forecast(frame):
    spec = WalkForward(test=15, horizon=2)
    before = risk_walk_forward([LastMeasure()], frame, spec)
    cut = frame.index[-8]
    poisoned = frame.copy()
    later = poisoned.index > cut
    poisoned.loc[later, ["open", "high", "low", "close"]] *= 50
    poisoned.loc[later, "rv"] *= 1000
    after = risk_walk_forward([LastMeasure()], poisoned, spec)
    cols = ["variance", "var1", "es1", "var5", "es5"]
    mine = before["cutoff"] <= cut
    pd.testing.assert_frame_equal(before.loc[mine, cols], after.loc[mine, cols])


def test_progress_is_called_after_each_cutoff(frame):
    calls = []
    risk_walk_forward(
        [LastMeasure()], frame, WalkForward(test=4), progress=lambda *a: calls.append(a)
    )
    assert calls == [("stub", k, 4) for k in range(1, 5)]


def test_the_measure_is_added_when_the_frame_has_none():
    f = synthetic_candles(80, seed=2)
    t = risk_walk_forward([LastMeasure()], f, WalkForward(test=5))
    gk = with_measure(f)[0]["rv"]
    assert np.allclose(t["rv"], gk.loc[t["ts"]].to_numpy())


def test_a_risk_backtest_scores_every_model_against_garch_and_tests_its_var():
    f = synthetic_candles(700, seed=5)
    r = run_risk_backtest(f, WalkForward(test=60, refit_every=30), models=["garch", "ewma", "har"])
    s = r.scores.set_index("model")
    assert s.loc["garch", "rel_qlike"] == 1.0
    assert s.loc["ewma", "rel_qlike"] == pytest.approx(
        s.loc["ewma", "qlike"] / s.loc["garch", "qlike"]
    )
    assert set(r.tests["level"]) == {0.01, 0.05}
    assert len(r.tests) == 6
    assert r.meta["measure"] == "garman-klass" and r.meta["regime_rule"]
    assert any(v.startswith("ewma: QLIKE") for v in r.verdicts)
    assert sum("VaR exceeded" in v for v in r.verdicts) == 6
    nxt = r.forecast.set_index("model")
    assert list(nxt.index) == ["garch", "ewma", "har"]
    year = np.sqrt(365)
    assert np.allclose(nxt["vol_annual_pct"], 100 * np.sqrt(nxt["variance"]) * year)
    j = risk_json(r)
    assert [m["model"] for m in j["models"]] == ["garch", "ewma", "har"]
    assert {"var_tests", "regimes", "next", "qlike", "rel_qlike"} <= set(j["models"][0])


def test_unknown_volatility_models_are_named():
    from coincast.errors import CoincastError

    with pytest.raises(CoincastError, match=r"unknown volatility model\(s\) arima; known: lstm"):
        run_risk_backtest(synthetic_candles(200), WalkForward(test=5), models=["arima"])


def test_a_price_config_given_to_a_risk_backtest_takes_the_volatility_inputs():
    from coincast.evaluation.adapters import LSTMTraining
    from coincast.evaluation.risk_models import build_risk_models
    from coincast.models.config import LSTMConfig

    frame = synthetic_candles(200)
    [m] = build_risk_models(frame, ["lstm"], LSTMTraining(LSTMConfig(hidden=4)), 1)
    cfg = m.inner.model.config
    assert cfg.target == "volatility" and cfg.head == "gaussian" and cfg.hidden == 4
    assert cfg.features[:3] == ["log_rv", "log_rv_mid", "log_rv_long"]


def test_horizon_qlike_and_the_regime_figures_match_a_hand_computation():
    from coincast.evaluation.regimes import label_rows, regime_labels

    f = synthetic_candles(500, seed=6)
    r = run_risk_backtest(f, WalkForward(test=40, horizon=3), models=["ewma", "garch"])
    t = r.table

    def qlike(rv, h):  # Patton's QLIKE, written out
        return float(np.mean(rv / h - np.log(rv / h) - 1))

    s = r.scores.set_index("model")
    for model in ("ewma", "garch"):
        full = t[t["model"] == model].groupby("cutoff").filter(lambda g: len(g) == 3)
        sums = full.groupby("cutoff")[["rv", "variance"]].sum()
        assert s.loc[model, "qlike_horizon"] == pytest.approx(qlike(sums["rv"], sums["variance"]))
    labels = regime_labels(with_measure(f)[0], t["cutoff"].drop_duplicates())
    one = label_rows(t[t["step"] == 1], labels)
    for row in r.regimes.to_dict("records"):
        g = one[(one["model"] == row["model"]) & (one[row["kind"]] == row["regime"])]
        assert row["n"] == len(g)
        assert row["qlike"] == pytest.approx(qlike(g["rv"], g["variance"]))
        assert row["var5_rate"] == pytest.approx(float((g["r"] < g["var5"]).mean()))
