"""Every model of a backtest table scored: one row per model, or per model and step.

:func:`score` applies the kernels of :mod:`~coincast.evaluation.metrics`,
:mod:`~coincast.evaluation.significance` and :mod:`~coincast.evaluation.bands` to each
model's rows and compares each model with the naive forecast on the same (cutoff, step)
points. Forecasts of several steps from one cutoff share bars, and so do forecasts from
neighbouring cutoffs: a test that treats them as independent draws rejects too often. So the
direction and information tests run one step at a time, on every ``k``-th cutoff for step
``k`` (no two actual moves share a bar); only the Diebold-Mariano test pools the steps, with
as many lags as forecasts overlap.

Measured size (tests/evaluation/test_scores.py: a smooth no-skill forecaster on random walks,
horizon 5, 300 daily cutoffs, nominal 5 %): the direction test rejects 4.5-6.5 % at each step;
the information test 7-9 %, a little over, as a regression on a persistent forecast does (its
later values contain today's actual move): it errs towards "knows more than the last value".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics as m
from .bands import band_crps, crps_method
from .metrics import check_table, overlap
from .significance import change_information, direction_test

COLUMNS = (
    "model", "steps", "n", "mae", "rel_mae", "dm_stat", "dm_pvalue", "rmse", "mape", "smape",
    "mase", "directional_accuracy", "directional_n", "directional_stat", "directional_pvalue",
    "info_slope", "info_pvalue", "copies_last", "coverage", "pinball", "crps", "crps_method",
)  # fmt: skip


def score(
    table: pd.DataFrame,
    scale: float | None = None,
    baseline: str = "naive",
    *,
    per_step: bool = False,
) -> pd.DataFrame:
    """Score every model of a backtest table: one row per model (or per model and step).

    Parameters
    ----------
    table
        The walk-forward table of one coin; rows with non-finite ``y``/``yhat``/``last`` are
        left out.
    scale
        MASE's denominator (:func:`~coincast.evaluation.scoring.recent_naive_scale` of the
        training closes over a stated window).
    baseline
        ``rel_mae`` is MAE over the baseline's MAE on the same (cutoff, step) points;
        ``dm_stat``/``dm_pvalue`` test those points' absolute errors (MAE's loss, so the sign
        agrees with ``rel_mae < 1``), loss differential averaged per cutoff, with as many lags
        as forecasts from successive cutoffs overlap (:func:`~coincast.evaluation.metrics.overlap`).
    per_step
        One row per model and step (a ``step`` column follows ``model``).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, None for missing values. ``steps``: steps the row pools.

        * ``directional_accuracy``/``directional_n``: share of directions right over all the
          row's points. ``directional_stat``/``directional_pvalue``: the two-sided
          Pesaran-Timmermann test (H0: the predicted direction is independent of the actual
          one) of a one-step row, on every ``k``-th cutoff for step ``k``; None in a row
          pooling several steps (see each step's row).
        * ``info_slope``/``info_pvalue``/``copies_last``: the regression of the actual
          change on the forecast change (H0: slope 0;
          :func:`~coincast.evaluation.significance.change_information`) on the same cutoffs,
          HAC lags from ``overlap``; ``copies_last`` True when the forecast's change carries
          no detectable information about the actual change. A row pooling several steps
          holds the test of its first step.
        * ``coverage``/``pinball`` need ``lo``/``hi``; ``pinball`` averages the 0.05-quantile
          loss of ``lo`` and the 0.95-quantile loss of ``hi``. ``crps`` (and how it was
          computed, ``crps_method``) needs the table's ``dist`` (:mod:`~coincast.evaluation.bands`).

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["naive", "naive", "up", "up"], "cutoff": [0, 1, 0, 1],
    ...                   "step": 1, "y": [2.0, 1.0] * 2, "yhat": [1.0, 2.0, 2.0, 2.0],
    ...                   "last": [1.0, 2.0] * 2})
    >>> score(t).set_index("model")["rel_mae"].to_dict()
    {'naive': 1.0, 'up': 0.5}
    """
    check_table(table)
    ok = np.isfinite(table[["y", "yhat", "last"]].to_numpy("float64")).all(axis=1)
    t = table[ok]
    base = t.loc[t["model"] == baseline, ["cutoff", "step", "yhat"]]
    # the baseline's forecast of each row's (cutoff, step), once for all groups
    t = t.merge(base.rename(columns={"yhat": "_base"}), on=["cutoff", "step"], how="left")
    keys = ["model", "step"] if per_step else ["model"]
    groups = t.groupby(keys, sort=False)
    rows = [_score_group(g, scale, baseline, per_step) for _, g in groups]
    columns = list(COLUMNS)
    if per_step:
        columns.insert(1, "step")
    return m._frame(rows, columns)


def _score_group(g: pd.DataFrame, scale, baseline: str, per_step: bool) -> dict:
    g = g.sort_values(["step", "cutoff"], kind="stable")
    y, yhat, last = (g[c].to_numpy("float64") for c in ("y", "yhat", "last"))
    model = str(g["model"].iat[0])
    share, dn = m.directional_accuracy(y, yhat, last)
    rel, stat, p = _versus(g, model == baseline)
    first = _thin(g[g["step"] == g["step"].min()])
    steps = int(g["step"].nunique())
    row = {"model": model, "step": int(g["step"].iat[0]) if per_step else None}
    row |= {"steps": steps, "n": len(g), "mae": m.mae(y, yhat), "rel_mae": rel}
    row |= {"dm_stat": stat, "dm_pvalue": p, "rmse": m.rmse(y, yhat), "mape": m.mape(y, yhat)}
    row |= {"smape": m.smape(y, yhat), "mase": m.mase(y, yhat, scale)}
    row |= {"directional_accuracy": share, "directional_n": dn}
    row |= _direction(first) if steps == 1 else {}
    return row | _information(first) | _interval(g, y)


def _versus(g: pd.DataFrame, is_baseline: bool) -> tuple[float | None, float | None, float | None]:
    """(rel_mae, dm_stat, dm_pvalue) of the group against the baseline (``_base``, its
    forecast of the same cutoff and step) on the points both forecast."""
    pairs = g[g["_base"].notna()]
    if pairs.empty:
        return None, None, None
    err = (pairs["y"] - pairs["yhat"]).abs()
    err_b = (pairs["y"] - pairs["_base"]).abs()
    rel = err.mean() / err_b.mean() if err_b.mean() > 0 else None
    if is_baseline:
        return rel, None, None
    d = (err - err_b).groupby(pairs["cutoff"]).mean().to_numpy("float64")
    return (rel, *m._dm_from_differential(d, overlap(pairs)))


def _thin(g: pd.DataFrame) -> pd.DataFrame:
    """One step's rows (sorted by cutoff) on every ``k``-th cutoff, ``k`` the cutoffs whose
    step-``k`` moves overlap: no two actual moves left share a bar."""
    return g.iloc[:: overlap(g, int(g["step"].iat[0]))]


def _direction(thin: pd.DataFrame) -> dict:
    """The two-sided Pesaran-Timmermann test of one step's thinned rows (what
    ``direction_by_step(..., nonoverlapping=True)`` computes, without its table)."""
    r = direction_test(thin["y"], thin["yhat"], thin["last"], alternative="two-sided")
    return {"directional_stat": r["stat"], "directional_pvalue": r["pvalue"]}


def _information(thin: pd.DataFrame) -> dict:
    """Does one step's forecast change say anything about the actual change? (H0: slope 0),
    on its thinned rows, with the HAC lags of what overlap is left."""
    lags = overlap(thin, int(thin["step"].iat[0])) - 1
    r = change_information(thin["y"], thin["yhat"], thin["last"], lags=lags)
    return {"info_slope": r["slope"], "info_pvalue": r["pvalue"], "copies_last": r["copies_last"]}


def _interval(g: pd.DataFrame, y: np.ndarray) -> dict:
    """Coverage and pinball loss of the band, and its CRPS when the table says its dist."""
    out = {"coverage": None, "pinball": None, "crps": None, "crps_method": None}
    if "lo" not in g.columns or "hi" not in g.columns:
        return out
    lo, hi = g["lo"].to_numpy("float64"), g["hi"].to_numpy("float64")
    band = ~np.isnan(lo) & ~np.isnan(hi)  # a conformal band may be infinite: it covers
    if not band.any():
        return out
    out["coverage"] = m.coverage(y[band], lo[band], hi[band])
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return out
    out["pinball"] = (m.pinball(y[ok], lo[ok], 0.05) + m.pinball(y[ok], hi[ok], 0.95)) / 2
    dists = g["dist"].dropna().unique() if "dist" in g.columns else []
    # none stated, rows that disagree, or a conformal band (no distribution): no CRPS
    if len(dists) != 1 or dists[0] == "conformal":
        return out
    yhat = g["yhat"].to_numpy("float64")[ok]
    crps = band_crps(y[ok], yhat, lo[ok], hi[ok], str(dists[0]))
    return out | {"crps": float(crps.mean()), "crps_method": crps_method(str(dists[0]))}
