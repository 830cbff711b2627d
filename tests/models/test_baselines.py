"""Baselines: hand-computed forecasts on np.arange-like prices, the forecast frame contract,
the bands' recent-residual spread and their coverage in a walk-forward, ARIMA's order choice
and cheap update, errors, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from coincast.data.sources import random_walk
from coincast.errors import CoincastError
from coincast.evaluation.backtest import WalkForward, walk_forward
from coincast.evaluation.metrics import coverage
from coincast.intervals import INTERVALS
from coincast.models.base import SPREAD_WINDOW
from coincast.models.baselines import (
    ARIMA,
    BASELINES,
    SEASONS,
    Drift,
    MovingAverage,
    Naive,
    SeasonalNaive,
    make_baseline,
    season_length,
)
from coincast.series import COLUMNS, make_frame, validate_candles

START_MS = 1_704_067_200_000  # 2024-01-01 UTC


def frame_of(close: np.ndarray, interval: str = "1d") -> pd.DataFrame:
    """A valid candle frame whose every price is ``close``."""
    close = np.asarray(close, dtype="float64")
    ts = START_MS + np.arange(len(close), dtype="int64") * INTERVALS[interval]
    cols = {c: close for c in COLUMNS[:4]} | {"volume": np.ones(len(close))}
    frame = make_frame(ts, cols, coin="test", quote="usd", interval=interval, source="synthetic")
    return validate_candles(frame)


def ar1_returns(n: int, phi: float = 0.6, sigma: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """Prices whose log returns follow an AR(1): r_t = phi r_(t-1) + e_t."""
    e = sigma * np.random.default_rng(seed).standard_normal(n)
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = phi * r[t - 1] + e[t]
    return frame_of(100 * np.exp(np.cumsum(r)))


def small_arima() -> ARIMA:
    return ARIMA(orders=[(0, 1, 0), (1, 1, 0), (0, 1, 1)])


# Every model, cheap to build; ARIMA with a short grid to keep the file fast.
MODELS = {
    "naive": Naive,
    "drift": Drift,
    "seasonal": SeasonalNaive,
    "ma": MovingAverage,
    "arima": small_arima,
}
LINE = 100.0 + np.arange(40)  # close = 100 + t


# -- hand-computed forecasts -------------------------------------------------------------------


def test_naive_repeats_the_last_close_with_a_widening_band() -> None:
    out = Naive().fit(frame_of(LINE[:30])).predict(5)
    assert (out["yhat"] == 129.0).all()
    assert (out["lo"] < out["yhat"]).all() and (out["hi"] > out["yhat"]).all()
    assert np.all(np.diff(out["hi"] - out["lo"]) > 0)
    sigma = np.sqrt(np.mean(np.diff(np.log(LINE[:30])) ** 2))
    assert out["hi"].iloc[3] == pytest.approx(129 * np.exp(1.6448536 * sigma * 2))


def test_drift_continues_a_line_exactly() -> None:
    out = Drift().fit(frame_of(LINE[:30])).predict(10)
    np.testing.assert_array_equal(out["yhat"].to_numpy(), LINE[30:40])
    assert (out["lo"] <= out["yhat"]).all() and (out["yhat"] <= out["hi"]).all()


def test_seasonal_naive_reproduces_a_pure_period_7_pattern() -> None:
    close = np.tile(100.0 + np.array([3, 1, 4, 1, 5, 9, 2]), 6)  # 42 rows, period 7
    model = SeasonalNaive().fit(frame_of(close[:30]))  # 1d: default season 7
    assert model.used_season == 7
    out = model.predict(12)
    np.testing.assert_array_equal(out["yhat"].to_numpy(), close[30:42])
    assert (out["hi"] - out["lo"]).max() < 1e-9  # the pattern repeats exactly: sigma = 0


def test_seasonal_naive_follows_its_formula() -> None:
    close = random_walk(50)["close"].to_numpy()
    out = SeasonalNaive(season=5).fit(random_walk(50)).predict(13)
    h = np.arange(1, 14)
    np.testing.assert_array_equal(out["yhat"].to_numpy(), close[50 - 5 + (h - 1) % 5])


def test_default_seasons_follow_the_interval() -> None:
    assert {i: season_length(i) for i in INTERVALS} == SEASONS
    assert SEASONS["1d"] == 7 and SEASONS["1h"] == 24 and SEASONS["1w"] == 52
    model = SeasonalNaive().fit(frame_of(100.0 + np.arange(30), "1h"))
    assert model.used_season == 24


def test_moving_average_is_the_mean_of_the_window_without_a_band() -> None:
    out = MovingAverage(window=4).fit(frame_of(LINE[:30])).predict(3)
    assert (out["yhat"] == np.mean([126, 127, 128, 129])).all()
    assert out[["lo", "hi"]].isna().all().all()
    assert MovingAverage().fit(frame_of(LINE[:30])).used_window == 7  # 1d season


# -- the bands' spread: the model's own recent one-step errors ---------------------------------

Z = stats.norm.ppf(0.95)  # a central 90 % band
WALK = random_walk(1000, seed=4)  # 999 one-step changes: more than SPREAD_WINDOW
CLOSE = WALK["close"].to_numpy()


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def test_the_naive_band_is_spread_by_the_last_year_of_log_changes() -> None:
    assert SPREAD_WINDOW == 365
    out = Naive().fit(WALK).predict(4)
    sigma = rms(np.log(CLOSE[-365:] / CLOSE[-366:-1]))  # the last 365 one-step errors
    h = np.arange(1, 5)
    np.testing.assert_allclose(out["hi"], CLOSE[-1] * np.exp(Z * sigma * np.sqrt(h)), rtol=1e-12)
    np.testing.assert_allclose(out["lo"], CLOSE[-1] * np.exp(-Z * sigma * np.sqrt(h)), rtol=1e-12)
    whole = Naive(spread_window=None).fit(WALK)
    assert whole.sigma == pytest.approx(rms(np.diff(np.log(CLOSE))), rel=1e-12)
    assert Naive(spread_window=10).fit(WALK).sigma == pytest.approx(
        rms(np.diff(np.log(CLOSE[-11:]))), rel=1e-12
    )


def test_only_the_window_sets_the_spread() -> None:
    base = Naive().fit(WALK).predict(3)
    early, late = WALK.copy(), WALK.copy()
    early.iloc[100:600] *= np.exp(np.linspace(0, 3, 500))[:, None]  # wild, but before the window
    late.iloc[800] *= 1.5  # one jump inside it
    pd.testing.assert_frame_equal(Naive().fit(early).predict(3), base)
    assert (Naive().fit(late).predict(3)["hi"] > base["hi"]).all()


def test_drift_is_spread_by_its_own_errors_the_changes_less_the_drift() -> None:
    model = Drift().fit(WALK)
    slope = (CLOSE[-1] - CLOSE[0]) / (len(CLOSE) - 1)
    errors = np.log(CLOSE[-365:] - slope) - np.log(CLOSE[-366:-1])
    assert model.sigma == pytest.approx(rms(errors), rel=1e-12)
    out = model.predict(3)
    h = np.arange(1, 4)
    np.testing.assert_allclose(
        out["hi"], CLOSE[-1] * np.exp(Z * rms(errors) * np.sqrt(h)) + h * slope, rtol=1e-12
    )
    # a straight line: drift makes no one-step error, so its band has no width (naive's has)
    line = Drift().fit(frame_of(LINE[:30])).predict(3)
    np.testing.assert_array_equal(line["lo"], line["hi"])
    assert Naive().fit(frame_of(LINE[:30])).sigma > 0


def test_seasonal_naive_is_spread_by_its_last_year_of_seasonal_errors() -> None:
    model = SeasonalNaive(season=7).fit(WALK)
    logs = np.log(CLOSE)
    assert model.sigma == pytest.approx(rms((logs[7:] - logs[:-7])[-365:]), rel=1e-12)
    whole = SeasonalNaive(season=7, spread_window=None).fit(WALK)
    assert whole.sigma == pytest.approx(rms(logs[7:] - logs[:-7]), rel=1e-12)
    with pytest.raises(CoincastError, match=r"spread_window \(0\) must be a whole number >= 1"):
        SeasonalNaive(spread_window=0)
    with pytest.raises(CoincastError, match=r"spread_window \(2.5\) must be a whole number"):
        Naive(spread_window=2.5)


def calmer_walk(seed: int) -> pd.DataFrame:
    """A random walk whose volatility halves (4 % to 2 % a day) 1,400 bars before its end."""
    rng = np.random.default_rng(seed)
    r = np.r_[0.04 * rng.standard_normal(2000), 0.02 * rng.standard_normal(1400)]
    return frame_of(100 * np.exp(np.cumsum(r)))


def test_the_recent_band_covers_90_percent_after_volatility_halves() -> None:
    """Walk forward over the 1,400 calm bars, 5 steps ahead. Once its window holds only calm
    bars, naive's band holds 87-93 % of actuals at steps 1 and 5 (sqrt(h) scaling); the band
    from the whole history holds over 97 %. In the year right after the change the window
    still holds stormy bars: that band over-covers too, less than the whole history's."""
    frame = calmer_walk(0)
    models = [Naive(), Naive(spread_window=None, alias="whole")]
    table = walk_forward(models, frame, WalkForward(horizon=5, test=1400))
    calm = table["cutoff"] >= frame.index[2000 + SPREAD_WINDOW]
    for step in (1, 5):
        at = table[table["step"] == step]
        cov = {
            (m, c): coverage(g["y"], g["lo"], g["hi"])
            for (m, c), g in at.groupby(["model", calm[at.index]])
        }
        assert len(at[calm[at.index] & (at["model"] == "naive")]) >= 1000
        assert 0.87 <= cov["naive", True] <= 0.93, cov
        assert cov["whole", True] > 0.97 and cov["whole", False] > 0.97, cov
        assert cov["whole", False] >= cov["naive", False] > 0.93, cov


