"""How good is a risk forecast? Losses and tests for variance, VaR, ES and density forecasts.

* variance forecasts ``h`` against a realized-variance measure ``rv`` (squared returns, or
  a sum of intraday squared returns): :func:`qlike_loss` / :func:`qlike` and
  :func:`mse_variance` (the two losses robust to the noise in ``rv``, Patton 2011), the
  Mincer-Zarnowitz regression :func:`mincer_zarnowitz`, and :func:`dm_loss`, the
  Diebold-Mariano test on any per-observation loss pair (e.g. QLIKE of a model vs GARCH);
* VaR and ES backtests (:func:`hits`, :func:`kupiec`, :func:`christoffersen`,
  :func:`mcneil_frey`), kept in :mod:`coincast.evaluation.var_tests` and importable here;
* density forecasts by their PIT values: :func:`pit_histogram`.

As in :mod:`coincast.evaluation.significance`: nothing warns, undefined results are None
with a ``reason``, results are plain Python values, and bad input raises
:class:`~coincast.errors.CoincastError` naming the argument, the value and the requirement.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..errors import CoincastError
from .metrics import _dm_from_differential
from .significance import _floats, newey_west_lags
from .var_tests import christoffersen, hits, kupiec, mcneil_frey

__all__ = [
    "RV_FLOOR",
    "christoffersen",
    "dm_loss",
    "hits",
    "kupiec",
    "mcneil_frey",
    "mincer_zarnowitz",
    "mse_variance",
    "pit_histogram",
    "qlike",
    "qlike_loss",
]

RV_FLOOR = 1e-12  # a realized variance of exactly 0 counts as this in QLIKE


def _variances(rv, h) -> tuple[np.ndarray, np.ndarray]:
    """``rv`` (finite, >= 0) and ``h`` (finite, > 0) as float arrays of one length."""
    rv = _floats("rv", rv)
    h = _floats("h", h, rv.size, ref="rv")
    if (rv < 0).any():
        i = int(np.flatnonzero(rv < 0)[0])
        raise CoincastError(f"rv holds {rv[i]} at index {i}; a realized variance must be >= 0")
    if (h <= 0).any():
        i = int(np.flatnonzero(h <= 0)[0])
        raise CoincastError(f"h holds {h[i]} at index {i}; a variance forecast must be > 0")
    return rv, h


def qlike_loss(rv, h) -> np.ndarray:
    """Per-observation QLIKE loss of the variance forecast ``h``, Patton's (2011) form
    ``rv / h - log(rv / h) - 1``: >= 0, and 0 exactly when ``h == rv``.

    **rv = 0** (a bar without a move, squared) would make the loss infinite: such values
    count as ``RV_FLOOR = 1e-12`` (a volatility of 1e-6, for returns as fractions; pass
    ``rv`` in those units, not rescaled to tiny numbers). Positive ``rv`` is used as it is.
    The difference of two forecasts' losses is then the same function ``rv/h_a - rv/h_b +
    log(h_a / h_b)`` on every bar as for the variant ``rv / h + log h`` (to within
    ``1e-12 / h``), so :func:`dm_loss` on QLIKE losses does not depend on the choice; only
    the level of :func:`qlike` does (by ``log(1e12) - 1 ~ 26.6`` per zero bar).

    Examples
    --------
    >>> qlike_loss([1.0, 2.0, 0.5], [1.0, 1.0, 1.0]).round(4).tolist()
    [0.0, 0.3069, 0.1931]
    """
    rv, h = _variances(rv, h)
    ratio = np.where(rv > 0, rv, RV_FLOOR) / h
    return ratio - np.log(ratio) - 1


def qlike(rv, h) -> float:
    """Mean QLIKE loss (:func:`qlike_loss`); NaN with no points.

    Examples
    --------
    >>> round(qlike([1.0, 2.0, 0.5], [1.0, 1.0, 1.0]), 4)
    0.1667
    """
    loss = qlike_loss(rv, h)
    return float(loss.mean()) if loss.size else math.nan


def mse_variance(rv, h) -> float:
    """Mean squared error of the variance forecast, ``mean((rv - h) ** 2)``; NaN with no
    points. Like QLIKE robust to noise in ``rv`` (Patton 2011), but dominated by the most
    volatile bars.

    Examples
    --------
    >>> mse_variance([1.0, 2.0, 0.5], [1.0, 1.0, 1.0])
    0.4166666666666667
    """
    rv, h = _variances(rv, h)
    return float(((rv - h) ** 2).mean()) if rv.size else math.nan


def _hac(X: np.ndarray, e: np.ndarray, lags: int) -> np.ndarray:
    """Newey-West covariance of OLS coefficients (Bartlett weights ``1 - j / (lags + 1)``,
    small-sample factor ``n / (n - k)``): statsmodels' HAC with ``use_correction=True``."""
    n, k = X.shape
    u = X * e[:, None]
    s = u.T @ u
    for j in range(1, min(lags, n - 1) + 1):
        g = u[j:].T @ u[:-j]
        s += (1 - j / (lags + 1)) * (g + g.T)
    inv = np.linalg.inv(X.T @ X)
    return inv @ s @ inv * n / (n - k)


