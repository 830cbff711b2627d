"""Walk-forward backtests: every model, the LSTM and each baseline, through the same loop.

At each cutoff a model sees only the rows up to the cutoff (an expanding or rolling window),
forecasts ``horizon`` steps, and is refit every ``refit_every`` cutoffs (in between it is only
given the longer window, without re-estimating anything). The result is one tidy table —
``coin, model, cutoff, ts, step, y, yhat, lo, hi, last`` — from which every metric and picture
is computed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..models.forecaster import LSTMConfig, LSTMForecaster
from ..models.training import EpochRecord
from ..series import describe, validate_candles

log = logging.getLogger(__name__)

COLUMNS = ("coin", "model", "cutoff", "ts", "step", "y", "yhat", "lo", "hi", "last")


class Forecaster(Protocol):
    """What the backtest needs of a model (the LSTM and every baseline)."""

    name: str

    def fit(self, frame: pd.DataFrame) -> Forecaster: ...

    def update(self, frame: pd.DataFrame) -> Forecaster: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...


class LSTMModel:
    """The LSTM for backtests: a full fit at the first cutoff, then every refit warm-starts
    from the previous weights for ``refit_epochs`` epochs (scalers refit each time), so a
    365-cutoff backtest does not cost 365 full trainings.

    ``warm_start=False`` retrains from scratch at every refit (for comparison).
    """

    name = "lstm"

    def __init__(
        self,
        config: LSTMConfig | None = None,
        *,
        refit_epochs: int = 5,
        warm_start: bool = True,
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> None:
        self.model = LSTMForecaster(config)
        self.refit_epochs, self.warm_start = refit_epochs, warm_start
        self.on_epoch = on_epoch
        self.first_history: list[EpochRecord] = []
        self.fits = 0

    def fit(self, frame: pd.DataFrame) -> LSTMModel:
        self._train(frame)
        if not self.fits:
            self.first_history = list(self.model.result.history)
        self.fits += 1
        return self

    def _train(self, data, **kwargs) -> None:
        """The first fit in full; later ones warm-started for ``refit_epochs`` (or in full)."""
        if self.fits and self.warm_start:
            self.model.fit(data, warm_start=True, epochs=self.refit_epochs, **kwargs)
        else:
            self.model.fit(data, on_epoch=self.on_epoch if not self.fits else None, **kwargs)

    def update(self, frame: pd.DataFrame) -> LSTMModel:
        self.model.update(frame)
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        return self.model.predict(horizon)


class PanelLSTMModel(LSTMModel):
    """The LSTM trained on several coins (a global model), backtested on one.

    At every cutoff each other coin is cut at the same time as the backtested coin's view
    (and, for a rolling window, from the same start), so no coin lends the model a bar from
    after the cutoff. ``shared`` (a dict handed to several instances) keeps each fit's
    weights and scalers by time span: backtests of several coins with the same cutoffs then
    train the global model once per refit, not once per coin. Use it only with
    ``target_coin`` unset (the model forecasts every coin).
    """

    def __init__(
        self,
        config: LSTMConfig | None,
        others: Mapping[str, pd.DataFrame],
        *,
        exog: Mapping[str, pd.DataFrame] | None = None,
        name: str = "lstm-global",
        shared: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(config, **kwargs)
        self.name = name
        self.others, self.exog = dict(others), dict(exog or {})
        self.shared = shared
        if shared is not None and self.model.config.target_coin is not None:
            raise CoincastError("shared fits need a model of every coin: leave target_coin unset")

    def _cut(self, frame: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict]:
        """Every coin's candles up to the view's last bar (and from its first, when the view
        is a rolling window that starts after the coin's own first bar); the view itself for
        its coin. Sets ``self.span``, the time span the fit depends on."""
        self.coin = frame.attrs.get("coin", "")
        if self.coin not in self.others:
            raise CoincastError(
                f"{self.coin} is backtested but not among the global model's coins "
                f"({', '.join(self.others)})"
            )
        own = self.others[self.coin]
        rolling = len(frame) and len(own) and frame.index[0] > own.index[0]
        lo, hi = (frame.index[0] if rolling else None), frame.index[-1]
        self.span = (lo, hi)
        frames = {c: frame if c == self.coin else f.loc[lo:hi] for c, f in self.others.items()}
        exog = {c: f.loc[lo:hi] for c, f in self.exog.items()}
        return frames, exog

    def _train(self, frame: pd.DataFrame) -> None:
        frames, exog = self._cut(frame)
        key = (self.name, *self.span)
        if self.shared is not None and key in self.shared:
            _restore(self.model, self.shared[key])
            self.model.update(frames, exog=exog)
        else:
            super()._train(frames, exog=exog)
        if self.shared is not None:
            self.shared.setdefault(key, _snapshot(self.model))

    def update(self, frame: pd.DataFrame) -> PanelLSTMModel:
        frames, exog = self._cut(frame)
        self.model.update(frames, exog=exog)
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        return self.model.predict(horizon, coin=self.coin)


def _snapshot(model: LSTMForecaster) -> dict:
    """A copy of everything a fit produced (weights, scalers, coins, data, history)."""
    net = model._fitted()
    keys = ("coins", "scalers", "data", "exog_data", "skipped", "dropped", "metrics", "result")
    return copy.deepcopy({"state": net.state_dict()} | {k: getattr(model, k) for k in keys})


def _restore(model: LSTMForecaster, snapshot: dict) -> None:
    """Put ``model`` (same config) back to a :func:`_snapshot`, without training."""
    snap = copy.deepcopy(snapshot)
    if model.net is None or model.coins != snap["coins"]:
        model.coins = snap["coins"]
        model.net = model._new_net()
    model.net.load_state_dict(snap.pop("state"))
    model.net.eval()
    for key, value in snap.items():
        setattr(model, key, value)


@dataclass
class Plan:
    """The cutoffs of a backtest: row positions of the last bar each forecast may use."""

    cutoffs: np.ndarray
    last_target: int  #: row of the last test bar; later rows are never scored
    first_target: int = field(init=False)

    def __post_init__(self) -> None:
        self.first_target = int(self.cutoffs[0]) + 1


def plan(
    frame: pd.DataFrame,
    *,
    test: int | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    min_train: int = 1,
) -> Plan:
    """Cutoffs so that the test bars are the last ``test`` rows, or the rows from ``start`` to
    ``end`` (inclusive); each test bar is forecast one step ahead from the bar before it."""
    n = len(frame)
    if test is not None and start is not None:
        raise CoincastError("give either --test N or --start/--end, not both")
    if start is not None:
        idx = frame.index
        first = int(idx.searchsorted(_utc(start)))
        last = int(idx.searchsorted(_utc(end), side="right")) - 1 if end is not None else n - 1
    else:
        test = 365 if test is None else test
        if test < 1:
            raise CoincastError(f"--test must be >= 1, got {test}")
        first, last = n - test, n - 1
    if last < first or first >= n:
        raise CoincastError(
            f"the test period holds no bar of {describe(frame)}; check --start/--end"
        )
    if first < min_train:
        raise CoincastError(
            f"the test period starts at row {first} of {describe(frame)}, leaving {first} rows "
            f"to train on; at least {min_train} are needed. Shorten --test or fetch more history"
        )
    return Plan(np.arange(first - 1, last, dtype="int64"), last)


def walk_forward(
    models: list[Forecaster],
    frame: pd.DataFrame,
    horizon: int = 1,
    *,
    test: int | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    refit_every: int = 1,
    window: Literal["expanding", "rolling"] = "expanding",
    window_size: int | None = None,
    min_train: int = 30,
    progress: Callable[[str, int, int], None] | None = None,
) -> pd.DataFrame:
    """Backtest ``models`` on ``frame``; return the tidy table (see module docstring).

    Examples
    --------
    >>> from coincast.models.baselines import Naive
    >>> from coincast.data.sources import synthetic_candles
    >>> t = walk_forward([Naive()], synthetic_candles(100), test=10)
    >>> len(t), list(t.columns)[:4]
    (10, ['coin', 'model', 'cutoff', 'ts'])
    """
    validate_candles(frame)
    if refit_every < 1:
        raise CoincastError(f"--refit-every must be >= 1, got {refit_every}")
    if window not in ("expanding", "rolling"):
        raise CoincastError(f"window must be expanding or rolling, got {window!r}")
    if window == "rolling" and not window_size:
        raise CoincastError("a rolling window needs window_size (rows per window)")
    p = plan(frame, test=test, start=start, end=end, min_train=min_train)
    close = frame["close"].to_numpy(dtype="float64")
    parts = []
    for model in models:
        parts.append(
            _one_model(model, frame, close, p, horizon, refit_every, window, window_size, progress)
        )
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    return table


def _one_model(model, frame, close, p: Plan, horizon, refit_every, window, window_size, progress):
    rows: dict[str, list] = {c: [] for c in COLUMNS}
    coin = frame.attrs.get("coin", "")
    total = len(p.cutoffs)
    for i, c in enumerate(p.cutoffs):
        lo = 0 if window == "expanding" else max(0, c + 1 - window_size)
        view = frame.iloc[lo : c + 1]  # the model sees nothing after the cutoff
        (model.fit if i % refit_every == 0 else model.update)(view)
        pred = model.predict(horizon)
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
        if progress is not None:
            progress(model.name, i + 1, total)
    out = pd.DataFrame(rows)
    out["step"] = out["step"].astype("int64")
    return out


def _utc(t: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
