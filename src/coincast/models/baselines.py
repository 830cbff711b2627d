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

A model sees only the rows it is given and keeps no reference to the frame.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Self

import numpy as np
import pandas as pd

from ..errors import CoincastError, DataError, IntervalError
from ..intervals import interval_ms
from ..series import describe, future_index

log = logging.getLogger(__name__)

Z90 = 1.6448536269514722  # lo/hi: a central 90 % interval

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


class Baseline:
    """Shared plumbing: subclasses implement ``_fit(close, frame)`` and ``_forecast(h)``.

    ``alias`` names the model (default: the class's ``name``).
    """

    name = "baseline"
    min_rows = 1  #: rows of history ``fit`` needs

    def __init__(self, *, alias: str | None = None) -> None:
        self.name = alias or type(self).name
        self._origin: tuple[dict[str, Any], pd.Timestamp, float] | None = None  # attrs, ts, close

    def fit(self, frame: pd.DataFrame) -> Self:
        """Learn from ``frame`` (a canonical candle frame). Returns ``self``."""
        self._origin = None  # a failed fit leaves the model unfitted
        close = _closes(frame)
        self._fit(close, frame)
        self._origin = (dict(frame.attrs), frame.index[-1], float(close[-1]))
        return self

    def update(self, frame: pd.DataFrame) -> Self:
        """Forecast from the end of a longer ``frame``; for this model the same as ``fit``."""
        return self.fit(frame)

    def predict(self, horizon: int) -> pd.DataFrame:
        """Forecast the ``horizon`` bars after the last row given to ``fit``/``update``.

        Returns
        -------
        DataFrame
            Indexed by the future bar starts ``ts``: ``yhat``, ``lo``, ``hi``; ``attrs`` has the
            frame's attrs plus ``last_ts`` and ``last_close``.
        """
        attrs, last_ts, last_close = self._fitted()
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise CoincastError(f"horizon ({horizon!r}) must be a whole number >= 1")
        h = np.arange(1, horizon + 1)
        cols = dict(zip(("yhat", "lo", "hi"), self._forecast(h), strict=True))
        index = future_index(last_ts, attrs["interval"], horizon)  # as the LSTM
        out = pd.DataFrame({k: np.asarray(v, dtype="float64") for k, v in cols.items()}, index)
        out.attrs.update(attrs, last_ts=last_ts, last_close=last_close)
        return out

    def _fitted(self) -> tuple[dict[str, Any], pd.Timestamp, float]:
        if self._origin is None:
            raise CoincastError(f"the {self.name} model is not fitted yet: call fit(frame) first")
        return self._origin


class Naive(Baseline):
    """Every future close is the last one: the forecast any model must beat.

    The band is a random walk's: ``last * exp(-+1.645 sigma sqrt(h))``, sigma the root mean
    square of the one-step log changes (the naive forecast's in-sample errors); NaN with one row.

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = Naive().fit(random_walk(100)).predict(3)
    >>> bool((f["yhat"] == f.attrs["last_close"]).all())
    True
    """

    name = "naive"

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        self.last = float(close[-1])
        self.sigma = _rms(np.diff(np.log(close)))

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yhat = np.full(len(h), self.last)
        return yhat, *_log_band(yhat, self.sigma * np.sqrt(h))


