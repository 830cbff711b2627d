"""Features: each one's values on small hand frames, warm-ups, no look-ahead, name checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coincast.data.sources.synthetic import synthetic_candles
from coincast.dataset.features import (
    FEATURES,
    check_features,
    compute_features,
)
from coincast.errors import CoincastError
from coincast.series import make_frame

DAY = 86_400_000


def frame_of(close, *, high=None, low=None, volume=None) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    n = len(close)
    cols = {
        "open": close,
        "high": close if high is None else np.asarray(high, dtype=float),
        "low": close if low is None else np.asarray(low, dtype=float),
        "close": close,
        "volume": np.ones(n) if volume is None else np.asarray(volume, dtype=float),
    }
    return make_frame(np.arange(n) * DAY, cols, coin="x", quote="usd", interval="1d", source="test")


def walk(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame_of(100 * np.exp(np.cumsum(0.03 * rng.standard_normal(n))))


def one(frame: pd.DataFrame, name: str) -> np.ndarray:
    return compute_features(frame, [name])[:, 0]


def ema(x: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential average seeded with the first value (pandas' adjust=False), by hand."""
    out = np.empty_like(x)
    out[0] = x[0]
    for i in range(1, len(x)):
        out[i] = (1 - alpha) * out[i - 1] + alpha * x[i]
    return out


# -- values on hand frames -------------------------------------------------------------------


def test_log_return_is_log_of_close_ratio_with_nan_first():
    x = one(frame_of([100.0, 110.0, 99.0, 99.0]), "log_return")
    np.testing.assert_allclose(x[1:], [np.log(1.1), np.log(0.9), 0.0])
    assert np.isnan(x[0])


def test_log_volume_change_stays_finite_when_volume_is_zero():
    x = one(frame_of([1.0] * 5, volume=[0.0, 0.0, 9.0, 0.0, 99.0]), "log_volume_change")
    assert np.isnan(x[0])
    np.testing.assert_allclose(x[1:], [0.0, np.log(10.0), -np.log(10.0), np.log(100.0)])
    assert np.isfinite(x[1:]).all()


def test_range_is_log_high_over_low_from_the_first_row():
    x = one(frame_of([2.0, 2.0, 2.0], high=[2.0, 4.0, 3.0], low=[2.0, 1.0, 1.5]), "range")
    np.testing.assert_allclose(x, [0.0, np.log(4.0), np.log(2.0)])


def test_close_is_the_price_itself_and_a_copy():
    f = frame_of([1.0, 2.5, 3.0])
    x = one(f, "close")
    np.testing.assert_array_equal(x, [1.0, 2.5, 3.0])
    x[0] = 99.0
    assert f["close"].iloc[0] == 1.0  # the frame is not changed through the feature


def test_rsi_matches_a_hand_computation_after_a_14_row_warm_up():
    f = walk(60, seed=3)
    x = one(f, "rsi")
    r = np.diff(np.log(f["close"].to_numpy()))
    up = ema(np.clip(r, 0, None), 1 / 14)
    down = ema(np.clip(-r, 0, None), 1 / 14)
    assert np.isnan(x[:14]).all()
    np.testing.assert_allclose(x[14:], (up / (up + down))[13:], rtol=1e-12)
    assert ((x[14:] >= 0) & (x[14:] <= 1)).all()


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        (np.arange(1.0, 31.0), 1.0),  # only rises
        (np.arange(30.0, 0.0, -1.0), 0.0),  # only falls
        (np.full(30, 5.0), 0.5),  # flat: no movement either way
    ],
)
def test_rsi_extremes(close, expected):
    x = one(frame_of(close), "rsi")
    assert np.isnan(x[:14]).all()
    np.testing.assert_allclose(x[14:], expected)


