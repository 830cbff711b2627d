"""The GARCH kernels behind :class:`~coincast.models.volatility.GARCH` and ``GJR``: fit, filter
and forecast with the ``arch`` package, on returns scaled by :data:`SCALE`.

``arch``'s optimizer works best on returns of order 1, so log returns are multiplied by 100
(percent) going in, and variances divided by 100^2 (means by 100) coming out. The parameters
(``omega``, ``alpha[1]``, ``gamma[1]``, ``beta[1]``, ``nu``, ``mu``) stay in arch's percent
units: ``omega`` is a variance of percent returns.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

SCALE = 100.0  #: returns go into arch as percent


@dataclass(frozen=True)
class GarchSpec:
    """What is fitted: ``arch_model(SCALE * r, mean=..., vol="GARCH", p, o, q, dist)``."""

    p: int = 1  #: ARCH lags (squared returns)
    o: int = 0  #: asymmetric lags (GJR: squared negative returns)
    q: int = 1  #: GARCH lags (past variances)
    dist: Literal["t", "normal"] = "t"  #: arch's standardized Student t, or the normal
    mean: Literal["zero", "constant"] = "zero"  #: the return's mean: none, or a constant

    def model(self, r: np.ndarray) -> Any:
        """The arch model of the log returns ``r`` (unscaled)."""
        from arch import arch_model

        mean = "Zero" if self.mean == "zero" else "Constant"
        return arch_model(
            SCALE * np.asarray(r, dtype="float64"),
            mean=mean,
            vol="GARCH",
            p=self.p,
            o=self.o,
            q=self.q,
            dist=self.dist,
            rescale=False,
        )


def fit_garch(
    r: np.ndarray, spec: GarchSpec, starting_values: np.ndarray | None = None
) -> tuple[Any, list[str]]:
    """Fit ``spec`` to the log returns ``r`` by maximum likelihood.

    Returns the arch results and the warnings arch raised, as text (caught, not printed).
    The results are None when the optimizer did not converge or gave non-finite parameters.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = spec.model(r).fit(disp="off", starting_values=starting_values)
        except (ValueError, np.linalg.LinAlgError, OverflowError) as exc:
            return None, [f"{type(exc).__name__}: {exc}"]
    notes = [f"{w.category.__name__}: {str(w.message).strip().splitlines()[0]}" for w in caught]
    for note in notes:
        log.info("arch: %s", note)
    ok = res.convergence_flag == 0 and np.isfinite(np.asarray(res.params)).all()
    if not ok:
        notes.append(f"optimizer flag {res.convergence_flag}: {res.optimization_result.message}")
    return (res if ok else None), notes


def filter_garch(r: np.ndarray, spec: GarchSpec, params: pd.Series) -> Any:
    """Run the variance recursion of ``spec`` over ``r`` with fixed ``params`` (no estimation)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spec.model(r).fix(np.asarray(params))


def forecast_garch(res: Any, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Variance and mean of each of the next ``horizon`` log returns (unscaled), ``(h,)`` each.

    Analytic multi-step forecasts from arch (for GARCH(1,1):
    ``s2_{T+k} = omega sum_{j<k-1} (alpha+beta)^j + (alpha+beta)^(k-1) s2_{T+1}``).
    """
    f = res.forecast(horizon=horizon, reindex=False)
    variance = np.asarray(f.variance, dtype="float64")[-1] / SCALE**2
    mean = np.asarray(f.mean, dtype="float64")[-1] / SCALE
    return variance, mean
