"""What a model's band says, and its CRPS.

Every band in the backtest table is a central 90 % interval ``lo``/``hi`` around the point
forecast ``yhat``; the table's ``dist`` column says which distribution the three describe,
so that the CRPS scores the forecast the model made:

* ``"normal"``: ``N(yhat, sigma**2)``, ``lo, hi = yhat -/+ Z90 sigma`` (the LSTM's Gaussian
  head on prices);
* ``"lognormal"``: median ``yhat``, log-scale ``s``, ``lo, hi = yhat exp(-/+ Z90 s)`` (the
  naive and seasonal naive forecasts, ARIMA on log prices, the Gaussian head on log returns);
* ``"shifted-lognormal"``: a log-normal moved by a constant ``c``, the three parameters
  (``c``, median, ``s``) solved from ``lo``, ``yhat`` and ``hi`` (drift: the naive band moved
  by the drift);
* ``"quantiles"``: ``lo``, ``yhat`` and ``hi`` are the 0.05, 0.5 and 0.95 quantiles
  (``"quantiles:0.1,0.5,0.9"`` names other levels): the quantile head;
* None: no distribution stated (the moving average and the point head have no band).

A model states its ``dist`` as an attribute (the LSTM's adapter does, from its head and
target); the baselines, which do not, are described by :data:`BASELINE_DISTS`, and a test
checks each against the band the baseline really draws.
"""

from __future__ import annotations

import numpy as np

from ..errors import CoincastError
from ..models.base import Z90
from .scoring import crps_gaussian, crps_lognormal, crps_quantiles

DISTS = ("normal", "lognormal", "shifted-lognormal", "quantiles")
#: The band of each baseline that does not state its own, by the baseline's class name.
BASELINE_DISTS = {"naive": "lognormal", "seasonal": "lognormal", "arima": "lognormal",
                  "drift": "shifted-lognormal"}  # fmt: skip
_LEVELS = (0.05, 0.5, 0.95)


def dist_of(model: object) -> str | None:
    """The distribution ``model``'s ``yhat``, ``lo`` and ``hi`` describe (see module doc).

    Examples
    --------
    >>> from coincast.models.baselines import Drift, MovingAverage, Naive
    >>> dist_of(Naive(alias="last")), dist_of(Drift()), dist_of(MovingAverage())
    ('lognormal', 'shifted-lognormal', None)
    """
    declared = getattr(model, "dist", None)
    if declared is not None:
        return str(declared)
    return BASELINE_DISTS.get(getattr(type(model), "name", ""))


def quantile_levels(dist: str) -> tuple[float, float, float]:
    """The levels of ``lo``, ``yhat`` and ``hi`` of a ``"quantiles[:a,b,c]"`` dist.

    Examples
    --------
    >>> quantile_levels("quantiles"), quantile_levels("quantiles:0.1,0.5,0.9")
    ((0.05, 0.5, 0.95), (0.1, 0.5, 0.9))
    """
    name, _, spec = dist.partition(":")
    if name != "quantiles":
        raise CoincastError(f"dist {dist!r} is not a quantile band; use quantiles[:lo,mid,hi]")
    if not spec:
        return _LEVELS
    try:
        levels = tuple(float(v) for v in spec.split(","))
    except ValueError:
        levels = ()
    if len(levels) != 3 or not 0 < levels[0] < levels[1] < levels[2] < 1:
        msg = (
            f"dist {dist!r} must name three increasing levels in (0, 1), e.g. quantiles:0.1,0.5,0.9"
        )
        raise CoincastError(msg)
    return levels  # type: ignore[return-value]


def crps_method(dist: str | None) -> str | None:
    """How :func:`band_crps` scores a ``dist``, in words (None: not scored).

    Examples
    --------
    >>> crps_method("lognormal"), crps_method("quantiles")
    ('log-normal, closed form', '3 quantiles (0.05, 0.5, 0.95)')
    """
    if dist is None:
        return None
    if dist == "normal":
        return "normal, closed form"
    if dist == "lognormal":
        return "log-normal, closed form"
    if dist == "shifted-lognormal":
        return "shifted log-normal, closed form"
    return f"3 quantiles ({', '.join(f'{v:g}' for v in quantile_levels(dist))})"


def band_crps(y, yhat, lo, hi, dist: str) -> np.ndarray:
    """CRPS of each point's forecast distribution (``dist``, see module doc), in prices.

    ``"normal"``: the closed form with ``sigma = (hi - lo) / (2 Z90)``; ``"lognormal"``: the
    closed form with ``s = log(hi / lo) / (2 Z90)`` around the median ``yhat``;
    ``"shifted-lognormal"``: the log-normal closed form of ``y - c``;
    ``"quantiles"``: :func:`~coincast.evaluation.scoring.crps_quantiles` of ``lo, yhat, hi``.
    The three-quantile score is an approximation that reads *lower* than the exact CRPS of the
    same distribution (by about 28 % for a normal one): compare models of one method only.

    Examples
    --------
    >>> band_crps([1.0], [1.0], [1.0], [1.0], "normal").tolist()  # a point forecast, no error
    [0.0]
    """
    y, yhat, lo, hi = (np.asarray(v, dtype="float64") for v in (y, yhat, lo, hi))
    if dist == "normal":
        return crps_gaussian(y, yhat, (hi - lo) / (2 * Z90))
    if dist == "lognormal":
        if (lo <= 0).any() or (yhat <= 0).any():
            raise CoincastError("a log-normal band needs lo and yhat > 0; check the model's dist")
        return crps_lognormal(y, np.log(yhat), np.log(hi / lo) / (2 * Z90))
    if dist == "shifted-lognormal":
        return _crps_shifted_lognormal(y, yhat, lo, hi)
    if dist.startswith("quantiles"):
        return crps_quantiles(y, np.stack([lo, yhat, hi], axis=-1), quantile_levels(dist))
    raise CoincastError(f"dist {dist!r} is not one of {', '.join(DISTS)} (or None)")


def shifted_lognormal(yhat, lo, hi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(c, median, s)`` of the shifted log-normal ``c + exp(N(log median, s**2))`` whose
    5 %, 50 % and 95 % quantiles are ``lo``, ``yhat`` and ``hi``: ``hi - yhat = m (e^{Z s} - 1)``
    and ``yhat - lo = m (1 - e^{-Z s})`` give ``e^{Z s} = (hi - yhat) / (yhat - lo)``.

    Examples
    --------
    >>> [round(float(v[0]), 6) for v in shifted_lognormal([15.0], [10 * 0.9 + 5], [10 / 0.9 + 5])]
    [5.0, 10.0, 0.064055]
    """
    yhat, lo, hi = (np.asarray(v, dtype="float64") for v in (yhat, lo, hi))
    up, down = hi - yhat, yhat - lo
    if (down <= 0).any() or (up <= down).any():
        msg = "a shifted log-normal band needs hi - yhat > yhat - lo > 0; check the model's dist"
        raise CoincastError(msg)
    s = np.log(up / down) / Z90
    median = down / -np.expm1(-Z90 * s)
    return yhat - median, median, s


def _crps_shifted_lognormal(y, yhat, lo, hi) -> np.ndarray:
    c, median, s = shifted_lognormal(yhat, lo, hi)
    return crps_lognormal(y - c, np.log(median), s)
