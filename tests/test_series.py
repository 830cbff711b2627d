"""The canonical candle frame: validation, gaps, interval inference (resampling: test_resample)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from conftest import frame_of

from coincast.errors import CoincastError, DataError, IntervalError
from coincast.intervals import INTERVALS
from coincast.series import (
    COLUMNS,
    find_gaps,
    infer_interval,
    parse_time,
    validate_candles,
)

MIN = 60_000


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


# -- times typed by the user: ISO dates only, within what a frame can hold --------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", "2024-01-02 00:00"),
        (" 2024-01-02 ", "2024-01-02 00:00"),
        ("2024-1-2", "2024-01-02 00:00"),
        ("2024-01-02T15:00", "2024-01-02 15:00"),
        ("2024-01-02 15:00:30", "2024-01-02 15:00:30"),
        ("2024-01-02T15:00:30.250", "2024-01-02 15:00:30.250"),
        ("2024-01-02T15:00Z", "2024-01-02 15:00"),
        ("2024-01-02T15:00+02:00", "2024-01-02 13:00"),
        ("2024-01-02T15:00-0130", "2024-01-02 16:30"),
        ("1677-09-22", "1677-09-22 00:00"),
        ("2262-04-11", "2262-04-11 00:00"),
    ],
)
def test_parse_time_reads_iso_dates_in_utc(text, expected):
    ts = parse_time(text, "--start")
    assert ts == pd.Timestamp(expected, tz="UTC") and ts.unit == "ns"


@pytest.mark.parametrize(
    "text", ["01/02/2024", "1/2/2024", "12.11.2024", "01-02-2024", "02/01/24", "12/12/2024"]
)
def test_a_day_month_date_is_ambiguous(text):
    with pytest.raises(
        CoincastError,
        match=rf"^--start '{re.escape(text)}' is ambiguous \(day and month may be either way "
        r"round\); give an ISO date like 2024-01-02 or 2024-01-02T15:00$",
    ):
        parse_time(text, "--start")


@pytest.mark.parametrize(
    "text",
    ["2262-04-12", "2262-04-11T23:59", "1677-09-21", "1600-01-01", "99999-01-01", "0000-01-01",
     "9999-12-31", "0001-01-01T00:00Z"],
)  # fmt: skip
def test_a_date_no_frame_can_hold_is_named_with_the_range(text):
    with pytest.raises(
        CoincastError,
        match=rf"^--end '{re.escape(text)}' is outside the dates coincast can hold \(1677-09-22 "
        r"to 2262-04-11\); give a date in that range$",
    ):
        parse_time(text, "--end")


@pytest.mark.parametrize(
    "text",
    ["", " ", "now", "today", "yesterday", "2024", "2024-01", "20240102", "13/02/2024",
     "2024/01/02", "2024-02-30", "2024-13-45", "2024-01-02T25:00", "2024-01-02 garbage",
     "2024-01-02\x00", "<script>", "1704067200", "2024-01-02T15:00+99:99"],
)  # fmt: skip
def test_anything_else_is_not_a_date(text):
    with pytest.raises(
        CoincastError,
        match=r"^--until '.*' is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM$",
    ):
        parse_time(text, "--until")


def test_a_huge_time_is_cut_in_the_message():
    with pytest.raises(CoincastError, match=r"'2024-01-0222222222.*'\.\.\. \(5,010 characters\)"):
        parse_time("2024-01-02" + "2" * 5000, "--start")
