"""Walk-forward backtests: every model, the LSTM and each baseline, through the same loop.

At each cutoff a model sees only the rows up to the cutoff (an expanding or rolling window),
forecasts ``horizon`` steps, and is refit every ``refit_every`` cutoffs (in between it is only
given the longer window, without re-estimating anything). How the backtest walks is one
:class:`WalkForward`; how much history a model needs, the model says (``min_rows``). The
result is one tidy table — ``coin, model, cutoff, ts, step, y, yhat, lo, hi, last, dist`` —
from which every metric and picture is computed (``dist``: what distribution the band
describes, :mod:`coincast.evaluation.bands`). The LSTM's adapters live in
:mod:`coincast.evaluation.adapters`; this loop knows no model.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import pandas as pd

from ..errors import CoincastError, worded
from ..series import describe, utc, validate_candles
from .bands import dist_of

if TYPE_CHECKING:
    from .engines import Engine

log = logging.getLogger(__name__)

#: ``progress(model, done, total)``: cutoffs done of a model's walk.
Progress = Callable[[str, int, int], None]
#: ``stop(model, rows)`` at the end of each refit segment but the last: True ends that model's
#: walk there (``rows``: its table so far, column -> list, ``y``, ``yhat`` and ``last`` among
#: them). A sweep's pruner uses it (:mod:`coincast.evaluation.sweep.pruning`).
Stop = Callable[[str, Mapping[str, list]], bool]
#: One model's walk: ``walk(model, frame, plan, spec, progress)`` -> its rows of the table.
Walk = Callable[[Any, pd.DataFrame, "Plan", "WalkForward", Progress | None], pd.DataFrame]

COLUMNS = ("coin", "model", "cutoff", "ts", "step", "y", "yhat", "lo", "hi", "last", "dist")
DEFAULT_TEST = 365  #: test bars when neither ``test`` nor ``start`` is given


class Forecaster(Protocol):
    """What the backtest needs of a model (the LSTM and every baseline)."""

    name: str  #: the model's column in the table: the alias its caller gave it
    min_rows: int  #: rows of history it needs before its first forecast
    # Optional: ``dist``, what its band describes (see coincast.evaluation.bands.dist_of).

    def fit(self, frame: pd.DataFrame) -> Forecaster: ...

    def update(self, frame: pd.DataFrame) -> Forecaster: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...


@dataclass(frozen=True)
class WalkForward:
    """How a walk-forward backtest walks, checked once when it is made.

    The test bars are the last ``test`` rows (365 when neither ``test`` nor ``start`` is
    given), or the rows from ``start`` to ``end`` (inclusive); each is forecast from the bar
    before it, ``horizon`` steps ahead.

    Examples
    --------
    >>> WalkForward(horizon=7, test=90, refit_every=10).test
    90
    >>> WalkForward(start="2024-01-01").start
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    """

    horizon: int = 1  #: steps forecast at each cutoff
    test: int | None = None  #: test on the last N bars ...
    start: pd.Timestamp | str | None = None  #: ... or from this bar ...
    end: pd.Timestamp | str | None = None  #: ... to this one (default: the last bar)
    refit_every: int = 30  #: refit every K cutoffs; in between a model is only updated
    window: Literal["expanding", "rolling"] = "expanding"  #: rows from the first, or the last
    window_size: int | None = None  #: rows of a rolling window

    def __post_init__(self) -> None:
        if self.test is not None and self.start is not None:
            raise worded(
                "give WalkForward either test= or start=/end=, not both",
                "give either --test N or --start/--end, not both",
            )
        if self.start is None and self.test is None:
            object.__setattr__(self, "test", DEFAULT_TEST)
        if self.test is not None and self.test < 1:
            raise worded(
                f"test must be >= 1, got {self.test}", f"--test must be >= 1, got {self.test}"
            )
        for name in ("start", "end"):
            if (value := getattr(self, name)) is not None:
                object.__setattr__(self, name, utc(value))
        if self.horizon < 1:
            raise worded(
                f"horizon must be >= 1, got {self.horizon}",
                f"--horizon must be >= 1, got {self.horizon}",
            )
        if self.refit_every < 1:
            raise worded(
                f"refit_every must be >= 1, got {self.refit_every}",
                f"--refit-every must be >= 1, got {self.refit_every}",
            )
        if self.window not in ("expanding", "rolling"):
            tail = f"must be expanding or rolling, got {self.window!r}"
            raise worded(f"window {tail}", f"--window {tail}")
        if self.window == "rolling" and not self.window_size:
            raise worded(
                "a rolling window needs window_size (rows per window)",
                "--window rolling needs --window-size (rows per window)",
            )

    def first_row(self, cutoff: int) -> int:
        """The first row a model sees at the ``cutoff`` row."""
        return 0 if self.window == "expanding" else max(0, cutoff + 1 - int(self.window_size))


@dataclass
class Plan:
    """The cutoffs of a backtest: row positions of the last bar each forecast may use."""

    cutoffs: np.ndarray
    last_target: int  #: row of the last test bar; later rows are never scored
    first_target: int = field(init=False)

    def __post_init__(self) -> None:
        self.first_target = int(self.cutoffs[0]) + 1


def plan(frame: pd.DataFrame, spec: WalkForward | None = None, *, min_rows: int = 1) -> Plan:
    """The cutoffs of ``spec``'s test period on ``frame``, leaving at least ``min_rows`` rows
    to train on before the first test bar.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> p = plan(synthetic_candles(100), WalkForward(test=10), min_rows=30)
    >>> p.first_target, p.last_target, len(p.cutoffs)
    (90, 99, 10)
    """
    spec = spec or WalkForward()
    n = len(frame)
    if spec.start is not None:
        idx = frame.index
        first = int(idx.searchsorted(spec.start))
        last = n - 1 if spec.end is None else int(idx.searchsorted(spec.end, side="right")) - 1
    else:
        first, last = n - int(spec.test), n - 1
    if last < first or first >= n:
        head = f"the test period holds no bar of {describe(frame)}"
        raise worded(f"{head}; check start= and end=", f"{head}; check --start/--end")
    if first < min_rows:
        head = (
            f"the test period starts at row {first} of {describe(frame)}, leaving {first} rows "
            f"to train on; at least {min_rows} are needed"
        )
        raise worded(
            f"{head}. Shorten the test period (test=, start=) or fetch more history",
            f"{head}. Shorten --test or fetch more history",
        )
    return Plan(np.arange(first - 1, last, dtype="int64"), last)


def min_rows(models: Sequence[Forecaster]) -> int:
    """The history the hungriest of ``models`` needs (1 with no model)."""
    return max([1, *(int(m.min_rows) for m in models)])


def walk_forward(
    models: Sequence[Forecaster],
    frame: pd.DataFrame,
    spec: WalkForward | None = None,
    *,
    progress: Progress | None = None,
    engine: Engine | None = None,
    stop: Stop | None = None,
) -> pd.DataFrame:
    """Backtest ``models`` on ``frame`` as ``spec`` says; return the tidy table (see module
    docstring). The first test bar leaves every model the ``min_rows`` it declares.

    ``progress(model, done, total)`` is called after each cutoff; ``stop`` (see
    :data:`Stop`) can end a model's walk after a refit segment. With an ``engine``
    (:mod:`coincast.evaluation.engines`) each model walks as one job there and the table is
    the same as without one (see :func:`walk_each`).

    Examples
    --------
    >>> from coincast.models.baselines import Naive
    >>> from coincast.data.sources import synthetic_candles
    >>> t = walk_forward([Naive()], synthetic_candles(100), WalkForward(test=10))
    >>> len(t), list(t.columns)[:4]
    (10, ['coin', 'model', 'cutoff', 'ts'])
    """
    validate_candles(frame)
    spec = spec or WalkForward()
    _check_names(models)
    p = plan(frame, spec, min_rows=min_rows(models))
    walk = _one_model if stop is None else partial(_one_model, stop=stop)
    parts = walk_each(walk, models, frame, p, spec, progress=progress, engine=engine)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))


def walk_each(
    walk: Walk,
    models: Sequence[Any],
    frame: pd.DataFrame,
    p: Plan,
    spec: WalkForward,
    *,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> list[pd.DataFrame]:
    """Each model's rows, ``walk(model, frame, p, spec, progress)``, in the order of ``models``.

    Without an engine the models walk one after another, here. With one, ``frame`` is
    scattered once and each model's walk is one job (the model pickled into it, so it must
    pickle: an ``on_epoch`` callback too, and it is called in the worker); as a job
    finishes, ``progress(model, total, total)`` is called and the caller's model takes the
    state the job left it in (fitted as after a walk here). The models walk independently,
    so the rows are the same either way; the LSTM sets its own thread count at each fit
    (its ``threads``), in a job as here. A ``shared`` dict of global LSTM fits is not filled
    by jobs (each fills its own copy).

    Raises
    ------
    CoincastError
        A job's own error, as raised; :class:`~coincast.evaluation.engines.TaskLost`, naming
        the model, when its worker died.
    """
    if engine is None:
        return [walk(m, frame, p, spec, progress) for m in models]
    handle = engine.scatter(frame)
    total = len(p.cutoffs)
    jobs = {}
    for i, model in enumerate(models):
        jobs[engine.submit(walk_job, walk, model, handle, p, spec)] = i
        if progress is not None:
            progress(model.name, 0, total)
    parts: list[pd.DataFrame | None] = [None] * len(models)
    for future in engine.as_completed(list(jobs)):
        i = jobs[future]
        parts[i], walked = _job_result(engine, future, models[i].name)
        vars(models[i]).update(vars(walked))
        if progress is not None:
            progress(models[i].name, total, total)
    return parts  # type: ignore[return-value]


def walk_job(
    walk: Walk, model: Any, frame: pd.DataFrame, p: Plan, spec: WalkForward
) -> tuple[pd.DataFrame, Any]:
    """One engine job of :func:`walk_each`: the model's rows, and the model as it ends."""
    return walk(model, frame, p, spec, None), model