def test_macd_matches_a_hand_computation_after_a_25_row_warm_up():
    f = walk(80, seed=4)
    c = f["close"].to_numpy()
    x = one(f, "macd")
    expected = (ema(c, 2 / 13) - ema(c, 2 / 27)) / c
    assert np.isnan(x[:25]).all()
    np.testing.assert_allclose(x[25:], expected[25:], rtol=1e-10, atol=1e-15)


def test_volatility_is_the_20_step_sample_std_of_log_returns():
    f = walk(50, seed=5)
    x = one(f, "volatility")
    r = np.r_[np.nan, np.diff(np.log(f["close"].to_numpy()))]
    assert np.isnan(x[:20]).all()
    for t in range(20, 50):
        assert x[t] == pytest.approx(np.std(r[t - 19 : t + 1], ddof=1), rel=1e-9)


def test_compute_features_stacks_columns_in_the_order_asked():
    f = walk(40)
    x = compute_features(f, ["close", "log_return", "range"])
    assert x.shape == (40, 3) and x.dtype == np.float64
    np.testing.assert_array_equal(x[:, 0], one(f, "close"))
    np.testing.assert_array_equal(x[:, 1], one(f, "log_return"))


@pytest.mark.parametrize(
    ("name", "warm"),
    [
        ("log_return", 1),
        ("log_volume_change", 1),
        ("range", 0),
        ("rsi", 14),
        ("macd", 25),
        ("volatility", 20),
        ("close", 0),
    ],
)
def test_warm_up_of_each_feature(name, warm):
    x = compute_features(synthetic_candles(60, seed=2), [name])
    assert np.isfinite(x[warm:]).all()
    assert np.isnan(x[:warm]).all()


# -- no look-ahead ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(0, 59),
    seed=st.integers(0, 2**32 - 1),
    volume_zero=st.booleans(),
)
def test_no_feature_looks_ahead(cut, seed, volume_zero):
    """Changing rows after ``cut`` never changes any feature at rows ``<= cut``."""
    rng = np.random.default_rng(seed)
    n = 60
    close = 100 * np.exp(np.cumsum(0.02 * rng.standard_normal(n)))
    vol = np.zeros(n) if volume_zero else rng.uniform(0, 1e4, n)
    a = frame_of(close, high=close * 1.01, low=close * 0.99, volume=vol)
    later = slice(cut + 1, n)
    new_close = close.copy()
    new_close[later] *= np.exp(rng.normal(0, 0.5, n - cut - 1))
    new_vol = vol.copy()
    new_vol[later] = rng.uniform(0, 1e6, n - cut - 1)
    high, low = new_close * 1.01, new_close * 0.99
    high[later] *= 1.05
    low[later] *= 0.9
    b = frame_of(new_close, high=high, low=low, volume=new_vol)
    xa, xb = compute_features(a, list(FEATURES)), compute_features(b, list(FEATURES))
    np.testing.assert_array_equal(xa[: cut + 1], xb[: cut + 1])


@pytest.mark.parametrize("name", list(FEATURES))
def test_features_of_a_prefix_equal_the_prefix_of_the_features(name):
    f = synthetic_candles(200, seed=7)
    full = compute_features(f, [name])
    for cut in (1, 26, 77, 150):
        np.testing.assert_array_equal(compute_features(f.iloc[:cut], [name]), full[:cut])


# -- names -----------------------------------------------------------------------------------


def test_check_features_returns_known_names_as_a_list():
    assert check_features(("rsi", "close")) == ["rsi", "close"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["log_return", "sma"], r"unknown feature\(s\) 'sma'; known: log_return, "),
        (["rsi", "rsi"], r"features repeat: rsi, rsi"),
        ([], r"no features chosen; use some of: log_return"),
    ],
)
def test_check_features_refuses_bad_names(names, message):
    with pytest.raises(CoincastError, match=message):
        check_features(names)


def test_compute_features_checks_names():
    with pytest.raises(CoincastError, match=r"unknown feature\(s\) 'volume'"):
        compute_features(walk(10), ["volume"])
