"""What one job of a sweep does, on a worker: backtest one configuration (or the baselines) on
one series, and give back its table and its score. The driver (:mod:`.study`) sends the
frames; a job never reads the store, so it runs on any engine.

A trial's score on a series is the backtest's ``rel_mae`` (MAE ÷ the naive forecast's MAE on
the same bars); its score is the mean over the series (coins and intervals), each weighing
the same. Its per-bar losses (:func:`losses`) are the absolute errors divided by the naive
MAE of their series, so their mean minus naive's is the score minus 1: the figure the SPA,
reality check and MCS test.

With ``walk["prune"]`` the LSTM's walk can stop early: see :mod:`.pruning`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .pruning import PruneRule

#: The table columns a sweep keeps (those its scores and tests need).
KEEP = ("series", "coin", "model", "cutoff", "ts", "step", "y", "yhat")


def run_series(
    frames: dict[str, pd.DataFrame], coin: str, config: dict | None, walk: dict[str, int]
) -> dict[str, Any]:
    """Backtest the LSTM of ``config`` (or, when None, the drift baseline) on the last
    ``walk["bars"]`` bars of ``frames[coin]``; the exog coins come from ``frames``. With
    ``walk["prune"]`` (the :class:`PruneRule`'s ``thresholds``, ``before`` and ``best``) the
    LSTM's walk can stop after a refit segment.

    Returns ``{"table": ..., "rel_mae": {model: MAE ÷ naive}, "partial": [value after each
    segment checked], "stopped": whether it stopped early}``; a stopped walk's table and
    scores cover the bars it forecast.
    """
    from ...models.config import LSTMConfig
    from ..adapters import LSTMTraining
    from ..backtest import WalkForward
    from ..run import run_backtest

    frame = frames[coin]
    spec = dict(test=walk["bars"], refit_every=walk["refit_every"])
    rule = None
    if config is None:
        spec["horizon"] = walk.get("horizon", 1)
        r = run_backtest(frame, WalkForward(**spec), models=["drift"], intervals="none")
    else:
        cfg = LSTMConfig(**config)
        exog = {c: frames[c] for c in cfg.exog}
        how = LSTMTraining(cfg, refit_epochs=walk["refit_epochs"], exog=exog)
        prune = walk.get("prune")
        rule = None if prune is None else PruneRule(
            {int(j): float(v) for j, v in prune["thresholds"].items()},
            tuple(prune["before"]), float(prune["best"]),
        )  # fmt: skip
        r = run_backtest(frame, WalkForward(horizon=cfg.horizon, **spec), models=["lstm"],
                         lstm=how, intervals="none", stop=rule)  # fmt: skip
    table = r.table.assign(series=walk["series"])
    if rule is not None and rule.stopped:  # naive walked on: keep the LSTM's bars only
        table = table[table["cutoff"].isin(table.loc[table["model"] == "lstm", "cutoff"])]
    rel = {m: float(v) for m, v in zip(r.scores["model"], r.scores["rel_mae"], strict=True)}
    out = {"table": table.loc[:, list(KEEP)], "rel_mae": rel}
    if rule is not None:
        out |= {"partial": rule.values, "stopped": rule.stopped}
    return out


def losses(table: pd.DataFrame, models: list[str] | None = None) -> pd.DataFrame:
    """Per-bar losses of each model in ``table``: one column per model, one row per
    (series, cutoff, step) in that order; the absolute error ÷ naive's MAE on the series.

    Examples
    --------
    >>> t = pd.DataFrame({"series": "a", "coin": "a", "cutoff": [0, 0, 1, 1], "step": 1,
    ...     "ts": 0, "model": ["naive", "m", "naive", "m"], "y": [1.0, 1.0, 2.0, 2.0],
    ...     "yhat": [0.0, 0.5, 1.0, 2.0]})
    >>> losses(t)["m"].tolist()
    [0.5, 0.0]
    """
    t = table.assign(loss=(table["y"] - table["yhat"]).abs())
    wide = t.pivot_table(index=["series", "cutoff", "step"], columns="model", values="loss",
                         aggfunc="first").sort_index()  # fmt: skip
    scale = wide["naive"].groupby(level="series").transform("mean")
    wide = wide.div(scale.replace(0.0, np.nan), axis=0)
    wide.columns.name = None
    return wide if models is None else wide.loc[:, models]