def test_a_poisoned_future_changes_no_band_in_a_walk_forward() -> None:
    frame = calmer_walk(1).iloc[:2600]
    poisoned = frame.copy()
    poisoned.iloc[2500:] *= np.exp(np.random.default_rng(9).normal(0, 0.5, (100, 1)))
    spec = WalkForward(horizon=3, test=300)
    models = [Naive(), Drift(), SeasonalNaive()]
    clean, bad = walk_forward(models, frame, spec), walk_forward(models, poisoned, spec)
    before = clean["cutoff"] < frame.index[2500]  # cutoffs that saw only clean rows
    assert before.sum() > 600
    cols = ["yhat", "lo", "hi", "last"]
    pd.testing.assert_frame_equal(clean.loc[before, cols], bad.loc[before, cols])
    assert not np.allclose(clean.loc[~before, "hi"], bad.loc[~before, "hi"])


# -- the forecast frame ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_forecast_frame_indexes_the_next_bars(name: str) -> None:
    frame = random_walk(200, "4h", seed=1)
    out = MODELS[name]().fit(frame).predict(6)
    step = pd.Timedelta(hours=4)
    expected = pd.DatetimeIndex([frame.index[-1] + k * step for k in range(1, 7)], name="ts")
    assert out.index.equals(expected) and out.index.name == "ts"
    assert str(out.index.tz) == "UTC"
    assert list(out.columns) == ["yhat", "lo", "hi"]
    assert all(out[c].dtype == "float64" for c in out.columns)
    assert out.attrs["last_ts"] == frame.index[-1]
    assert out.attrs["last_close"] == frame["close"].iloc[-1]
    assert out.attrs["coin"] == frame.attrs["coin"] and out.attrs["interval"] == "4h"
    assert np.isfinite(out["yhat"]).all()
    if name == "ma":
        assert out[["lo", "hi"]].isna().all().all()
    else:
        assert ((out["lo"] <= out["yhat"]) & (out["yhat"] <= out["hi"])).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_no_model_looks_past_the_rows_it_was_given(name: str) -> None:
    frame, k = random_walk(200, seed=2), 150
    before = MODELS[name]().fit(frame.iloc[:k]).predict(5)
    changed = frame.copy()
    changed.iloc[k:] = changed.iloc[k:] * 3.0  # a different future
    after = MODELS[name]().fit(changed.iloc[:k]).predict(5)
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("name", list(MODELS))
def test_changing_the_frame_after_fit_does_not_change_the_forecast(name: str) -> None:
    frame = random_walk(100, seed=3)
    model = MODELS[name]().fit(frame)
    before = model.predict(3)
    frame.loc[:, "close"] = 1.0
    pd.testing.assert_frame_equal(model.predict(3), before)


