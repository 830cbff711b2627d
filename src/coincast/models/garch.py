"""The GARCH kernels behind :class:`~coincast.models.volatility.GARCH` and ``GJR``: fit, filter
and forecast with the ``arch`` package, on scaled returns.

``arch``'s optimizer works best on returns of order 1, so log returns are multiplied by a
``scale`` going in, and variances divided by ``scale^2`` (means by ``scale``) coming out. The
scale is 100 (percent), unless the percent returns' standard deviation is below 0.5 (bars of
minutes): then the power of ten that puts it in [1, 10) (:func:`choose_scale`). The
parameters (``omega``, ``alpha[1]``, ``gamma[1]``, ``beta[1]``, ``nu``, ``mu``) stay in the
scaled units: ``omega`` is a variance of ``scale * r``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


def choose_scale(r: np.ndarray) -> float:
    """100 (percent), or for returns whose percent standard deviation is under 0.5, the power
    of ten that puts it in [1, 10).

    Examples
    --------
    >>> choose_scale(np.array([0.03, -0.02, 0.01, -0.04])), choose_scale(np.array([1e-4, -3e-4]))
    (100.0, 10000.0)
    """
    sd = float(np.std(r))
    if not np.isfinite(sd) or sd <= 0 or 100 * sd >= 0.5:
        return 100.0
    return float(10.0 ** np.ceil(-np.log10(sd)))


@dataclass(frozen=True)
class GarchSpec:
    """What is fitted: ``arch_model(scale * r, mean=..., vol="GARCH", p, o, q, dist)``."""

    p: int = 1  #: ARCH lags (squared returns)
    o: int = 0  #: asymmetric lags (GJR: squared negative returns)
    q: int = 1  #: GARCH lags (past variances)
    dist: Literal["t", "normal"] = "t"  #: arch's standardized Student t, or the normal
    mean: Literal["zero", "constant"] = "zero"  #: the return's mean: none, or a constant

    def model(self, r: np.ndarray, scale: float) -> Any:
        """The arch model of the log returns ``r`` (unscaled) times ``scale``."""
        from arch import arch_model

        mean = "Zero" if self.mean == "zero" else "Constant"
        return arch_model(
            scale * np.asarray(r, dtype="float64"),
            mean=mean,
            vol="GARCH",
            p=self.p,
            o=self.o,
            q=self.q,
            dist=self.dist,
            rescale=False,
        )


def fit_garch(
    r: np.ndarray, spec: GarchSpec, scale: float, starting_values: np.ndarray | None = None
) -> tuple[Any, list[str]]:
    """Fit ``spec`` to the log returns ``r`` (times ``scale``) by maximum likelihood.

    Returns the arch results and the warnings arch raised, as text (caught, not printed,
    each once). The results are None when the optimizer did not converge or gave
    non-finite parameters; the last note then says why.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = spec.model(r, scale).fit(disp="off", starting_values=starting_values)
        except (ValueError, np.linalg.LinAlgError, OverflowError) as exc:
            return None, [f"{type(exc).__name__}: {exc}"]
    texts = (f"{w.category.__name__}: {' '.join(str(w.message).split())}" for w in caught)
    notes = list(dict.fromkeys(texts))  # each once, in order
    for note in notes:
        log.info("arch: %s", note)
    ok = res.convergence_flag == 0 and np.isfinite(np.asarray(res.params)).all()
    if not ok:
        notes.append(f"optimizer flag {res.convergence_flag}: {res.optimization_result.message}")
    return (res if ok else None), notes


def filter_garch(r: np.ndarray, spec: GarchSpec, params: pd.Series, scale: float) -> Any:
    """Run the variance recursion of ``spec`` over ``scale * r`` with fixed ``params`` (no
    estimation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spec.model(r, scale).fix(np.asarray(params))


def forecast_garch(res: Any, horizon: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Variance and mean of each of the next ``horizon`` log returns (unscaled), ``(h,)`` each.

    Analytic multi-step forecasts from arch (for GARCH(1,1):
    ``s2_{T+k} = omega sum_{j<k-1} (alpha+beta)^j + (alpha+beta)^(k-1) s2_{T+1}``).
    """
    f = res.forecast(horizon=horizon, reindex=False)
    variance = np.asarray(f.variance, dtype="float64")[-1] / scale**2
    mean = np.asarray(f.mean, dtype="float64")[-1] / scale
    return variance, mean
