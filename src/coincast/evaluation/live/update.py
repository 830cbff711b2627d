"""One live update step: fetch new bars, refit when due, forecast, record, score.

:func:`update` is idempotent and safe to kill at any point (cron runs it every bar):

1. fetch each coin incrementally (one transaction per chunk: :func:`coincast.data.fetch`);
2. refit the run (warm start) when ``refit_every`` new bars have come since its last fit;
   the new run folder is written beside the old one and swapped in by renames, with the
   bar it was fit up to in ``live.json``, so a killed refit leaves the old run or the new;
3. forecast from the newest stored bar and append the forecast to the ledger (one
   transaction; the same forecast twice is written once);
4. score every forecast whose target bar is now stored (one transaction).

A coin whose fetch fails is reported and skipped; the others go on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ...data.fetch import fetch
from ...data.sources.base import Source, utc_now
from ...data.store import Store
from ...data.store.ledger import Forecast, Ledger
from ...errors import CoincastError
from ...models.forecaster import LSTMForecaster
from ...models.run_data import run_frames, training_frames
from ...models.runs import WEIGHTS, load_run, save_run
from ...series import to_ms

log = logging.getLogger(__name__)

LIVE = "live.json"  #: in a run folder: the last bar the live model was fit up to
#: hook(point) is called at each point of a step: after_fetch, refit_saved (the new run
#: written beside the old), swap_midway (the old moved aside, the new not yet in),
#: after_refit, ledger_row (inside the ledger's transaction), after_write, after_score.
#: The fault tests kill the process there.
Hook = Callable[[str], None]


@dataclass
class UpdateSpec:
    """What one update does (see :func:`update` for one run).

    Examples
    --------
    >>> spec = UpdateSpec(["bitcoin", "ethereum"], "1h", Path("runs/live-1h"), refit_every=24)
    >>> spec.coins, spec.refit_every
    (['bitcoin', 'ethereum'], 24)
    """

    coins: list[str]  #: coin ids to forecast
    interval: str  #: bar interval
    run: Path  #: the run folder forecasting them
    config: Path | None = None  #: an LSTM settings file: train the run from it when missing
    refit_every: int | None = None  #: refit after this many new bars (None: never)
    quote: str | None = None  #: quote currency (the source's default when None)
    days: float | None = None  #: history the first fetch asks for (fetch's default when None)


@dataclass
class CoinUpdate:
    """What one update did for one coin."""

    coin: str
    new_bars: int = 0
    last_ts: pd.Timestamp | None = None  #: the bar forecast from
    refit: bool = False
    issued: int = 0  #: ledger rows written
    scored: int = 0  #: outcomes recorded: forecasts of this coin whose bar arrived
    error: str | None = None  #: why this coin failed, or None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict of the fields."""
        return {**self.__dict__, "last_ts": self.last_ts.isoformat() if self.last_ts else None}


@dataclass
class _Step:
    store: Store
    spec: UpdateSpec
    source: Source
    now: pd.Timestamp
    hook: Hook
    results: dict[str, CoinUpdate] = field(default_factory=dict)


def update(
    store: Store,
    source: Source,
    spec: UpdateSpec,
    *,
    now: pd.Timestamp | None = None,
    hook: Hook | None = None,
) -> list[CoinUpdate]:
    """Run one live step for ``spec.coins``; one :class:`CoinUpdate` per coin.

    Raises
    ------
    CoincastError
        When the run cannot be loaded or trained (every coin depends on it).

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import SyntheticSource
    >>> d = Path(tempfile.mkdtemp())
    >>> settings = "epochs = 1\\nhidden = 4\\nlookback = 10\\nlog_every = 0\\n"
    >>> _ = (d / "lstm.toml").write_text(settings)
    >>> spec = UpdateSpec(["demo"], "1h", d / "live-demo", config=d / "lstm.toml", days=10)
    >>> with Store(":memory:") as s:
    ...     [r] = update(s, SyntheticSource(), spec, now=pd.Timestamp("2024-01-11", tz="UTC"))
    >>> r.new_bars, r.issued, r.error
    (240, 1, None)
    """
    step = _Step(store, spec, source, now if now is not None else utc_now(), hook or _nothing)
    step.results = {c: CoinUpdate(c) for c in spec.coins}
    with locked(spec.run):  # a cron update and a watch of one run take turns
        recover_run(spec.run)
        return _steps(step)