@pytest.mark.parametrize("name", list(MODELS))
def test_a_constant_series_gives_finite_forecasts(name: str) -> None:
    out = MODELS[name]().fit(frame_of(np.ones(100))).predict(10)
    assert np.isfinite(out["yhat"]).all()
    np.testing.assert_allclose(out["yhat"], 1.0, rtol=1e-9)
    if name != "ma":
        assert np.isfinite(out[["lo", "hi"]]).all().all()


@settings(max_examples=40, deadline=None)
@given(
    close=st.lists(st.floats(0.01, 1e6), min_size=7, max_size=60),
    horizon=st.integers(1, 20),
    name=st.sampled_from(["naive", "drift", "seasonal", "ma"]),
)
def test_cheap_models_band_contains_the_point(close: list[float], horizon: int, name: str) -> None:
    out = make_baseline(name).fit(frame_of(np.array(close))).predict(horizon)
    assert len(out) == horizon and np.isfinite(out["yhat"]).all()
    band = out.dropna()
    assert ((band["lo"] <= band["yhat"]) & (band["yhat"] <= band["hi"])).all()


# -- update ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["naive", "drift", "seasonal", "ma"])
def test_update_is_fit_for_cheap_models(name: str) -> None:
    frame = random_walk(120, seed=4)
    updated = make_baseline(name).fit(frame.iloc[:100]).update(frame).predict(4)
    pd.testing.assert_frame_equal(updated, make_baseline(name).fit(frame).predict(4))


