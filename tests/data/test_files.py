"""Reading CSV and Parquet files: layouts, timestamps, and errors that name file, line, column."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coincast.data.sources.files import read_file
from coincast.errors import ParseError

FOLDER_INTERVAL = {"daily": "1d", "weekly": "1w", "hourly": "1h", "minute": "1m"}


def shared_files() -> list[Path]:
    if not DATA_DIR.is_dir():
        return []
    return sorted(DATA_DIR.glob("yahoo/*/*.csv")) + sorted(DATA_DIR.glob("binance/*.csv"))


def expected_interval(path: Path) -> str:
    if path.parent.name == "binance":
        return "1w" if path.stem.endswith("1wk") else "1d"
    return FOLDER_INTERVAL[path.parent.name]


def test_shared_data_is_present_when_ci_says_so(data_dir):
    assert len(shared_files()) == 14 * 4 - 12 + 2  # 14 daily/weekly/hourly, 2 minute, 2 binance


@pytest.mark.parametrize("path", shared_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_file_imports(path):
    rows = sum(1 for _ in path.open()) - 1
    coin = path.name.split("-")[0].removesuffix("USDT_1d.csv").removesuffix("USDT_1wk.csv")
    frame, info = read_file(path, coin=coin)
    assert len(frame) == rows
    assert info.interval == expected_interval(path) and info.inferred
    assert info.layout == ("binance" if path.parent.name == "binance" else "yahoo")
    assert frame.index.is_monotonic_increasing and frame.index.is_unique


def test_yahoo_columns_map_by_name_not_position(data_dir):
    frame, _ = read_file(data_dir / "yahoo" / "daily" / "BTC-USD_1d.csv", coin="BTC")
    raw = pd.read_csv(data_dir / "yahoo" / "daily" / "BTC-USD_1d.csv")
    assert frame.attrs["coin"] == "bitcoin"  # the symbol resolved to the id
    first = frame.iloc[0]
    assert first["close"] == raw["Close"].iloc[0] and first["open"] == raw["Open"].iloc[0]
    assert frame.index[0] == pd.Timestamp("2014-09-17", tz="UTC")


def write(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GENERIC = "timestamp,open,high,low,close,volume\n{}"


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"],
        ["2024-01-01 00:00:00", "2024-01-01 01:00:00", "2024-01-01 02:00:00"],
        ["2024-01-01T01:00:00+01:00", "2024-01-01T02:00:00+01:00", "2024-01-01T03:00:00+01:00"],
        ["1704067200", "1704070800", "1704074400"],
        ["1704067200000", "1704070800000", "1704074400000"],
        ["1704067200000000", "1704070800000000", "1704074400000000"],
    ],
    ids=["iso-z", "iso-naive", "iso-offset", "epoch-s", "epoch-ms", "epoch-us"],
)
def test_generic_layout_timestamps(tmp_path, stamps):
    rows = "\n".join(f"{t},1,2,0.5,1.5,10" for t in stamps)
    frame, info = read_file(write(tmp_path, GENERIC.format(rows)), coin="eth")
    assert info.layout == "generic" and info.interval == "1h"
    assert frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame.attrs["coin"] == "ethereum"


def test_any_column_order_and_case(tmp_path):
    text = "VOLUME,Close,LOW,High,Time,Open\n5,1.5,0.5,2,2024-01-02,1\n6,1.6,0.6,2,2024-01-01,1\n"
    frame, _ = read_file(write(tmp_path, text), coin="x")
    assert frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")  # sorted
    assert frame["volume"].tolist() == [6.0, 5.0]
    assert frame["close"].tolist() == [1.6, 1.5]


def test_headerless_binance_klines(tmp_path):
    rows = [
        f"{1704067200000 + i * 60000},1.0,2.0,0.5,1.5,3.0,{1704067259999 + i * 60000},4.5,7,1,1,0"
        for i in range(5)
    ]
    frame, info = read_file(write(tmp_path, "\n".join(rows) + "\n"), coin="btc", quote="usdt")
    assert info.layout == "binance" and info.interval == "1m" and len(frame) == 5
    assert frame.attrs["quote"] == "usdt"


def test_parquet_with_datetime_index(tmp_path):
    idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC", name="date")
    table = pd.DataFrame(
        {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 1.0}, index=idx
    )
    path = tmp_path / "f.parquet"
    table.to_parquet(path)
    frame, info = read_file(path, coin="x")
    assert len(frame) == 4 and info.interval == "1d"


def test_given_interval_overrides_inference(tmp_path):
    rows = "\n".join(f"2024-01-0{d},1,2,0.5,1.5,10" for d in (1, 3, 5))
    _, info = read_file(write(tmp_path, GENERIC.format(rows)), coin="x", interval="1d")
    assert info.interval == "1d" and not info.inferred


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,open,high,low\n2024-01-01,1,2,0.5\n", r"missing column\(s\) close"),
        ("open,high,low,close\n1,2,0.5,1.5\n", r"missing column\(s\) timestamp"),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,2,0.5,abc,1\n"),
            r"line 3, column 'close': 'abc' is not a number",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,,0.5,1.5,1\n"),
            r"line 3, column 'high': the cell is empty",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\nyesterday,1,2,0.5,1.5,1\n"),
            r"line 3, column 'timestamp': 'yesterday' is not a date",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-01,1,2,0.5,1.5,1\n"),
            r"2024-01-01 00:00:00\+00:00 appears twice \(lines 2 and 3\)",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,1.2,0.5,1.5,1\n"),
            r"line 3, column 'high': 1.2 breaks the rule: high must be >= open and close",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,2,0,1.5,1\n"),
            r"line 3, column 'low': 0 breaks the rule: prices must be > 0",
        ),
        (
            GENERIC.format("2024-01-01,1,2,0.5,1.5,1\n2024-01-02,1,2,0.5,1.5,-1\n"),
            r"line 3, column 'volume': -1 breaks the rule",
        ),
        (
            GENERIC.format(
                "2024-01-01 00:00,1,2,0.5,1.5,1\n2024-01-01 01:00,1,2,0.5,1.5,1\n"
                "2024-01-01 02:30,1,2,0.5,1.5,1\n"
            ),
            r"line 4: 2024-01-01 02:30:00\+00:00 is not the start of a 1h bar",
        ),
        ("", "cannot be read"),
    ],
)
def test_malformed_files_name_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, text, "prices.csv")
    with pytest.raises(ParseError, match=message) as info:
        read_file(path, coin="x")
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ParseError, match="no such file"):
        read_file(tmp_path / "nope.csv", coin="x")
    with pytest.raises(ParseError, match="is a folder"):
        read_file(tmp_path, coin="x")


def test_binary_garbage_is_a_parse_error(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ParseError, match=str(path)):
        read_file(path, coin="x")


VALID = GENERIC.format(
    "\n".join(f"2024-01-{d:02d},{1 + d},{3 + d},{0.5 + d},{2 + d},{d}" for d in range(1, 11))
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    at=st.integers(0, len(VALID) - 1),
    junk=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"), max_size=8),
    cut=st.booleans(),
)
def test_mutated_files_parse_or_fail_with_our_error(tmp_path, at, junk, cut):
    text = VALID[:at] + junk + ("" if cut else VALID[at + 1 :])
    path = write(tmp_path, text, "m.csv")
    try:
        frame, _ = read_file(path, coin="x")
    except ParseError as exc:
        assert str(path) in str(exc)
        assert "\n" not in str(exc).strip()
    else:
        assert len(frame) >= 1 and np.isfinite(frame.to_numpy()).all()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.integers(0, 9),
    col=st.sampled_from(["open", "high", "low", "close", "volume"]),
    bad=st.sampled_from(["x", "1..2", "--", "nan?", "1e"]),
)
def test_a_bad_cell_is_reported_at_its_line_and_column(tmp_path, row, col, bad):
    table = pd.read_csv(pd.io.common.StringIO(VALID), dtype=str)
    table.loc[row, col] = bad
    path = tmp_path / "cell.csv"
    table.to_csv(path, index=False)
    message = rf"line {row + 2}, column '{col}': '{re.escape(bad)}' is not a number"
    with pytest.raises(ParseError, match=message):
        read_file(path, coin="x")


@pytest.mark.parametrize(
    ("cell", "line"),
    [("0024-01-01", 2), ("1600-06-01", 2), ("9999-01-02", 3), ("32503680000", 3)],  # 3000 AD
)
def test_a_date_outside_what_a_frame_can_hold_is_named(tmp_path, cell, line):
    rows = ["2024-01-01,2,4,1.5,3,1", "2024-01-02,3,5,2.5,4,2"]
    rows[line - 2] = cell + rows[line - 2][len("2024-01-0x") :]
    if cell.isdigit():  # epoch seconds: the other row must be a number too
        rows[0] = "1704067200" + rows[0][len("2024-01-01") :]
    path = write(tmp_path, GENERIC.format("\n".join(rows)), "far.csv")
    with pytest.raises(
        ParseError,
        match=rf"far\.csv: line {line}, column 'timestamp': '{cell}' is outside the dates "
        r"coincast can hold \(1677-09-21 to 2262-04-11\)$",
    ):
        read_file(path, coin="x")
