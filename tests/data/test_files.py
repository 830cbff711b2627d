"""Reading CSV and Parquet files: layouts, timestamps, and errors that name file, line, column."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DATA_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coincast.data.sources.files import read_file
from coincast.errors import NameFormError, ParseError

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
    assert len(frame) == rows - (info.forming is not None)  # a last bar still forming: out
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
        ("", r"prices\.csv: the file is empty \(0 bytes\)"),
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
        r"coincast can hold \(1677-09-22 to 2262-04-11\)$",
    ):
        read_file(path, coin="x")


# -- files that are no CSV text, or text that is not UTF-8 ------------------------------------

ROWS = "".join(f"2024-01-{d:02d},{1 + d},{3 + d},{0.5 + d},{2 + d},{d}\n" for d in range(1, 6))
CSV = ("timestamp,open,high,low,close,volume\n" + ROWS).encode()


def _xlsx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gzip.compress(CSV), r"is a gzip file, not CSV; decompress it first \(gunzip -c .*f\.csv"),
        (bz2.compress(CSV), r"is a bzip2 file, not CSV; decompress it first \(bunzip2 -c"),
        (lzma.compress(CSV), r"is an xz file, not CSV; decompress it first \(unxz -c"),
        (_xlsx(), r"is a zip file \(an Excel \.xlsx workbook is one\), not CSV; unzip it, or save"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            r"is an old Excel \.xls \(OLE\) file, not CSV; save the sheet as CSV",
        ),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "is a PNG image, not a CSV or Parquet file of candles"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "is a JPEG image, not a CSV or Parquet file"),
        (b"%PDF-1.7\n" + bytes(100), "is a PDF document, not a CSV or Parquet file"),
        (b"SQLite format 3\x00" + bytes(100), "is an SQLite database, not a CSV or Parquet file"),
        (CSV.decode().encode("utf-16"), r"is UTF-16 text, not UTF-8; save it as UTF-8 \(iconv"),
        (b"\xfe\xff" + CSV.decode().encode("utf-16-be"), "is UTF-16 text, not UTF-8"),
        (CSV.decode().encode("utf-16-le"), "is UTF-16 text, not UTF-8"),  # no byte-order mark
    ],
    ids=[
        "gzip",
        "bzip2",
        "xz",
        "xlsx",
        "xls",
        "png",
        "jpeg",
        "pdf",
        "sqlite",
        "utf16",
        "utf16be",
        "utf16-no-bom",
    ],
)
def test_a_file_that_is_no_csv_text_is_named(tmp_path, data, message):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(ParseError, match=rf"^{re.escape(str(path))}:? {message}"):
        read_file(path, coin="x")


@pytest.mark.parametrize(
    ("name", "pack"),
    [
        ("f.csv.gz", gzip.compress),
        ("f.csv.bz2", bz2.compress),
        ("f.csv.xz", lzma.compress),
        ("f.zip", lambda b: _zipped("f.csv", b)),
    ],
)
def test_a_compressed_csv_named_so_is_read(tmp_path, name, pack):
    path = tmp_path / name
    path.write_bytes(pack(CSV))
    frame, info = read_file(path, coin="x")
    assert len(frame) == 5 and info.interval == "1d"


def _zipped(inner: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(inner, data)
    return buf.getvalue()


def test_a_nul_byte_inside_a_gzip_file_is_blamed_on_its_line(tmp_path):
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(CSV.replace(b"2024-01-03", b"2024-01\x00-03")))
    with pytest.raises(ParseError, match=r"f\.csv\.gz: line 4 holds a NUL byte"):
        read_file(path, coin="x")


def test_a_cut_gzip_file_cannot_be_decompressed(tmp_path):
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress(CSV * 100)[:60])
    with pytest.raises(ParseError, match=r"f\.csv\.gz: cannot be decompressed \("):
        read_file(path, coin="x")


def test_parquet_is_known_by_its_bytes_not_its_name(tmp_path):
    table = pd.read_csv(io.BytesIO(CSV))
    path = tmp_path / "really-parquet.csv"
    table.to_parquet(path)
    frame, _ = read_file(path, coin="x")
    assert len(frame) == 5


def many_lines(n: int) -> bytes:
    """A valid CSV of ``n`` daily rows, over a megabyte (more than one read chunk) for big n."""
    start = pd.Timestamp("1990-01-01")
    rows = "".join(f"{(start + pd.Timedelta(days=i)):%Y-%m-%d},1,2,0.5,1.5,{i}\n" for i in range(n))
    return ("timestamp,open,high,low,close,volume\n" + rows).encode()


@pytest.mark.parametrize(
    ("line", "data"),
    [
        (1, b"time\x00stamp,open,high,low,close,volume\n" + ROWS.encode()),
        (4, CSV.replace(b"2024-01-03,4", b"2024-01-03,\x004")),
        (6, CSV.rstrip(b"\n") + b"\x00"),  # the last line, no newline after it
        (30_002, many_lines(40_000).replace(b"2072-02-20,1", b"2072-02-20,\x001")),
    ],
    ids=["header", "middle", "last", "past-the-first-megabyte"],
)
def test_a_nul_byte_is_blamed_on_its_own_line(tmp_path, line, data):
    path = tmp_path / "nul.csv"
    path.write_bytes(data)
    with pytest.raises(
        ParseError,
        match=rf"nul\.csv: line {line} holds a NUL byte \(\\x00\), which no CSV text has; remove "
        "it, or export the file again$",
    ):
        read_file(path, coin="x")


@pytest.mark.parametrize(
    ("line", "data", "what"),
    [
        (3, CSV.replace(b"2024-01-02,3", b"2024-01-02,3\xe9"), "byte 0xe9"),  # latin-1 é
        (1, "Zeit é,open".encode("latin-1") + CSV[9:], "byte 0xe9"),
        (30_002, many_lines(40_000).replace(b"2072-02-20,1", b"2072-02-20,\xff1"), "byte 0xff"),
        (6, CSV.rstrip(b"\n") + "é".encode()[:1], "its last character is cut short"),
    ],
    ids=["cell", "header", "past-the-first-megabyte", "cut-at-the-end"],
)
def test_bytes_that_are_not_utf8_are_blamed_on_their_line(tmp_path, line, data, what):
    path = tmp_path / "latin.csv"
    path.write_bytes(data)
    with pytest.raises(
        ParseError,
        match=rf"latin\.csv: line {line} is not UTF-8 text \({what}\); save the file as UTF-8, "
        "e.g. iconv -f latin1 -t UTF-8",
    ):
        read_file(path, coin="x")


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV)
    assert len(read_file(path, coin="x")[0]) == 5


HUGE = "9" * 50 + "x" * 100_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (CSV.replace(b"2024-01-02,3", f"2024-01-02,{HUGE}".encode()), "column 'open': '99999"),
        (CSV.replace(b"2024-01-02", HUGE.encode()), "column 'timestamp': '99999"),
        (
            CSV.replace(b"timestamp", HUGE.encode()),
            r"missing column\(s\) timestamp .*; found '9999",
        ),
    ],
    ids=["number", "time", "header"],
)
def test_a_huge_cell_is_cut_in_the_message(tmp_path, data, message):
    path = tmp_path / "huge.csv"
    path.write_bytes(data)
    with pytest.raises(ParseError, match=message) as info:
        read_file(path, coin="x")
    assert len(str(info.value)) < 400 and "(100,050 characters)" in str(info.value)


@pytest.mark.parametrize("interval", [None, "1d"])
@pytest.mark.parametrize(
    "header", ["timestamp,open,high,low,close,volume\n", "Date,Open,High,Low,Close\n\n\n"]
)
def test_a_header_without_rows_is_named(tmp_path, header, interval):
    path = write(tmp_path, header, "head.csv")
    with pytest.raises(
        ParseError,
        match=r"head\.csv: the header \(.*[Oo]pen.*\) has no rows of candles under it; give a file "
        "with at least one candle",
    ):
        read_file(path, coin="x", interval=interval)


def test_a_header_without_rows_in_parquet(tmp_path):
    path = tmp_path / "head.parquet"
    pd.DataFrame({c: pd.Series([], dtype=float) for c in ("ts", "open", "high", "low", "close")}
                 ).to_parquet(path)  # fmt: skip
    with pytest.raises(ParseError, match=r"head\.parquet: the header \(ts, open, high, low"):
        read_file(path, coin="x")


@pytest.mark.parametrize("text", ["\n", "\n\n  \n"])
def test_blank_lines_only(tmp_path, text):
    with pytest.raises(ParseError, match=r"blank\.csv: cannot be read as CSV or Parquet \(No col"):
        read_file(write(tmp_path, text, "blank.csv"), coin="x")


def test_a_pipe_or_device_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ParseError, match="is not a regular file"):
            read_file(path, coin="x")


PRICES = {"open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5}


@pytest.mark.parametrize(
    ("year", "line"), [("1600", 2), ("9999", 3), ("0001", 2), ("2262-04-12", 3)]
)
def test_a_date_pandas_cannot_hold_in_a_parquet_datetime_column(tmp_path, year, line):
    day = year if "-" in year else f"{year}-01-02"
    days = np.array(["2024-01-01", day] if line == 3 else [day, "2024-01-03"], dtype="M8[s]")
    path = tmp_path / "far.parquet"
    pd.DataFrame({"date": days, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5}).to_parquet(
        path
    )
    with pytest.raises(
        ParseError,
        match=rf"far\.parquet: row {line - 1}, column 'date': '{day}.*' is outside the dates "
        r"coincast can hold \(1677-09-22 to 2262-04-11\)",
    ):
        read_file(path, coin="x")


def test_a_missing_time_in_parquet_is_an_empty_cell(tmp_path):
    path = tmp_path / "nat.parquet"
    days = pd.to_datetime(pd.Series(["2024-01-01", None]), utc=True)
    pd.DataFrame({"date": days, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5}).to_parquet(
        path
    )
    with pytest.raises(ParseError, match=r"nat\.parquet: row 2, column 'date': the cell is empty"):
        read_file(path, coin="x")


def weekly(n: int) -> str:
    mondays = pd.date_range("2024-01-01", periods=n, freq="7D")
    return GENERIC.format("".join(f"{d:%Y-%m-%d},1,2,0.5,1.5,1\n" for d in mondays))


def four_hourly(n: int) -> str:
    times = pd.date_range("2024-01-01", periods=n, freq="4h")
    return GENERIC.format("".join(f"{t:%Y-%m-%dT%H:%M},1,2,0.5,1.5,1\n" for t in times))


@pytest.mark.parametrize(
    ("text", "given", "usual"),
    [
        (VALID, "1h", "1d"),
        (VALID, "1m", "1d"),
        (VALID, "1w", "1d"),
        (weekly(6), "1d", "1w"),
        (four_hourly(12), "1h", "4h"),
        (four_hourly(12), "1d", "4h"),
    ],
)
def test_an_interval_that_contradicts_the_file_is_refused(tmp_path, text, given, usual):
    path = write(tmp_path, text, "bars.csv")
    with pytest.raises(
        ParseError,
        match=rf"bars\.csv: interval='{given}' contradicts the file, whose rows are {usual} "
        rf"apart \(the usual step\); pass interval='{usual}', or none to infer it$",
    ) as caught:
        read_file(path, coin="x", interval=given)
    assert caught.value.cli.endswith(f"pass --interval {usual}, or no --interval to infer it")
    assert read_file(path, coin="x", interval=usual)[1].interval == usual


@pytest.mark.parametrize("coin", ["", " ", "../../x", "<script>", "a\x00b", "a" * 5000, "[/b]"])
def test_a_coin_that_is_no_id_is_refused(tmp_path, coin):
    with pytest.raises(
        NameFormError,
        match=r"^coin '.*'(\.\.\. \(5,000 characters\))? is not a valid id: a coin id is 1 to 64",
    ):
        read_file(write(tmp_path, VALID), coin=coin)


@pytest.mark.parametrize("quote", ["", " ", "us d", "../x", "<b>", "usd\x00", "q" * 5000, "€"])
def test_a_quote_that_is_no_currency_is_refused(tmp_path, quote):
    with pytest.raises(
        NameFormError,
        match=r"^quote '.*'(\.\.\. \(5,000 characters\))? is not a valid quote currency: "
        "a quote is 1 to 16 letters or digits, e.g. usd or usdt$",
    ):
        read_file(write(tmp_path, VALID), coin="x", quote=quote)


# -- the last bar, still forming ---------------------------------------------------------------


def _partial_in_truth(path: Path, start: pd.Timestamp) -> bool:
    """Whether the bar at ``start`` of a shared file ends after the coin's finest data ends:
    a bar that the data of its own coin does not cover to its end is partial."""
    if path.parent.name == "binance":
        finest = pd.read_csv(path.with_name("BTCUSDT_1d.csv"))["datetime"].iloc[-1]
    else:
        finest = pd.read_csv(DATA_DIR / "yahoo" / "daily" / path.name.replace("1wk", "1d"))[
            "Date"
        ].iloc[-1]
    step = pd.Timedelta("7D" if "1wk" in path.name else "1D")
    return pd.Timestamp(finest, tz="UTC") + pd.Timedelta("1D") < start + step


@pytest.mark.parametrize("path", shared_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_shared_file_loses_its_last_bar_only_when_it_is_truly_partial(path, notes):
    coin = path.name.split("-")[0].removesuffix("USDT_1d.csv").removesuffix("USDT_1wk.csv")
    frame, info = read_file(path, coin=coin)
    if info.forming is None:
        assert notes.messages == []
        assert frame.index[-1] == pd.Timestamp(pd.read_csv(path).iloc[-1, 0], tz="UTC")
        return
    assert path.parent.name == "weekly" and _partial_in_truth(path, info.forming)
    assert frame.index[-1] == info.forming - pd.Timedelta("7D")
    assert notes.messages == [
        f"{path}: left out the last 1w bar ({info.forming:%Y-%m-%d} 00:00) as still forming: "
        f"its volume is {notes.messages[0].split('volume is ')[1].split('%')[0]}% of the "
        "smallest of the 4 bars before it (a whole bar has at least 25%)"
    ]


def test_most_yahoo_weekly_files_end_in_a_two_day_week_that_is_left_out(data_dir):
    weekly = sorted((data_dir / "yahoo" / "weekly").glob("*.csv"))
    out = [p.name for p in weekly if read_file(p, coin=p.name.split("-")[0])[1].forming]
    assert len(out) == 11  # ADA, BNB and LTC traded enough in two days to look whole: kept


def _weekly(volumes: list[float], start: str = "2024-01-01") -> str:
    ts = pd.date_range(start, periods=len(volumes), freq="7D")
    rows = [f"{t:%Y-%m-%d},1,2,0.5,1.5,{v}" for t, v in zip(ts, volumes, strict=True)]
    return "timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    ("volumes", "kept"),
    [
        ([100, 90, 110, 80, 19], 4),  # under a quarter of the smallest before it: forming
        ([100, 90, 110, 80, 20], 5),  # a quarter: whole
        ([100, 90, 110, 0, 1], 5),  # a bar before it with no volume: no evidence
        ([100, 90, 10], 3),  # too few bars before it to judge
    ],
)
def test_the_volume_rule_for_the_last_bar(tmp_path, volumes, kept):
    frame, info = read_file(write(tmp_path, _weekly(volumes)), coin="x")
    assert len(frame) == kept and (info.forming is not None) == (kept < len(volumes))


def test_the_bar_of_now_is_left_out_and_a_daily_file_is_judged_too(tmp_path):
    today = pd.Timestamp.now(tz="UTC").normalize()
    days = pd.date_range(end=today, periods=3, freq="D")
    text = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{t:%Y-%m-%d},1,2,0.5,1.5,100\n" for t in days
    )
    frame, info = read_file(write(tmp_path, text), coin="x")
    assert info.forming == today and len(frame) == 2 and frame.index[-1] == days[1]
    rows = "timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-0{n + 1},1,2,0.5,1.5,{v}\n" for n, v in enumerate([100, 90, 110, 80, 1])
    )
    daily = read_file(write(tmp_path, rows, "d.csv"), coin="x")[1]
    assert daily.forming == pd.Timestamp("2024-01-05", tz="UTC")
    hourly = "timestamp,open,high,low,close,volume\n" + "".join(
        f"2024-01-01T0{h}:00:00Z,1,2,0.5,1.5,{v}\n" for h, v in enumerate([100, 90, 110, 80, 1])
    )
    assert read_file(write(tmp_path, hourly, "h.csv"), coin="x")[1].forming is None  # 1h: kept