def mincer_zarnowitz(rv, h, lags: int | None = None) -> dict:
    """Mincer-Zarnowitz regression of the realized variance on the variance forecast.

    OLS ``rv = a + b h + e``; an unbiased forecast has ``a = 0, b = 1``. **H0: a = 0 and
    b = 1**, by the Wald statistic ``(theta - (0, 1))' V^-1 (theta - (0, 1))`` with ``V``
    the Newey-West (HAC) covariance (Bartlett weights, ``lags`` lags, small-sample factor
    ``n / (n - 2)``), ``chi2(2)``. This is statsmodels' ``OLS(rv, add_constant(h)).fit()
    .get_robustcov_results("HAC", maxlags=lags, use_correction=True).wald_test(...,
    use_f=False)``. With a noisy ``rv`` (one squared return a bar) the regression's R² is
    low even for the true variance, and the Wald test, driven by a few large squared
    returns, over-rejects somewhat: with the true GARCH variance, 1000 bars and the default
    lags, simulated sizes at 5 % are 10 % against squared returns and 6.6 % against a
    20-return realized variance. Prefer a realized variance from intraday returns, and
    :func:`qlike`/:func:`dm_loss` to rank forecasts.

    Parameters
    ----------
    rv, h
        Realized variance (>= 0) and variance forecasts (> 0), one per bar, finite.
    lags
        HAC lags; None: :func:`~coincast.evaluation.significance.newey_west_lags` of ``n``.
        Forecasts ``k`` bars ahead from cutoffs one bar apart overlap: pass at least
        ``k - 1``.

    Returns
    -------
    dict
        ``intercept``, ``slope``, ``se_intercept``, ``se_slope``, ``r2``, ``wald``,
        ``pvalue``, ``n``, ``lags`` and ``reason`` (why values are None: fewer than 3
        points, a forecast that does not vary, an exact fit; ``r2`` alone when ``rv`` does
        not vary).

    Examples
    --------
    >>> h = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); rv = h + [0.3, -0.2, 0.1, -0.3, 0.2, 0]
    >>> r = mincer_zarnowitz(rv, h, lags=1)
    >>> round(r["intercept"], 3), round(r["slope"], 3), round(r["r2"], 3), r["pvalue"] > 0.05
    (0.087, 0.98, 0.985, True)
    """
    rv, h = _variances(rv, h)
    n = int(rv.size)
    if lags is None:
        lags = newey_west_lags(n)
    if int(lags) != lags or lags < 0:
        raise CoincastError(f"lags ({lags}) must be a whole number >= 0, e.g. k - 1 for step k")
    lags = int(lags)
    out = {"intercept": None, "slope": None, "se_intercept": None, "se_slope": None}
    out |= {"r2": None, "wald": None, "pvalue": None, "n": n, "lags": lags, "reason": None}
    if n < 3:
        return out | {"reason": f"too few points ({n}); the regression needs at least 3"}
    if np.ptp(h) <= 1e-12 * h.max():
        return out | {"reason": "the forecast does not vary: the slope is undefined"}
    X = np.column_stack([np.ones(n), h])
    theta = np.linalg.lstsq(X, rv, rcond=None)[0]
    e = rv - X @ theta
    sst = float(((rv - rv.mean()) ** 2).sum())
    r2 = 1 - float(e @ e) / sst if sst > 0 else None
    out |= {"intercept": float(theta[0]), "slope": float(theta[1]), "r2": r2}
    if np.abs(e).max() <= 1e-12 * np.abs(rv).max():
        return out | {"reason": "an exact fit (rv is a line in h): the covariance is singular"}
    V = _hac(X, e, lags)
    d = theta - [0.0, 1.0]
    wald = float(d @ np.linalg.solve(V, d))
    se = np.sqrt(np.diag(V))
    out |= {"se_intercept": float(se[0]), "se_slope": float(se[1]), "wald": wald}
    return out | {"pvalue": float(stats.chi2.sf(wald, 2))}


