"""The one look at the test period: once the search has finished, the top-k trials (by their
validation score) and the baselines (naive, drift) are backtested on the test period, and
the figures are kept in the study, so a resumed or re-shown sweep never looks again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd

from .trials import run_series

if TYPE_CHECKING:
    from ..engines import Engine
    from .study import Cut, Place, SweepPlan

BASELINES = ("naive", "drift")


def top_trials(study: Any, k: int) -> list[Any]:
    """The ``k`` complete trials with the best (lowest) validation score."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(done, key=lambda t: (t.value, t.number))[:k]


def score_test(
    study: Any, plan: SweepPlan, place: Place, cuts: dict[str, Cut], engine: Engine
) -> dict[str, Any]:
    """Backtest the top ``plan.top_k`` trials and the baselines on the test period (unless
    the study already holds their figures); their test tables go beside their validation
    ones (``test-table.csv``; ``baselines/test-table.csv``)."""
    if "test" in study.user_attrs:
        return study.user_attrs["test"]
    from .study import trial_folder

    top = top_trials(study, plan.top_k)
    handles = {k: engine.scatter(c.test) for k, c in cuts.items()}  # the first test bar sent
    horizon = plan.space.base().horizon
    jobs: dict[Any, tuple[int | None, str]] = {}
    for number, config in [*((t.number, t.user_attrs["config"]) for t in top), (None, None)]:
        for key, cut in cuts.items():
            walk = {"bars": cut.test_bars, "series": key, "horizon": horizon, **plan.space.walk}
            fut = engine.submit(run_series, handles[key], key.split("/")[0], config, walk)
            jobs[fut] = (number, key)
    parts: dict[int | None, dict[str, dict]] = {}
    for fut in engine.as_completed(list(jobs)):
        number, key = jobs[fut]
        parts.setdefault(number, {})[key] = engine.result(fut)
    figures: dict[str, Any] = {"trials": {}, "baselines": {}}
    for number, got in parts.items():
        folder = place.folder / "baselines" if number is None else trial_folder(place, number)
        folder.mkdir(parents=True, exist_ok=True)
        table = pd.concat([got[k]["table"] for k in cuts], ignore_index=True)
        table.to_csv(folder / "test-table.csv", index=False)
        if number is None:
            figures["baselines"] = {m: {k: got[k]["rel_mae"][m] for k in cuts} for m in BASELINES}
        else:
            figures["trials"][str(number)] = {k: got[k]["rel_mae"]["lstm"] for k in cuts}
    figures["top"] = [t.number for t in top]
    study.set_user_attr("test", json.loads(json.dumps(figures)))
    return figures
