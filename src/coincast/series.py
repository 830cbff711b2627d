"""The canonical candle frame: the one data contract every source returns.

A candle frame is a :class:`pandas.DataFrame` with

- index ``ts``: tz-aware UTC timestamps of bar starts, strictly increasing and unique;
- columns ``open high low close volume`` (float64) and optionally ``market_cap`` and
  ``complete`` (the share of a resampled bar's sub-bars present, in (0, 1]; only on frames
  resampled with ``min_complete`` below 1, see :func:`resample`);
- ``frame.attrs`` naming ``coin``, ``quote``, ``interval`` and ``source``.

Frames are validated once, where data enters (:func:`validate_candles`); code downstream
trusts them. Gaps are reported (:func:`find_gaps`), never filled.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import CoincastError, DataError, IntervalError, shown, worded
from .intervals import INTERVALS, bar_start, check_interval, interval_ms

PRICE_COLUMNS = ("open", "high", "low", "close")
COLUMNS = (*PRICE_COLUMNS, "volume")
OPTIONAL_COLUMNS = ("market_cap", "complete")
META_KEYS = ("coin", "quote", "interval", "source")


def index_from_ms(ts_ms: np.ndarray) -> pd.DatetimeIndex:
    """UTC :class:`~pandas.DatetimeIndex` named ``ts`` from epoch milliseconds."""
    values = np.asarray(ts_ms, dtype="int64").astype("datetime64[ms]").astype("datetime64[ns]")
    return pd.DatetimeIndex(values, name="ts").tz_localize("UTC")


def ms_from_index(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch milliseconds (int64) of a UTC :class:`~pandas.DatetimeIndex`."""
    return np.asarray(index.as_unit("ms").asi8, dtype="int64")


# -- time: one way to read a moment, one way to count it, one way to step forward ------------