def dm_loss(loss_a, loss_b, h: int = 1) -> dict:
    """Diebold-Mariano test of equal expected loss, on two given per-observation losses.

    The loss differential ``d = loss_a - loss_b`` (e.g. the QLIKE of a model and of GARCH
    on the same bars) goes through the same test as
    :func:`~coincast.evaluation.metrics.dm_test`: long-run variance with autocovariances up
    to lag ``h - 1``, the Harvey-Leybourne-Newbold correction, a two-sided Student-t(n - 1)
    p-value. A **negative** ``stat`` (and ``mean_diff``) means ``a`` has the lower loss.

    Returns
    -------
    dict
        ``stat``, ``pvalue``, ``mean_diff`` (``mean(d)``), ``n`` and ``reason`` (why the test
        is None: fewer than 3 points, a differential that does not vary, ``h`` too large).

    Examples
    --------
    >>> r = dm_loss([0.1, 0.2, 0.1, 0.3, 0.1], [1.0, 1.5, 0.8, 2.0, 1.2])
    >>> round(r["stat"], 3), round(r["pvalue"], 4), round(r["mean_diff"], 2)
    (-6.626, 0.0027, -1.14)
    """
    a = _floats("loss_a", loss_a)
    b = _floats("loss_b", loss_b, a.size, ref="loss_a")
    if int(h) != h or h < 1:
        raise CoincastError(f"h ({h}) must be a whole number >= 1: the forecast horizon")
    d = a - b
    stat, p = _dm_from_differential(d, int(h))
    out = {"stat": stat, "pvalue": p, "mean_diff": float(d.mean()) if d.size else None}
    out |= {"n": int(d.size), "reason": None}
    if stat is None:
        why = f"{d.size} points, h = {h}: too few, or a loss differential that does not vary"
        out["reason"] = why
    return out


def pit_histogram(u, bins: int = 10) -> dict:
    """Histogram of PIT values and the chi-square test of their uniformity.

    For a correct density forecast ``F_t``, the PIT values ``u_t = F_t(y_t)`` are uniform on
    [0, 1]. **H0: uniform**: the counts in ``bins`` equal-width bins against ``n / bins``
    each, ``chi2 = sum((count - n / bins) ** 2 / (n / bins))``, ``chi2(bins - 1)``
    (``scipy.stats.chisquare``). A hump in the middle says the bands are too wide; a U,
    too narrow. The test takes the PITs as independent: true one step ahead; for
    overlapping multi-step forecasts keep every ``k``-th cutoff. With fewer than 5 expected
    per bin (``n < 5 bins``) the p-value is None (the chi-square is rough there).

    Returns
    -------
    dict
        ``counts`` (ints), ``edges`` (``bins + 1`` floats), ``chi2``, ``pvalue``, ``n`` and
        ``reason``.

    Examples
    --------
    >>> r = pit_histogram(np.linspace(0.01, 0.99, 50), bins=5)
    >>> r["counts"], r["chi2"], r["pvalue"]
    ([10, 10, 10, 10, 10], 0.0, 1.0)
    """
    u = _floats("u", u)
    if int(bins) != bins or bins < 2:
        raise CoincastError(f"bins ({bins}) must be a whole number >= 2, e.g. 10")
    if ((u < 0) | (u > 1)).any():
        i = int(np.flatnonzero((u < 0) | (u > 1))[0])
        raise CoincastError(f"u holds {u[i]} at index {i}; a PIT value must lie in [0, 1]")
    bins, n = int(bins), int(u.size)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts = np.histogram(u, bins=edges)[0]
    out = {"counts": [int(c) for c in counts], "edges": [float(e) for e in edges]}
    out |= {"chi2": None, "pvalue": None, "n": n, "reason": None}
    if n < 5 * bins:
        why = f"too few PIT values ({n}) for {bins} bins; the test needs at least 5 per bin"
        return out | {"reason": why}
    expected = n / bins
    chi2 = float(((counts - expected) ** 2).sum() / expected)
    return out | {"chi2": chi2, "pvalue": float(stats.chi2.sf(chi2, bins - 1))}