def _steps(step: _Step) -> list[CoinUpdate]:
    store, spec = step.store, step.spec
    model = load_run(spec.run) if (spec.run / "run.json").exists() else None
    _fetch_all(step, _exog_coins(model))
    step.hook("after_fetch")
    ok = [c for c, r in step.results.items() if r.error is None]
    if model is None and ok:
        model = _train(step, ok)
    elif model is not None and ok == spec.coins:  # a failed coin postpones the refit
        model = _refit_if_due(step, model)
    step.hook("after_refit")
    if model is not None:
        for coin in ok:
            try:
                _issue(step, model, coin)
            except CoincastError as exc:  # stale, or too little data: this coin only
                step.results[coin].error = str(getattr(exc, "cli", None) or exc)
    step.hook("after_write")
    scored = Ledger(store).score(step.now.isoformat())
    for r in step.results.values():
        r.scored = scored.get(r.coin, 0)
    step.hook("after_score")
    return list(step.results.values())


def _nothing(point: str) -> None:
    pass


def _exog_coins(model: LSTMForecaster | None) -> list[str]:
    return [] if model is None else [c for c in model.exog_data if c not in model.data]


def _fetch_all(step: _Step, extra: Sequence[str]) -> None:
    """Fetch every coin (and the run's exog coins); a failure is that coin's error."""
    for coin in [*step.spec.coins, *extra]:
        try:
            got = fetch(step.store, step.source, coin, interval=step.spec.interval,
                        quote=step.spec.quote, days=step.spec.days, now=step.now)  # fmt: skip
        except CoincastError as exc:
            why = f"fetch of {coin} failed: {getattr(exc, 'cli', None) or exc}"
            log.warning("%s", why)
            # an exog coin's failure stops every coin its run forecasts
            for r in [step.results[coin]] if coin in step.results else step.results.values():
                r.error = r.error or why
            continue
        if coin in step.results:
            step.results[coin].new_bars = got.new_rows


def _train(step: _Step, coins: list[str]) -> LSTMForecaster:
    """A new run trained from ``spec.config`` on the stored coins."""
    spec = step.spec
    if spec.config is None:
        raise CoincastError(
            f"no run folder {spec.run}; give a trained run with --run, or LSTM settings with "
            "--model lstm.toml to train one on the first update"
        )
    from ...models.settings import lstm_config

    model = LSTMForecaster(lstm_config(spec.config))
    frames, exog = training_frames(step.store, coins, model.config.exog, spec.interval,
                                   source=step.source.name, quote=spec.quote)  # fmt: skip
    model.fit(frames, exog=exog)
    _swap_in(model, spec.run, _newest(frames), step.hook)
    for c in coins:
        step.results[c].refit = True
    return load_run(spec.run)


def _refit_if_due(step: _Step, model: LSTMForecaster) -> LSTMForecaster:
    every = step.spec.refit_every
    if not every:
        return model
    frames, exog = run_frames(step.store, model)
    fit_to = last_fit(step.spec.run, model)
    fresh = min(int((f.index > fit_to).sum()) for f in frames.values())
    if fresh < every:
        return model
    log.info("refitting %s: %d new bars since %s", step.spec.run, fresh, fit_to)
    model.fit(frames, exog=exog, warm_start=True)
    _swap_in(model, step.spec.run, _newest(frames), step.hook)
    for c in frames:
        if c in step.results:
            step.results[c].refit = True
    return load_run(step.spec.run)


def _newest(frames: dict[str, pd.DataFrame]) -> pd.Timestamp:
    return min(f.index[-1] for f in frames.values())


def last_fit(run: Path, model: LSTMForecaster) -> pd.Timestamp:
    """The last bar the run was fit on: ``live.json``'s, else its training data's end."""
    path = run / LIVE
    if path.is_file():
        return pd.Timestamp(json.loads(path.read_text())["fit_to"])
    return min(pd.Timestamp(str(d["end"])) for d in model.data.values())


