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

    test = SPA(benchmark.to_numpy(), models.to_numpy(), reps=reps, seed=seed)
    test.compute()
    return _pvalues(test.pvalues, benchmark, models)


def reality_check(
    benchmark: pd.Series, models: pd.DataFrame, *, seed: int = 0, reps: int = REPS
) -> dict:
    """White's reality check of ``models`` against ``benchmark`` (``pvalue``: the upper one)."""
    from arch.bootstrap import RealityCheck

    test = RealityCheck(benchmark.to_numpy(), models.to_numpy(), reps=reps, seed=seed,
                        studentize=False)  # fmt: skip
    test.compute()
    out = _pvalues(test.pvalues, benchmark, models)
    return out | {"pvalue": out["upper"]}


def mcs(losses: pd.DataFrame, *, seed: int = 0, reps: int = REPS, size: float = ALPHA) -> dict:
    """The Model Confidence Set of ``losses``' columns at level ``1 - size``: the models not
    distinguishable from the best."""
    from arch.bootstrap import MCS

    test = MCS(losses, size=size, reps=reps, seed=seed)
    test.compute()
    p = test.pvalues["Pvalue"]
    return {"size": size, "included": [str(m) for m in test.included],
            "excluded": [str(m) for m in test.excluded],
            "pvalues": {str(m): float(v) for m, v in p.items()}, "bars": len(losses)}  # fmt: skip


def _pvalues(p: pd.Series, benchmark: pd.Series, models: pd.DataFrame) -> dict:
    diff = models.mean(axis=0) - float(benchmark.mean())
    return {"lower": float(p["lower"]), "consistent": float(p["consistent"]),
            "upper": float(p["upper"]), "stat": float(diff.min()), "best": str(diff.idxmin()),
            "models": models.shape[1], "bars": len(models)}  # fmt: skip


def headline(result: dict, n: int, where: str = "after the search") -> tuple[str | None, str]:
    """The verdict of an SPA ``result`` over ``n`` configurations, and its sentence.

    Examples
    --------
    >>> headline({"consistent": 0.41, "stat": -0.01}, 200)[1]
    'the best of 200 configurations is not better than naive after the search (SPA p = 0.41)'
    >>> headline({"consistent": 0.0004, "stat": -0.05}, 3)[0]
    'better'
    """
    word = verdict(result["consistent"], result["stat"])
    text = fmt_p(result["consistent"])
    p = f"SPA p {text}" if text.startswith("<") else f"SPA p = {text}"
    what = "configuration" if n == 1 else "configurations"
    verb = "is" if word == "better" else "is not"
    return word, f"the best of {n} {what} {verb} better than naive {where} ({p})"


def face_value(scores: np.ndarray) -> bool:
    """What taking the best validation score at face value claims: "better than naive"
    whenever the best MAE ÷ naive is below 1 (no account of the search)."""
    return bool(np.min(scores) < 1.0)
