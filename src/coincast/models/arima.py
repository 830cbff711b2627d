"""ARIMA, the strongest of the classical baselines: statsmodels on the log close, the order
chosen by AIC over a small grid, refit every k cutoffs and filtered in between."""

from __future__ import annotations

import logging
import warnings
from typing import Any, Self

import numpy as np
import pandas as pd

from ..errors import CoincastError, IntervalError
from ..series import describe
from .base import Baseline, _closes, _need, _positive

log = logging.getLogger(__name__)


#: The default ARIMA grid: p in 0..2, d = 1, q in 0..2.
DEFAULT_ORDERS = tuple((p, 1, q) for p in range(3) for q in range(3))
ARIMA_MIN_ROWS = 20


class ARIMA(Baseline):
    """statsmodels ARIMA on the log close, the order chosen by AIC over ``orders``.

    ``fit`` tries every order on the last ``max_rows`` rows (an order that fails to fit is
    skipped, its score NaN in ``scores``) and keeps the lowest AIC. What is fitted, exactly:
    ``statsmodels.tsa.arima.model.ARIMA(log_close, order=order, trend=trend,
    concentrate_scale=True).fit(cov_type="none")`` (maximum likelihood by the state space
    method, L-BFGS-B; no standard errors; unconverged fits are still scored), with
    ``concentrate_scale=False`` instead for an order with no AR or MA coefficient or whose
    differenced series does not vary, and as a retry when the concentrated fit raises or is
    not finite. ``trend`` None is statsmodels' default: a constant when d = 0, none when
    d > 0. The AIC counts the concentrated variance as a parameter (statsmodels'
    ``df_model``), so orders fitted either way compare.

    This is *not* the optimum of statsmodels' default fit (``concentrate_scale=False``): the
    profile likelihood has the same maximiser in theory, but the optimiser starts and walks
    differently and stops elsewhere, most often at a lower likelihood than the concentrated
    fit's. On 40 simulated ARIMA series of 300 bars the chosen order was the same either
    way; on the last 1,000 closes of real coins (../shared/data) the default fit chose
    another order for 6 of 14 daily and 4 of 11 hourly series, each time with a higher AIC
    than coincast's choice (tests/models/test_arima.py).

    ``update`` re-runs the filter on a longer frame with the same coefficients (cheap: a
    backtest refits only every k cutoffs; the innovation variance, concentrated out of the
    likelihood, follows the new data). ``yhat`` is ``exp`` of the mean log forecast (the
    median price), ``lo``/``hi`` ``exp`` of its 90 % interval.

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

    The scale is concentrated out of the likelihood (2-4x faster; an optimum close to, not
    the same as, the unconcentrated fit's: see :class:`ARIMA`), except for orders with no
    coefficients or differences with no variance (statsmodels cannot fit those that way),
    and in a retry.
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


def _check_order(order: Any) -> tuple[int, int, int]:
    ok = isinstance(order, tuple | list) and len(order) == 3
    if not ok or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in order):
        raise CoincastError(f"ARIMA order {order!r} must be (p, d, q) with whole numbers >= 0")
    return int(order[0]), int(order[1]), int(order[2])
