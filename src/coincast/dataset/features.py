"""Model inputs computed from a candle frame, chosen by name.

Every feature is a float64 column the length of the frame, NaN during its warm-up (a log
return has no value on the first row, a 14-step RSI on the first 14). Nothing here looks
ahead: row ``t`` uses rows ``<= t`` only.

========================  =================================================================
name                      meaning
========================  =================================================================
``log_return``            log(close_t / close_{t-1}) (the default input)
``log_volume_change``     log1p(volume_t) - log1p(volume_{t-1}); safe when volume is 0
``range``                 log(high_t / low_t), the bar's relative range
``rsi``                   14-step relative strength index, scaled to [0, 1]
``macd``                  (EMA12 - EMA26) / close, the MACD line relative to price
``volatility``            20-step rolling standard deviation of log returns
``close``                 the price level itself (for ``--learn price``, the classic recipe)
``log_rv``                log of the bar's realized measure (:mod:`coincast.dataset.realized`)
``log_rv_mid``            log of the measure's mean over the HAR medium span (a week of days)
``log_rv_long``           log of the measure's mean over the HAR long span (a month of days)
========================  =================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import CoincastError
from .realized import choose_measure, har_means, log_measure


def _log_return(f: pd.DataFrame) -> np.ndarray:
    c = np.log(f["close"].to_numpy(dtype="float64"))
    return np.r_[np.nan, np.diff(c)]


def _log_volume_change(f: pd.DataFrame) -> np.ndarray:
    v = np.log1p(f["volume"].to_numpy(dtype="float64"))
    return np.r_[np.nan, np.diff(v)]


def _range(f: pd.DataFrame) -> np.ndarray:
    return np.log(f["high"].to_numpy(dtype="float64") / f["low"].to_numpy(dtype="float64"))


def _rsi(f: pd.DataFrame, n: int = 14) -> np.ndarray:
    r = pd.Series(_log_return(f))
    up = r.clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    down = (-r).clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    total = (up + down).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi = np.where(total > 0, up.to_numpy() / total, 0.5)
    rsi[np.isnan(total)] = np.nan
    return rsi


def _macd(f: pd.DataFrame) -> np.ndarray:
    c = f["close"].astype("float64")
    fast = c.ewm(span=12, adjust=False).mean()
    slow = c.ewm(span=26, adjust=False).mean()
    out = ((fast - slow) / c).to_numpy(copy=True)  # writable under copy-on-write
    out[:25] = np.nan  # the slow average needs 26 rows before it means anything
    return out


def _volatility(f: pd.DataFrame, n: int = 20) -> np.ndarray:
    return pd.Series(_log_return(f)).rolling(n).std().to_numpy()


def _close(f: pd.DataFrame) -> np.ndarray:
    return f["close"].to_numpy(dtype="float64").copy()


def _log_rv_spans(f: pd.DataFrame) -> np.ndarray:
    """(n, 3): the log realized measure over the short, medium and long HAR spans."""
    interval = f.attrs["interval"]
    return log_measure(har_means(choose_measure(f).values, interval), interval)


def _log_rv(f: pd.DataFrame) -> np.ndarray:
    return _log_rv_spans(f)[:, 0]


def _log_rv_mid(f: pd.DataFrame) -> np.ndarray:
    return _log_rv_spans(f)[:, 1]


def _log_rv_long(f: pd.DataFrame) -> np.ndarray:
    return _log_rv_spans(f)[:, 2]


FEATURES: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "log_return": _log_return,
    "log_volume_change": _log_volume_change,
    "range": _range,
    "rsi": _rsi,
    "macd": _macd,
    "volatility": _volatility,
    "close": _close,
    "log_rv": _log_rv,
    "log_rv_mid": _log_rv_mid,
    "log_rv_long": _log_rv_long,
}


def check_features(names: list[str] | tuple[str, ...]) -> list[str]:
    """Return ``names`` if every one is known and none repeats, else raise."""
    if not names:
        raise CoincastError(f"no features chosen; use some of: {', '.join(FEATURES)}")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise CoincastError(
            f"unknown feature(s) {', '.join(map(repr, unknown))}; known: {', '.join(FEATURES)}"
        )
    if len(set(names)) != len(names):
        raise CoincastError(f"features repeat: {', '.join(names)}")
    return list(names)


def compute_features(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The features ``names`` of ``frame`` as an ``(n, len(names))`` float64 array.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> x = compute_features(synthetic_candles(50), ["log_return", "rsi"])
    >>> x.shape, int(np.isnan(x[:, 1]).sum())
    ((50, 2), 14)
    """
    check_features(names)
    return np.column_stack([FEATURES[n](frame) for n in names])
