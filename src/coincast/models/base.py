"""What every baseline shares: the ``fit/update/predict`` interface of
:class:`Baseline` (the LSTM's too, so the walk-forward loop treats them alike), and the small
checks and bands the baselines are built from."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from ..errors import CoincastError, DataError
from ..intervals import interval_ms
from ..series import describe, future_index

Z90 = 1.6448536269514722  # lo/hi: a central 90 % interval

#: The default ``spread_window`` of the baselines with a band: their band's spread is the
#: root mean square of their own one-step errors on the last 365 training bars (a year of
#: daily bars), so the band follows the volatility of now rather than of the whole history.
SPREAD_WINDOW = 365


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


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else float("nan")


def _spread(residuals: np.ndarray, window: int | None) -> float:
    """RMS of the last ``window`` residuals (all of them with None); NaN with none."""
    return _rms(residuals if window is None else residuals[-window:])


def _log_band(center: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return center * np.exp(-Z90 * spread), center * np.exp(Z90 * spread)