def test_arima_update_moves_the_origin_without_refitting() -> None:
    frame = ar1_returns(400, seed=5)
    model = ARIMA().fit(frame.iloc[:300])
    order, params = model.order, model.params
    first = model.predict(3)
    model.update(frame.iloc[:320])
    out = model.predict(3)
    assert model.order == order
    np.testing.assert_array_equal(model.params, params)
    assert out.attrs["last_ts"] == frame.index[319]
    assert out.index[0] == frame.index[320]
    assert out.attrs["last_close"] == frame["close"].iloc[319]
    assert not np.allclose(out["yhat"], first["yhat"])
    assert ((out["lo"] <= out["yhat"]) & (out["yhat"] <= out["hi"])).all()


def test_arima_finds_ar1_returns_and_beats_naive_out_of_sample() -> None:
    frame, train = ar1_returns(700, seed=6), 500
    close = frame["close"].to_numpy()
    model = ARIMA().fit(frame.iloc[:train])
    p, _, q = model.order
    assert p >= 1 or q >= 1, model.scores
    assert len(model.scores) == 9 and model.scores[model.order] == min(model.scores.values())
    errors, naive_errors = [], []
    for k in range(train, len(frame) - 1):  # forecast row k + 1 from rows 0..k
        yhat = model.update(frame.iloc[: k + 1]).predict(1)["yhat"].iloc[0]
        errors.append(abs(yhat - close[k + 1]))
        naive_errors.append(abs(close[k] - close[k + 1]))
    assert np.mean(errors) < 0.9 * np.mean(naive_errors)


# -- errors ------------------------------------------------------------------------------------


def test_registry_names_every_baseline() -> None:
    assert list(BASELINES) == ["naive", "drift", "seasonal", "ma", "arima"]
    for name, cls in BASELINES.items():
        assert cls.name == name and make_baseline(name).name == name
    assert make_baseline("seasonal", season=24).season == 24


def test_unknown_baseline_lists_the_known_ones() -> None:
    with pytest.raises(CoincastError, match=r"unknown baseline 'prophet'.*naive, drift, seasonal"):
        make_baseline("prophet")
    with pytest.raises(CoincastError, match=r"baseline 'naive'.*season"):
        make_baseline("naive", season=7)


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_before_fit_is_an_error(name: str) -> None:
    with pytest.raises(CoincastError, match=rf"{name} model is not fitted yet.*fit\(frame\)"):
        MODELS[name]().predict(1)


def test_season_longer_than_the_data_names_both_numbers() -> None:
    with pytest.raises(CoincastError, match=r"season 10 needs at least 10 rows; .* has 5"):
        SeasonalNaive(season=10).fit(frame_of(LINE[:5]))
    with pytest.raises(CoincastError, match=r"season 7 needs at least 7 rows; .* has 6"):
        SeasonalNaive().fit(frame_of(LINE[:6]))
    with pytest.raises(CoincastError, match=r"window 8 needs at least 8 rows; .* has 6"):
        MovingAverage(8).fit(frame_of(LINE[:6]))


def test_other_errors_name_value_and_fix() -> None:
    with pytest.raises(CoincastError, match=r"drift .* needs at least 2 rows; .* has 1"):
        Drift().fit(frame_of(LINE[:1]))
    with pytest.raises(CoincastError, match=r"ARIMA needs at least 20 rows; .* has 10"):
        ARIMA().fit(frame_of(LINE[:10]))
    with pytest.raises(CoincastError, match=r"horizon \(0\) must be a whole number >= 1"):
        Naive().fit(frame_of(LINE)).predict(0)
    with pytest.raises(CoincastError, match=r"season \(0\) must be a whole number >= 1"):
        SeasonalNaive(season=0)
    with pytest.raises(CoincastError, match=r"order \(1, 1\) must be \(p, d, q\)"):
        ARIMA(orders=[(1, 1)])
    with pytest.raises(CoincastError, match=r"arima model is not fitted yet"):
        ARIMA().update(frame_of(LINE))
    model = small_arima().fit(frame_of(LINE))
    with pytest.raises(CoincastError, match=r"update got 1h bars.*fit on 1d bars"):
        model.update(frame_of(LINE, "1h"))


def test_a_failed_fit_leaves_the_model_unfitted() -> None:
    model = SeasonalNaive(season=10).fit(frame_of(LINE))
    with pytest.raises(CoincastError, match="needs at least 10 rows"):
        model.fit(frame_of(LINE[:5]))
    with pytest.raises(CoincastError, match="not fitted"):
        model.predict(1)
