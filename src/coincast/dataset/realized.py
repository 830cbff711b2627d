"""Realized measures: how much a bar's price moved, the target and inputs of volatility models.

A *realized measure* estimates the variance of one bar's log return from what the bar shows:

=====================  ============================================================================
method                 per bar
=====================  ============================================================================
``realized``           sum of squared log returns of the finer bars inside it (realized variance),
                       when finer bars are stored for every bar (e.g. hourly bars for a daily bar)
``garman-klass``       ``0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2`` (Garman & Klass 1980), from OHLC
``parkinson``          ``ln(H/L)^2 / (4 ln 2)`` (Parkinson 1980), from high and low only
``squared-returns``    ``ln(C_t / C_{t-1})^2``: what is left for close-only candles (CoinGecko's
                       daily points, where open = high = low = close)
=====================  ============================================================================

:func:`choose_measure` picks the first that the data supports (``method="auto"``) and says which,
so a run can record it. Every measure of bar ``t`` uses bar ``t`` (and its finer bars) only: none
looks ahead. A frame that carries an ``rv`` column (a measure computed elsewhere, e.g. from finer
bars read from the store) is used as it is.

The HAR idea (Corsi 2009): volatility is forecast from the measure averaged over a short, a
medium and a long span (a day, a week, a month of daily bars); :data:`HAR_SPANS` gives those
spans per interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..intervals import interval_ms
from ..series import ms_from_index

Method = Literal["auto", "realized", "garman-klass", "parkinson", "squared-returns"]
METHODS = ("realized", "garman-klass", "parkinson", "squared-returns")

#: Bars of the short, medium and long HAR spans, by interval (a day, week and month of daily
#: bars; an hour, day and week of hourly bars...).
HAR_SPANS: dict[str, tuple[int, int, int]] = {
    "1s": (1, 60, 3600), "1m": (1, 60, 1440), "5m": (1, 12, 288), "15m": (1, 4, 96),
    "30m": (1, 48, 336), "1h": (1, 24, 168), "4h": (1, 6, 42), "1d": (1, 7, 30),
    "1w": (1, 4, 13),
}  # fmt: skip

#: Share of a bar's finer bars that must be stored for its realized variance to count.
MIN_FINER_SHARE = 0.9
#: Share of bars whose high exceeds their low for the range estimators to be used.
MIN_RANGE_SHARE = 0.9


@dataclass(frozen=True)
class Measure:
    """A realized measure per bar (``values``, the frame's length) and how it was made."""

    values: np.ndarray
    method: str  #: one of :data:`METHODS`
    detail: str  #: the method in words, for runs and reports


def garman_klass(frame: pd.DataFrame) -> np.ndarray:
    """Garman-Klass variance of each bar from its open, high, low and close.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> bool((garman_klass(synthetic_candles(20)) >= 0).all())
    True
    """
    o, h, lo, c = (frame[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    hl, co = np.log(h / lo), np.log(c / o)
    return np.maximum(0.5 * hl**2 - (2 * np.log(2) - 1) * co**2, 0.0)


def parkinson(frame: pd.DataFrame) -> np.ndarray:
    """Parkinson variance of each bar from its high and low.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> parkinson(synthetic_candles(5)).shape
    (5,)
    """
    hl = np.log(frame["high"].to_numpy(dtype="float64") / frame["low"].to_numpy(dtype="float64"))
    return hl**2 / (4 * np.log(2))


def squared_returns(frame: pd.DataFrame) -> np.ndarray:
    """Squared close-to-close log return of each bar (NaN on the first).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> bool(np.isnan(squared_returns(synthetic_candles(5))[0]))
    True
    """
    c = np.log(frame["close"].to_numpy(dtype="float64"))
    return np.r_[np.nan, np.diff(c) ** 2]


def realized_variance(frame: pd.DataFrame, finer: pd.DataFrame) -> np.ndarray:
    """Sum of squared log returns of ``finer``'s bars inside each bar of ``frame``; NaN where
    fewer than :data:`MIN_FINER_SHARE` of them are stored.

    The return of a finer bar is from the previous finer close, so the move across a bar's
    boundary counts in the bar it ends in. ``finer`` must have a finer interval than ``frame``.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.series import resample
    >>> hourly = synthetic_candles(24 * 5, "1h")
    >>> realized_variance(resample(hourly, "1d"), hourly).shape
    (5,)
    """
    step, fine = (interval_ms(f.attrs["interval"]) for f in (frame, finer))
    if fine >= step:
        raise CoincastError(
            f"finer bars must be finer than {frame.attrs['interval']}; "
            f"got {finer.attrs['interval']}"
        )
    ts = ms_from_index(finer.index)
    r2 = np.r_[np.nan, np.diff(np.log(finer["close"].to_numpy(dtype="float64"))) ** 2]
    starts = ms_from_index(frame.index)
    bar = np.searchsorted(starts, ts, side="right") - 1  # the bar each finer bar lies in
    inside = (bar >= 0) & (ts < starts[np.clip(bar, 0, None)] + step) & np.isfinite(r2)
    total = np.bincount(bar[inside], weights=r2[inside], minlength=len(starts))
    count = np.bincount(bar[inside], minlength=len(starts))
    enough = count >= MIN_FINER_SHARE * (step // fine)
    return np.where(enough, total[: len(starts)], np.nan)


def choose_measure(
    frame: pd.DataFrame, finer: pd.DataFrame | None = None, method: Method = "auto"
) -> Measure:
    """The realized measure of each bar of ``frame``, by ``method`` (see the module table).

    ``auto`` takes realized variance when ``finer`` covers every bar but the first, else
    Garman-Klass when at least :data:`MIN_RANGE_SHARE` of the bars have a range, else squared
    returns. A frame with an ``rv`` column keeps it (method ``realized``).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> choose_measure(synthetic_candles(30)).method
    'garman-klass'
    """
    if method not in ("auto", *METHODS):
        raise CoincastError(f"unknown realized measure {method!r}; use one of auto, {METHODS}")
    if "rv" in frame.columns and method in ("auto", "realized"):
        detail = frame.attrs.get("rv_detail", "realized variance (given)")
        return Measure(frame["rv"].to_numpy(dtype="float64"), "realized", detail)
    if method in ("auto", "realized") and finer is not None:
        rv = realized_variance(frame, finer)
        if np.isfinite(rv[1:]).all() or method == "realized":
            return Measure(rv, "realized", f"realized variance from {finer.attrs['interval']} bars")
    if method == "realized":
        raise CoincastError("method='realized' needs finer bars (finer=) or an rv column")
    has_range = frame["high"].to_numpy() > frame["low"].to_numpy()
    if method == "garman-klass" or (method == "auto" and has_range.mean() >= MIN_RANGE_SHARE):
        return Measure(garman_klass(frame), "garman-klass", "Garman-Klass range estimator (OHLC)")
    if method == "parkinson":
        return Measure(parkinson(frame), "parkinson", "Parkinson range estimator (high-low)")
    return Measure(squared_returns(frame), "squared-returns", "squared close-to-close returns")


def variance_floor(interval: str) -> float:
    """A variance too small to matter for ``interval``: a 0.01 % move per day, scaled to the
    bar; added before taking logs so a bar that did not move is not ``log(0)``.

    Examples
    --------
    >>> variance_floor("1d")
    1e-08
    """
    return 1e-8 * interval_ms(interval) / 86_400_000


def log_measure(values: np.ndarray, interval: str) -> np.ndarray:
    """``log(values + variance_floor(interval))``: the scale volatility models learn on."""
    return np.log(np.asarray(values, dtype="float64") + variance_floor(interval))


def har_means(values: np.ndarray, interval: str) -> np.ndarray:
    """The measure averaged over the short, medium and long :data:`HAR_SPANS` ending at each
    bar, ``(n, 3)``; NaN until a span is full. Uses bars up to and including each row only.

    Examples
    --------
    >>> har_means(np.arange(1.0, 9.0), "1w")[-1].tolist()
    [8.0, 6.5, nan]
    """
    s = pd.Series(np.asarray(values, dtype="float64"))
    spans = HAR_SPANS[interval]
    return np.column_stack([s.rolling(k, min_periods=k).mean().to_numpy() for k in spans])
