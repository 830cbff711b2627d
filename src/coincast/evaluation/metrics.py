"""How good is a forecast? Small pure kernels on arrays: point errors, MASE, the band's
coverage and pinball loss, the share of directions right and the Diebold-Mariano test; the
checks of the backtest's one tidy table (``coin, model, cutoff, ts, step, y, yhat, lo, hi,
last, dist``; ``last`` is the close at the cutoff) and the overlap of its forecasts.

:func:`coincast.evaluation.scores.score` applies them per model and compares each model with
the naive forecast on the same (cutoff, step) points; :mod:`coincast.evaluation.verdicts`
puts that in words. Kernels never divide by zero nor warn: undefined values are NaN (None for
the test), and ``score`` returns None for them, so its rows are JSON-ready. Shares are
fractions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import CoincastError


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def mae(y, yhat) -> float:
    """Mean absolute error. ``mae([1, 2], [2, 2])`` is ``0.5``."""
    return _mean(np.abs(_arr(y) - _arr(yhat)))


def rmse(y, yhat) -> float:
    """Root mean squared error. ``rmse([0, 0], [3, 4])`` is ``sqrt(12.5)``."""
    return math.sqrt(_mean((_arr(y) - _arr(yhat)) ** 2))


def mape(y, yhat) -> float:
    """Mean absolute percentage error as a fraction, over the points where ``y != 0``.

    ``mape([100, 200], [110, 190])`` is ``0.075``.
    """
    y, yhat = _arr(y), _arr(yhat)
    keep = y != 0
    return _mean(np.abs(y[keep] - yhat[keep]) / np.abs(y[keep]))


def smape(y, yhat) -> float:
    """Symmetric MAPE, ``mean(2 |y - yhat| / (|y| + |yhat|))`` in [0, 2]; 0/0 counts as 0.

    ``smape([100, 0], [100, 0])`` is ``0.0``; ``smape([1], [3])`` is ``1.0``.
    """
    y, yhat = _arr(y), _arr(yhat)
    denom = np.abs(y) + np.abs(yhat)
    safe = np.where(denom > 0, denom, 1.0)
    return _mean(np.where(denom > 0, 2 * np.abs(y - yhat) / safe, 0.0))


def mase(y, yhat, scale: float | None) -> float:
    """MAE over ``scale`` (:func:`coincast.evaluation.scoring.recent_naive_scale` of the
    training closes); NaN without a positive scale.

    ``mase([1, 2], [2, 2], scale=0.25)`` is ``2.0``.
    """
    if scale is None or not np.isfinite(scale) or scale <= 0:
        return math.nan
    return mae(y, yhat) / scale


def coverage(y, lo, hi) -> float:
    """Share of actuals inside ``[lo, hi]``. ``coverage([1, 5], [0, 0], [2, 2])`` is ``0.5``."""
    y = _arr(y)
    return _mean(((_arr(lo) <= y) & (y <= _arr(hi))).astype("float64"))


def pinball(y, q_pred, q: float) -> float:
    """Pinball loss of the ``q``-quantile forecast ``q_pred``: ``pinball([10], [8], 0.9)`` = 1.8."""
    u = _arr(y) - _arr(q_pred)
    return _mean(np.maximum(q * u, (q - 1) * u))


def directional_accuracy(y, yhat, last) -> tuple[float | None, int]:
    """Share of points where the forecast got the direction of the move right.

    Only points where both ``y - last`` and ``yhat - last`` are non-zero count (a change
    within 1e-9 of the last value, such as float rounding of "no change", is no change).
    Returns ``(share, n)``, or ``(None, 0)`` when nothing counts (the naive forecast predicts
    no direction). A share is no test: whether it beats chance is the Pesaran-Timmermann
    test of :func:`coincast.evaluation.significance.direction_test`.

    Examples
    --------
    >>> directional_accuracy([2.0, 0.0, 1.0], [3.0, 2.0, 5.0], [1.0, 1.0, 1.0])
    (0.5, 2)
    """
    y, yhat, last = _arr(y), _arr(yhat), _arr(last)
    actual, predicted = _direction(y, last), _direction(yhat, last)
    counted = (actual != 0) & (predicted != 0)
    n = int(counted.sum())
    if n == 0:
        return None, 0
    return int((actual[counted] == predicted[counted]).sum()) / n, n


def _direction(x: np.ndarray, last: np.ndarray) -> np.ndarray:
    """-1, 0 or +1: the sign of the move from ``last``, 0 within rounding of no move."""
    return np.where(np.isclose(x, last, rtol=1e-9, atol=0.0), 0.0, np.sign(x - last))


def dm_test(e1, e2, h: int = 1, power: float = 2) -> tuple[float | None, float | None]:
    """Diebold-Mariano test of equal accuracy of two forecasts, with the HLN correction.

    Loss differential ``d = |e1|**power - |e2|**power``; its long-run variance sums the
    autocovariances up to lag ``h - 1`` (the lag-0 variance alone if that sum is not
    positive); the statistic gets the Harvey-Leybourne-Newbold factor
    ``sqrt((n + 1 - 2h + h(h-1)/n) / n)`` and a two-sided Student-t(n - 1) p-value.
    A **negative** statistic means ``e1``, the first forecast, is more accurate. Returns
    ``(None, None)`` when ``n < 3``, ``d`` does not vary, or ``h`` is too large for ``n``.

    Examples
    --------
    >>> stat, p = dm_test([0.1, -0.2, 0.1, 0.3, -0.1], [1.0, -1.5, 0.8, 2.0, -1.2])
    >>> stat < 0, round(p, 3)
    (True, 0.034)
    """
    if h < 1:
        raise CoincastError(f"h ({h}) must be >= 1: the forecast horizon of the errors")
    d = np.abs(_arr(e1)) ** power - np.abs(_arr(e2)) ** power
    return _dm_from_differential(d, h)


def _dm_from_differential(d: np.ndarray, h: int) -> tuple[float | None, float | None]:
    n = d.size
    if n < 3 or not np.isfinite(d).all() or np.ptp(d) <= 1e-12 * np.abs(d).max():
        return None, None
    centred = d - d.mean()
    gamma = [centred[k:] @ centred[: n - k] / n for k in range(min(h, n))]
    variance = gamma[0] + 2 * sum(gamma[1:])
    if variance <= 0:
        variance = gamma[0]
    hln = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if hln <= 0:
        return None, None
    stat = d.mean() / math.sqrt(variance / n) * math.sqrt(hln)
    return float(stat), float(2 * stats.t.sf(abs(stat), df=n - 1))


_NEED = ("model", "cutoff", "step", "y", "yhat", "last")


def check_table(table: pd.DataFrame, need: tuple[str, ...] = _NEED) -> None:
    """Raise :class:`CoincastError` unless ``table`` is a one-coin backtest table."""
    if missing := [c for c in need if c not in table.columns]:
        msg = f"the backtest table lacks column(s) {', '.join(missing)}; pass walk_forward's table"
        raise CoincastError(msg)
    if "coin" in table.columns and table["coin"].nunique() > 1:
        coins = ", ".join(map(str, table["coin"].unique()))
        msg = f"the table holds several coins ({coins}); score each coin's rows on their own"
        raise CoincastError(msg)
    if table.duplicated(["model", "cutoff", "step"]).any():
        raise CoincastError("the table repeats a (model, cutoff, step); one row each, please")


def overlap(points: pd.DataFrame, reach: int | None = None) -> int:
    """How many successive cutoffs' forecasts of ``points`` overlap: forecasts from cutoffs
    ``k`` apart overlap while ``k * spacing < reach`` bars (``reach``: the furthest step, by
    default the table's). The lags of a DM test, the stride that makes step-``reach``
    forecasts independent; ``reach`` when no ``ts`` column tells the bar."""
    reach = int(points["step"].max()) if reach is None else reach
    if "ts" not in points.columns:
        return reach
    try:
        bar = ((points["ts"] - points["cutoff"]) / points["step"]).min()
        spacing = pd.Series(points["cutoff"].unique()).sort_values().diff().min()
        return max(1, min(reach, math.ceil(reach * bar / spacing)))
    except (TypeError, ValueError, ZeroDivisionError):  # odd cutoff types, one cutoff
        return reach


def _plain(v):
    """A JSON-ready Python value: None for NaN/inf, Python float/int/bool for numpy ones."""
    if isinstance(v, bool | np.bool_ | int | np.integer):
        return bool(v) if isinstance(v, bool | np.bool_) else int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    return v


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows as a frame; columns that hold a None keep it (object dtype) instead of NaN."""
    rows = [{c: _plain(r.get(c)) for c in columns} for r in rows]
    frame = pd.DataFrame(rows, columns=columns)
    for c in columns:
        if any(r[c] is None for r in rows):
            frame[c] = pd.Series([r[c] for r in rows], index=frame.index, dtype=object)
    return frame