class Drift(Naive):
    """The line through the first and last close, continued: ``last + h (last - first) / (n-1)``.

    Hyndman's drift method, on the close level, with the naive band shifted by the drift. On a
    steep fall, long horizons can go below zero: that is the method, not a bug.

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
        super()._fit(close, frame)
        self.slope = (float(close[-1]) - float(close[0])) / (len(close) - 1)

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        yhat, lo, hi = super()._forecast(h)
        shift = h * self.slope
        return yhat + shift, lo + shift, hi + shift


class SeasonalNaive(Baseline):
    """Each future close is the close one season earlier, at the same phase.

    ``season`` defaults by interval (:data:`SEASONS`): 1d→7, 1w→52, 4h→6, 1h→24, 30m→48,
    15m→96, 5m→288, 1m→60, 1s→60. The band is ``yhat * exp(-+1.645 sigma sqrt(k+1))`` after ``k``
    whole seasons, sigma the RMS of the log changes over one season (NaN with one season of data).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> f = random_walk(30)
    >>> bool(SeasonalNaive().fit(f).predict(7)["yhat"].iloc[0] == f["close"].iloc[-7])
    True
    """

    name = "seasonal"

    def __init__(self, season: int | None = None, *, alias: str | None = None) -> None:
        super().__init__(alias=alias)
        self.season = _positive("season", season)

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
        self.sigma = _rms(logs[m:] - logs[:-m])

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


#: The default ARIMA grid: p in 0..2, d = 1, q in 0..2.
DEFAULT_ORDERS = tuple((p, 1, q) for p in range(3) for q in range(3))
ARIMA_MIN_ROWS = 20


class ARIMA(Baseline):
    """statsmodels ARIMA on the log close, the order chosen by AIC over ``orders``.

    ``fit`` tries every order on the last ``max_rows`` rows (an order that fails to fit is
    skipped, its score NaN in ``scores``) and keeps the best; ``update`` re-runs the filter on
    a longer frame with the same coefficients (cheap: a backtest refits only every k cutoffs;
    the innovation variance, concentrated out of the likelihood, follows the new data).
    ``yhat`` is ``exp`` of the mean log forecast (the median price), ``lo``/``hi`` ``exp`` of
    its 90 % interval. ``trend`` goes to statsmodels (default: none when d > 0).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> m = ARIMA(orders=[(0, 1, 0), (1, 1, 0)]).fit(random_walk(200))
    >>> m.order in [(0, 1, 0), (1, 1, 0)], m.predict(3).shape
    (True, (3, 3))
    """

    name = "arima"
    min_rows = ARIMA_MIN_ROWS

    def __init__(
        self,
        orders: list[tuple[int, int, int]] | None = None,
        *,
        max_rows: int = 1000,
        trend: str | None = None,
        alias: str | None = None,
    ) -> None:
        super().__init__(alias=alias)
        self.orders = [_check_order(o) for o in (DEFAULT_ORDERS if orders is None else orders)]
        if not self.orders:
            raise CoincastError("orders is empty; pass at least one (p, d, q), e.g. [(1, 1, 0)]")
        self.max_rows = _positive("max_rows", max_rows)
        self.trend = trend
        self.result: Any = None  # the statsmodels results of the chosen order
        self.order: tuple[int, int, int] | None = None
        self.scores: dict[tuple[int, int, int], float] = {}  # AIC per order tried

    @property
    def params(self) -> np.ndarray:
        """The fitted parameters of the chosen order (a copy)."""
        self._fitted()
        return np.array(self.result.params, dtype="float64")

    def _fit(self, close: np.ndarray, frame: pd.DataFrame) -> None:
        y = np.log(close[-self.max_rows :])
        _need(ARIMA_MIN_ROWS, len(y), frame, "ARIMA", "use the naive or drift baseline")
        self.result, self.order, self.scores = None, None, {}
        for order in self.orders:
            with _one_blas_thread():
                res = _try_arima(y, order, self.trend)
            self.scores[order] = float(res.aic) if res is not None else np.nan
            if res is not None and (self.result is None or res.aic < self.result.aic):
                self.result, self.order = res, order
        if self.result is None:
            raise CoincastError(
                f"ARIMA: none of the orders {self.orders} could be fitted to {describe(frame)} "
                f"({len(y)} rows); try other orders=, more history, or the naive baseline"
            )

    def update(self, frame: pd.DataFrame) -> Self:
        """Filter the longer ``frame`` with the parameters found by ``fit`` (no re-estimation)."""
        have, got = self._fitted()[0].get("interval"), frame.attrs.get("interval")
        if got != have:
            raise IntervalError(
                f"update got {got} bars, but the model was fit on {have} bars; "
                "fit a new model for another interval"
            )
        close = _closes(frame)
        with _one_blas_thread():
            self.result = self.result.apply(np.log(close[-self.max_rows :]))
        self._origin = (dict(frame.attrs), frame.index[-1], float(close[-1]))
        return self

    def _forecast(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fc = self.result.get_forecast(len(h))
        ci = np.asarray(fc.conf_int(alpha=0.1))
        return np.exp(np.asarray(fc.predicted_mean)), np.exp(ci[:, 0]), np.exp(ci[:, 1])


def _one_blas_thread():
    """statsmodels' small matrices gain nothing from a second BLAS thread, and two threads
    on a busy 2-core machine made ARIMA fits 5-15x slower (see BENCHMARKS.md)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _try_arima(y: np.ndarray, order: tuple[int, int, int], trend: str | None) -> Any:
    """The fitted results of one order, or None when it fails to fit or is not finite.

    The scale is concentrated out of the likelihood (2-4x faster, the same optimum), except
    for orders with no coefficients or differences with no variance (statsmodels cannot fit
    those that way), and in a retry.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.arima.model import ARIMA as StatsARIMA

    varies = np.ptp(np.diff(y, n=order[1])) > 0 if len(y) > order[1] else False
    for concentrate in (True, False) if order[0] + order[2] and varies else (False,):
        with warnings.catch_warnings():
            # Unconverged fits are still scored by AIC; the warnings would flood a backtest.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", "Non-(stationary|invertible) starting", UserWarning)
            try:
                model = StatsARIMA(y, order=order, trend=trend, concentrate_scale=concentrate)
                res = model.fit(cov_type="none")
            except (np.linalg.LinAlgError, ValueError, OverflowError) as exc:
                log.info("ARIMA%s failed to fit: %s", order, exc)
                continue
        if np.isfinite(res.aic) and np.isfinite(res.params).all():
            return res
        log.info("ARIMA%s gave a non-finite fit (AIC %s)", order, res.aic)
    return None


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


# -- helpers ---------------------------------------------------------------------------------


def _closes(frame: pd.DataFrame) -> np.ndarray:
    if "close" not in frame.columns or len(frame) == 0:
        raise DataError(f"{describe(frame)}: a baseline needs a candle frame with close prices")
    interval_ms(frame.attrs.get("interval", "?"))
    close = frame["close"].to_numpy(dtype="float64")
    if not (np.isfinite(close) & (close > 0)).all():
        raise DataError(
            f"{describe(frame)}: closes must be positive and finite; "
            "validate_candles(frame) names the first bad row"
        )
    return close


def _need(rows: int, have: int, frame: pd.DataFrame, what: str, fix: str = "") -> None:
    if have < rows:
        fix = f", or {fix}" if fix else ""
        raise CoincastError(
            f"{what} needs at least {rows} rows; {describe(frame)} has {have}. "
            f"Fetch more history{fix}"
        )


def _positive(what: str, value: int | None) -> int | None:
    bad = isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
    if value is not None and bad:
        raise CoincastError(f"{what} ({value!r}) must be a whole number >= 1, or None")
    return None if value is None else int(value)


def _check_order(order: Any) -> tuple[int, int, int]:
    ok = isinstance(order, tuple | list) and len(order) == 3
    if not ok or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in order):
        raise CoincastError(f"ARIMA order {order!r} must be (p, d, q) with whole numbers >= 0")
    return int(order[0]), int(order[1]), int(order[2])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else float("nan")


def _log_band(center: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return center * np.exp(-Z90 * spread), center * np.exp(Z90 * spread)
