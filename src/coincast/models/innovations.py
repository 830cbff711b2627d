"""Innovations: the distribution of a bar's return divided by its forecast volatility.

A volatility model forecasts the variance ``s2`` of the next bar's log return ``r``; its
*innovation* ``Z = (r - mean) / s`` has mean 0 and variance 1, and its distribution turns the
variance forecast into a Value-at-Risk and an expected shortfall (:func:`var_es`):

- :class:`Normal`: the standard normal;
- :class:`StudentT`: Student's t with ``nu > 2`` degrees of freedom scaled to variance 1
  (``T * sqrt((nu - 2) / nu)``), as GARCH-t models fit it;
- :class:`Empirical`: a sample of the model's own standardized residuals on its training
  rows (filtered historical simulation). The sample is used as it is, not rescaled to
  variance 1, so a model whose variance is biased has that bias corrected in the tails.

Every innovation has ``quantile(p)``, ``es(p)`` (the lower-tail expected shortfall
``E[Z | Z <= quantile(p)]``, negative for small ``p``), ``cdf(x)`` (for probability integral
transforms), ``name`` and ``to_dict()``; :func:`innovation_from_dict` reads one back.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ..errors import CoincastError


def _check_p(p: Any) -> np.ndarray:
    arr = np.asarray(p, dtype="float64")
    if not ((arr > 0) & (arr < 1)).all():
        raise CoincastError(f"tail probability p ({p!r}) must lie strictly between 0 and 1")
    return arr


class Innovation:
    """The interface: a standardized distribution of ``(r - mean) / sigma``."""

    name = "innovation"

    def quantile(self, p: float | np.ndarray) -> float | np.ndarray:
        """The ``p``-quantile of Z."""
        raise NotImplementedError

    def es(self, p: float | np.ndarray) -> float | np.ndarray:
        """Lower-tail expected shortfall ``E[Z | Z <= quantile(p)]``."""
        raise NotImplementedError

    def cdf(self, x: float | np.ndarray) -> float | np.ndarray:
        """``P(Z <= x)``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The distribution as plain JSON values (``innovation_from_dict`` reads it back)."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normal(Innovation):
    """The standard normal.

    Examples
    --------
    >>> round(float(Normal().quantile(0.05)), 4), round(float(Normal().es(0.05)), 4)
    (-1.6449, -2.0627)
    """

    name = "normal"

    def quantile(self, p: float | np.ndarray) -> float | np.ndarray:
        return stats.norm.ppf(_check_p(p))

    def es(self, p: float | np.ndarray) -> float | np.ndarray:
        p = _check_p(p)
        return -stats.norm.pdf(stats.norm.ppf(p)) / p

    def cdf(self, x: float | np.ndarray) -> float | np.ndarray:
        return stats.norm.cdf(x)


class StudentT(Innovation):
    """Student's t with ``nu`` degrees of freedom, scaled to variance 1.

    ``Z = T sqrt((nu - 2) / nu)`` with ``T`` a standard t; ``nu`` must exceed 2 (for a finite
    variance). ES of the standard t: ``-(nu + t_p^2) / (nu - 1) * pdf(t_p) / p``, scaled alike.

    Examples
    --------
    >>> z = StudentT(5.0)
    >>> round(float(z.quantile(0.01)), 4), round(float(z.es(0.01)), 4)
    (-2.6065, -3.4488)
    """

    name = "t"

    def __init__(self, nu: float) -> None:
        nu = float(nu)
        if not np.isfinite(nu) or nu <= 2:
            raise CoincastError(
                f"StudentT nu ({nu!r}) must be a number > 2 (a finite variance); "
                "use Normal() for very large nu"
            )
        self.nu = nu
        self.scale = float(np.sqrt((nu - 2) / nu))

    def quantile(self, p: float | np.ndarray) -> float | np.ndarray:
        return self.scale * stats.t.ppf(_check_p(p), self.nu)

    def es(self, p: float | np.ndarray) -> float | np.ndarray:
        p, nu = _check_p(p), self.nu
        tp = stats.t.ppf(p, nu)
        return -self.scale * (nu + tp**2) / (nu - 1) * stats.t.pdf(tp, nu) / p

    def cdf(self, x: float | np.ndarray) -> float | np.ndarray:
        return stats.t.cdf(np.asarray(x, dtype="float64") / self.scale, self.nu)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nu": self.nu}

    def __repr__(self) -> str:
        return f"StudentT(nu={self.nu:.4g})"


