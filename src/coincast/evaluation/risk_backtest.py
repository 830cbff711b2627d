"""Walk-forward backtests of risk: every volatility model, the LSTM and each baseline, through
the same loop.

The loop walks like :func:`coincast.evaluation.backtest.walk_forward` (the same
:class:`~coincast.evaluation.backtest.WalkForward` and cutoffs, refit every ``refit_every``
cutoffs, filtered in between), but a model forecasts each future bar's *variance* (of its log
return), not its close. The frame carries the realized measure of each bar in an ``rv``
column (:func:`with_measure`): it uses that bar's own data only, so a model cut at a cutoff
sees no later measure.

The result is one tidy table, one row per model, cutoff and step:

=============  ==================================================================================
column         meaning
=============  ==================================================================================
``rv``         the realized measure of bar ``ts`` (the actual)
``variance``   the forecast variance of bar ``ts``'s log return (one bar, not cumulative)
``r``          bar ``ts``'s log return, close to close
``mean``       the forecast mean of that return (0 for most models)
``var1`` ...   value-at-risk at 1 % and 5 %: the return quantile (an exceedance is ``r < var1``)
``es1`` ...    expected shortfall at the same levels (a return, below the VaR)
``pit``        the forecast distribution's CDF at ``r`` (uniform when the forecast is right)
=============  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from ..dataset.realized import Measure, choose_measure
from ..series import validate_candles
from .backtest import Plan, WalkForward, _check_names, min_rows, plan, walk_each

if TYPE_CHECKING:
    from .engines import Engine

LEVELS = (0.01, 0.05)  #: the VaR and ES levels of every risk backtest
COLUMNS = ("coin", "model", "cutoff", "ts", "step", "rv", "variance", "r", "mean",
           *(f"{k}{round(p * 100)}" for p in LEVELS for k in ("var", "es")), "pit")  # fmt: skip


class Innovation(Protocol):
    """A standardized (mean 0, variance 1) distribution of returns over their volatility."""

    name: str

    def quantile(self, p: float) -> float: ...

    def es(self, p: float) -> float: ...

    def cdf(self, x: np.ndarray) -> np.ndarray: ...


class VolForecaster(Protocol):
    """What the risk backtest needs of a volatility model (the LSTM and every baseline)."""

    name: str  #: the model's column in the table
    min_rows: int  #: rows of history it needs before its first forecast
    innovation: Innovation  #: its fitted error distribution, for VaR, ES and the PIT

    def fit(self, frame: pd.DataFrame) -> VolForecaster: ...

    def update(self, frame: pd.DataFrame) -> VolForecaster: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...


def with_measure(
    frame: pd.DataFrame, finer: pd.DataFrame | None = None, method: str = "auto"
) -> tuple[pd.DataFrame, Measure]:
    """``frame`` with an ``rv`` column, the realized measure of each bar
    (:func:`coincast.dataset.realized.choose_measure`), and that measure.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> f, m = with_measure(synthetic_candles(40))
    >>> "rv" in f.columns, m.method
    (True, 'garman-klass')
    """
    measure = choose_measure(frame, finer, method)  # type: ignore[arg-type]
    out = frame.copy()
    out["rv"] = measure.values
    out.attrs.update(frame.attrs, rv_detail=measure.detail)
    return out, measure


def risk_walk_forward(
    models: Sequence[VolForecaster],
    frame: pd.DataFrame,
    spec: WalkForward | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    engine: Engine | None = None,
) -> pd.DataFrame:
    """Backtest volatility ``models`` on ``frame`` (with its ``rv`` column, see
    :func:`with_measure`) as ``spec`` says; the tidy table of the module docstring.

    ``progress(model, done, total)`` is called after each cutoff. With an ``engine`` each
    model walks as one job there, the table the same
    (:func:`coincast.evaluation.backtest.walk_each`).
    """
    validate_candles(frame)
    if "rv" not in frame.columns:
        frame, _ = with_measure(frame)
    spec = spec or WalkForward()
    _check_names(models)
    p = plan(frame, spec, min_rows=min_rows(models))
    parts = walk_each(_one_model, models, frame, p, spec, progress=progress, engine=engine)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))


def _one_model(
    model: VolForecaster,
    frame: pd.DataFrame,
    p: Plan,
    spec: WalkForward,
    progress: Callable[[str, int, int], None] | None,
) -> pd.DataFrame:
    """One model's rows: fit or update at each cutoff, then forecast each bar's variance."""
    rv = frame["rv"].to_numpy(dtype="float64")
    logc = np.log(frame["close"].to_numpy(dtype="float64"))
    ret = np.r_[np.nan, np.diff(logc)]
    parts = []
    total = len(p.cutoffs)
    for i, c in enumerate(p.cutoffs):
        view = frame.iloc[spec.first_row(c) : c + 1]  # nothing after the cutoff
        (model.fit if i % spec.refit_every == 0 else model.update)(view)
        pred = model.predict(spec.horizon)
        at = frame.index.get_indexer(pred.index)
        keep = (at >= 0) & (at <= p.last_target)  # a gap or a bar past the test is not scored
        pos = at[keep]
        part = pd.DataFrame({
            "ts": frame.index[pos], "step": np.arange(1, len(at) + 1)[keep],
            "rv": rv[pos], "variance": pred["variance"].to_numpy(dtype="float64")[keep],
            "r": ret[pos], "mean": pred["mean"].to_numpy(dtype="float64")[keep],
        })  # fmt: skip
        part.insert(0, "cutoff", frame.index[c])
        _add_risk(part, model.innovation)
        parts.append(part)
        if progress is not None:
            progress(model.name, i + 1, total)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "model", model.name)
    out.insert(0, "coin", frame.attrs.get("coin", ""))
    out["step"] = out["step"].astype("int64")
    return out[list(COLUMNS)]


def _add_risk(part: pd.DataFrame, innovation: Innovation) -> None:
    """VaR, ES and the PIT of each row, from its mean, variance and the model's errors."""
    sigma = np.sqrt(part["variance"].to_numpy())
    mean = part["mean"].to_numpy()
    for p in LEVELS:
        k = round(p * 100)
        part[f"var{k}"] = mean + sigma * innovation.quantile(p)
        part[f"es{k}"] = mean + sigma * innovation.es(p)
    z = (part["r"].to_numpy() - mean) / sigma
    part["pit"] = innovation.cdf(z)
