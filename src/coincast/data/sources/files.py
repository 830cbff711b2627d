"""CSV and Parquet files as candles: Yahoo, Binance klines and a generic layout.

Layouts are detected from the header (case-insensitive, any column order):

- ``yahoo``: ``Date, Open, High, Low, Close, [Adj Close], Volume``;
- ``binance``: Binance kline fields (``open_time``/``datetime`` ... ``close_time``,
  ``quote_asset_volume``, ...), with or without a header row;
- ``generic``: ``timestamp, open, high, low, close, volume``.

Timestamps may be ISO strings (with or without offset; naive means UTC) or epoch seconds,
milliseconds or microseconds. Every problem raises :class:`~coincast.errors.ParseError`
naming the file, the line and the column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...coins import resolve_offline
from ...errors import ParseError
from ...intervals import INTERVALS, check_interval
from ...series import _bar_starts, from_ms, infer_interval, make_frame, validate_candles

TIME_NAMES = ("timestamp", "datetime", "date", "time", "ts", "open_time", "opentime", "open time")
BINANCE_FIELDS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_asset_volume",
    "num_trades",
    "taker_buy_base_vol",
    "taker_buy_quote_vol",
    "ignore",
)
SOURCE_NAME = "csv"


@dataclass(frozen=True)
class FileInfo:
    """What :func:`read_file` found: the layout and where the interval came from."""

    layout: str
    interval: str
    inferred: bool


def read_file(
    path: str | Path, *, coin: str, quote: str = "usd", interval: str | None = None
) -> tuple[pd.DataFrame, FileInfo]:
    """Read a CSV or Parquet file of candles as a validated candle frame.

    Parameters
    ----------
    path
        ``.csv`` (optionally compressed, e.g. ``.csv.gz``) or ``.parquet`` file.
    coin
        Coin id or well-known symbol (``BTC`` -> ``bitcoin``).
    interval
        The bar interval; inferred from the most common timestamp step when omitted.

    Raises
    ------
    ParseError
        Naming file, line and column for any malformed content.
    """
    p = Path(path)
    coin = resolve_offline(coin)
    raw, first_line = _load(p)
    table, layout = _columns(raw, p)
    ts = _timestamps(table["time"], p, first_line, table.attrs["time_name"])
    values = {c: _numbers(table, c, p, first_line) for c in ("open", "high", "low", "close")}
    values["volume"] = (
        _numbers(table, "volume", p, first_line) if "volume" in table.columns else np.zeros(len(ts))
    )
    order = np.argsort(ts, kind="stable")
    lines = first_line + order
    ts = ts[order]
    values = {k: v[order] for k, v in values.items()}
    dup = np.flatnonzero(np.diff(ts) == 0)
    if len(dup):
        i = dup[0]
        when = from_ms(ts[i])
        raise ParseError(
            f"{p}: timestamp {when} appears twice (lines {lines[i]} and {lines[i + 1]})"
        )
    _check_rows(values, lines, p)
    if interval is None:
        interval, inferred = _infer(ts, p), True
    else:
        interval, inferred = check_interval(interval), False
    _check_alignment(ts, interval, lines, p)
    frame = make_frame(
        ts, values, coin=coin, quote=quote.lower(), interval=interval, source=SOURCE_NAME
    )
    return validate_candles(frame), FileInfo(layout, interval, inferred)


def _load(p: Path) -> tuple[pd.DataFrame, int]:
    """The file as a table of strings/values and the file line of its first data row."""
    if not p.exists():
        raise ParseError(f"{p}: no such file")
    if p.is_dir():
        raise ParseError(f"{p}: is a folder; give a .csv or .parquet file")
    suffixes = [s.lower() for s in p.suffixes]
    try:
        if ".parquet" in suffixes or ".pq" in suffixes:
            table = pd.read_parquet(p)
            if isinstance(table.index, pd.DatetimeIndex):
                table = table.reset_index()
            return table, 1
        table = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (
        pd.errors.EmptyDataError,
        pd.errors.ParserError,
        UnicodeDecodeError,
        ValueError,
        OSError,
    ) as exc:
        raise ParseError(f"{p}: cannot be read as CSV or Parquet ({_first_line(exc)})") from None
    if len(table.columns) and _is_number(str(table.columns[0])):
        # No header row (raw Binance klines): the "header" was the first data row.
        table = pd.read_csv(p, dtype=str, header=None, keep_default_na=False)
        names = list(BINANCE_FIELDS[: len(table.columns)])
        table.columns = names + [f"extra_{i}" for i in range(len(table.columns) - len(names))]
        return table, 1
    return table, 2


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _columns(raw: pd.DataFrame, p: Path) -> tuple[pd.DataFrame, str]:
    names = {str(c).strip().lower().replace("_", " "): c for c in raw.columns}
    lower = set(names)
    time_name = next((n for n in TIME_NAMES if n.replace("_", " ") in lower), None)
    need = ["open", "high", "low", "close"]
    missing = [c for c in need if c not in lower]
    if time_name is None:
        missing.insert(0, "timestamp (or date/datetime/time/open_time)")
    if missing:
        raise ParseError(
            f"{p}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, raw.columns))}. "
            "Expected a Yahoo, Binance klines or timestamp,open,high,low,close,volume layout"
        )
    if "close time" in lower or "quote asset volume" in lower:
        layout = "binance"
    elif time_name == "date" and ("adj close" in lower or "volume" in lower):
        layout = "yahoo"
    else:
        layout = "generic"
    table = pd.DataFrame({"time": raw[names[time_name.replace("_", " ")]]})
    for c in ("open", "high", "low", "close", "volume"):
        if c in lower:
            table[c] = raw[names[c]]
    table.attrs["time_name"] = str(names[time_name.replace("_", " ")])
    return table, layout


def _timestamps(col: pd.Series, p: Path, first_line: int, name: str) -> np.ndarray:
    """Epoch milliseconds from ISO strings or epoch numbers (s, ms, us, ns by magnitude),
    each within the dates a candle frame can hold."""
    if pd.api.types.is_datetime64_any_dtype(col):
        ms = _ms(pd.to_datetime(col, utc=True))
        return _in_range(ms, col.astype(str), p, first_line, name)
    text = col.astype(str).str.strip()
    _no_empty(text, p, first_line, name)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        ms = _epoch_ms(numbers.to_numpy(dtype="float64"), p, first_line, name)
        return _in_range(ms, text, p, first_line, name)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ParseError(
            f"{p}: line {first_line + bad}, column {name!r}: {text.iloc[bad]!r} is not a date "
            "or epoch number"
        ) from None
    return _in_range(_ms(parsed), text, p, first_line, name)


def _ms(parsed: pd.Series) -> np.ndarray:
    """Epoch milliseconds of parsed UTC times, whatever unit pandas parsed them in."""
    return parsed.dt.as_unit("ms").astype("int64").to_numpy()


#: The dates a candle frame can hold: pandas' nanosecond timestamps, in epoch milliseconds.
_FIRST_MS = -(2**63 - 1) // 1_000_000 + 1
_LAST_MS = (2**63 - 1) // 1_000_000


def _in_range(ms: np.ndarray, text: pd.Series, p: Path, first_line: int, name: str) -> np.ndarray:
    out = (ms < _FIRST_MS) | (ms > _LAST_MS)
    if out.any():
        bad = int(np.argmax(out))
        raise ParseError(
            f"{p}: line {first_line + bad}, column {name!r}: {text.iloc[bad]!r} is outside the "
            f"dates coincast can hold ({pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d})"
        )
    return ms


def _epoch_ms(x: np.ndarray, p: Path, first_line: int, name: str) -> np.ndarray:
    mag = np.nanmax(np.abs(x)) if len(x) else 0
    for limit, factor in ((1e11, 1000.0), (1e14, 1.0), (1e17, 1e-3), (1e20, 1e-6)):
        if mag < limit:
            return np.round(x * factor).astype("int64")
    bad = int(np.argmax(np.abs(x)))
    raise ParseError(f"{p}: line {first_line + bad}, column {name!r}: {x[bad]:g} is no epoch time")


def _no_empty(text: pd.Series, p: Path, first_line: int, name: str) -> None:
    empty = (text == "").to_numpy()
    if empty.any():
        i = int(np.argmax(empty))
        raise ParseError(f"{p}: line {first_line + i}, column {name!r}: the cell is empty")


def _numbers(table: pd.DataFrame, c: str, p: Path, first_line: int) -> np.ndarray:
    col = table[c]
    if not pd.api.types.is_numeric_dtype(col):
        text = col.astype(str).str.strip()
        _no_empty(text, p, first_line, c)
        col = pd.to_numeric(text, errors="coerce")
        bad = col.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise ParseError(
                f"{p}: line {first_line + i}, column {c!r}: {text.iloc[i]!r} is not a number"
            )
    values = col.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParseError(f"{p}: line {first_line + i}, column {c!r}: value is missing or infinite")
    return values


def _check_rows(v: dict[str, np.ndarray], lines: np.ndarray, p: Path) -> None:
    tol = 1e-9 * np.maximum(np.abs(v["high"]), 1.0)
    rules = [
        ("low", v["low"] <= 0, "prices must be > 0"),
        ("volume", v["volume"] < 0, "volume must be >= 0"),
        (
            "high",
            v["high"] < np.maximum(v["open"], v["close"]) - tol,
            "high must be >= open and close",
        ),
        (
            "low",
            v["low"] > np.minimum(v["open"], v["close"]) + tol,
            "low must be <= open and close",
        ),
    ]
    for col, mask, rule in rules:
        if mask.any():
            i = int(np.argmax(mask))
            raise ParseError(
                f"{p}: line {lines[i]}, column {col!r}: {v[col][i]:g} breaks the rule: {rule}"
            )


def _infer(ts: np.ndarray, p: Path) -> str:
    try:
        return infer_interval(ts)
    except Exception as exc:  # IntervalError: add the file name
        raise ParseError(f"{p}: {exc}") from None


def _check_alignment(ts: np.ndarray, interval: str, lines: np.ndarray, p: Path) -> None:
    off = np.flatnonzero(_bar_starts(ts, interval) != ts)
    if len(off):
        i = off[0]
        when = from_ms(ts[i])
        raise ParseError(
            f"{p}: line {lines[i]}: {when} is not the start of a {interval} bar "
            f"({' '.join(INTERVALS)} bars start on whole multiples, weeks on Mondays); "
            "pass the right --interval"
        )