def _issue(step: _Step, model: LSTMForecaster, coin: str) -> None:
    """Forecast ``coin`` from its newest stored bar and append it to the ledger."""
    frames, exog = run_frames(step.store, model)
    if coin not in frames:
        step.results[coin].error = f"the run {step.spec.run.name} does not forecast {coin}"
        return
    frame = frames[coin]
    pred = model.predict(frame=frame, coin=coin, exog=frames | exog)
    a, last = frame.attrs, frame.index[-1]
    sha = weights_sha256(step.spec.run)
    rows = [
        Forecast(step.spec.run.name, sha, a["source"], coin, a["quote"], a["interval"],
                 to_ms(last), float(frame["close"].iloc[-1]), to_ms(ts), k, float(r.yhat),
                 _num(r.lo), _num(r.hi), step.now.isoformat())
        for k, (ts, r) in enumerate(zip(pred.index, pred.itertuples(), strict=True), 1)
    ]  # fmt: skip
    step.results[coin].last_ts = last
    step.results[coin].issued = Ledger(step.store).append(
        rows, on_row=lambda n: step.hook("ledger_row")
    )


def _num(x: float) -> float | None:
    return None if pd.isna(x) else float(x)


def weights_sha256(run: Path) -> str:
    """SHA-256 of the run's ``model.safetensors`` bytes."""
    return hashlib.sha256((run / WEIGHTS).read_bytes()).hexdigest()


# -- swapping a run folder ------------------------------------------------------------------


@contextlib.contextmanager
def locked(run: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run`` (a file beside it), waiting for another holder."""
    run.parent.mkdir(parents=True, exist_ok=True)
    with (run.parent / f".{run.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def _beside(run: Path, what: str) -> Path:
    return run.parent / f".{run.name}.{what}" / run.name


def _swap_in(model: LSTMForecaster, run: Path, fit_to: pd.Timestamp, hook: Hook) -> None:
    """Write ``model`` as ``run`` by renames: save it beside, move the old one aside, move
    the new one in, delete the old; :func:`recover_run` finishes a swap a kill cut short."""
    new, old = _beside(run, "next"), _beside(run, "prev")
    shutil.rmtree(new.parent, ignore_errors=True)
    save_run(model, new)
    (new / LIVE).write_text(json.dumps({"fit_to": fit_to.isoformat()}))
    (new.parent / "complete").touch()  # written last: the new folder is whole
    hook("refit_saved")
    old.parent.mkdir(exist_ok=True)
    if run.exists():
        run.rename(old)
        hook("swap_midway")
    new.rename(run)
    shutil.rmtree(new.parent, ignore_errors=True)
    shutil.rmtree(old.parent, ignore_errors=True)


def recover_run(run: Path) -> None:
    """Finish or undo a swap of ``run`` that a kill interrupted."""
    new, old = _beside(run, "next"), _beside(run, "prev")
    if not run.exists():
        if new.exists() and (new.parent / "complete").exists():
            new.rename(run)
        elif old.exists():
            old.rename(run)
    for folder in (new.parent, old.parent):
        if folder.exists() and run.exists():
            shutil.rmtree(folder, ignore_errors=True)


# -- watching -------------------------------------------------------------------------------


def watch(
    step: Callable[[], list[CoinUpdate]],
    every: float,
    stop: threading.Event,
    on_step: Callable[[list[CoinUpdate]], None] | None = None,
    on_error: Callable[[CoincastError], None] | None = None,
) -> int:
    """Run ``step`` every ``every`` seconds until ``stop`` is set; return the steps run.

    A step in progress is finished before stopping (each write is one transaction anyway).
    """
    runs = 0
    while not stop.is_set():
        started = pd.Timestamp.now(tz="UTC")
        try:
            results = step()
            if on_step is not None:
                on_step(results)
        except CoincastError as exc:
            if on_error is None:
                raise
            on_error(exc)
        runs += 1
        spent = (pd.Timestamp.now(tz="UTC") - started).total_seconds()
        stop.wait(max(every - spent, 0))
    return runs
