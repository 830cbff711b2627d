"""CSV and Parquet files as candles: Yahoo, Binance klines and a generic layout.

Layouts are detected from the header (case-insensitive, any column order):

- ``yahoo``: ``Date, Open, High, Low, Close, [Adj Close], Volume``;
- ``binance``: Binance kline fields (``open_time``/``datetime`` ... ``close_time``,
  ``quote_asset_volume``, ...), with or without a header row;
- ``generic``: ``timestamp, open, high, low, close, volume``.

Timestamps may be ISO strings (with or without offset; naive means UTC) or epoch seconds,
milliseconds or microseconds. Every problem raises :class:`~coincast.errors.ParseError`
naming the file, the line (CSV) or row (Parquet) and the column; a file that is no CSV text
at all (gzip, Excel, an image, UTF-16) is named as what it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ...coins import check_quote, resolve_offline
from ...errors import IntervalError, ParseError, listed, shown, worded
from ...intervals import INTERVALS, check_interval, interval_ms
from ...series import (
    FIRST_MS,
    LAST_MS,
    TIME_RANGE,
    _bar_starts,
    from_ms,
    infer_interval,
    make_frame,
    validate_candles,
)
from ..sniff import check_csv_bytes, is_parquet

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
#: Where the left-out forming bar is told (the CLI shows it as one stderr line).
_notices = logging.getLogger("coincast.notice")


#: A file's last bar is taken for one still forming, and left out as a fetch leaves the bar
#: forming now, when it is the bar of the present moment, or (daily and weekly files) when
#: its volume is under this share of the smallest of the :data:`FORMING_BEFORE` bars before
#: it: a Yahoo weekly file saved on a Tuesday ends with a week of two days, a fifth of the
#: volume. Whole bars so far below their neighbours are rare (one in a few thousand).
FORMING_SHARE = 0.25
FORMING_BEFORE = 4


@dataclass(frozen=True)
class FileInfo:
    """What :func:`read_file` found: the layout and where the interval came from."""

    layout: str
    interval: str
    inferred: bool
    #: the start of the last bar, left out as still forming (see :data:`FORMING_SHARE`)
    forming: pd.Timestamp | None = None


@dataclass(frozen=True)
class _At:
    """Where a table's rows sit in its file, for messages: ``f.csv: line 3, column 'close'``."""

    path: Path
    first: int  #: the file line (CSV) or row (Parquet) of the table's first row
    unit: str  #: "line" or "row"

    def row(self, n: int) -> str:
        return f"{self.path}: {self.unit} {n}"

    def cell(self, i: int, column: str) -> str:
        return f"{self.row(self.first + i)}, column {shown(column)}"


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
    quote
        Quote currency of the prices (``usd``, ``usdt``).
    interval
        The bar interval; inferred from the most common timestamp step when omitted, and
        refused when the file's usual step is another known interval.

    Raises
    ------
    ParseError
        Naming file, line and column for any malformed content.
    NameFormError
        When ``coin`` or ``quote`` is not a well-formed name.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "btc.csv")
    >>> rows = {"date": ["2024-01-01", "2024-01-02", "2024-01-03"], "open": [1, 2, 3],
    ...         "high": [2, 3, 3], "low": [1, 2, 2], "close": [2, 3, 2], "volume": [9, 9, 9]}
    >>> pd.DataFrame(rows).to_csv(path, index=False)
    >>> frame, info = read_file(path, coin="BTC")
    >>> frame.attrs["coin"], frame.attrs["interval"], len(frame)
    ('bitcoin', '1d', 3)
    """
    p = Path(path)
    coin, quote = resolve_offline(coin), check_quote(quote)
    if interval is not None:
        check_interval(interval)
    raw, at = _load(p)
    table, layout = _columns(raw, p)
    ts = _timestamps(table["time"], at, table.attrs["time_name"])
    values = {c: _numbers(table, c, at) for c in ("open", "high", "low", "close")}
    values["volume"] = (
        _numbers(table, "volume", at) if "volume" in table.columns else np.zeros(len(ts))
    )
    order = np.argsort(ts, kind="stable")
    lines = at.first + order
    ts = ts[order]
    values = {k: v[order] for k, v in values.items()}
    _check_unique(ts, lines, at)
    _check_rows(values, lines, at)
    inferred = interval is None
    interval = _interval(ts, interval, p)
    _check_alignment(ts, interval, lines, at)
    frame = make_frame(ts, values, coin=coin, quote=quote, interval=interval, source=SOURCE_NAME)
    frame = validate_candles(frame)
    why = _forming(frame, pd.Timestamp.now(tz="UTC"))
    if why is None:
        return frame, FileInfo(layout, interval, inferred)
    last = frame.index[-1]
    _notices.info(
        f"{p}: left out the last {interval} bar ({last:%Y-%m-%d %H:%M}) as still forming: {why}"
    )
    return frame.iloc[:-1], FileInfo(layout, interval, inferred, last)


def _forming(frame: pd.DataFrame, now: pd.Timestamp) -> str | None:
    """Why the last bar of ``frame`` is still forming (see :data:`FORMING_SHARE`), or
    ``None`` when it is taken for whole; a file of one bar is always kept."""
    interval = frame.attrs["interval"]
    if len(frame) < 2:
        return None
    start = frame.index[-1]
    if start <= now < start + pd.Timedelta(interval_ms(interval), "ms"):
        return f"it is the {interval} bar of now ({now:%Y-%m-%d %H:%M} UTC)"
    volume = frame["volume"].to_numpy()
    before = volume[-1 - FORMING_BEFORE : -1]
    if interval not in ("1d", "1w") or len(before) < FORMING_BEFORE or before.min() <= 0:
        return None
    share = volume[-1] / before.min()
    if share >= FORMING_SHARE:
        return None
    return (
        f"its volume is {share:.0%} of the smallest of the {FORMING_BEFORE} bars before it "
        f"(a whole bar has at least {FORMING_SHARE:.0%})"
    )


def _load(p: Path) -> tuple[pd.DataFrame, _At]:
    """The file as a table of strings/values, and where its first row sits."""
    if not p.exists():
        raise ParseError(f"{p}: no such file")
    if p.is_dir():
        raise ParseError(f"{p}: is a folder; give a .csv or .parquet file")
    if not p.is_file():
        raise ParseError(f"{p}: is not a regular file (a pipe or device); save it to a file first")
    parquet = is_parquet(p)
    if not parquet:
        check_csv_bytes(p)
    try:
        table, at = _read_parquet(p) if parquet else _read_csv(p)
    except (
        pd.errors.EmptyDataError,
        pd.errors.ParserError,
        UnicodeDecodeError,
        ValueError,
        OSError,
        EOFError,
        pa.ArrowException,
    ) as exc:
        raise ParseError(f"{p}: cannot be read as CSV or Parquet ({_first_line(exc)})") from None
    if table.empty:
        names = listed(list(table.columns))
        raise ParseError(
            f"{p}: the header ({names}) has no rows of candles under it; give a file with at "
            "least one candle"
        )
    return table, at


def _read_parquet(p: Path) -> tuple[pd.DataFrame, _At]:
    table = pd.read_parquet(p)
    if isinstance(table.index, pd.DatetimeIndex):
        table = table.reset_index()
    return table, _At(p, 1, "row")


def _read_csv(p: Path) -> tuple[pd.DataFrame, _At]:
    table = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    if len(table.columns) and _is_number(str(table.columns[0])):
        # No header row (raw Binance klines): the "header" was the first data row.
        table = pd.read_csv(p, dtype=str, header=None, keep_default_na=False)
        names = list(BINANCE_FIELDS[: len(table.columns)])
        table.columns = names + [f"extra_{i}" for i in range(len(table.columns) - len(names))]
        return table, _At(p, 1, "line")
    return table, _At(p, 2, "line")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return shown(text.splitlines()[0], 200)[1:-1] if text else type(exc).__name__


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
            f"{p}: missing column(s) {', '.join(missing)}; found {listed(list(raw.columns))}. "
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


def _timestamps(col: pd.Series, at: _At, name: str) -> np.ndarray:
    """Epoch milliseconds from ISO strings or epoch numbers (s, ms, us, ns by magnitude),
    each within the dates a candle frame can hold."""
    if pd.api.types.is_datetime64_any_dtype(col):
        _no_empty(col.isna().to_numpy(), at, name)
        ms = _ms(pd.to_datetime(col, utc=True))
        return _in_range(ms, col.astype(str), at, name)
    text = col.astype(str).str.strip()
    _no_empty((text == "").to_numpy(), at, name)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.notna().all():
        ms = _epoch_ms(numbers.to_numpy(dtype="float64"), at, name)
        return _in_range(ms, text, at, name)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ParseError(
            f"{at.cell(bad, name)}: {shown(text.iloc[bad])} is not a date or epoch number"
        ) from None
    return _in_range(_ms(parsed), text, at, name)


def _ms(parsed: pd.Series) -> np.ndarray:
    """Epoch milliseconds of parsed UTC times, whatever unit pandas parsed them in."""
    return parsed.dt.as_unit("ms").astype("int64").to_numpy()


def _in_range(ms: np.ndarray, text: pd.Series, at: _At, name: str) -> np.ndarray:
    out = (ms < FIRST_MS) | (ms > LAST_MS)
    if out.any():
        bad = int(np.argmax(out))
        raise ParseError(
            f"{at.cell(bad, name)}: {shown(text.iloc[bad])} is outside the dates coincast can "
            f"hold ({TIME_RANGE})"
        )
    return ms


def _epoch_ms(x: np.ndarray, at: _At, name: str) -> np.ndarray:
    mag = np.nanmax(np.abs(x)) if len(x) else 0
    for limit, factor in ((1e11, 1000.0), (1e14, 1.0), (1e17, 1e-3), (1e20, 1e-6)):
        if mag < limit:
            return np.round(x * factor).astype("int64")
    bad = int(np.argmax(np.abs(x)))
    raise ParseError(f"{at.cell(bad, name)}: {x[bad]:g} is no epoch time")


def _no_empty(empty: np.ndarray, at: _At, name: str) -> None:
    if empty.any():
        raise ParseError(f"{at.cell(int(np.argmax(empty)), name)}: the cell is empty")


def _numbers(table: pd.DataFrame, c: str, at: _At) -> np.ndarray:
    col = table[c]
    if not pd.api.types.is_numeric_dtype(col):
        text = col.astype(str).str.strip()
        _no_empty((text == "").to_numpy(), at, c)
        col = pd.to_numeric(text, errors="coerce")
        bad = col.isna().to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise ParseError(f"{at.cell(i, c)}: {shown(text.iloc[i])} is not a number")
    values = col.to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        raise ParseError(f"{at.cell(int(np.argmax(bad)), c)}: value is missing or infinite")
    return values


def _check_unique(ts: np.ndarray, lines: np.ndarray, at: _At) -> None:
    dup = np.flatnonzero(np.diff(ts) == 0)
    if len(dup):
        i = dup[0]
        raise ParseError(
            f"{at.path}: timestamp {from_ms(ts[i])} appears twice "
            f"({at.unit}s {lines[i]} and {lines[i + 1]})"
        )


def _check_rows(v: dict[str, np.ndarray], lines: np.ndarray, at: _At) -> None:
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
                f"{at.row(lines[i])}, column {col!r}: {v[col][i]:g} breaks the rule: {rule}"
            )


def _interval(ts: np.ndarray, given: str | None, p: Path) -> str:
    """The given interval, unless the file's usual step is another known interval; else the
    interval inferred from the usual step."""
    try:
        usual = infer_interval(ts)
    except IntervalError as exc:
        if given is None:
            raise worded(ParseError(f"{p}: {exc}"), f"{p}: {getattr(exc, 'cli', exc)}") from None
        return given  # one row, or an unusual step (a file with many gaps): trust the user
    if given is not None and given != usual:
        head = f"contradicts the file, whose rows are {usual} apart (the usual step)"
        raise worded(
            ParseError(
                f"{p}: interval={given!r} {head}; pass interval={usual!r}, or none to infer it"
            ),
            f"{p}: --interval {given} {head}; pass --interval {usual}, or no --interval to "
            "infer it",
        )
    return usual


def _check_alignment(ts: np.ndarray, interval: str, lines: np.ndarray, at: _At) -> None:
    off = np.flatnonzero(_bar_starts(ts, interval) != ts)
    if len(off):
        i = off[0]
        raise ParseError(
            f"{at.row(lines[i])}: {from_ms(ts[i])} is not the start of a {interval} bar "
            f"({' '.join(INTERVALS)} bars start on whole multiples, weeks on Mondays); "
            "pass the right interval"
        )
