"""Pruning a sweep's trials, inside a series and between series (Optuna's MedianPruner rule).

Inside a series, the job decides (:class:`PruneRule`, the ``stop`` of its walk): at the end
of each refit segment but the last it scores the walk so far, MAE ÷ naive on the bars
forecast so far averaged with the trial's earlier series, and stops when the trial's best
value so far is worse than the threshold the driver sent for that segment, the median of
the complete trials' values there (:func:`prune_info`), once :data:`N_STARTUP` trials are
complete. That is MedianPruner's rule, decided in the job so that a worker needs no study.
Between series, the driver reports the running mean (:func:`report_partials`) and asks
Optuna's pruner itself. Every value is reported at step ``k * STRIDE + j`` (series ``k``, segment
``j``; the last segment is the whole series), so later trials have medians to meet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

N_STARTUP = 3  #: complete trials before anything is pruned (MedianPruner's n_startup_trials)
#: Optuna report steps: segment ``j`` (1-based; the last is the whole series) of a trial's
#: series ``k`` (0-based) is step ``k * STRIDE + j``.
STRIDE = 10_000


@dataclass
class PruneRule:
    """When a trial's walk on one series stops (``stop`` of
    :func:`~coincast.evaluation.backtest.walk_forward`); what it saw is kept.

    ``thresholds``: segment -> the median of complete trials' values at that step (a segment
    without one never stops); ``before``: the sum and count of the trial's earlier series'
    scores; ``best``: the trial's best value reported so far.

    Examples
    --------
    >>> rule = PruneRule({1: 0.9})
    >>> rule("lstm", {"y": [2.0, 3.0], "yhat": [1.0, 2.0], "last": [1.0, 2.5]})
    True
    >>> rule.values, rule.stopped
    ([1.3333333333333333], True)
    """

    thresholds: dict[int, float]
    before: tuple[float, int] = (0.0, 0)
    best: float = math.inf
    model: str = "lstm"
    values: list[float] = field(default_factory=list)
    stopped: bool = False

    def __call__(self, name: str, rows: dict[str, list]) -> bool:
        if name != self.model:
            return False
        y, yhat, last = (np.asarray(rows[c], dtype="float64") for c in ("y", "yhat", "last"))
        naive = float(np.abs(y - last).mean()) if len(y) else 0.0
        partial = float(np.abs(y - yhat).mean()) / naive if naive > 0 else math.nan
        value = (self.before[0] + partial) / (self.before[1] + 1)
        self.values.append(value)
        if math.isfinite(value):
            self.best = min(self.best, value)
        threshold = self.thresholds.get(len(self.values))
        self.stopped = threshold is not None and self.best > threshold
        return self.stopped


def segments(bars: int, refit_every: int) -> int:
    """Refit segments of a walk over ``bars`` one-step cutoffs (the last may be shorter).

    Examples
    --------
    >>> segments(365, 30)
    13
    """
    return -(-bars // refit_every)


def prune_info(study, run: Any, walk: dict[str, Any]) -> dict[str, Any]:
    """What the job needs to prune inside its series (see :class:`PruneRule`): the
    median of the complete trials' values at each segment's step, once there are
    :data:`N_STARTUP` of them (np.nanpercentile, as Optuna's MedianPruner takes it)."""
    from optuna.trial import TrialState

    k = len(run.parts)
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    thresholds = {}
    if len(complete) >= N_STARTUP:
        for j in range(1, segments(walk["bars"], walk["refit_every"])):
            step = k * STRIDE + j
            vals = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
            if vals:
                thresholds[j] = float(np.nanpercentile(vals, 50))
    scores = [p["rel_mae"]["lstm"] for p in run.parts]
    return {"thresholds": thresholds, "before": (sum(scores), len(scores)), "best": run.best}


def report_partials(run: Any, part: dict, bars: int, refit_every: int) -> bool:
    """Report to ``run.trial`` the values its latest series' job saw at each segment and,
    unless the job stopped, the running mean over its series at the series' end; True when
    the job stopped (the trial is pruned)."""
    k = len(run.parts) - 1
    values = [(k * STRIDE + j, v) for j, v in enumerate(part.get("partial", []), start=1)]
    if not part.get("stopped"):
        scores = [p["rel_mae"]["lstm"] for p in run.parts]
        values.append((k * STRIDE + segments(bars, refit_every), sum(scores) / len(scores)))
    for step, value in values:
        run.trial.report(value, step)
        if math.isfinite(value):
            run.best = min(run.best, value)
    return bool(part.get("stopped"))
