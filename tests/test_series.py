"""The canonical candle frame: validation, gaps, resampling, interval inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coincast.data.sources.files import read_file
from coincast.errors import DataError, IntervalError
from coincast.intervals import INTERVALS, bar_start
from coincast.series import (
    COLUMNS,
    find_gaps,
    infer_interval,
    make_frame,
    ms_from_index,
    resample,
    validate_candles,
)

MIN = 60_000


def frame_of(ts_ms, close, interval="1m", **cols):
    close = np.asarray(close, dtype=float)
    data = {
        "open": cols.get("open", close),
        "high": cols.get("high", close),
        "low": cols.get("low", close),
        "close": close,
        "volume": cols.get("volume", np.ones(len(close))),
    }
    return make_frame(
        np.asarray(ts_ms), data, coin="x", quote="usd", interval=interval, source="test"
    )


def test_valid_frame_passes_and_is_returned_unchanged():
    f = frame_of([0, MIN, 2 * MIN], [1.0, 2.0, 3.0])
    assert validate_candles(f) is f
    assert list(f.columns) == list(COLUMNS)
    assert str(f.index.tz) == "UTC" and f.index.name == "ts"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.iloc[[0, 0, 1]], "duplicated"),
        (lambda f: f.iloc[[1, 0, 2]], "out of order"),
        (lambda f: f.assign(close=[1.0, np.nan, 3.0]), "close is NaN or infinite"),
        (lambda f: f.assign(low=[1.0, -2.0, 3.0]), "low must be > 0"),
        (lambda f: f.assign(high=[1.0, 1.5, 3.0]), "high must be >= open, close"),
        (lambda f: f.assign(low=[1.0, 2.5, 3.0]), "low must be <= open, close"),
        (lambda f: f.assign(volume=[1.0, -1.0, 1.0]), "volume must be >= 0"),
        (lambda f: f.drop(columns="volume"), "missing column"),
    ],
)
def test_validation_names_the_broken_rule(change, message):
    f = frame_of([0, MIN, 2 * MIN], [1.0, 2.0, 3.0])
    bad = change(f)
    bad.attrs.update(f.attrs)
    with pytest.raises(DataError, match=message):
        validate_candles(bad)


def test_validation_rejects_naive_index_and_unknown_interval():
    f = frame_of([0, MIN], [1.0, 2.0])
    naive = f.tz_localize(None)
    naive.attrs.update(f.attrs)
    with pytest.raises(DataError, match="tz-aware UTC"):
        validate_candles(naive)
    f.attrs["interval"] = "2m"
    with pytest.raises(IntervalError, match="unknown interval '2m'"):
        validate_candles(f)


def test_find_gaps_reports_each_hole():
    ts = np.array([0, 1, 2, 5, 6, 10]) * MIN
    gaps = find_gaps(frame_of(ts, np.ones(6)))
    assert gaps["missing"].tolist() == [2, 3]
    assert gaps["start"].iloc[0] == pd.Timestamp(3 * MIN, unit="ms", tz="UTC")
    assert gaps["end"].iloc[1] == pd.Timestamp(9 * MIN, unit="ms", tz="UTC")
    assert find_gaps(frame_of(np.arange(5) * MIN, np.ones(5))).empty


def test_resample_applies_ohlcv_rules():
    ts = np.arange(120) * MIN  # two whole hours
    close = np.arange(1, 121, dtype=float)
    f = frame_of(
        ts, close, open=close - 0.5, high=close + 1, low=close - 1, volume=np.full(120, 2.0)
    )
    h = resample(f, "1h")
    assert len(h) == 2
    assert h["open"].tolist() == [0.5, 60.5]
    assert h["high"].tolist() == [61.0, 121.0]
    assert h["low"].tolist() == [0.0, 60.0]
    assert h["close"].tolist() == [60.0, 120.0]
    assert h["volume"].tolist() == [120.0, 120.0]
    assert h.attrs["interval"] == "1h" and h.attrs["coin"] == "x"


def test_resample_drops_incomplete_first_and_last_bars_but_keeps_inner_gaps():
    ts = (
        np.r_[np.arange(30, 60), np.arange(60, 100), np.arange(125, 180), np.arange(180, 200)] * MIN
    )
    h = resample(frame_of(ts, np.ones(len(ts))), "1h")
    # hour 0 starts mid-way (dropped), hour 1 is short inside the data (kept), hour 2 whole,
    # hour 3 ends early (dropped)
    assert (ms_from_index(h.index) // (60 * MIN)).tolist() == [1, 2]


def test_resample_to_finer_interval_is_an_error_naming_a_source():
    f = frame_of([0, 86_400_000], [1.0, 2.0], interval="1d")
    with pytest.raises(IntervalError, match=r"cannot make 1h bars from 1d data.*exchange:binance"):
        resample(f, "1h")


def test_weeks_start_on_monday():
    monday = pd.Timestamp("2024-01-01", tz="UTC")  # a Monday
    ts = (monday + pd.to_timedelta(np.arange(14), "D")).as_unit("ms").asi8
    w = resample(frame_of(ts, np.arange(1, 15), interval="1d"), "1w")
    assert [t.day_name() for t in w.index] == ["Monday", "Monday"]
    assert w["close"].tolist() == [7.0, 14.0]
    assert (
        bar_start(int(monday.value // 1_000_000) + 3 * 86_400_000, "1w")
        == monday.value // 1_000_000
    )


@settings(max_examples=60, deadline=None)
@given(
    start_minute=st.integers(0, 3 * 1440),
    length=st.integers(1, 5 * 1440),
    holes=st.lists(st.tuples(st.integers(0, 5 * 1440), st.integers(1, 300)), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_resampling_in_steps_equals_resampling_at_once(start_minute, length, holes, seed):
    minutes = np.arange(start_minute, start_minute + length)
    keep = np.ones(length, dtype=bool)
    for at, size in holes:
        keep[at : at + size] = False
    minutes = minutes[keep]
    if len(minutes) == 0:
        return
    rng = np.random.default_rng(seed)
    close = np.exp(np.cumsum(rng.normal(0, 0.01, len(minutes)))) * 100
    spread = rng.uniform(0, 0.01, (2, len(minutes)))
    f = frame_of(
        minutes * MIN,
        close,
        open=close,
        high=close * (1 + spread[0]),
        low=close * (1 - spread[1]),
        volume=rng.uniform(0, 10, len(minutes)),
    )
    stepwise = resample(resample(f, "1h"), "1d")
    direct = resample(f, "1d")
    pd.testing.assert_frame_equal(stepwise, direct, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("coin", ["BTC", "ETH"])
def test_real_minute_data_resamples_consistently(data_dir, coin):
    f, _ = read_file(data_dir / "yahoo" / "minute" / f"{coin}-USD_1m.csv", coin=coin)
    daily = resample(f, "1d")
    pd.testing.assert_frame_equal(
        resample(resample(f, "1h"), "1d"), daily, check_exact=False, rtol=1e-12
    )
    pd.testing.assert_frame_equal(
        resample(resample(f, "15m"), "1d"), daily, check_exact=False, rtol=1e-12
    )
    assert len(find_gaps(f)) > 0  # the README says the minute files have gaps
    assert daily.index[0] >= f.index[0] and daily.index[-1] <= f.index[-1]


def test_infer_interval():
    assert infer_interval(np.array([0, 1, 2, 4]) * 3_600_000) == "1h"
    for name, ms in INTERVALS.items():
        assert infer_interval(np.arange(5) * ms) == name
    with pytest.raises(IntervalError, match="7 s, which is no known interval"):
        infer_interval(np.arange(5) * 7_000)
    with pytest.raises(IntervalError, match="fewer than 2 rows"):
        infer_interval(np.array([0]))


# -- time helpers ----------------------------------------------------------------------------


def test_utc_reads_naive_as_utc_and_converts_aware():
    from coincast.series import utc

    assert utc("2024-03-01 12:00") == pd.Timestamp("2024-03-01 12:00", tz="UTC")
    paris = pd.Timestamp("2024-03-01 13:00", tz="Europe/Paris")
    assert utc(paris) == paris and str(utc(paris).tz) == "UTC"


def test_ms_round_trip():
    from coincast.series import from_ms, to_ms

    t = pd.Timestamp("2024-03-01 12:34:56.789", tz="UTC")
    assert to_ms(t) == int(t.value // 1_000_000) == 1_709_296_496_789
    assert from_ms(to_ms(t)) == t
    assert to_ms("2024-03-01 12:34:56.789") == to_ms(t)


@pytest.mark.parametrize(("interval", "step"), [("1m", "1min"), ("1h", "1h"), ("1d", "1D")])
def test_future_index_steps_one_bar_at_a_time(interval, step):
    from coincast.series import future_index

    last = pd.Timestamp("2024-12-31", tz="UTC")
    want = pd.date_range(last, periods=4, freq=step, tz="UTC")[1:]
    got = future_index(last, interval, 3)
    assert got.equals(pd.DatetimeIndex(want, name="ts")) and got.name == "ts"
