"""Backtests of Value-at-Risk and expected-shortfall forecasts, on returns.

Conventions: a VaR forecast ``var_q`` at level ``p`` (e.g. 0.01) is the ``p``-quantile of
the return, a *return* (negative for a loss); an ES forecast ``es`` is the expected return
below it (more negative still). A hit is a return below its VaR: :func:`hits`.

* :func:`kupiec`: the proportion-of-failures LR test (Kupiec 1995): is the hit rate ``p``?
* :func:`christoffersen`: the independence and conditional-coverage LR tests
  (Christoffersen 1998): do hits cluster, and is the rate right as well?
* :func:`mcneil_frey`: the McNeil-Frey (2000) bootstrap test of the ES forecast on the hits.

As in :mod:`coincast.evaluation.significance`: nothing warns, undefined results are None
with a ``reason``, results are plain Python values, and bad input raises
:class:`~coincast.errors.CoincastError` naming the argument, the value and the requirement.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..errors import CoincastError
from .significance import _floats

MIN_EXCEEDANCES = 5  # fewer hits than this: no McNeil-Frey p-value


def _check_p(p: float) -> float:
    if not (isinstance(p, int | float | np.floating) and 0 < p < 1):
        raise CoincastError(f"p ({p}) must lie strictly between 0 and 1: the VaR level, e.g. 0.01")
    return float(p)


def _hit_array(h) -> np.ndarray:
    """``h`` as a 1-D float array of 0s and 1s, or CoincastError."""
    a = _floats("hits", h)
    bad = (a != 0) & (a != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"hits holds {a[i]} at index {i}; every value must be 0 or 1 (1: a VaR breach)"
        raise CoincastError(msg)
    return a


def _xlogy(x: float, y: float) -> float:
    """``x * log(y)`` with ``0 * log(0) = 0``."""
    return 0.0 if x == 0 else x * math.log(y)


def hits(r, var_q) -> np.ndarray:
    """The hit sequence: 1 where the return ``r`` fell below its VaR forecast ``var_q``.

    Both are returns (``var_q`` the forecast ``p``-quantile, negative for a loss), one per
    bar, finite. A return equal to its VaR is no hit.

    Examples
    --------
    >>> hits([-0.05, 0.01, -0.02], [-0.03, -0.03, -0.02]).tolist()
    [1, 0, 0]
    """
    r = _floats("r", r)
    q = _floats("var_q", var_q, r.size, ref="r")
    return (r < q).astype("int64")


def kupiec(hits, p: float) -> dict:
    """Kupiec (1995) proportion-of-failures test: is the probability of a hit ``p``?

    With ``x`` hits in ``n`` bars, ``LR = -2 [log L(p) - log L(x / n)]`` with the binomial
    log-likelihood ``log L(q) = (n - x) log(1 - q) + x log q`` (``0 log 0 = 0``, so no hit,
    or all hits, is a valid sample); the p-value is ``chi2(1)``'s upper tail. It assumes
    independent hits (see :func:`christoffersen`) and is two-sided: too many hits and too
    few both reject. With few expected hits (``n p`` below ~5) the chi-square is rough.

    Returns
    -------
    dict
        ``n``, ``exceedances``, ``rate`` (``x / n``), ``expected`` (``n p``), ``lr``,
        ``pvalue`` and ``reason`` (why the test is None: no bars).

    Examples
    --------
    >>> r = kupiec([1] * 5 + [0] * 245, 0.01)
    >>> r["exceedances"], r["expected"], round(r["lr"], 3), round(r["pvalue"], 4)
    (5, 2.5, 1.957, 0.1619)
    """
    h, p = _hit_array(hits), _check_p(p)
    n, x = int(h.size), int(h.sum())
    out = {"n": n, "exceedances": x, "rate": None, "expected": n * p, "lr": None}
    out |= {"pvalue": None, "reason": None}
    if n == 0:
        return out | {"reason": "no bars: there is nothing to test"}
    rate = x / n
    lr = -2 * (_xlogy(n - x, 1 - p) + _xlogy(x, p) - _xlogy(n - x, 1 - rate) - _xlogy(x, rate))
    lr = max(lr, 0.0)  # rounding when rate == p
    return out | {"rate": rate, "lr": lr, "pvalue": float(stats.chi2.sf(lr, 1))}


def christoffersen(hits, p: float) -> dict:
    """Christoffersen (1998) tests of independence and conditional coverage of VaR hits.

    From the transitions between successive bars, ``n_ij`` = #{hit ``i`` followed by hit
    ``j``}, the first-order Markov chain's ``pi01 = n01 / (n00 + n01)`` and ``pi11 = n11 /
    (n10 + n11)`` against one rate ``pi = (n01 + n11) / (n - 1)``:

    * independence, **H0: pi01 = pi11** (a hit does not make the next one likelier or less
      likely): ``lr_ind = -2 [log L(pi) - log L(pi01, pi11)]``, ``chi2(1)``;
    * conditional coverage, **H0: pi01 = pi11 = p**: ``lr_cc = lr_pof + lr_ind``,
      ``chi2(2)``, with ``lr_pof`` :func:`kupiec`'s LR on all ``n`` bars.

    Independence is undefined (None, with a ``reason``; ``lr_cc`` too) with fewer than 3
    bars, and when no transition leaves a hit (no hit before the last bar) or none leaves a
    non-hit (nothing but hits). With few hits the chi-square is rough (``pi11`` rests on
    ~``n p`` transitions) and the LR is discrete: simulated sizes of ``lr_ind`` at 5 % with
    iid hits at ``p = 0.05`` are 3.5 % (500 bars), 8 % (1000), 4.9 % (2000); at ``p = 0.1``
    and 1000 bars, 5 %.

    Returns
    -------
    dict
        ``n``, ``n00``, ``n01``, ``n10``, ``n11``, ``pi01``, ``pi11``, ``lr_pof``, ``p_pof``,
        ``lr_ind``, ``p_ind``, ``lr_cc``, ``p_cc`` and ``reason``.

    Examples
    --------
    >>> h = [0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    >>> r = christoffersen(h, 0.05)
    >>> r["n01"], r["n11"], round(r["lr_ind"], 3), round(r["p_cc"], 4)
    (2, 3, 3.687, 0.0018)
    """
    h, p = _hit_array(hits), _check_p(p)
    pof = kupiec(h, p)
    n = int(h.size)
    prev, nxt = h[:-1], h[1:]
    n00 = int(((prev == 0) & (nxt == 0)).sum())
    n01 = int(((prev == 0) & (nxt == 1)).sum())
    n10 = int(((prev == 1) & (nxt == 0)).sum())
    n11 = int(((prev == 1) & (nxt == 1)).sum())
    out = {"n": n, "n00": n00, "n01": n01, "n10": n10, "n11": n11, "pi01": None, "pi11": None}
    out |= {"lr_pof": pof["lr"], "p_pof": pof["pvalue"], "lr_ind": None, "p_ind": None}
    out |= {"lr_cc": None, "p_cc": None, "reason": None}
    if n < 3:
        return out | {"reason": f"too few bars ({n}); independence needs at least 3"}
    if n10 + n11 == 0:
        return out | {"reason": "no hit before the last bar: no transition from a hit to test"}
    if n00 + n01 == 0:
        return out | {"reason": "nothing but hits: no transition from a non-hit to test"}
    pi01, pi11 = n01 / (n00 + n01), n11 / (n10 + n11)
    pi = (n01 + n11) / (n - 1)
    restricted = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    free = _xlogy(n00, 1 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1 - pi11) + _xlogy(n11, pi11)
    lr_ind = max(-2 * (restricted - free), 0.0)
    lr_cc = pof["lr"] + lr_ind
    out |= {"pi01": pi01, "pi11": pi11, "lr_ind": lr_ind, "lr_cc": lr_cc}
    return out | {"p_ind": float(stats.chi2.sf(lr_ind, 1)), "p_cc": float(stats.chi2.sf(lr_cc, 2))}


def mcneil_frey(r, var_q, es, sigma, seed: int = 0, n_boot: int = 2000) -> dict:
    """McNeil-Frey (2000) test of expected-shortfall forecasts, by bootstrap.

    On the bars where the return broke its VaR (``r < var_q``), the residuals
    ``e = (r - es) / sigma`` have mean zero if the ES forecast is right. **H0: mean(e) = 0
    against H1: mean(e) < 0**, the returns beyond the VaR are worse than the ES forecast
    (it under-states the loss). As in the paper (after Efron and Tibshirani 1993, 16.4),
    the statistic ``t = mean(e) / (sd(e) / sqrt(k))`` over the ``k`` hits is compared with
    its bootstrap distribution from the centred residuals ``e - mean(e)``, resampled with
    replacement; the p-value is ``(1 + #{t* <= t}) / (n_boot + 1)``. Residuals are taken as
    independent (hits of a good VaR are). The hits come from ``var_q``: a VaR that is wrong
    picks the wrong tail, which this test does not see (:func:`kupiec` does). Simulated size
    at 5 % with correct forecasts: 4.6 % (normal) and 5.3 % (Student-t 5) with ~50 hits,
    3.7 % with ~25: slightly conservative with few hits.

    Parameters
    ----------
    r, var_q, es, sigma
        Returns, VaR and ES forecasts (returns, negative for losses; a coherent forecast has
        ``es <= var_q``, not checked), and the forecast volatility (> 0), one per bar, finite.
    seed, n_boot
        The bootstrap generator's seed (same seed, same p-value) and replications (>= 99).

    Returns
    -------
    dict
        ``n_exceed`` (``k``), ``mean`` (of ``e``), ``stat`` (``t``), ``pvalue`` and
        ``reason``. With fewer than 5 hits (``MIN_EXCEEDANCES``), or residuals that do not
        vary, ``pvalue`` is None (``mean`` is given from one hit on).

    Examples
    --------
    >>> z = np.random.default_rng(0).standard_normal(2000); q = -1.645
    >>> es = -np.exp(-q * q / 2) / np.sqrt(2 * np.pi) / 0.05
    >>> r = mcneil_frey(z, np.full(2000, q), np.full(2000, es), np.ones(2000))
    >>> r["n_exceed"], r["pvalue"] > 0.05
    (100, True)
    >>> mcneil_frey(z, np.full(2000, q), np.full(2000, 0.7 * es), np.ones(2000))["pvalue"]
    0.0004997501249375312
    """
    r = _floats("r", r)
    var_q = _floats("var_q", var_q, r.size, ref="r")
    es = _floats("es", es, r.size, ref="r")
    sigma = _floats("sigma", sigma, r.size, ref="r")
    if (sigma <= 0).any():
        i = int(np.flatnonzero(sigma <= 0)[0])
        raise CoincastError(f"sigma holds {sigma[i]} at index {i}; every volatility must be > 0")
    if int(n_boot) != n_boot or n_boot < 99:
        raise CoincastError(f"n_boot ({n_boot}) must be a whole number >= 99, e.g. 2000")
    hit = r < var_q
    e = (r[hit] - es[hit]) / sigma[hit]
    k = int(e.size)
    out = {"n_exceed": k, "mean": float(e.mean()) if k else None, "stat": None}
    out |= {"pvalue": None, "reason": None}
    if k < MIN_EXCEEDANCES:
        why = f"too few exceedances ({k}); the test needs at least {MIN_EXCEEDANCES}"
        return out | {"reason": why}
    sd = e.std(ddof=1)
    if sd <= 1e-12 * max(np.abs(e).max(), 1e-300):
        return out | {"reason": "the residuals do not vary: the bootstrap has nothing to draw"}
    stat = float(e.mean() / (sd / math.sqrt(k)))
    centred = e - e.mean()
    draws = centred[np.random.default_rng(seed).integers(0, k, size=(int(n_boot), k))]
    sd_b = draws.std(axis=1, ddof=1)
    ok = sd_b > 1e-12 * sd
    boot = np.where(ok, draws.mean(axis=1) / np.where(ok, sd_b, 1.0) * math.sqrt(k), 0.0)
    p = (1 + int((boot <= stat).sum())) / (int(n_boot) + 1)
    return out | {"stat": stat, "pvalue": p}
