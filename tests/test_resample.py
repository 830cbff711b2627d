"""Resampling (:func:`coincast.series.resample`): the OHLCV rules, and one completeness rule
for every bar, at both ends of the data and inside it.

The rule: a bar is kept when at least ``min_complete`` of its sub-bars are present (default 1,
whole bars only). Every count below is written out by hand; the property tests compare with
an independent pandas computation and with the code as it was before the rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import frame_of
from hypothesis import given, settings
from hypothesis import strategies as st

from coincast.data.sources.files import read_file
from coincast.errors import CoincastError, DataError, IntervalError
from coincast.intervals import INTERVALS, bar_start, interval_ms
from coincast.series import (
    COLUMNS,
    OHLCV_RULES,
    aggregate,
    bar_completeness,
    find_gaps,
    make_frame,
    ms_from_index,
    resample,
    validate_candles,
)

MIN = 60_000
HOUR = 60 * MIN


def minutes(*spans: tuple[int, int]) -> np.ndarray:
    """Epoch ms of the minutes in each ``[a, b)`` span."""
    return np.concatenate([np.arange(a, b) for a, b in spans]) * MIN


# Five hours: hour 0 lacks its first minute (59 of 60), hour 1 is whole, hour 2 has 34 of 60
# minutes inside the data (the issue's case), hour 3 is whole, hour 4 lacks its last minute.
CASE = minutes((1, 60), (60, 120), (120, 154), (180, 240), (240, 299))
CASE_ROWS = [59, 60, 34, 60, 59]


def case_frame() -> pd.DataFrame:
    close = np.arange(1, len(CASE) + 1, dtype=float)  # row i closes at i + 1
    return frame_of(CASE, close, open=close - 0.5, high=close + 1, low=close - 0.75)


def hours(frame: pd.DataFrame) -> list[int]:
    return (ms_from_index(frame.index) // HOUR).tolist()


# -- the OHLCV rules -----------------------------------------------------------------------------


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


# -- completeness, and the one rule --------------------------------------------------------------


def test_completeness_of_each_bar_against_a_hand_count():
    c = bar_completeness(case_frame(), "1h")
    assert (ms_from_index(c.index) // HOUR).tolist() == [0, 1, 2, 3, 4]
    assert c["rows"].tolist() == CASE_ROWS
    assert c["expected"].tolist() == [60] * 5
    assert c["complete"].tolist() == [59 / 60, 1.0, 34 / 60, 1.0, 59 / 60]


def test_by_default_only_whole_bars_are_kept_at_both_ends_and_inside():
    h = resample(case_frame(), "1h")
    # hours 0 and 4 (one minute short, at the ends) and hour 2 (34 of 60, inside) alike
    assert hours(h) == [1, 3]
    assert list(h.columns) == list(COLUMNS)  # no completeness column: every bar is whole
    assert find_gaps(h)["missing"].tolist() == [1]  # hour 2 is now a reported gap


@pytest.mark.parametrize(
    ("min_complete", "kept"),
    [
        (1.0, [1, 3]),
        (0.99, [1, 3]),  # 59/60 = 0.9833 < 0.99
        (59 / 60, [0, 1, 3, 4]),  # "at least": a share equal to the threshold is kept
        (0.95, [0, 1, 3, 4]),
        (34 / 60, [0, 1, 2, 3, 4]),
        (0.5, [0, 1, 2, 3, 4]),
        (0.0, [0, 1, 2, 3, 4]),
    ],
)
def test_min_complete_is_one_share_for_every_bar(min_complete, kept):
    h = resample(case_frame(), "1h", min_complete=min_complete)
    assert hours(h) == kept
    if min_complete < 1:
        share = dict(enumerate(r / 60 for r in CASE_ROWS))
        assert h["complete"].tolist() == [share[k] for k in kept]
        validate_candles(h)


def test_a_short_bar_aggregates_the_sub_bars_present():
    h = resample(case_frame(), "1h", min_complete=0.5).iloc[2]  # hour 2: rows 119 .. 152
    # row i (0-based) closes at i + 1: hour 0 holds rows 0..58, hour 1 rows 59..118
    assert (h["open"], h["close"]) == (119.5, 153.0)
    assert (h["high"], h["low"]) == (154.0, 119.25)
    assert h["volume"] == 34.0 and h["complete"] == 34 / 60


def test_days_from_hours_missing_one_hour():
    ts = np.r_[0:11, 12:48] * HOUR  # day 0 lacks 11:00, day 1 is whole
    f = frame_of(ts, np.ones(len(ts)), interval="1h")
    assert bar_completeness(f, "1d")["rows"].tolist() == [23, 24]
    assert resample(f, "1d").index.tolist() == [pd.Timestamp("1970-01-02", tz="UTC")]
    assert resample(f, "1d", min_complete=0.9)["complete"].tolist() == [23 / 24, 1.0]


def test_weeks_from_days_missing_a_day():
    monday = pd.Timestamp("2024-01-01", tz="UTC").value // 1_000_000
    days = np.r_[0:2, 3:14]  # week 1 lacks Wednesday
    f = frame_of(monday + days * 86_400_000, np.ones(len(days)), interval="1d")
    c = bar_completeness(f, "1w")
    assert c["rows"].tolist() == [6, 7] and c["expected"].tolist() == [7, 7]
    assert len(resample(f, "1w")) == 1
    assert resample(f, "1w", min_complete=0.8)["complete"].tolist() == [6 / 7, 1.0]


def test_a_short_bar_counts_by_its_own_share_when_resampled_again():
    # 12 whole hours, then 12 hours of 30 minutes each: 720 + 360 = 1080 of 1440 minutes
    ts = np.r_[np.arange(720), *[np.arange(h * 60, h * 60 + 30) for h in range(12, 24)]] * MIN
    f = frame_of(ts, np.ones(len(ts)))
    stepwise = resample(resample(f, "1h", min_complete=0), "1d", min_complete=0)
    assert stepwise["complete"].tolist() == [1080 / 1440]
    assert bar_completeness(resample(f, "1h", min_complete=0), "1d")["rows"].tolist() == [24]
    pd.testing.assert_frame_equal(stepwise, resample(f, "1d", min_complete=0))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_min_complete_outside_zero_to_one_is_an_error(bad):
    with pytest.raises(CoincastError, match=rf"min_complete \({bad}\) must be between 0 and 1"):
        resample(case_frame(), "1h", min_complete=bad)


@pytest.mark.parametrize("share", [0.0, 1.5, float("nan")])
def test_validate_candles_checks_the_complete_column(share):
    f = resample(case_frame(), "1h", min_complete=0.5)
    f["complete"] = f["complete"].where(f.index != f.index[1], share)
    with pytest.raises(DataError, match=r"row 1970-01-01 01:00:00\+00:00 .*complete must be in"):
        validate_candles(f)


# -- properties ----------------------------------------------------------------------------------


def before_the_rule(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """``resample`` as it was before the completeness rule (commit 39f13ef)."""
    have = frame.attrs["interval"]
    ts = ms_from_index(frame.index)
    columns = {c: frame[c].to_numpy() for c in frame.columns if c in OHLCV_RULES}
    starts, cols = aggregate(ts, columns, interval, OHLCV_RULES)
    keep = np.ones(len(starts), dtype=bool)
    keep[0] = ts[0] == starts[0]
    keep[-1] &= ts[-1] == starts[-1] + interval_ms(interval) - INTERVALS[have]
    return make_frame(
        starts[keep], {k: v[keep] for k, v in cols.items()}, coin="x", quote="usd",
        interval=interval, source="test",
    )  # fmt: skip


def random_minutes(start: int, length: int, holes: list, seed: int) -> pd.DataFrame | None:
    m = np.arange(start, start + length)
    keep = np.ones(length, dtype=bool)
    for at, size in holes:
        keep[at : at + size] = False
    m = m[keep]
    if not len(m):
        return None
    rng = np.random.default_rng(seed)
    close = np.exp(np.cumsum(rng.normal(0, 0.01, len(m)))) * 100
    spread = rng.uniform(0, 0.01, (2, len(m)))
    return frame_of(
        m * MIN, close, open=close, high=close * (1 + spread[0]), low=close * (1 - spread[1]),
        volume=rng.uniform(0, 10, len(m)),
    )  # fmt: skip


HOLES = st.lists(st.tuples(st.integers(0, 5 * 1440), st.integers(1, 300)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 3 * 1440), length=st.integers(1, 5 * 1440), seed=st.integers(0, 99))
def test_complete_data_resamples_exactly_as_before_the_rule(start, length, seed):
    f = random_minutes(start, length, [], seed)
    for interval in ("5m", "1h", "4h", "1d"):
        now, before = resample(f, interval), before_the_rule(f, interval)
        pd.testing.assert_frame_equal(now, before, check_exact=True)
        assert now.attrs == before.attrs


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 3 * 1440),
    length=st.integers(1, 5 * 1440),
    holes=HOLES,
    seed=st.integers(0, 99),
    min_complete=st.sampled_from([0.0, 0.3, 0.5, 0.9, 59 / 60, 1.0]),
)
def test_resample_matches_a_pandas_count_of_sub_bars(start, length, holes, seed, min_complete):
    f = random_minutes(start, length, holes, seed)
    if f is None:
        return
    for interval, freq, n in (("1h", "1h", 60), ("1d", "1D", 1440)):
        g = f.resample(freq)
        want = g.agg({"open": "first", "high": "max", "low": "min", "close": "last",
                      "volume": "sum"})  # fmt: skip
        share = g["close"].count() / n
        keep = (share >= min_complete) & (share > 0)
        want = want[keep]
        if min_complete < 1:
            want["complete"] = share[keep]
        got = resample(f, interval, min_complete=min_complete)
        pd.testing.assert_frame_equal(got, want, check_freq=False, check_exact=False, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, 3 * 1440),
    length=st.integers(1, 5 * 1440),
    holes=HOLES,
    seed=st.integers(0, 99),
    min_complete=st.sampled_from([0.0, 1.0]),
)
def test_resampling_in_steps_equals_resampling_at_once(start, length, holes, seed, min_complete):
    # at 1 a day is whole iff its hours are; at 0 a short hour passes its share on
    f = random_minutes(start, length, holes, seed)
    if f is None:
        return
    stepwise = resample(resample(f, "1h", min_complete), "1d", min_complete)
    direct = resample(f, "1d", min_complete)
    pd.testing.assert_frame_equal(stepwise, direct, check_exact=False, rtol=1e-12)


# -- the real minute files -----------------------------------------------------------------------


@pytest.mark.parametrize("coin", ["BTC", "ETH"])
def test_real_minute_data_completeness_and_the_rule(data_dir, coin):
    f, _ = read_file(data_dir / "yahoo" / "minute" / f"{coin}-USD_1m.csv", coin=coin)
    assert len(find_gaps(f)) > 0  # the README says the minute files have gaps
    counts = f.index.floor("1h").value_counts().sort_index()  # minutes present per hour
    c = bar_completeness(f, "1h")
    assert c["rows"].tolist() == counts.tolist()
    assert c.index.equals(pd.DatetimeIndex(counts.index, name="ts"))
    whole = counts.index[counts == 60]
    assert resample(f, "1h").index.equals(pd.DatetimeIndex(whole, name="ts"))
    assert len(whole) == 0  # no hour of these files has all 60 minutes
    kept = resample(f, "1h", min_complete=0.5)
    assert kept.index.equals(pd.DatetimeIndex(counts.index[counts >= 30], name="ts"))
    assert kept["complete"].tolist() == (counts[counts >= 30] / 60).tolist()
    daily = resample(f, "1d", min_complete=0)
    for via in ("1h", "15m"):
        pd.testing.assert_frame_equal(
            resample(resample(f, via, 0), "1d", 0), daily, check_exact=False, rtol=1e-12
        )
    assert daily.index[0] >= f.index[0].floor("1D") and daily.index[-1] <= f.index[-1]


def test_btc_minutes_the_least_complete_hour_is_the_issues_34_of_60(data_dir):
    f, _ = read_file(data_dir / "yahoo" / "minute" / "BTC-USD_1m.csv", coin="BTC")
    c = bar_completeness(f, "1h")
    worst = c.sort_values("complete", kind="stable").iloc[0]
    assert (worst.name, worst["rows"]) == (pd.Timestamp("2025-01-13 13:00", tz="UTC"), 34)
