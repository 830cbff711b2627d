"""Realized measures by hand, against loops and against pandas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.dataset.realized import (
    HAR_SPANS,
    choose_measure,
    garman_klass,
    har_means,
    parkinson,
    realized_variance,
    squared_returns,
)
from coincast.errors import CoincastError
from coincast.series import make_frame, resample

DAY_MS = 86_400_000


def two_bars() -> pd.DataFrame:
    cols = {
        "open": np.array([100.0, 105.0]),
        "high": np.array([110.0, 108.0]),
        "low": np.array([95.0, 99.0]),
        "close": np.array([105.0, 100.0]),
        "volume": np.ones(2),
    }
    return make_frame(
        np.array([0, DAY_MS]), cols, coin="x", quote="usd", interval="1d", source="synthetic"
    )


def test_garman_klass_and_parkinson_by_hand():
    f = two_bars()
    k = 2 * math.log(2) - 1
    gk = [
        0.5 * math.log(110 / 95) ** 2 - k * math.log(105 / 100) ** 2,
        0.5 * math.log(108 / 99) ** 2 - k * math.log(100 / 105) ** 2,
    ]
    pk = [math.log(110 / 95) ** 2 / (4 * math.log(2)), math.log(108 / 99) ** 2 / (4 * math.log(2))]
    assert np.allclose(garman_klass(f), gk)
    assert np.allclose(parkinson(f), pk)
    sq = squared_returns(f)
    assert math.isnan(sq[0]) and sq[1] == pytest.approx(math.log(100 / 105) ** 2)


def test_realized_variance_against_a_loop():
    hourly = synthetic_candles(24 * 6, "1h", seed=2)
    daily = resample(hourly, "1d")
    kept = hourly.drop(hourly.index[24 * 2 + 3 : 24 * 2 + 8])  # day 2 loses 5 hours: too few
    kept = kept.drop(kept.index[24 * 3 + 1 : 24 * 3 + 3])  # day 3 (now shifted) loses 2
    kept.attrs = dict(hourly.attrs)
    got = realized_variance(daily, kept)
    ts = kept.index.to_numpy()
    logc = np.log(kept["close"].to_numpy())
    want = []
    for start in daily.index.to_numpy():
        end = start + np.timedelta64(1, "D")
        idx = [i for i in range(1, len(ts)) if start <= ts[i] < end]
        total = sum((logc[i] - logc[i - 1]) ** 2 for i in idx)
        want.append(total if len(idx) >= 0.9 * 24 else np.nan)
    assert np.allclose(got, want, equal_nan=True)
    assert np.isnan(got).sum() == 1 and np.isfinite(got[0])  # the first day misses one return


def test_realized_variance_needs_finer_bars():
    daily = synthetic_candles(10)
    with pytest.raises(CoincastError, match="finer bars must be finer than 1d; got 1d"):
        realized_variance(daily, daily)


def test_auto_on_close_only_candles_is_squared_returns():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.02, 50)))
    cols = {"open": close, "high": close, "low": close, "close": close, "volume": np.ones(50)}
    ts = DAY_MS * np.arange(50, dtype="int64")
    f = make_frame(ts, cols, coin="x", quote="usd", interval="1d", source="coingecko")
    m = choose_measure(f)
    assert m.method == "squared-returns"
    assert np.allclose(m.values[1:], np.diff(np.log(close)) ** 2)


def test_auto_prefers_realized_then_range_and_keeps_an_rv_column():
    hourly = synthetic_candles(24 * 5, "1h")
    daily = resample(hourly, "1d")
    assert choose_measure(daily, hourly).method == "realized"
    assert choose_measure(daily).method == "garman-klass"
    assert choose_measure(daily, method="parkinson").method == "parkinson"
    given = daily.assign(rv=np.arange(1.0, 6.0))
    assert choose_measure(given).values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(CoincastError, match="unknown realized measure 'range'"):
        choose_measure(daily, method="range")  # type: ignore[arg-type]
    with pytest.raises(CoincastError, match="needs finer bars"):
        choose_measure(daily, method="realized")


@pytest.mark.parametrize("interval", ["1d", "1h", "1w"])
def test_har_means_against_pandas_and_a_loop(interval):
    v = np.random.default_rng(1).gamma(2.0, 1e-4, 400)
    got = har_means(v, interval)
    for j, k in enumerate(HAR_SPANS[interval]):
        want = pd.Series(v).rolling(window=k).mean().to_numpy()
        assert np.allclose(got[:, j], want, equal_nan=True)
        assert got[399, j] == pytest.approx(np.mean(v[400 - k :]))
        assert np.isnan(got[: k - 1, j]).all()
