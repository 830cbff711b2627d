"""How good is a forecast? Every number comes from the backtest's one tidy table
(``coin, model, cutoff, ts, step, y, yhat, lo, hi, last``; ``last`` is the close at the cutoff).

Small pure kernels on arrays; :func:`score` applies them per model and compares each model with
the naive forecast on the same (cutoff, step) points;
:func:`coincast.evaluation.verdicts.verdicts` puts that in words.
Kernels never divide by zero nor warn: undefined values are NaN (None for the two tests), and
:func:`score` returns None for them, so its rows are JSON-ready. Shares are fractions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import CoincastError

COLUMNS = (
    "model", "n", "mae", "rmse", "mape", "smape", "mase", "rel_mae", "directional_accuracy",
    "directional_n", "directional_pvalue", "dm_stat", "dm_pvalue", "lagged_copy", "coverage",
    "pinball",
)  # fmt: skip


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
    """MAE over ``scale`` (:func:`in_sample_naive_scale`); NaN without a positive scale.

    ``mase([1, 2], [2, 2], scale=0.25)`` is ``2.0``.
    """
    if scale is None or not np.isfinite(scale) or scale <= 0:
        return math.nan
    return mae(y, yhat) / scale


def in_sample_naive_scale(close) -> float | None:
    """MASE's denominator: mean ``|close_t - close_{t-1}|`` over the training closes.

    None when it is 0 (a constant series) or undefined (fewer than two closes):
    ``in_sample_naive_scale([1, 2, 4])`` is ``1.5``.
    """
    close = _arr(close)
    if close.size < 2:
        return None
    s = float(np.abs(np.diff(close)).mean())
    return s if np.isfinite(s) and s > 0 else None


def coverage(y, lo, hi) -> float:
    """Share of actuals inside ``[lo, hi]``. ``coverage([1, 5], [0, 0], [2, 2])`` is ``0.5``."""
    y = _arr(y)
    return _mean(((_arr(lo) <= y) & (y <= _arr(hi))).astype("float64"))


def pinball(y, q_pred, q: float) -> float:
    """Pinball loss of the ``q``-quantile forecast ``q_pred``: ``pinball([10], [8], 0.9)`` = 1.8."""
    u = _arr(y) - _arr(q_pred)
    return _mean(np.maximum(q * u, (q - 1) * u))


def directional_accuracy(y, yhat, last) -> tuple[float | None, int, float | None]:
    """Share of points where the forecast got the direction of the move right.

    Only points where both ``y - last`` and ``yhat - last`` are non-zero count (a change
    within 1e-9 of the last value, such as float rounding of "no change", is no change); the
    p-value is a two-sided exact binomial test against a coin flip. Returns
    ``(share, n, pvalue)``, or ``(None, 0, None)`` when nothing counts (the naive forecast
    predicts no direction).

    Examples
    --------
    >>> directional_accuracy([2.0, 0.0, 1.0], [3.0, 2.0, 5.0], [1.0, 1.0, 1.0])
    (0.5, 2, 1.0)
    """
    y, yhat, last = _arr(y), _arr(yhat), _arr(last)
    actual, predicted = _direction(y, last), _direction(yhat, last)
    counted = (actual != 0) & (predicted != 0)
    n = int(counted.sum())
    if n == 0:
        return None, 0, None
    hits = int((actual[counted] == predicted[counted]).sum())
    return hits / n, n, float(stats.binomtest(hits, n, 0.5).pvalue)


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


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2:
        return None
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denom if denom > 0 else None


def lagged_copy(y, yhat, last) -> dict:
    """Does the forecast mostly repeat the last seen value? (the lagged-copy check)

    The last price drawn one bar late looks convincing on a price chart. Rule: flagged when
    the forecast lies, on average, at least as close to the last value as to the actual,
    ``mean |yhat - last| <= mean |yhat - y|``. So the naive forecast is always flagged, a
    perfect one never (unless the series is flat, when it *is* the naive one), the truth plus
    noise smaller than the moves is not, the last value plus such noise is. Not the classic
    ``corr(yhat, last) >= corr(yhat, y)``: price levels correlate ~1 with both, and on a steady
    trend ``corr(y, last)`` is exactly 1, which would flag a perfect forecast.

    Returns a dict: ``flag`` (bool), ``dist_last`` and ``dist_actual`` (the two distances),
    ``corr_actual`` = corr(yhat, y) and ``corr_lagged`` = corr(yhat, last) (None if constant).

    Examples
    --------
    >>> y = np.array([1.0, 3.0, 2.0, 4.0]); last = np.array([0.0, 1.0, 3.0, 2.0])
    >>> lagged_copy(y, last, last)["flag"], lagged_copy(y, y, last)["flag"]
    (True, False)
    """
    y, yhat, last = _arr(y), _arr(yhat), _arr(last)
    dist_last, dist_actual = mae(last, yhat), mae(y, yhat)
    return {
        "flag": bool(dist_last <= dist_actual),
        "dist_last": dist_last,
        "dist_actual": dist_actual,
        "corr_actual": _corr(yhat, y),
        "corr_lagged": _corr(yhat, last),
    }


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


def score(
    table: pd.DataFrame,
    scale: float | None = None,
    baseline: str = "naive",
    *,
    per_step: bool = False,
) -> pd.DataFrame:
    """Score every model of a backtest table: one row per model (or per model and step).

    Parameters
    ----------
    table
        The walk-forward table of one coin; rows with non-finite ``y``/``yhat``/``last`` are
        left out.
    scale
        MASE's denominator (:func:`in_sample_naive_scale` of the training closes).
    baseline
        ``rel_mae`` is MAE over the baseline's MAE on the same (cutoff, step) points;
        ``dm_stat``/``dm_pvalue`` test those points' absolute errors (MAE's loss, so the sign
        agrees with ``rel_mae < 1``), loss differential averaged per cutoff, with as many lags
        as forecasts from successive cutoffs overlap.
    per_step
        One row per model and step (a ``step`` column follows ``model``).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, None for missing values. ``coverage``/``pinball`` need
        ``lo``/``hi``; ``pinball`` averages the 0.05-quantile loss of ``lo`` and the
        0.95-quantile loss of ``hi``.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["naive", "naive", "up", "up"], "cutoff": [0, 1, 0, 1],
    ...                   "step": 1, "y": [2.0, 1.0] * 2, "yhat": [1.0, 2.0, 2.0, 2.0],
    ...                   "last": [1.0, 2.0] * 2})
    >>> score(t).set_index("model")["rel_mae"].to_dict()
    {'naive': 1.0, 'up': 0.5}
    """
    check_table(table)
    ok = np.isfinite(table[["y", "yhat", "last"]].to_numpy("float64")).all(axis=1)
    t = table[ok]
    base = t[t["model"] == baseline]
    keys = ["model", "step"] if per_step else ["model"]
    groups = t.groupby(keys, sort=False)
    rows = [_score_group(g, base, scale, baseline, per_step) for _, g in groups]
    columns = list(COLUMNS)
    if per_step:
        columns.insert(1, "step")
    return _frame(rows, columns)


def _score_group(g, base, scale, baseline, per_step) -> dict:
    y, yhat, last = (g[c].to_numpy("float64") for c in ("y", "yhat", "last"))
    model = str(g["model"].iat[0])
    share, dn, dp = directional_accuracy(y, yhat, last)
    rel, stat, p = _versus(g, base, model == baseline)
    cov, pin = _interval(g, y)
    row = {"model": model, "step": int(g["step"].iat[0]) if per_step else None, "n": len(g)}
    row |= {"mae": mae(y, yhat), "rmse": rmse(y, yhat), "mape": mape(y, yhat)}
    row |= {"smape": smape(y, yhat), "mase": mase(y, yhat, scale), "rel_mae": rel}
    row |= {"directional_accuracy": share, "directional_n": dn, "directional_pvalue": dp}
    row |= {"dm_stat": stat, "dm_pvalue": p, "lagged_copy": lagged_copy(y, yhat, last)["flag"]}
    return row | {"coverage": cov, "pinball": pin}


def _versus(g, base, is_baseline: bool) -> tuple[float | None, float | None, float | None]:
    """(rel_mae, dm_stat, dm_pvalue) of the group against the baseline on shared points."""
    pairs = g.merge(base[["cutoff", "step", "yhat"]], on=["cutoff", "step"], suffixes=("", "_b"))
    if pairs.empty:
        return None, None, None
    err = (pairs["y"] - pairs["yhat"]).abs()
    err_b = (pairs["y"] - pairs["yhat_b"]).abs()
    rel = err.mean() / err_b.mean() if err_b.mean() > 0 else None
    if is_baseline:
        return rel, None, None
    d = (err - err_b).groupby(pairs["cutoff"]).mean().to_numpy("float64")
    return (rel, *_dm_from_differential(d, overlap(pairs)))


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


def _interval(g: pd.DataFrame, y: np.ndarray) -> tuple[float | None, float | None]:
    if "lo" not in g.columns or "hi" not in g.columns:
        return None, None
    lo, hi = g["lo"].to_numpy("float64"), g["hi"].to_numpy("float64")
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return None, None
    loss = (pinball(y[ok], lo[ok], 0.05) + pinball(y[ok], hi[ok], 0.95)) / 2
    return coverage(y[ok], lo[ok], hi[ok]), loss


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
