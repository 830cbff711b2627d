"""Skill or luck? Significance tests for forecasts and for the trading view.

Small pure kernels on numpy arrays, each testing one stated null hypothesis:

* :func:`change_information`: does the forecast's *change* ``yhat - last`` say anything about
  the actual change ``y - last``? (a regression with Newey-West standard errors)
* :func:`direction_test` / :func:`direction_by_step`: the Pesaran-Timmermann (1992) test of
  predicted direction, one step of the horizon at a time.
* :func:`trading_pvalue`: does the long/flat rule beat buy-and-hold by more than luck? (a
  stationary block bootstrap)

As in :mod:`coincast.evaluation.metrics`: nothing warns, undefined results are None (with a
``reason``), results are plain Python values (JSON-ready), and bad input raises
:class:`~coincast.errors.CoincastError` naming the parameter, the value and the fix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import CoincastError
from .metrics import overlap
from .verdicts import ALPHA

_ALTERNATIVES = ("greater", "two-sided")


def _floats(name: str, x, n: int | None = None, *, ref: str = "y") -> np.ndarray:
    """``x`` as a finite 1-D float array (of length ``n`` when given), or CoincastError."""
    try:
        a = np.asarray(x, dtype="float64")
    except (TypeError, ValueError) as e:
        raise CoincastError(f"{name} must hold numbers ({e}); pass a numeric array") from None
    if a.ndim != 1:
        msg = f"{name} has shape {a.shape}; it must be one-dimensional: one value per point"
        raise CoincastError(msg)
    if n is not None and a.size != n:
        msg = f"{name} has {a.size} values but {ref} has {n}; pass one value per point in each"
        raise CoincastError(msg)
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"{name} holds {int(bad.sum())} non-finite value(s) (the first, at index {i}, is "
            f"{a[i]}); every value must be finite: drop those points first"
        )
        raise CoincastError(msg)
    return a


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise CoincastError(f"alpha ({alpha}) must lie strictly between 0 and 1, e.g. 0.05")


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        msg = f"alternative ({alternative!r}) must be one of {', '.join(_ALTERNATIVES)}"
        raise CoincastError(msg)


def newey_west_lags(n: int) -> int:
    """The Newey-West (1994) rule of thumb ``floor(4 (n / 100) ** (2 / 9))`` (statsmodels').

    Examples
    --------
    >>> newey_west_lags(100), newey_west_lags(1000)
    (4, 6)
    """
    return math.floor(4 * (max(n, 0) / 100) ** (2 / 9))


def _slope_hac(x: np.ndarray, y: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """OLS slope of ``y`` on ``x`` with intercept, and its Newey-West variance, along the last
    axis (so simulations vectorise). Bartlett weights ``1 - j / (lags + 1)``, the small-sample
    factor ``n / (n - 2)``: statsmodels' ``cov_type="HAC"`` with ``use_correction=True``.
    The slope's row of ``(X'X)^-1 X'`` is ``(x_t - mean x) / Sxx``, so the sandwich's slope
    element is ``sum_ts w_|t-s| u_t u_s / Sxx**2`` with ``u_t = (x_t - mean x) e_t``."""
    n = x.shape[-1]
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    sxx = (xc * xc).sum(axis=-1)
    slope = (xc * yc).sum(axis=-1) / sxx
    u = xc * (yc - slope[..., None] * xc)
    s = (u * u).sum(axis=-1)
    for j in range(1, min(lags, n - 1) + 1):
        s = s + 2 * (1 - j / (lags + 1)) * (u[..., j:] * u[..., :-j]).sum(axis=-1)
    return slope, s / sxx**2 * n / (n - 2)


def change_information(y, yhat, last, lags: int | None = None, alpha: float = ALPHA) -> dict:
    """Does the forecast's change carry information about the actual change?

    Regresses the actual change ``y - last`` on the forecast change ``yhat - last`` with an
    intercept. **H0: slope = 0**, the forecast's change says nothing about the actual change
    (as for the naive forecast, or the last value plus noise). The optimal forecast has slope
    1; unlike a "lagged copy" rule on price levels, this does not flag a good forecast whose
    changes are small.

    Standard errors are Newey-West (HAC, Bartlett weights) with ``lags`` lags and the
    small-sample factor ``n / (n - 2)``; the p-value is two-sided from Student's t with
    ``n - 2`` degrees of freedom. This is exactly statsmodels'
    ``OLS(dy, add_constant(dx)).fit(cov_type="HAC", cov_kwds={"maxlags": lags,
    "use_correction": True}, use_t=True)``.

    Parameters
    ----------
    y, yhat, last
        Actuals, forecasts and the last close seen at each forecast's cutoff (finite).
    lags
        HAC lags. Forecasts ``h`` steps ahead from cutoffs one bar apart overlap by ``h - 1``
        bars: pass at least ``h - 1``. None: the Newey-West rule :func:`newey_west_lags`.
        With overlap *and* a persistent forecast (a smooth model) HAC is not enough: on a
        random walk a no-skill 20-bar momentum forecast is rejected at 5 % in 10 % (1000
        points) to 16 % (300 points) of samples at step 5 with ``lags = 4``. Passing only
        every ``h``-th cutoff (no overlap) with ``lags = 0`` gives 6 % to 8 %.
    alpha
        ``copies_last`` is True when H0 cannot be rejected at this level.

    Returns
    -------
    dict
        ``slope``, ``se``, ``t``, ``pvalue`` (H0: slope = 0), ``pvalue_slope1`` (H0: slope =
        1, the forecast encompasses the naive forecast; a rejection with slope < 1 says its
        changes are too large), ``n``, ``lags``, ``copies_last`` and ``reason``.
        A forecast whose change never varies (the naive forecast: always zero) carries no
        information: ``copies_last`` True with the test values None and a ``reason``.
        Fewer than 3 points, or an actual change that never varies: ``copies_last`` None.

    Examples
    --------
    >>> last = np.zeros(6); y = np.array([1.0, -1.0, 2.0, -2.0, 1.0, -1.0])
    >>> r = change_information(y, 0.5 * y + [0.1, 0, -0.1, 0, 0.1, 0], last, lags=1)
    >>> round(r["slope"], 3), r["copies_last"]
    (1.981, False)
    >>> change_information(y, last, last)["reason"]
    'the forecast never moves from the last value: its change carries no information'
    """
    y = _floats("y", y)
    yhat, last = _floats("yhat", yhat, y.size), _floats("last", last, y.size)
    _check_alpha(alpha)
    n = int(y.size)
    if lags is None:
        lags = newey_west_lags(n)
    if int(lags) != lags or lags < 0:
        raise CoincastError(f"lags ({lags}) must be a whole number >= 0, e.g. h - 1 for step h")
    lags = int(lags)
    out = {"slope": None, "se": None, "t": None, "pvalue": None, "pvalue_slope1": None}
    out |= {"n": n, "lags": lags, "copies_last": None, "reason": None}
    dx, dy = yhat - last, y - last
    if n < 3:
        return out | {"reason": f"too few points ({n}); the regression needs at least 3"}
    if np.isclose(yhat, last, rtol=1e-9, atol=0.0).all():
        why = "the forecast never moves from the last value: its change carries no information"
        return out | {"copies_last": True, "reason": why}
    if np.ptp(dx) <= 1e-9 * np.abs(dx).max():
        why = "the forecast moves by the same amount every time: its change carries no information"
        return out | {"copies_last": True, "reason": why}
    if np.ptp(dy) <= 1e-12 * max(np.abs(dy).max(), np.abs(last).max()):
        return out | {"reason": "the actual change never varies: there is nothing to predict"}
    slope, var = (float(v) for v in _slope_hac(dx, dy, lags))
    se = math.sqrt(max(var, 0.0))
    out |= {"slope": slope, "se": se}
    if se <= 1e-12 * abs(slope):  # an exact fit: the change is fully informative
        t, t1 = math.copysign(math.inf, slope), math.copysign(math.inf, slope - 1)
        p, p1 = 0.0, (1.0 if abs(slope - 1) <= 1e-9 else 0.0)
    else:
        t, t1 = slope / se, (slope - 1) / se
        p, p1 = (float(2 * stats.t.sf(abs(v), df=n - 2)) for v in (t, t1))
    return out | {"t": t, "pvalue": p, "pvalue_slope1": p1, "copies_last": bool(p >= alpha)}


def _direction(x: np.ndarray, last: np.ndarray) -> np.ndarray:
    """-1, 0 or +1: the sign of the move from ``last``, 0 within rounding of no move."""
    return np.where(np.isclose(x, last, rtol=1e-9, atol=0.0), 0.0, np.sign(x - last))


def _pt(actual_up: np.ndarray, predicted_up: np.ndarray) -> tuple[float, float, float | None]:
    """(share right, share expected under independence, PT statistic or None) of 0/1 arrays
    along the last axis (vectorised for simulations; the statistic is NaN where undefined)."""
    n = actual_up.shape[-1]
    share = (actual_up == predicted_up).mean(axis=-1)
    py, px = actual_up.mean(axis=-1), predicted_up.mean(axis=-1)
    expected = py * px + (1 - py) * (1 - px)
    var = expected * (1 - expected) / n - (
        (2 * py - 1) ** 2 * px * (1 - px) / n
        + (2 * px - 1) ** 2 * py * (1 - py) / n
        + 4 * py * px * (1 - py) * (1 - px) / n**2
    )
    ok = var > 1e-15
    stat = np.divide(share - expected, np.sqrt(np.where(ok, var, 1.0)))
    return share, expected, np.where(ok, stat, np.nan)


def direction_test(y, yhat, last, *, alternative: str = "greater") -> dict:
    """Pesaran-Timmermann (1992) test: does the forecast get the direction of the move right
    more often than a forecast that is independent of the actual move would?

    **H0: the predicted direction (up or down from ``last``) is independent of the actual
    one.** Unlike a binomial test against a coin flip, a forecast that always says "up" in a
    rising market is not credited: the benchmark is ``P* = Py Px + (1 - Py)(1 - Px)`` (Py,
    Px: the shares of actual and predicted ups), and the statistic
    ``(P - P*) / sqrt(V(P) - V(P*))`` is standard normal under H0 (P: the share right).
    The p-value is one-sided (``alternative="greater"``: better than independent) or
    two-sided. Points where the actual or the forecast does not move (within 1e-9 of
    ``last``, as in metrics) are left out.

    The test assumes the points are serially independent under H0. Use it one step of the
    horizon at a time (:func:`direction_by_step`): pooling steps from the same cutoffs, whose
    actual moves share bars, over-rejects.

    Returns
    -------
    dict
        ``stat``, ``pvalue``, ``share`` (of directions right), ``expected`` (P*), ``n`` (points
        counted), ``alternative`` and ``reason`` (why the test is None: nothing counted, or the
        forecast or the actual always pointing the same way).

    Examples
    --------
    >>> y = np.array([1.0, -1, 1, -1, 1, -1, 1, -1, 1, 1]); yhat = y.copy(); yhat[0] = -1
    >>> r = direction_test(y, yhat, np.zeros(10))
    >>> r["share"], round(r["stat"], 3), round(r["pvalue"], 4)
    (0.9, 2.722, 0.0032)
    """
    y = _floats("y", y)
    yhat, last = _floats("yhat", yhat, y.size), _floats("last", last, y.size)
    _check_alternative(alternative)
    actual, predicted = _direction(y, last), _direction(yhat, last)
    counted = (actual != 0) & (predicted != 0)
    n = int(counted.sum())
    out = {"stat": None, "pvalue": None, "share": None, "expected": None, "n": n}
    out |= {"alternative": alternative, "reason": None}
    if n == 0:
        return out | {"reason": "no point where both the actual and the forecast moved"}
    a, f = (actual[counted] > 0).astype("float64"), (predicted[counted] > 0).astype("float64")
    share, expected, stat = (float(v) for v in _pt(a, f))
    out |= {"share": share, "expected": expected}
    if math.isnan(stat):
        who = "forecast" if np.ptp(f) == 0 else "actual"
        return out | {"reason": f"the {who} always points the same way: independence is moot"}
    p = stats.norm.sf(stat) if alternative == "greater" else 2 * stats.norm.sf(abs(stat))
    return out | {"stat": stat, "pvalue": float(p)}


_TABLE = ("cutoff", "step", "y", "yhat", "last")


def direction_by_step(
    table: pd.DataFrame, *, alternative: str = "greater", nonoverlapping: bool = False
) -> pd.DataFrame:
    """:func:`direction_test` for each step of the horizon (and model) on its own.

    Parameters
    ----------
    table
        Backtest rows with columns ``cutoff, step, y, yhat, last`` (``model`` too: one row
        per model and step; ``ts`` too: tells the bar for ``nonoverlapping``). Rows with
        non-finite ``y``/``yhat``/``last`` are left out.
    alternative
        ``"greater"`` (one-sided, the default) or ``"two-sided"``.
    nonoverlapping
        For step ``k``, keep only cutoffs ``k`` bars apart, so that no two actual moves share
        a bar. Costs a factor ``k`` in points, but keeps the size when the forecast's
        direction is persistent from one cutoff to the next (a smooth model): then the
        overlapping actual moves make the plain per-step test over-reject for ``k > 1``.

    Returns
    -------
    DataFrame
        ``[model,] step, n, share, expected, stat, pvalue, reason``; None where undefined.

    Examples
    --------
    >>> t = pd.DataFrame({"cutoff": [0, 1, 2, 3] * 2, "step": [1] * 4 + [2] * 4,
    ...     "y": [2.0, 0, 2, 0, 2, 2, 0, 0], "yhat": [2.0, 0, 2, 0, 0, 2, 2, 0],
    ...     "last": 1.0})
    >>> r = direction_by_step(t)
    >>> r["step"].tolist(), r["share"].tolist(), r["pvalue"].round(4).tolist()
    ([1, 2], [1.0, 0.5], [0.0105, 0.5])
    """
    if missing := [c for c in _TABLE if c not in table.columns]:
        msg = f"table lacks column(s) {', '.join(missing)}; pass the backtest's table"
        raise CoincastError(msg)
    _check_alternative(alternative)
    ok = np.isfinite(table[["y", "yhat", "last"]].to_numpy("float64")).all(axis=1)
    keys = ["model", "step"] if "model" in table.columns else ["step"]
    t = table[ok].sort_values([*keys, "cutoff"], kind="stable")
    rows = []
    for key, g in t.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        step = int(key[-1])
        if g["cutoff"].duplicated().any():
            what = f"model {key[0]!r}, " if len(key) > 1 else ""
            msg = f"the table repeats a cutoff ({what}step {step}); one row each, please"
            raise CoincastError(msg)
        if nonoverlapping:
            g = g.iloc[:: overlap(g, step)]
        r = direction_test(g["y"], g["yhat"], g["last"], alternative=alternative)
        row = dict(zip(keys, (*key[:-1], step), strict=True))
        rows.append(row | {k: r[k] for k in ("n", "share", "expected", "stat", "pvalue", "reason")})
    columns = [*keys, "n", "share", "expected", "stat", "pvalue", "reason"]
    frame = pd.DataFrame(rows, columns=columns)
    for c in columns:  # columns holding a None keep it (object dtype), not NaN: JSON-ready
        if any(r[c] is None for r in rows):
            frame[c] = pd.Series([r[c] for r in rows], index=frame.index, dtype=object)
    return frame


def _sharpe(r: np.ndarray) -> np.ndarray:
    """Per-bar Sharpe ratio along the last axis; 0 where the returns do not vary."""
    sd = r.std(axis=-1, ddof=1)
    return np.divide(r.mean(axis=-1), sd, out=np.zeros_like(sd), where=sd > 1e-15)


def trading_pvalue(
    strategy_returns,
    benchmark_returns,
    *,
    statistic: str = "mean",
    alternative: str = "greater",
    position=None,
    block_length: float | None = None,
    reps: int = 999,
    seed: int = 0,
) -> dict:
    """Does the strategy beat the benchmark (buy-and-hold) by more than luck?

    **H0: the strategy's expected per-bar return (``statistic="mean"``) or Sharpe ratio
    (``"sharpe"``) is no higher than the benchmark's** (``alternative="greater"``; with
    ``"two-sided"``: equal). Both series are resampled together with the stationary block
    bootstrap of Politis and Romano (``arch.bootstrap.StationaryBootstrap``), keeping their
    dependence across bars and between each other. The bootstrap distribution of the
    difference is centred on the observed one to impose H0; the p-value is
    ``(1 + #{T*_b - T >= T}) / (reps + 1)`` (two-sided: ``|T*_b - T| >= |T|``).

    Parameters
    ----------
    strategy_returns, benchmark_returns
        Per-bar returns over the same bars (finite; trading.strategy_returns).
    position
        The strategy's 0/1 positions, to count its trades (position changes, the first entry
        included); a p-value from a handful of trades rests on a handful of bets.
    block_length
        Mean block length. None: the Politis-White (2004) estimate for the stationary
        bootstrap (``arch.bootstrap.optimal_block_length``, with the Patton-Politis-White
        2009 correction) of the differential ``strategy - benchmark``, at least 1.
    reps, seed
        Bootstrap replications and the seed of their generator (same seed, same p-value).

    Returns
    -------
    dict
        ``pvalue``, ``diff`` (the observed difference: of mean per-bar returns, or of per-bar
        Sharpe ratios, not annualised), ``statistic``, ``alternative``, ``n`` (bars),
        ``trades`` (None without ``position``), ``block_length``, ``reps`` and ``reason``
        (why ``pvalue`` is None: too few bars, or no difference to test).

    Examples
    --------
    >>> rng = np.random.default_rng(1); bench = rng.normal(0, 0.02, 500)
    >>> r = trading_pvalue(bench + 0.004 + rng.normal(0, 0.01, 500), bench, reps=199)
    >>> r["pvalue"], r["n"]
    (0.005, 500)
    """
    s = _floats("strategy_returns", strategy_returns)
    b = _floats("benchmark_returns", benchmark_returns, s.size, ref="strategy_returns")
    if statistic not in ("mean", "sharpe"):
        raise CoincastError(f"statistic ({statistic!r}) must be 'mean' or 'sharpe'")
    _check_alternative(alternative)
    if int(reps) != reps or reps < 99:
        raise CoincastError(f"reps ({reps}) must be a whole number >= 99, e.g. 999")
    trades = None
    if position is not None:
        pos = _floats("position", position, s.size, ref="strategy_returns")
        trades = int(np.abs(np.diff(pos, prepend=0.0)).sum())
    n, d = int(s.size), s - b
    out = {"pvalue": None, "diff": None, "statistic": statistic, "alternative": alternative}
    out |= {"n": n, "trades": trades, "block_length": None, "reps": int(reps), "reason": None}
    if n < 10:
        return out | {"reason": f"too few bars ({n}); the bootstrap needs at least 10"}
    if np.ptp(d) <= 1e-15:
        return out | {"reason": "the strategy returns differ from the benchmark's by a constant"}
    if statistic == "sharpe" and min(np.ptp(s), np.ptp(b)) <= 1e-15:
        return out | {"reason": "a series of returns does not vary: its Sharpe ratio is undefined"}
    from arch.bootstrap import StationaryBootstrap, optimal_block_length  # only when used

    if block_length is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            estimate = float(optimal_block_length(d)["stationary"].iloc[0])
        block_length = max(1.0, estimate) if math.isfinite(estimate) else 1.0
    elif not (math.isfinite(block_length) and 1 <= block_length <= n):
        msg = f"block_length ({block_length}) must lie in [1, {n}] (the bars); None estimates it"
        raise CoincastError(msg)
    bs = StationaryBootstrap(block_length, np.arange(n), seed=np.random.default_rng(seed))
    idx = np.stack([data[0][0] for data in bs.bootstrap(int(reps))])
    if statistic == "mean":
        observed, boot = float(d.mean()), d[idx].mean(axis=1)
    else:
        observed = float(_sharpe(s) - _sharpe(b))
        boot = _sharpe(s[idx]) - _sharpe(b[idx])
    centred = boot - observed
    tol = 1e-12 * max(abs(observed), 1e-300)  # ties within rounding count as reached
    if alternative == "greater":
        hits = int((centred >= observed - tol).sum())
    else:
        hits = int((np.abs(centred) >= abs(observed) - tol).sum())
    p = (1 + hits) / (reps + 1)
    return out | {"pvalue": p, "diff": observed, "block_length": float(block_length)}