def utc(t: pd.Timestamp | str | int | float) -> pd.Timestamp:
    """``t`` as a tz-aware UTC :class:`~pandas.Timestamp`: a naive time is read as UTC, an
    aware one converted.

    Examples
    --------
    >>> utc("2024-01-02")
    Timestamp('2024-01-02 00:00:00+0000', tz='UTC')
    >>> utc(pd.Timestamp("2024-01-02 01:00", tz="Europe/Paris"))
    Timestamp('2024-01-02 00:00:00+0000', tz='UTC')
    """
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def to_ms(t: pd.Timestamp | str) -> int:
    """Epoch milliseconds of ``t`` (read as by :func:`utc`).

    >>> to_ms("1970-01-01 00:00:01")
    1000
    """
    return int(utc(t).value // 1_000_000)


def from_ms(ms: int) -> pd.Timestamp:
    """The UTC :class:`~pandas.Timestamp` of epoch milliseconds ``ms``.

    >>> from_ms(86_400_000)
    Timestamp('1970-01-02 00:00:00+0000', tz='UTC')
    """
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


#: The moments a candle frame can hold (pandas' nanosecond timestamps), in epoch milliseconds,
#: and the whole days between them as messages give them.
FIRST_MS = -(2**63 - 1) // 1_000_000 + 1
LAST_MS = (2**63 - 1) // 1_000_000
TIME_RANGE = "1677-09-22 to 2262-04-11"

_ISO = re.compile(
    r"(?P<year>\d{4,})-\d{1,2}-\d{1,2}"
    r"([T ]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
    r"\s*(Z|[+-]\d{2}(:?\d{2})?)?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")


def parse_time(
    value: str | None, option: str = "time", *, flag: str | None = None
) -> pd.Timestamp | None:
    """An ISO date or timestamp given as text, in UTC (naive means UTC); ``None`` stays ``None``.

    Parameters
    ----------
    value
        ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]`` (a space for the ``T`` is fine), with an
        optional ``Z`` or ``+HH:MM`` offset. Nothing else: ``01/02/2024`` could be two days.
    option
        What the value was given as (``start``), named in the error message.
    flag
        The command-line flag it came from (``--start``), named instead in the error's
        ``cli`` wording (:func:`coincast.errors.worded`); ``None``: ``option`` is the flag.

    Raises
    ------
    CoincastError
        When ``value`` is no ISO date, is ambiguous, or lies outside the dates a candle frame
        can hold (:data:`TIME_RANGE`).

    Examples
    --------
    >>> parse_time("2024-06-30", "window", flag="--window")
    Timestamp('2024-06-30 00:00:00+0000', tz='UTC')
    """
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else ""
    iso = _ISO.fullmatch(text)
    if iso is None:
        raise _time_error(lambda name: _not_iso(value, text, name), option, flag)
    if not 1677 <= int(iso.group("year")) <= 2262:
        raise _time_error(lambda name: _out_of_range(value, name), option, flag)
    try:
        ts = pd.Timestamp(text)
    except pd.errors.OutOfBoundsDatetime:
        raise _time_error(lambda name: _out_of_range(value, name), option, flag) from None
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT:
        raise _time_error(lambda name: _not_a_date(value, name), option, flag)
    ts = utc(ts)
    # pandas holds years 1..9999 at coarse units; candle frames need nanoseconds.
    if not from_ms(FIRST_MS) <= ts <= from_ms(LAST_MS):
        raise _time_error(lambda name: _out_of_range(value, name), option, flag)
    return ts.as_unit("ns")


def _time_error(says: Callable[[str], str], option: str, flag: str | None) -> CoincastError:
    """The error ``says(name)`` words, naming ``option`` (and ``flag`` for the CLI)."""
    return worded(says(option), says(flag)) if flag else CoincastError(says(option))


def _not_a_date(value: str, option: str) -> str:
    return f"{option} {shown(value)} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM"


def _not_iso(value: str, text: str, option: str) -> str:
    dm = _DAY_MONTH.fullmatch(text)
    if dm and int(dm.group(1)) <= 12 and int(dm.group(2)) <= 12:
        return (
            f"{option} {shown(value)} is ambiguous (day and month may be either way round); "
            "give an ISO date like 2024-01-02 or 2024-01-02T15:00"
        )
    return _not_a_date(value, option)


def _out_of_range(value: str, option: str) -> str:
    return (
        f"{option} {shown(value)} is outside the dates coincast can hold ({TIME_RANGE}); "
        "give a date in that range"
    )


def future_index(last: pd.Timestamp, interval: str, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` bar starts after bar ``last`` at ``interval``: the index of every
    forecast, whichever model made it.

    >>> list(future_index(pd.Timestamp("2024-01-01", tz="UTC"), "1d", 2).strftime("%m-%d"))
    ['01-02', '01-03']
    """
    steps = to_ms(last) + interval_ms(interval) * np.arange(1, horizon + 1, dtype="int64")
    return index_from_ms(steps)


def make_frame(
    ts_ms: np.ndarray,
    columns: dict[str, np.ndarray],
    *,
    coin: str,
    quote: str,
    interval: str,
    source: str,
) -> pd.DataFrame:
    """Build a candle frame from epoch-ms timestamps and column arrays (not validated).

    Examples
    --------
    >>> f = make_frame(np.array([0, 60_000]), {c: np.ones(2) for c in COLUMNS},
    ...                coin="bitcoin", quote="usd", interval="1m", source="synthetic")
    >>> list(f.columns)
    ['open', 'high', 'low', 'close', 'volume']
    """
    data = {c: np.asarray(columns[c], dtype="float64") for c in COLUMNS}
    for c in OPTIONAL_COLUMNS:
        if columns.get(c) is not None:
            data[c] = np.asarray(columns[c], dtype="float64")
    frame = pd.DataFrame(data, index=index_from_ms(ts_ms))
    frame.attrs.update(coin=coin, quote=quote, interval=interval, source=source)
    return frame


def describe(frame: pd.DataFrame) -> str:
    """Short name of a frame for messages: ``bitcoin/usd 1d (coingecko)``."""
    a = frame.attrs
    coin, quote, interval, source = (a.get(k, "?") for k in META_KEYS)
    return f"{coin}/{quote} {interval} ({source})"


def validate_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """Check ``frame`` against the candle contract and return it unchanged.

    Raises
    ------
    DataError
        Naming the series, the first offending row and the broken rule.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> len(validate_candles(synthetic_candles(5)))
    5
    """
    name = describe(frame)
    for key in META_KEYS:
        if not frame.attrs.get(key):
            raise DataError(f"{name}: frame.attrs lacks {key!r}; build frames with make_frame()")
    check_interval(frame.attrs["interval"])
    _check_index(frame, name)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{name}: missing column(s) {', '.join(missing)}")
    values = frame[list(COLUMNS)].to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{name}: {COLUMNS[col]} is NaN or infinite at {frame.index[row]}")
    o, h, lo, c, v = values.T
    _first_violation(name, frame.index, lo <= 0, "low must be > 0 (prices are positive)")
    _first_violation(name, frame.index, v < 0, "volume must be >= 0")
    if "complete" in frame.columns:
        share = frame["complete"].to_numpy(dtype="float64")
        bad = ~((share > 0) & (share <= 1))  # NaN fails too
        _first_violation(name, frame.index, bad, "complete must be in (0, 1]")
    # A relative tolerance absorbs float rounding in vendor data (e.g. 1e-12 differences).
    tol = 1e-9 * np.maximum(np.abs(h), 1.0)
    _first_violation(name, frame.index, h < np.maximum(o, c) - tol, "high must be >= open, close")
    _first_violation(name, frame.index, lo > np.minimum(o, c) + tol, "low must be <= open, close")
    return frame


def _check_index(frame: pd.DataFrame, name: str) -> None:
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex) or idx.tz is None:
        raise DataError(f"{name}: index must be a tz-aware UTC DatetimeIndex named 'ts'")
    if str(idx.tz) != "UTC":
        raise DataError(f"{name}: index timezone is {idx.tz}, must be UTC")
    if len(idx) > 1:
        steps = np.diff(ms_from_index(idx))
        if (steps <= 0).any():
            i = int(np.argmax(steps <= 0)) + 1
            what = "duplicated" if steps[i - 1] == 0 else "out of order"
            raise DataError(f"{name}: timestamp {idx[i]} is {what}; timestamps must increase")


def _first_violation(name: str, index: pd.DatetimeIndex, mask: np.ndarray, rule: str) -> None:
    if mask.any():
        i = int(np.argmax(mask))
        raise DataError(f"{name}: row {index[i]} breaks the rule: {rule}")


def find_gaps(frame: pd.DataFrame, interval: str | None = None) -> pd.DataFrame:
    """Missing bars between the first and last row of ``frame``.

    Returns
    -------
    DataFrame
        One row per gap: ``start`` (first missing bar), ``end`` (last missing bar) and
        ``missing`` (number of bars).

    Examples
    --------
    >>> f = make_frame(np.array([0, 60_000, 240_000]), {c: np.ones(3) for c in COLUMNS},
    ...                coin="x", quote="usd", interval="1m", source="synthetic")
    >>> int(find_gaps(f)["missing"].iloc[0])
    2
    """
    step = interval_ms(interval or frame.attrs["interval"])
    ts = ms_from_index(frame.index)
    diffs = np.diff(ts)
    at = np.flatnonzero(diffs > step)
    starts = ts[at] + step
    ends = ts[at + 1] - step
    return pd.DataFrame(
        {
            "start": index_from_ms(starts),
            "end": index_from_ms(ends),
            "missing": (diffs[at] // step - 1).astype("int64"),
        }
    )


def resample(frame: pd.DataFrame, interval: str, min_complete: float = 1.0) -> pd.DataFrame:
    """Aggregate ``frame`` to the coarser ``interval`` with OHLCV rules.

    First open, max high, min low, last close, summed volume, last market cap. One rule
    decides which bars are kept, at both ends of the data and inside it alike: a bar is kept
    when at least ``min_complete`` of its sub-bars are present (see :func:`bar_completeness`).
    The default, 1, keeps whole bars only, so a bar cut short by a gap becomes a missing bar
    that :func:`find_gaps` reports, and a bar still forming at the end is not taken for a
    whole one. Below 1, the kept bars carry a ``complete`` column (the share of their
    sub-bars present); at 1 the frame has no such column, exactly as before the rule.

    Raises
    ------
    IntervalError
        When ``interval`` is finer than the frame's.
    CoincastError
        When ``min_complete`` is not between 0 and 1.

    Examples
    --------
    >>> f = make_frame(np.arange(90) * 60_000, {c: np.ones(90) for c in COLUMNS},
    ...                coin="x", quote="usd", interval="1m", source="synthetic")
    >>> len(resample(f, "1h")), resample(f, "1h", min_complete=0.5)["complete"].tolist()
    (1, [1.0, 0.5])
    """
    have = frame.attrs["interval"]
    check_interval(interval)
    _check_share(min_complete)
    if interval == have:
        return frame
    if interval_ms(interval) < interval_ms(have):
        head = (
            f"cannot make {interval} bars from {have} data ({describe(frame)}); "
            f"fetch {interval} data from a source that serves it"
        )
        raise worded(
            IntervalError(f"{head} (e.g. get_source('exchange:binance'))"),
            f"{head} (e.g. --source exchange:binance)",
        )
    if frame.empty:
        return frame.copy()
    ts = ms_from_index(frame.index)
    columns = {c: frame[c].to_numpy() for c in frame.columns if c in OHLCV_RULES}
    columns[_SHARE] = _sub_share(frame)
    starts, cols = aggregate(ts, columns, interval, {**OHLCV_RULES, _SHARE: "sum"})
    complete = cols.pop(_SHARE) / (INTERVALS[interval] // INTERVALS[have])
    keep = complete >= min_complete - _SHARE_TOL
    if min_complete < 1:
        cols["complete"] = np.minimum(complete, 1.0)
    out = make_frame(
        starts[keep],
        {k: v[keep] for k, v in cols.items()},
        **{k: frame.attrs[k] for k in ("coin", "quote", "source")},
        interval=interval,
    )
    if min_complete < 1:
        out.attrs["min_complete"] = min_complete  # a backtest records it, to be repeated
    return out


def bar_completeness(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """How complete each bar of the coarser ``interval`` made from ``frame`` would be.

    Returns
    -------
    DataFrame
        One row per bar holding at least one of ``frame``'s rows, indexed by bar start
        ``ts``: ``rows`` (sub-bars present), ``expected`` (sub-bars in a whole bar) and
        ``complete`` (the share present, ``rows / expected``; a sub-bar that is itself short,
        from an earlier :func:`resample`, counts by its own ``complete``).

    Examples
    --------
    >>> f = make_frame(np.r_[0:60, 60:94] * 60_000, {c: np.ones(94) for c in COLUMNS},
    ...                coin="x", quote="usd", interval="1m", source="synthetic")
    >>> bar_completeness(f, "1h")[["rows", "expected"]].to_numpy().tolist()
    [[60, 60], [34, 60]]
    """
    have = frame.attrs["interval"]
    expected = interval_ms(interval) // interval_ms(have)
    ts = ms_from_index(frame.index)
    cols = {"rows": np.ones(len(ts), dtype="int64"), _SHARE: _sub_share(frame)}
    starts, out = aggregate(ts, cols, interval, {"rows": "sum", _SHARE: "sum"})
    return pd.DataFrame(
        {
            "rows": out["rows"].astype("int64"),
            "expected": np.full(len(starts), expected, dtype="int64"),
            "complete": np.minimum(out[_SHARE] / expected, 1.0),
        },
        index=index_from_ms(starts),
    )


_SHARE = "_share"  # working column: how much of a sub-bar is present (1 unless itself short)
_SHARE_TOL = 1e-9  # a sum of shares may round just below the rule's threshold


def _sub_share(frame: pd.DataFrame) -> np.ndarray:
    if "complete" in frame.columns:
        return frame["complete"].to_numpy(dtype="float64")
    return np.ones(len(frame))


def _check_share(min_complete: float) -> None:
    if not 0 <= min_complete <= 1:
        raise CoincastError(
            f"min_complete ({min_complete}) must be between 0 and 1: the share of a bar's "
            "sub-bars that must be present (1 keeps whole bars only, 0.9 allows 10 % missing)"
        )


#: How each column aggregates into a coarser bar.
OHLCV_RULES = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
    "market_cap": "last",
}


def aggregate(
    ts: np.ndarray, columns: dict[str, np.ndarray], interval: str, rules: dict[str, str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Group sorted epoch-ms ``ts`` into bars of ``interval`` and reduce each column by its
    rule (``first``, ``last``, ``max``, ``min``, ``sum``); return (bar starts, columns)."""
    if not len(ts):
        return np.array([], dtype="int64"), {k: np.array([]) for k in columns}
    bars = _bar_starts(ts, interval)
    cut = np.flatnonzero(np.diff(bars)) + 1
    first = np.r_[0, cut]
    last = np.r_[cut - 1, len(ts) - 1]
    reduce = {
        "first": lambda v: v[first],
        "last": lambda v: v[last],
        "max": lambda v: np.maximum.reduceat(v, first),
        "min": lambda v: np.minimum.reduceat(v, first),
        "sum": lambda v: np.add.reduceat(v, first),
    }
    return bars[first], {k: reduce[rules[k]](np.asarray(v)) for k, v in columns.items()}


def _bar_starts(ts: np.ndarray, interval: str) -> np.ndarray:
    step = INTERVALS[interval]
    offset = bar_start(0, interval)  # Monday alignment for weeks, 0 otherwise
    return (ts - offset) // step * step + offset


def infer_interval(ts_ms: np.ndarray) -> str:
    """The known interval matching the most common step between timestamps.

    Raises
    ------
    IntervalError
        When there are fewer than two rows or the usual step is no known interval.
    """
    if len(ts_ms) < 2:
        head = "cannot infer the interval from fewer than 2 rows"
        raise worded(IntervalError(f"{head}; pass interval="), f"{head}; pass --interval")
    steps, counts = np.unique(np.diff(np.asarray(ts_ms, dtype="int64")), return_counts=True)
    step = int(steps[np.argmax(counts)])
    for name, ms in INTERVALS.items():
        if ms == step:
            return name
    head = (
        f"the usual step between rows is {step / 1000:g} s, which is no known interval "
        f"({' '.join(INTERVALS)})"
    )
    tail = "or resample the file first"
    raise worded(IntervalError(f"{head}; pass interval= {tail}"), f"{head}; pass --interval {tail}")
