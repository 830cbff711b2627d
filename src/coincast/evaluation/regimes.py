"""Market regimes of each cutoff, from the data up to the cutoff only: is the coin trending
up, down or sideways, and is its volatility high or low? Metrics split by regime say where a
model (or a band) earns or loses its keep.

:func:`regime_labels` labels cutoffs (:data:`RULE` states the rule in words, for reports);
:func:`label_rows` puts the labels on a backtest table's rows, by each row's cutoff;
:func:`by_regime` applies any metric per model and regime.

Every label is computed with trailing windows and an expanding median only, so the label of a
cutoff does not change whatever happens after it (a test poisons the later closes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import CoincastError

#: How far the trailing return must go, in standard errors, to be a trend (see RULE).
TREND_THRESHOLD = 1.0
KINDS = ("trend", "vol")

RULE = (
    "Each cutoff is labelled from the closes up to it only. Trend: the log return over the last "
    "trend_window bars (30 by default) against its standard error, the standard deviation of "
    "the one-bar log returns of those bars times sqrt(trend_window): 'up' above +1 standard "
    "error, 'down' below -1, 'sideways' in between (a driftless random walk is sideways about "
    "two cutoffs in three). Volatility: 'high' when the standard deviation of the last "
    "vol_window one-bar log returns (30 by default) exceeds the median of that trailing "
    "deviation over all bars up to the cutoff, else 'low'. Cutoffs with fewer bars before "
    "them than a window needs have no label."
)


def regime_labels(
    frame: pd.DataFrame,
    cutoffs,
    *,
    trend_window: int = 30,
    vol_window: int = 30,
    threshold: float = TREND_THRESHOLD,
) -> pd.DataFrame:
    """The trend and volatility regime of each cutoff (:data:`RULE`), from ``frame``'s closes
    up to the cutoff. ``cutoffs``: bars of ``frame`` (timestamps of its index).

    Returns a frame indexed by the cutoffs (``cutoff``), columns ``trend`` in ``{"up",
    "down", "sideways"}`` and ``vol`` in ``{"high", "low"}``; missing (NaN) where there is
    not yet enough history for the window.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = random_walk(200, sigma=0.01)
    >>> f["close"] *= np.exp(0.01 * np.arange(200))  # a steady rise of 1 % a bar, on top
    >>> regime_labels(f, f.index[[10, 60, 199]]).values.tolist()
    [[nan, nan], ['up', 'high'], ['up', 'low']]
    """
    for name, value in (("trend_window", trend_window), ("vol_window", vol_window)):
        if not isinstance(value, int | np.integer) or value < 2:
            raise CoincastError(f"{name} must be an integer >= 2 (bars), got {value!r}")
    if not (isinstance(threshold, int | float) and math.isfinite(threshold) and threshold >= 0):
        raise CoincastError(f"threshold must be a number >= 0 (standard errors), got {threshold!r}")
    if "close" not in frame.columns:
        raise CoincastError("frame lacks a close column; pass a candle frame")
    close = frame["close"].to_numpy("float64")
    if not (np.isfinite(close) & (close > 0)).all():
        raise CoincastError("frame's closes must be finite and > 0 to take log returns")
    at = pd.Index(cutoffs)
    pos = frame.index.get_indexer(at)
    if (pos < 0).any():
        first = at[int(np.flatnonzero(pos < 0)[0])]
        raise CoincastError(
            f"cutoff {first} is not a bar of the frame; pass cutoffs from its index"
        )
    logc = pd.Series(np.log(close))
    r = logc.diff()
    ret = logc - logc.shift(trend_window)
    se = r.rolling(trend_window).std() * math.sqrt(trend_window)
    trend = np.select(
        [ret > threshold * se, ret < -threshold * se], ["up", "down"], default="sideways"
    ).astype(object)
    trend[ret.isna().to_numpy() | se.isna().to_numpy()] = None
    sd = r.rolling(vol_window).std()
    vol = np.where(sd > sd.expanding().median(), "high", "low").astype(object)
    vol[sd.isna().to_numpy()] = None
    return pd.DataFrame({"trend": trend[pos], "vol": vol[pos]}, index=at.rename("cutoff"))


def label_rows(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``table`` (a backtest table) with ``trend`` and ``vol`` columns: the labels of each
    row's cutoff (:func:`regime_labels`).

    Examples
    --------
    >>> labels = pd.DataFrame({"trend": ["up", "down"], "vol": ["low", "high"]},
    ...                       index=pd.Index([1, 2], name="cutoff"))
    >>> t = pd.DataFrame({"model": "m", "cutoff": [2, 1, 2]})
    >>> label_rows(t, labels)[["trend", "vol"]].values.tolist()
    [['down', 'high'], ['up', 'low'], ['down', 'high']]
    """
    if "cutoff" not in table.columns:
        raise CoincastError("the table lacks a cutoff column; pass walk_forward's table")
    if missing := [k for k in KINDS if k not in labels.columns]:
        raise CoincastError(f"labels lack column(s) {', '.join(missing)}; pass regime_labels()")
    where = labels.index.get_indexer(pd.Index(table["cutoff"]))
    if (where < 0).any():
        first = table["cutoff"].iloc[int(np.flatnonzero(where < 0)[0])]
        raise CoincastError(
            f"cutoff {first} of the table has no label; label the table's cutoffs "
            "(regime_labels(frame, table['cutoff'].unique()))"
        )
    out = table.copy()
    for k in KINDS:
        out[k] = labels[k].to_numpy()[where]
    return out


def by_regime(table: pd.DataFrame, fn: Callable[[pd.DataFrame], object]) -> pd.DataFrame:
    """``fn`` of each (model, regime kind, regime) group of a labelled table
    (:func:`label_rows`): columns ``model, kind, regime, n`` and ``fn``'s value (a number
    as ``value``, a dict as its keys). Rows without a label are left out.

    Examples
    --------
    >>> t = pd.DataFrame({"model": "m", "y": [1.0, 2.0, 3.0], "trend": ["up", "up", "down"],
    ...                   "vol": ["low", "low", "low"]})
    >>> by_regime(t, lambda g: g["y"].mean()).values.tolist()
    [['m', 'trend', 'down', 1, 3.0], ['m', 'trend', 'up', 2, 1.5], ['m', 'vol', 'low', 3, 2.0]]
    """
    if missing := [c for c in ("model", *KINDS) if c not in table.columns]:
        raise CoincastError(
            f"the table lacks column(s) {', '.join(missing)}; label it first with label_rows()"
        )
    rows = []
    for kind in KINDS:
        labelled = table[table[kind].notna()]
        for (model, regime), g in labelled.groupby(["model", kind], sort=True):
            value = fn(g)
            extra = dict(value) if isinstance(value, dict) else {"value": value}
            rows.append({"model": model, "kind": kind, "regime": regime, "n": len(g)} | extra)
    if not rows:
        return pd.DataFrame(columns=["model", "kind", "regime", "n", "value"])
    return pd.DataFrame(rows)
