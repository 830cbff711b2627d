"""Honest about the search: was the best configuration better than naive once we account for
having tried many? Hansen's SPA test and White's reality check (of every trial's per-bar loss
differential against naive) and the Model Confidence Set, all from :mod:`arch.bootstrap`,
seeded; the sentences judged by :func:`coincast.evaluation.verdicts.verdict`.

White's reality check is arch's :class:`~arch.bootstrap.RealityCheck` without studentizing,
read at its ``upper`` p-value (no recentering of poor models: White's original); the SPA is
Hansen's studentized test, read at its ``consistent`` p-value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..verdicts import ALPHA, fmt_p, verdict

REPS = 1000  #: bootstrap replications of every test


def spa(benchmark: pd.Series, models: pd.DataFrame, *, seed: int = 0, reps: int = REPS) -> dict:
    """Hansen's SPA test: is any of ``models`` (columns of per-bar losses) better than
    ``benchmark``? ``stat``: the best model's mean loss minus the benchmark's.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = pd.Series(rng.random(100))
    >>> r = spa(b, pd.DataFrame({"a": b + 0.5, "b": b + 0.4}), reps=100)
    >>> r["consistent"] > 0.5, r["models"]
    (True, 2)
    """
    from arch.bootstrap import SPA

    return _bootstrap(SPA, benchmark, models, seed=seed, reps=reps)


def reality_check(
    benchmark: pd.Series, models: pd.DataFrame, *, seed: int = 0, reps: int = REPS
) -> dict:
    """White's reality check of ``models`` against ``benchmark`` (``pvalue``: the upper one)."""
    from arch.bootstrap import RealityCheck

    out = _bootstrap(RealityCheck, benchmark, models, seed=seed, reps=reps, studentize=False)
    return out | {"pvalue": out["upper"]}


def mcs(losses: pd.DataFrame, *, seed: int = 0, reps: int = REPS, size: float = ALPHA) -> dict:
    """The Model Confidence Set of ``losses``' columns at level ``1 - size``: the models not
    distinguishable from the best."""
    from arch.bootstrap import MCS

    distinct, twins = _distinct(losses)
    included, excluded = [str(m) for m in distinct], []
    p = dict.fromkeys(included, 1.0)
    if distinct.shape[1] > 1:
        test = MCS(distinct, size=size, reps=reps, seed=seed)
        test.compute()
        p = {str(m): float(v) for m, v in test.pvalues["Pvalue"].items()}
        included, excluded = [str(m) for m in test.included], [str(m) for m in test.excluded]
    for m, twin in twins.items():  # a twin shares its kept column's fate
        p[str(m)] = p[str(twin)]
        (included if str(twin) in included else excluded).append(str(m))
    return {"size": size, "included": included, "excluded": excluded, "pvalues": p,
            "twins": {str(m): str(t) for m, t in twins.items()}, "bars": len(losses)}  # fmt: skip


def _distinct(losses: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The columns with losses of their own (MCS cannot rank two identical ones), and each
    dropped twin's kept column."""
    kept: dict = {}
    twins = {}
    for name in losses:
        col = losses[name].to_numpy()
        twin = next((k for k, c in kept.items() if np.array_equal(c, col)), None)
        if twin is None:
            kept[name] = col
        else:
            twins[name] = twin
    return losses[list(kept)], twins


def _bootstrap(cls, benchmark: pd.Series, models: pd.DataFrame, **options) -> dict:
    """An SPA-family test of the models whose loss differential varies; a model whose
    differential never varies (the benchmark itself, or a constant shift) is left out of the
    bootstrap (its studentized statistic is undefined) and listed under ``constant``."""
    diff = models.sub(benchmark, axis=0)
    varies = diff.std(axis=0) > 0
    p = pd.Series({"lower": 1.0, "consistent": 1.0, "upper": 1.0})
    if varies.any():
        test = cls(benchmark.to_numpy(), models.loc[:, varies].to_numpy(), **options)
        test.compute()
        p = test.pvalues
    out = _pvalues(p, benchmark, models)
    return out | {"constant": [str(m) for m in models.columns[~varies.to_numpy()]]}


def _pvalues(p: pd.Series, benchmark: pd.Series, models: pd.DataFrame) -> dict:
    diff = models.mean(axis=0) - float(benchmark.mean())
    return {"lower": float(p["lower"]), "consistent": float(p["consistent"]),
            "upper": float(p["upper"]), "stat": float(diff.min()), "best": str(diff.idxmin()),
            "models": models.shape[1], "bars": len(models)}  # fmt: skip


def headline(
    result: dict, n: int, where: str = "after the search", pruned: int = 0
) -> tuple[str | None, str]:
    """The verdict of an SPA ``result`` over ``n`` configurations, and its sentence; the
    ``pruned`` ones (stopped early, so without the losses the test needs) are named too.

    Examples
    --------
    >>> headline({"consistent": 0.41, "stat": -0.01}, 200)[1]
    'the best of 200 configurations is not better than naive after the search (SPA p = 0.41)'
    >>> headline({"consistent": 0.41, "stat": -0.01}, 15, pruned=25)[1][:46]
    'the best of 15 configurations (25 more pruned)'
    >>> headline({"consistent": 0.0004, "stat": -0.05}, 3)[0]
    'better'
    """
    word = verdict(result["consistent"], result["stat"])
    text = fmt_p(result["consistent"])
    p = f"SPA p {text}" if text.startswith("<") else f"SPA p = {text}"
    what = "configuration" if n == 1 else "configurations"
    verb = "is" if word == "better" else "is not"
    more = f" ({pruned} more pruned)" if pruned else ""
    return word, f"the best of {n} {what}{more} {verb} better than naive {where} ({p})"


def face_value(scores: np.ndarray) -> bool:
    """What taking the best validation score at face value claims: "better than naive"
    whenever the best MAE ÷ naive is below 1 (no account of the search)."""
    return bool(np.min(scores) < 1.0)