def _job_result(engine: Engine, future: Any, name: str) -> tuple[pd.DataFrame, Any]:
    """A finished walk's value; a lost one as one line that names the model."""
    from .engines import TaskLost

    try:
        return engine.result(future)
    except TaskLost as exc:
        raise TaskLost(
            f"the walk of model {name} was lost ({exc}); run the backtest again"
        ) from None


def _check_names(models: Sequence[Forecaster]) -> None:
    """Each model needs a column of its own in the table."""
    twice = [n for n, k in Counter(m.name for m in models).items() if k > 1]
    if twice:
        raise CoincastError(
            f"two models are named {twice[0]!r}; give each its own alias=, e.g. "
            f"{twice[0]}-1 and {twice[0]}-2"
        )


def _one_model(
    model: Forecaster,
    frame: pd.DataFrame,
    p: Plan,
    spec: WalkForward,
    progress: Progress | None,
    stop: Stop | None = None,
) -> pd.DataFrame:
    """One model's rows of the table: fit or update at each cutoff, then forecast; with
    ``stop``, asked at the end of each refit segment but the last whether to go on."""
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    close = frame["close"].to_numpy(dtype="float64")
    coin = frame.attrs.get("coin", "")
    dist = dist_of(model)
    total = len(p.cutoffs)
    for i, c in enumerate(p.cutoffs):
        view = frame.iloc[spec.first_row(c) : c + 1]  # the model sees nothing after the cutoff
        (model.fit if i % spec.refit_every == 0 else model.update)(view)
        pred = model.predict(spec.horizon)
        # Match forecasts to actual bars by timestamp: a bar missing from the data (a gap)
        # or after the test period is not scored.
        at = frame.index.get_indexer(pred.index)
        for s, (r, pos) in enumerate(zip(pred.itertuples(), at, strict=True), start=1):
            if pos < 0 or pos > p.last_target:
                continue
            rows["coin"].append(coin)
            rows["model"].append(model.name)
            rows["cutoff"].append(frame.index[c])
            rows["ts"].append(frame.index[pos])
            rows["step"].append(s)
            rows["y"].append(close[pos])
            rows["yhat"].append(float(r.yhat))
            rows["lo"].append(float(r.lo))
            rows["hi"].append(float(r.hi))
            rows["last"].append(close[c])
            rows["dist"].append(dist)
        if progress is not None:
            progress(model.name, i + 1, total)
        end = (i + 1) % spec.refit_every == 0 and i + 1 < total
        if end and stop is not None and stop(model.name, rows):
            break
    out = pd.DataFrame(rows)
    out["step"] = out["step"].astype("int64")
    return out
