"""The sweep's driver: Optuna proposes configurations (ask), the engine backtests them on the
validation period, the driver records each result (tell); at the end the test period is
touched once (:mod:`.final`).

Where it lives: the study in Optuna's RDB storage beside the store (``<store dir>/sweeps.db``,
``sqlite:///``), named by the sweep's name; each trial's folder in
``<store dir>/sweeps/NAME/trial-0007/`` (``config.json``, ``table.csv``, ``scores.json``).

Resuming after a kill: a trial is told COMPLETE only after its folder is written, so a trial
that was RUNNING when the driver died has no result; :func:`recover` marks it FAIL and
enqueues its parameters again, so no trial is lost and none that finished runs twice.
``trials`` counts finished trials (complete or pruned).

Pruning (Optuna's MedianPruner rule, inside a series and between series): see
:mod:`.pruning`.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import CoincastError
from ..engines import Engine, InlineEngine, TaskLost
from .periods import Periods
from .pruning import N_STARTUP, prune_info, report_partials
from .space import Space, SpaceError
from .trials import run_series

log = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid")
#: Where trials are pruned: inside each series and between series, between series only, never.
PRUNING = ("inside", "series", "none")
Frames = dict[str, pd.DataFrame]


class SweepError(CoincastError):
    """A sweep that cannot start, resume or go on."""


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep searches and how.

    Examples
    --------
    >>> from coincast.evaluation.sweep import parse_space
    >>> plan = SweepPlan(parse_space({"params": {"hidden": [8, 16]}}), ("bitcoin", "ethereum"))
    >>> plan.series
    [('bitcoin', '1d'), ('ethereum', '1d')]
    """

    space: Space
    coins: tuple[str, ...]  #: the coins every trial is scored on
    intervals: tuple[str, ...] = ("1d",)  #: ... at each of these intervals
    trials: int = 20  #: finished trials (complete or pruned) to reach
    sampler: str = "tpe"  #: tpe, random or grid
    periods: Periods = field(default_factory=Periods)
    top_k: int = 5  #: trials backtested on the test period
    seed: int = 0  #: of the sampler and of the bootstrap tests
    prune: str = "inside"  #: inside (and between series), series (between only) or none

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise SweepError(f"sampler is {self.sampler!r}; use {', '.join(SAMPLERS)}")
        if self.prune not in PRUNING:
            raise SweepError(f"prune is {self.prune!r}; use {', '.join(PRUNING)}")
        for name in ("trials", "top_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise SweepError(f"{name} is {v!r}; it must be a whole number >= 1")
        if not self.coins:
            raise SweepError("a sweep needs coins: list them, or name them in the space's coins")

    @property
    def series(self) -> list[tuple[str, str]]:
        """``(coin, interval)`` of every series, in the order a trial backtests them."""
        return [(c, i) for i in self.intervals for c in self.coins]

    def settings(self) -> dict[str, Any]:
        """What a resumed sweep must share with the one it continues."""
        extra = {} if self.prune == "inside" else {"prune": self.prune}  # older sweeps: no key
        return {"space": self.space.raw, "coins": list(self.coins),
                "intervals": list(self.intervals), "sampler": self.sampler,
                "periods": self.periods.describe(), "top_k": self.top_k,
                "seed": self.seed} | extra  # fmt: skip


@dataclass(frozen=True)
class Place:
    """Where a sweep is kept: its Optuna storage, its name there and its folder."""

    name: str
    storage: str  #: an Optuna RDB url, e.g. ``sqlite:////data/sweeps.db``
    folder: Path  #: the trials' folders

    @classmethod
    def beside(cls, store: str | Path, name: str) -> Place:
        """The place of sweep ``name`` beside the store file ``store``."""
        here = Path(store).expanduser().resolve().parent
        return cls(name, f"sqlite:///{here / 'sweeps.db'}", here / "sweeps" / name)


def series_key(coin: str, interval: str) -> str:
    return f"{coin}/{interval}"


def run_sweep(
    frames: Mapping[str, Frames],
    plan: SweepPlan,
    place: Place,
    *,
    engine: Engine | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Search ``plan``'s space on the validation period, then score the best on the test
    period once; return the leaderboard (:func:`.leaderboard.leaderboard`).

    Parameters
    ----------
    frames
        Per interval, the candles of every coin (and exog coin) by coin id.
    engine
        Where trials run (default: one after another in this process).
    resume
        Continue the study of ``place.name`` (else it must not exist yet).
    progress
        ``progress(finished, total)`` after each finished trial.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.evaluation.sweep import Periods, parse_space
    >>> space = parse_space({"params": {"hidden": [2, 4]},
    ...                      "fixed": {"epochs": 1, "lookback": 10, "threads": 1}})
    >>> plan = SweepPlan(space, ("bitcoin",), trials=2, sampler="grid",
    ...                  periods=Periods(valid=20, test=10), top_k=1)
    >>> place = Place.beside(Path(tempfile.mkdtemp()) / "coincast.db", "doc")
    >>> frames = {"1d": {"bitcoin": synthetic_candles(110, coin="bitcoin")}}
    >>> board = run_sweep(frames, plan, place)
    >>> len(board["trials"]), board["verdict"]["words"][0].startswith("the best of 2")
    (2, True)
    """
    from .final import score_test
    from .leaderboard import leaderboard, save_leaderboard

    cuts = {series_key(c, i): _cut(frames, c, i, plan) for c, i in plan.series}
    study = open_study(plan, place, resume)
    own = engine is None
    engine = engine or InlineEngine()
    try:
        _search(study, plan, place, cuts, engine, progress)
        score_test(study, plan, place, cuts, engine)
    finally:
        if own:
            engine.close()
    board = leaderboard(study, place)
    save_leaderboard(board, place)
    return board


@dataclass
class Cut:
    """One series split for a sweep: what trials see, and what the test phase sees."""

    valid: Frames  #: every frame cut at the validation period's last bar
    test: Frames  #: every frame cut at the test period's last bar
    valid_bars: int
    test_bars: int


def _cut(frames: Mapping[str, Frames], coin: str, interval: str, plan: SweepPlan) -> Cut:
    if interval not in frames or coin not in frames[interval]:
        raise SweepError(f"no candles of {coin} at {interval} were given")
    own = frames[interval][coin]
    v0, v1, t0, t1 = plan.periods.rows(own)
    v_end, t_end = own.index[v1], own.index[t1]
    every = frames[interval]
    return Cut({c: f.loc[:v_end] for c, f in every.items()},
               {c: f.loc[:t_end] for c, f in every.items()}, v1 - v0 + 1, t1 - t0 + 1)  # fmt: skip


# -- the study ------------------------------------------------------------------------------


def open_study(plan: SweepPlan, place: Place, resume: bool) -> Any:
    """The Optuna study of ``place`` (new, or resumed with its RUNNING trials recovered)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(place.storage)
    names = [s.study_name for s in storage.get_all_studies()]
    exists = place.name in names
    if exists and not resume:
        raise SweepError(f"a sweep named {place.name!r} exists; add --resume to continue it, or "
                         "choose another --name")  # fmt: skip
    if resume and not exists:
        raise SweepError(f"no sweep named {place.name!r} to resume in {place.storage}")
    study = optuna.create_study(
        study_name=place.name, storage=storage, sampler=_sampler(plan),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=N_STARTUP), direction="minimize",
        load_if_exists=True,
    )  # fmt: skip
    if exists:
        _same_settings(study, plan, place)
        looked = "test" in study.user_attrs
        if looked and _total(plan) > len(finished(study)):
            raise SweepError(
                f"sweep {place.name!r} has been scored on its test period already; searching "
                "on after that look would not be honest: start a new sweep (another --name)"
            )
        recover(study, place)
    else:
        study.set_user_attr("settings", plan.settings())
    study.set_user_attr("trials", plan.trials)
    return study


def _same_settings(study: Any, plan: SweepPlan, place: Place) -> None:
    old, new = study.user_attrs.get("settings", {}), json.loads(json.dumps(plan.settings()))
    diff = [k for k in new if old.get(k) != new[k]]
    if diff:
        raise SweepError(f"sweep {place.name!r} was started with other {', '.join(diff)}; resume "
                         "it with the same space, coins, intervals and periods")  # fmt: skip


def recover(study: Any, place: Place) -> list[int]:
    """Mark the trials a killed driver left RUNNING as FAIL and enqueue their parameters
    again; the numbers of the recovered trials."""
    from optuna.trial import TrialState

    storage = study._storage
    study_id = storage.get_study_id_from_name(place.name)
    found = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tid = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_state_values(tid, TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        shutil.rmtree(trial_folder(place, t.number), ignore_errors=True)
        found.append(t.number)
    if found:
        log.info("sweep %s: trials %s were cut short; their settings run again", place.name, found)
    return found


def _sampler(plan: SweepPlan) -> Any:
    import optuna

    if plan.sampler in ("random", "grid"):  # the grid's points are enqueued: see _grid_point
        return optuna.samplers.RandomSampler(seed=plan.seed)
    return optuna.samplers.TPESampler(seed=plan.seed)


def finished(study: Any) -> list[Any]:
    """The study's finished trials (complete or pruned)."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def trial_folder(place: Place, number: int) -> Path:
    return place.folder / f"trial-{number:04d}"


# -- the search -----------------------------------------------------------------------------


@dataclass
class _Running:
    trial: Any
    config: dict[str, Any]
    parts: list[dict] = field(default_factory=list)
    best: float = math.inf  #: the best value reported to the trial so far


def _search(study, plan: SweepPlan, place: Place, cuts: dict[str, Cut], engine: Engine,
            progress: Callable[[int, int], None] | None) -> None:  # fmt: skip
    """Ask, run and tell until ``plan.trials`` trials have finished."""

    keys = list(cuts)
    handles = {k: engine.scatter(c.valid) for k, c in cuts.items()}  # never a test bar
    total = _total(plan)
    done = len(finished(study))
    flying: dict[Any, _Running] = {}

    def submit(run: _Running) -> None:
        key = keys[len(run.parts)]
        walk = {"bars": cuts[key].valid_bars, "series": key, **plan.space.walk}
        walk["prune"] = prune_info(study, run, walk) if plan.prune == "inside" else None
        flying[engine.submit(run_series, handles[key], key.split("/")[0], run.config, walk)] = run

    if progress:
        progress(done, total)
    while done + len(flying) < total or flying:
        while done + len(flying) < total and len(flying) < engine.workers:
            submit(_ask(study, plan))
        future = next(iter(engine.as_completed(list(flying))))
        run = flying.pop(future)
        try:
            part = engine.result(future)
        except TaskLost as exc:
            log.warning(
                "trial %d lost its worker (%s); its settings run again", run.trial.number, exc
            )
            study.tell(run.trial, state=_state("FAIL"))
            study.enqueue_trial(run.trial.params, user_attrs={"retry_of": run.trial.number})
            continue
        except CoincastError as exc:
            study.tell(run.trial, state=_state("FAIL"))
            key = keys[len(run.parts)]
            raise SweepError(f"trial {run.trial.number} ({_shown(plan, run.trial)}) failed on "
                             f"{key}: {exc}") from None  # fmt: skip
        run.parts.append(part)
        bars, every = cuts[keys[len(run.parts) - 1]].valid_bars, plan.space.walk["refit_every"]
        stopped = report_partials(run, part, bars, every)
        more = not stopped and len(run.parts) < len(keys)
        if more and not (plan.prune != "none" and run.trial.should_prune()):
            submit(run)
            continue
        _finish(study, place, run, keys)
        done += 1
        if progress:
            progress(done, total)


def _total(plan: SweepPlan) -> int:
    if plan.sampler != "grid":
        return plan.trials
    size = 1
    for values in plan.space.grid().values():
        size *= len(values)
    if size < plan.trials:
        log.warning("the grid holds %d configurations; the sweep stops there", size)
    return min(plan.trials, size)


def _ask(study, plan: SweepPlan) -> _Running:
    if plan.sampler == "grid":
        _grid_point(study, plan)
    trial = study.ask(plan.space.distributions())
    try:
        cfg = plan.space.config(trial.params)
    except SpaceError:
        study.tell(trial, state=_state("FAIL"))
        raise
    return _Running(trial, cfg.model_dump(mode="json"))


def _grid_point(study, plan: SweepPlan) -> None:
    """Enqueue the grid's next point not yet tried (in an order shuffled by the seed), unless
    a trial already waits. (Optuna's GridSampler stops the study from inside ``tell``, which
    the ask/tell interface refuses; enqueued points do the same job.)"""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return
    grid = plan.space.grid()
    points = [dict(zip(grid, p, strict=True)) for p in itertools.product(*grid.values())]
    random.Random(plan.seed).shuffle(points)
    used = [t.system_attrs.get("fixed_params", t.params) for t in trials
            if t.state != TrialState.FAIL]  # fmt: skip
    fresh = next((p for p in points if p not in used), None)
    if fresh is not None:
        study.enqueue_trial(fresh)


def _finish(study, place: Place, run: _Running, keys: list[str]) -> None:
    """Write the trial's folder, then tell Optuna (in that order: see the module docstring)."""
    scores = {k: p["rel_mae"]["lstm"] for k, p in zip(keys, run.parts, strict=False)}
    value = sum(scores.values()) / len(scores)
    complete = len(run.parts) == len(keys) and not run.parts[-1].get("stopped")
    folder = trial_folder(place, run.trial.number)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pd.concat([p["table"] for p in run.parts], ignore_index=True).to_csv(
        tmp / "table.csv", index=False
    )
    (tmp / "config.json").write_text(json.dumps(run.config, indent=2) + "\n")
    about = {"trial": run.trial.number, "params": run.trial.params, "valid": scores,
             "score": value, "state": "complete" if complete else "pruned"}  # fmt: skip
    (tmp / "scores.json").write_text(json.dumps(about, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    run.trial.set_user_attr("valid", scores)
    run.trial.set_user_attr("config", run.config)
    if complete:
        study.tell(run.trial, value)
    else:
        study.tell(run.trial, state=_state("PRUNED"))


def _state(name: str) -> Any:
    from optuna.trial import TrialState

    return TrialState[name]


def _shown(plan: SweepPlan, trial) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in plan.space.settings(trial.params).items())
