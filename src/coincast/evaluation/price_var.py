"""Value-at-risk and expected shortfall implied by the price forecasts' bands, and their tests.

A price backtest (:func:`coincast.evaluation.backtest.walk_forward`) gives each forecast a
band whose ``dist`` (:mod:`coincast.evaluation.bands`) says which distribution of the close
``Y`` it describes. Over one bar that is a distribution of the log return
``R = log(Y / last)``, and so a VaR (its ``p``-quantile, a return; a hit is ``r < var``) and
an ES (``E[R | R <= var]``) at each level of :data:`~coincast.evaluation.risk_backtest.LEVELS`,
the same conventions as the volatility models' risk backtest. How each ``dist`` is read:

* ``"lognormal"`` (exact): ``R ~ N(log(yhat / last), s**2)``, ``s = log(hi / lo) / (2 Z90)``,
  so ``var = m + s z_p`` and ``es = m - s phi(z_p) / p``; ``sigma = s``.
* ``"normal"``: ``Y ~ N(yhat, sd**2)``, ``sd = (hi - lo) / (2 Z90)``. The VaR is exact (the
  log is monotone): ``log((yhat + sd z_p) / last)``, ``-inf`` where that price is not positive
  (the band never lets the return fall below it). The ES is the exact
  ``(1/p) E[log(Y / last); Y <= q_p]`` by Gauss-Legendre quadrature in ``z`` (128 nodes on
  ``[z_p - 12, z_p]``, error far below 1e-9), *not* the normal ES of the price carried through
  the log; it is ``-inf`` where the band puts more than ``1e-12 p`` of its mass at or below a
  zero price (the log return's shortfall is unbounded). ``sigma = sd / yhat``, the first-order
  (delta-method) std of ``R``.
* ``"shifted-lognormal"``: ``Y = c + median exp(s Z)`` with ``(c, median, s)`` from
  :func:`~coincast.evaluation.bands.shifted_lognormal`. VaR exact,
  ``log((c + median e^{s z_p}) / last)``; ES by the same quadrature (``c < 0`` can reach zero
  prices: as for the normal); ``sigma = s median / yhat``, the delta-method std at the median.
* ``"quantiles[:a,b,c]"`` (``approx=True``): a VaR at a level the band gives is exact (with
  the default levels ``var5 = log(lo / last)``). Everything else needs a shape: a normal in
  log space through the two quantiles on the loss side, ``(a, lo)`` and ``(b, yhat)``
  (``s = log(yhat / lo) / (z_b - z_a)``, ``m = log(yhat / last) - s z_b``), so it reproduces
  the given lower quantiles exactly and extrapolates the tail from them (the upper quantile,
  which says nothing of losses, is not used). ``var1`` and both ES come from that normal;
  ``sigma = s``.
* ``"conformal"``, None: no distribution; those rows are left out.

Rows with no band (``lo``/``hi`` NaN, or a band of zero width: ``hi <= lo``) are left out as
well. A band that cannot be the distribution its ``dist`` names (a log-normal one with
``lo <= 0``, quantiles with ``lo >= yhat``) raises :class:`~coincast.errors.CoincastError`,
as :func:`~coincast.evaluation.bands.band_crps` does: the model states the wrong ``dist``.

:func:`price_var_tests` tables the tests of :mod:`coincast.evaluation.var_tests` with the
columns of :func:`coincast.evaluation.risk_scores.var_backtests`, so price and volatility
models can be read side by side.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import CoincastError
from ..models.base import Z90
from .bands import DISTS, quantile_levels, shifted_lognormal
from .risk_backtest import LEVELS
from .risk_scores import _passes
from .var_tests import christoffersen, hits, kupiec, mcneil_frey

NEEDS = ("coin", "model", "cutoff", "ts", "step", "y", "yhat", "lo", "hi", "last", "dist")
COLUMNS = ("coin", "model", "cutoff", "ts", "r", "sigma",
           *(f"{k}{round(p * 100)}" for p in LEVELS for k in ("var", "es")), "approx")  # fmt: skip
NO_DIST = (None, "conformal")  #: dists that state no distribution: left out
ZERO_MASS = 1e-12  #: mass at or below a zero price (relative to p) above which the ES is -inf
_PRICES, _BAND = ("y", "yhat", "lo", "hi", "last"), ("yhat", "lo", "hi", "last")
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(128)
_SPAN = 12.0  #: quadrature from z_p - 12: the normal mass below that is negligible


def price_var(table: pd.DataFrame) -> pd.DataFrame:
    """VaR and ES of the one-step log return implied by each forecast's band (module doc).

    Columns: ``coin, model, cutoff, ts, r`` (the realized ``log(y / last)``), ``sigma`` (the
    implied std of the log return), ``var1, es1, var5, es5`` (returns) and ``approx`` (the
    row's numbers rest on an assumed shape: quantile bands). One row per one-step forecast of
    a model with a distribution, in the table's order.

    Examples
    --------
    >>> t = pd.DataFrame({"coin": "x", "model": "naive", "cutoff": 0, "ts": 1, "step": 1,
    ...     "y": 100.0, "yhat": 100.0, "lo": 100 * np.exp(-Z90 * 0.02),
    ...     "hi": 100 * np.exp(Z90 * 0.02), "last": 100.0, "dist": "lognormal"}, index=[0])
    >>> v = price_var(t).iloc[0]
    >>> round(float(v["sigma"]), 6), round(float(v["var5"]), 6), bool(v["approx"])
    (0.02, -0.032897, False)
    """
    _check_table(table)
    t = table[table["step"] == 1]
    known = t["dist"].map(lambda d: not (d is None or (isinstance(d, float) and np.isnan(d))))
    t = t[known & ~t["dist"].isin([d for d in NO_DIST if d is not None])]
    y, yhat, lo, hi, last = (t[c].to_numpy(dtype="float64") for c in _PRICES)
    ok = np.isfinite([y, yhat, lo, hi, last]).all(axis=0) & (hi > lo) & (y > 0) & (last > 0)
    t = t[ok]
    out = pd.DataFrame({c: t[c].to_numpy() for c in ("coin", "model", "cutoff", "ts")})
    out["r"] = np.log(t["y"].to_numpy(dtype="float64") / t["last"].to_numpy(dtype="float64"))
    cols = ["sigma", *(f"{k}{round(p * 100)}" for p in LEVELS for k in ("var", "es"))]
    for c in cols:
        out[c] = np.nan
    out["approx"] = False
    dists = t["dist"].to_numpy()
    for dist in pd.unique(dists):
        at = np.flatnonzero(dists == dist)
        part = t.iloc[at]
        vals, approx = _one_dist(str(dist), *(part[c].to_numpy(dtype="float64") for c in _BAND))
        for c in cols:
            out.loc[at, c] = vals[c]
        out.loc[at, "approx"] = approx
    out["approx"] = out["approx"].astype(bool)
    return out[list(COLUMNS)]


def price_var_tests(table: pd.DataFrame) -> pd.DataFrame:
    """VaR and ES tests per model and level, from :func:`price_var` of the backtest ``table``.

    The columns of :func:`coincast.evaluation.risk_scores.var_backtests` (``model, level, n,
    exceedances, rate, kupiec_pvalue, ind_pvalue, cc_pvalue, es_pvalue, passes``, ``passes``
    by the same rule) and ``approx``: some of the model's VaR or ES rest on an assumed shape.
    Kupiec and Christoffersen take every row (a ``-inf`` VaR is never hit); McNeil-Frey, with
    ``sigma`` as the scale, the rows with a finite ES.
    """
    v = price_var(table)
    rows = []
    for model, g in v.groupby("model", sort=False):
        r, sigma = g["r"].to_numpy(), g["sigma"].to_numpy()
        for p in LEVELS:
            k = round(p * 100)
            var_q, es = g[f"var{k}"].to_numpy(), g[f"es{k}"].to_numpy()
            hit = hits(r, np.maximum(var_q, -np.finfo("float64").max))  # -inf: never hit
            ku, ch = kupiec(hit, p), christoffersen(hit, p)
            fin = np.isfinite(var_q) & np.isfinite(es) & np.isfinite(sigma) & (sigma > 0)
            mf = mcneil_frey(r[fin], var_q[fin], es[fin], sigma[fin])
            rows.append({
                "model": model, "level": p, "n": ku["n"], "exceedances": ku["exceedances"],
                "rate": ku["rate"], "kupiec_pvalue": ku["pvalue"], "ind_pvalue": ch["p_ind"],
                "cc_pvalue": ch["p_cc"], "es_pvalue": mf["pvalue"],
                "passes": _passes(ku["pvalue"], ch["p_cc"]), "approx": bool(g["approx"].any()),
            })  # fmt: skip
    cols = ["model", "level", "n", "exceedances", "rate", "kupiec_pvalue", "ind_pvalue",
            "cc_pvalue", "es_pvalue", "passes", "approx"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _check_table(table: object) -> None:
    if not isinstance(table, pd.DataFrame):
        raise CoincastError(
            f"table is a {type(table).__name__}; pass the DataFrame walk_forward returns"
        )
    missing = [c for c in NEEDS if c not in table.columns]
    if missing:
        raise CoincastError(
            f"table lacks column(s) {', '.join(missing)}; pass the price backtest table of "
            f"walk_forward ({', '.join(NEEDS)})"
        )


def _one_dist(dist: str, yhat, lo, hi, last) -> tuple[dict[str, np.ndarray], bool]:
    """``sigma``, ``var<k>`` and ``es<k>`` of rows sharing ``dist``, and whether approximate."""
    out: dict[str, np.ndarray] = {}
    if dist == "lognormal":
        if (lo <= 0).any() or (yhat <= 0).any():
            raise CoincastError("a log-normal band needs lo and yhat > 0; check the model's dist")
        s = np.log(hi / lo) / (2 * Z90)
        _normal_log(out, np.log(yhat / last), s)
        return out, False
    if dist == "normal":
        sd = (hi - lo) / (2 * Z90)
        out["sigma"] = np.where(yhat > 0, sd / np.where(yhat > 0, yhat, 1.0), np.nan)
        _by_quadrature(out, lambda z: yhat[:, None] + sd[:, None] * z, -yhat / sd, last)
        return out, False
    if dist == "shifted-lognormal":
        c, median, s = shifted_lognormal(yhat, lo, hi)
        out["sigma"] = np.where(yhat > 0, s * median / np.where(yhat > 0, yhat, 1.0), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            z0 = np.where(c < 0, np.log(np.where(c < 0, -c, 1.0) / median) / s, -np.inf)

        def price(z):
            return c[:, None] + median[:, None] * np.exp(s[:, None] * z)

        _by_quadrature(out, price, z0, last)
        return out, False
    if dist.startswith("quantiles"):
        levels = quantile_levels(dist)
        if (lo <= 0).any() or (lo >= yhat).any():
            raise CoincastError(
                "a quantile band needs 0 < lo < yhat (no crossed quantiles); check the model's dist"
            )
        za, zb = stats.norm.ppf(levels[:2])
        s = np.log(yhat / lo) / (zb - za)
        _normal_log(out, np.log(yhat / last) - s * zb, s)
        for p in LEVELS:
            for given, q in zip(levels, (lo, yhat, hi), strict=True):
                if np.isclose(p, given, rtol=0, atol=1e-12):
                    out[f"var{round(p * 100)}"] = np.log(q / last)
        return out, True
    raise CoincastError(f"dist {dist!r} is not one of {', '.join(DISTS)}, conformal (or None)")


def _normal_log(out: dict, m: np.ndarray, s: np.ndarray) -> None:
    """VaR and ES of ``R ~ N(m, s**2)`` at every level, closed form."""
    out["sigma"] = s
    for p in LEVELS:
        z = stats.norm.ppf(p)
        out[f"var{round(p * 100)}"] = m + s * z
        out[f"es{round(p * 100)}"] = m - s * stats.norm.pdf(z) / p


def _by_quadrature(out: dict, price, z0: np.ndarray, last: np.ndarray) -> None:
    """VaR and ES of ``R = log(price(Z) / last)``, ``Z ~ N(0, 1)``, ``price`` increasing in
    ``z`` and zero at ``z0`` (``-inf``: always positive). ES is ``E[R | Z <= z_p]`` by
    Gauss-Legendre on ``[max(z_p - 12, z0), z_p]``; ``-inf`` where the mass below ``z0``
    exceeds :data:`ZERO_MASS` ``p``. VaR is ``-inf`` where ``price(z_p) <= 0``."""
    for p in LEVELS:
        k, zp = round(p * 100), float(stats.norm.ppf(p))
        q = price(np.array([zp]))[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"var{k}"] = np.where(q > 0, np.log(np.where(q > 0, q, 1.0) / last), -np.inf)
        a = np.maximum(zp - _SPAN, z0)
        unbounded = stats.norm.cdf(z0) > ZERO_MASS * p
        a = np.where(unbounded, zp - 1.0, a)  # any finite interval; the value is replaced
        half = (zp - a) / 2
        z = a[:, None] + half[:, None] * (_NODES[None, :] + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.maximum(price(z), np.finfo("float64").tiny) / last[:, None])
        integral = half * (logs * stats.norm.pdf(z) * _WEIGHTS[None, :]).sum(axis=1)
        out[f"es{k}"] = np.where(unbounded, -np.inf, integral / p)