class Empirical(Innovation):
    """A sample ``z`` of standardized residuals (filtered historical simulation).

    ``quantile`` is ``np.quantile(z, p)`` (linear interpolation), ``es`` the mean of the
    sample at or below that quantile, ``cdf`` the share of the sample at or below ``x``.
    Non-finite values are dropped; at least 2 must remain.

    Examples
    --------
    >>> z = Empirical(np.arange(-50.0, 50.0) / 29)
    >>> float(z.quantile(0.5)) == float(np.median(z.z)), bool(z.es(0.1) < z.quantile(0.1))
    (True, True)
    """

    name = "empirical"

    def __init__(self, z: np.ndarray) -> None:
        z = np.asarray(z, dtype="float64").ravel()
        z = z[np.isfinite(z)]
        if len(z) < 2:
            raise CoincastError(
                f"Empirical needs at least 2 finite standardized residuals; got {len(z)}. "
                "Fit on more rows, or use Normal()"
            )
        self.z = np.sort(z)

    def quantile(self, p: float | np.ndarray) -> float | np.ndarray:
        return np.quantile(self.z, _check_p(p))

    def es(self, p: float | np.ndarray) -> float | np.ndarray:
        q = np.atleast_1d(self.quantile(p))
        # z is sorted: the mean of its first k values, k = how many are <= q (at least one)
        k = np.maximum(np.searchsorted(self.z, q, side="right"), 1)
        out = np.cumsum(self.z)[k - 1] / k
        return out if np.ndim(p) else out[0]

    def cdf(self, x: float | np.ndarray) -> float | np.ndarray:
        x = np.asarray(x, dtype="float64")
        return np.searchsorted(self.z, x, side="right") / len(self.z)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "z": self.z.tolist()}

    def __repr__(self) -> str:
        return f"Empirical(n={len(self.z)})"


def innovation_from_dict(d: dict[str, Any]) -> Innovation:
    """The innovation that ``to_dict`` wrote.

    Examples
    --------
    >>> innovation_from_dict(StudentT(6).to_dict())
    StudentT(nu=6)
    """
    name = d.get("name")
    if name == "normal":
        return Normal()
    if name == "t":
        return StudentT(d["nu"])
    if name == "empirical":
        return Empirical(np.asarray(d["z"]))
    raise CoincastError(f"unknown innovation {name!r}; use one of: normal, t, empirical")


def var_es(
    mean: float | np.ndarray, variance: float | np.ndarray, innovation: Innovation, p: float
) -> tuple[np.ndarray, np.ndarray]:
    """Value-at-Risk and expected shortfall of a bar's log return at tail probability ``p``.

    ``var_q = mean + sqrt(variance) * quantile(p)`` is the ``p``-quantile of the return (a
    return, negative for small ``p``: an *exceedance* is ``r < var_q``), and
    ``es = mean + sqrt(variance) * es(p)`` the mean return beyond it.

    Examples
    --------
    >>> q, es = var_es(0.0, 0.0004, Normal(), 0.05)
    >>> round(float(q), 5), round(float(es), 5)
    (-0.0329, -0.04125)
    """
    variance = np.asarray(variance, dtype="float64")
    if (variance < 0).any():
        raise CoincastError("variance must be >= 0; a volatility forecast was negative")
    sigma, mean = np.sqrt(variance), np.asarray(mean, dtype="float64")
    return mean + sigma * innovation.quantile(p), mean + sigma * innovation.es(p)
