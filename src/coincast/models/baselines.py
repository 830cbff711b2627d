"""Baselines every forecast must beat: naive, drift, seasonal naive, moving average, ARIMA.

Each baseline has the interface of :class:`~coincast.models.forecaster.LSTMForecaster`, so the
walk-forward backtest treats them alike:

- ``fit(frame) -> self``: learn from a candle frame (the rows up to a cutoff);
- ``update(frame) -> self``: move to a longer frame (a later cutoff) without re-estimating
  parameters; the same as ``fit`` for every model but ARIMA;
- ``predict(horizon) -> DataFrame``: the ``horizon`` bars after the last row given, indexed by
  their starts ``ts``, with ``yhat`` (point forecast of the close) and ``lo``/``hi`` (a central
  90 % prediction interval, NaN where the model has none);
- ``min_rows``: the rows ``fit`` needs; ``name``: the ``alias`` given (default: the class's
  name), so two configurations of one class can sit side by side in a backtest.

The bands of naive, drift and seasonal naive are spread by the model's own one-step errors on
its recent training rows: the last ``spread_window`` of them (default
:data:`~coincast.models.base.SPREAD_WINDOW`, 365; None: the whole history), scaled with the
step as a random walk's, so they follow today's volatility rather than the history's.

A model sees only the rows it is given and keeps no reference to the frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..intervals import interval_ms
from .arima import ARIMA
from .base import SPREAD_WINDOW, Baseline, _log_band, _need, _positive, _spread

#: Default season (bars per cycle) by interval: a week of days, a day of hours (4h, 30m, 15m,
#: 5m bars), a year of weeks, an hour of minutes and a minute of seconds.
SEASONS: dict[str, int] = {
    "1s": 60, "1m": 60, "5m": 288, "15m": 96, "30m": 48, "1h": 24, "4h": 6, "1d": 7, "1w": 52,
}  # fmt: skip


def season_length(interval: str) -> int:
    """The default season of ``interval`` (see :data:`SEASONS`).

    Examples
    --------
    >>> season_length("1h")
    24
    """
    interval_ms(interval)  # an unknown interval gets the usual IntervalError
    return SEASONS[interval]


class Naive(Baseline):
    """Every future close is the last one: the forecast any model must beat.

    The band is a random walk's: ``last * exp(-+1.645 sigma sqrt(h))``, sigma the root mean
    square of the last ``spread_window`` one-step log changes of the training rows (the naive
    forecast's own errors; default :data:`~coincast.models.base.SPREAD_WINDOW`, None: all of
    them); NaN with one row.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = Naive().fit(random_walk(100)).predict(3)
    >>> bool((f["yhat"] == f.attrs["last_close"]).all())
    True
    """

    name = "naive"

    def __init__(
        self, *, spread_window: int | None = SPREAD_WINDOW, alias: str | None = None
    ) -> None:
        super().__init__(alias=alias)
        self.spread_window = _positive("spread_window", spread_window)

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        self.last = float(close[-1])
        self.sigma = _spread(self._residuals(close), self.spread_window)

    def _residuals(self, close: np.ndarray) -> np.ndarray:
        """The one-step errors of the forecast on the training rows, in log units."""
        return np.diff(np.log(close))

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yhat = np.full(len(h), self.last)
        return yhat, *_log_band(yhat, self.sigma * np.sqrt(h))


class Drift(Naive):
    """The line through the first and last close, continued: ``last + h (last - first) / (n-1)``.

    Hyndman's drift method, on the close level, with the naive band shifted by the drift:
    ``last * exp(-+1.645 sigma sqrt(h)) + h * slope``. Its sigma is the RMS of drift's own
    one-step errors on the last ``spread_window`` training rows, the changes less the drift
    in the band's log units: ``log((close_t - slope) / close_(t-1))`` (NaN, and so no band,
    where a close is below the slope: a coin that rose from almost nothing). On a steep fall,
    long horizons can go below zero: that is the method, not a bug.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> Drift().fit(random_walk(50)).predict(2).shape
    (2, 3)
    """

    name = "drift"
    min_rows = 2

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        _need(2, len(close), frame, "drift (a line through the first and last close)")
        self.slope = (float(close[-1]) - float(close[0])) / (len(close) - 1)
        super()._fit(close, frame)

    def _residuals(self, close: np.ndarray) -> np.ndarray:
        less = close[1:] - self.slope
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(less > 0, np.log(less / close[:-1]), np.nan)

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yhat, lo, hi = super()._forecast(h)
        shift = h * self.slope
        return yhat + shift, lo + shift, hi + shift


class SeasonalNaive(Baseline):
    """Each future close is the close one season earlier, at the same phase.

    ``season`` defaults by interval (:data:`SEASONS`): 1d→7, 1w→52, 4h→6, 1h→24, 30m→48,
    15m→96, 5m→288, 1m→60, 1s→60. The band is ``yhat * exp(-+1.645 sigma sqrt(k+1))`` after ``k``
    whole seasons, sigma the RMS of the log changes over one season (the seasonal forecast's
    own errors) on the last ``spread_window`` training rows (default
    :data:`~coincast.models.base.SPREAD_WINDOW`; None: all of them; NaN with one season).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = random_walk(30)
    >>> bool(SeasonalNaive().fit(f).predict(7)["yhat"].iloc[0] == f["close"].iloc[-7])
    True
    """

    name = "seasonal"

    def __init__(
        self,
        season: int | None = None,
        *,
        spread_window: int | None = SPREAD_WINDOW,
        alias: str | None = None,
    ) -> None:
        super().__init__(alias=alias)
        self.season = _positive("season", season)
        self.spread_window = _positive("spread_window", spread_window)

    @property
    def min_rows(self) -> int:
        """One season of rows; with the season left to the interval, ``fit`` checks it."""
        return self.season or 1

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        m = self.season or season_length(frame.attrs.get("interval", "?"))
        _need(m, len(close), frame, f"seasonal naive with season {m}", "pass a shorter season=")
        self.used_season = m
        self.cycle = close[-m:].copy()
        logs = np.log(close)
        self.sigma = _spread(logs[m:] - logs[:-m], self.spread_window)

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.used_season
        yhat = self.cycle[(h - 1) % m]
        return yhat, *_log_band(yhat, self.sigma * np.sqrt((h - 1) // m + 1))


class MovingAverage(Baseline):
    """The mean of the last ``window`` closes, flat over the horizon; no band (NaN).

    ``window`` defaults to the interval's season (:data:`SEASONS`), at least 2.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = random_walk(30)
    >>> bool(MovingAverage(5).fit(f).predict(1)["yhat"].iloc[0] == f["close"].iloc[-5:].mean())
    True
    """

    name = "ma"

    def __init__(self, window: int | None = None, *, alias: str | None = None) -> None:
        super().__init__(alias=alias)
        self.window = _positive("window", window)

    @property
    def min_rows(self) -> int:
        """``window`` rows (at least 2; with the window left to the interval, ``fit`` checks)."""
        return self.window or 2

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        w = self.window or max(2, season_length(frame.attrs.get("interval", "?")))
        _need(w, len(close), frame, f"a moving average of window {w}", "pass a shorter window=")
        self.used_window = w
        self.level = float(np.mean(close[-w:]))

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        nan = np.full(len(h), np.nan)
        return np.full(len(h), self.level), nan, nan


BASELINES: dict[str, type[Baseline]] = {
    c.name: c for c in (Naive, Drift, SeasonalNaive, MovingAverage, ARIMA)
}


def make_baseline(name: str, **kwargs: Any) -> Baseline:
    """Build the baseline called ``name`` (a key of :data:`BASELINES`) with its options.

    Examples
    --------
    >>> make_baseline("seasonal", season=24).season
    24
    >>> make_baseline("ma", window=20, alias="ma-20").name
    'ma-20'
    """
    if name not in BASELINES:
        raise CoincastError(f"unknown baseline {name!r}; use one of: {', '.join(BASELINES)}")
    try:
        return BASELINES[name](**kwargs)
    except TypeError as exc:  # an option this baseline does not take
        raise CoincastError(f"baseline {name!r}: {exc}") from None
