"""Scores of probabilistic forecasts (CRPS: normal, log-normal, from quantiles) and MASE's
scale over a stated recent window.

Small pure kernels on numpy arrays, as in :mod:`coincast.evaluation.metrics`. The CRPS
kernels return one score per point (so two forecasts' scores can be compared point by point,
e.g. with a Diebold-Mariano test); their mean is the score of the forecast. Lower is better;
the CRPS is in the units of the prices, and of a point forecast it is the absolute error.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..errors import CoincastError
from .significance import _floats

_INV_SQRT_PI = 1 / math.sqrt(math.pi)


def _finite_nd(name: str, x) -> np.ndarray:
    """``x`` as a finite float array of any shape, or CoincastError."""
    try:
        a = np.asarray(x, dtype="float64")
    except (TypeError, ValueError) as e:
        raise CoincastError(f"{name} must hold numbers ({e}); pass a numeric array") from None
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        msg = f"{name} holds {bad} non-finite value(s); every value must be finite: drop them"
        raise CoincastError(msg)
    return a


def _location_scale(y, loc: tuple[str, object], scale: tuple[str, object]):
    """``y``, a location and a non-negative scale as finite arrays broadcast to one shape."""
    (ln, lv), (sn, sv) = loc, scale
    y, mu, s = _finite_nd("y", y), _finite_nd(ln, lv), _finite_nd(sn, sv)
    if (s < 0).any():
        raise CoincastError(
            f"{sn} holds negative values (the smallest is {s.min()}); it must be >= 0"
        )
    try:
        return np.broadcast_arrays(y, mu, s)
    except ValueError:
        msg = f"y {y.shape}, {ln} {mu.shape} and {sn} {s.shape} do not broadcast together"
        raise CoincastError(f"{msg}; pass arrays of one shape, or scalars") from None


def crps_gaussian(y, mu, sigma) -> np.ndarray:
    """CRPS of the normal forecast ``N(mu, sigma**2)`` for each actual ``y`` (closed form).

    ``sigma * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))`` with ``z = (y - mu) / sigma``
    (Gneiting and Raftery 2007); ``sigma = 0`` is the point forecast ``mu``, scored
    ``|y - mu|`` (the limit). Arguments broadcast (a scalar ``sigma`` serves every point).

    Examples
    --------
    >>> crps_gaussian([0.0, 1.0], 0.0, [1.0, 0.0]).round(4).tolist()
    [0.2337, 1.0]
    """
    y, mu, sigma = _location_scale(y, ("mu", mu), ("sigma", sigma))
    positive = sigma > 0
    s = np.where(positive, sigma, 1.0)
    z = (y - mu) / s
    closed = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - _INV_SQRT_PI)
    return np.where(positive, closed, np.abs(y - mu))


def crps_lognormal(y, mulog, sigmalog) -> np.ndarray:
    """CRPS of the log-normal forecast ``exp(N(mulog, sigmalog**2))`` for each actual ``y``.

    The closed form of Baran and Lerch (2015), ``y (2 Phi(w) - 1) - 2 exp(mulog + s**2 / 2)
    (Phi(w - s) + Phi(s / sqrt 2) - 1)`` with ``w = (log y - mulog) / s`` (``w = -inf`` for
    ``y <= 0``); ``s = 0`` is the point forecast ``exp(mulog)``, scored ``|y - exp(mulog)|``.
    The band of a model forecasting log returns with a normal error is this distribution
    in prices (its median ``exp(mulog)``). Arguments broadcast.

    Examples
    --------
    >>> crps_lognormal([1.0, 2.0], 0.0, [0.0, 0.0]).tolist()
    [0.0, 1.0]
    """
    y, mu, s = _location_scale(y, ("mulog", mulog), ("sigmalog", sigmalog))
    positive = s > 0
    safe = np.where(positive, s, 1.0)
    logy = np.log(np.where(y > 0, y, 1.0))
    w = np.where(y > 0, (logy - mu) / safe, -np.inf)
    mean = np.exp(mu + safe**2 / 2)
    closed = y * (2 * stats.norm.cdf(w) - 1) - 2 * mean * (
        stats.norm.cdf(w - safe) + stats.norm.cdf(safe / math.sqrt(2)) - 1
    )
    return np.where(positive, closed, np.abs(y - np.exp(mu)))


def crps_quantiles(y, qpred, levels) -> np.ndarray:
    """CRPS approximated from quantile forecasts: twice the mean pinball loss over the levels.

    ``2 / m * sum_i pinball(y, qpred[..., i], levels[i])``, the convention of Berrisch and Ziel
    (2023) and of ``scoringrules.crps_quantile``. Since ``CRPS = 2 * integral_0^1
    pinball_tau(y, F^-1(tau)) dtau``, it tends to the CRPS as an evenly spaced grid fills
    (0, 1), e.g. ``levels = (i - 0.5) / m``; on an uneven or coarse grid it is the score of
    those quantiles, not of a full distribution. Crossing quantiles are scored as they are.

    Parameters
    ----------
    y
        Actuals, shape ``(n,)`` (or a scalar).
    qpred
        Quantile forecasts, shape ``(n, m)`` (or ``(m,)``): the last axis follows ``levels``.
    levels
        The ``m`` quantile levels, each strictly between 0 and 1.

    Examples
    --------
    >>> crps_quantiles([10.0], [[8.0, 12.0]], [0.25, 0.75]).tolist()  # 2 * (0.5 + 0.5) / 2
    [1.0]
    """
    y, q = _finite_nd("y", y), _finite_nd("qpred", qpred)
    levels = _floats("levels", levels)
    if levels.size == 0 or ((levels <= 0) | (levels >= 1)).any():
        msg = f"levels ({levels.tolist()}) must be quantile levels strictly between 0 and 1"
        raise CoincastError(msg)
    if q.ndim == 0 or q.shape[-1] != levels.size or q.shape[:-1] != y.shape:
        msg = (
            f"qpred has shape {q.shape}; it must be {(*y.shape, levels.size)}: one row per "
            f"actual (y has shape {y.shape}) and one column per level ({levels.size} levels)"
        )
        raise CoincastError(msg)
    u = y[..., None] - q
    return 2 * np.maximum(levels * u, (levels - 1) * u).mean(axis=-1)


def recent_naive_scale(close, window: int | None = None, season: int = 1) -> float | None:
    """MASE's denominator over a stated recent window of training closes.

    The mean absolute (seasonal) naive change ``mean |close_t - close_{t-season}|`` over the
    last ``window`` closes (``window - season`` changes), so that the scale reflects recent
    volatility, not the whole history (bitcoin's 2013 moves are cents). Callers should state
    ``window = one year of bars of the interval``: 365 daily bars, 8760 hourly bars
    (``round(trading.periods_per_year(interval))`` gives 365 and 8766). None: every close, the
    textbook in-sample scale of Hyndman and Koehler (2006). A window longer than the closes
    uses them all.

    Returns None when it is undefined (fewer than ``season + 1`` closes) or 0 (flat closes).

    Examples
    --------
    >>> recent_naive_scale([100.0, 1.0, 2.0, 4.0], window=3), recent_naive_scale([1.0, 2.0, 4.0])
    (1.5, 1.5)
    """
    close = _floats("close", close)
    if int(season) != season or season < 1:
        raise CoincastError(f"season ({season}) must be a whole number >= 1 (bars per season)")
    season = int(season)
    if window is not None:
        if int(window) != window or window < season + 1:
            msg = (
                f"window ({window}) must be a whole number >= season + 1 ({season + 1}), the "
                "closes it spans; use one year of bars (365 daily, 8760 hourly)"
            )
            raise CoincastError(msg)
        close = close[-int(window) :]
    if close.size < season + 1:
        return None
    s = float(np.abs(close[season:] - close[:-season]).mean())
    return s if s > 0 else None
