"""The LSTM as a backtest model: the adapters the walk-forward loop drives like a baseline.

:class:`LSTMModel` trains on the backtested coin; :class:`PanelLSTMModel` trains a global
model on several coins, each cut at the cutoff. :class:`LSTMTraining` says how a backtest
trains the LSTM, and :func:`lstm_models` builds one adapter per way of training it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ..errors import CoincastError, worded
from ..models.config import make_config
from ..models.devices import resolve_device
from ..models.forecaster import LSTMConfig, LSTMForecaster
from ..models.limits import MAX_EPOCHS
from ..models.training import EpochRecord

#: What the LSTM is trained on: the backtested coin only, or every listed coin (a global
#: model); ``+exog`` adds the --exog coins' returns as inputs.
TRAINING = ("single", "global", "single+exog", "global+exog")
#: Training windows, beyond one lookback and horizon, a backtest leaves the LSTM at least.
MIN_WINDOWS = 30


class LSTMModel:
    """The LSTM for backtests: a full fit at the first cutoff, then every refit warm-starts
    from the previous weights for ``refit_epochs`` epochs (scalers refit each time), so a
    365-cutoff backtest does not cost 365 full trainings.

    ``warm_start=False`` retrains from scratch at every refit (for comparison); ``alias``
    names the model in the backtest table.

    Examples
    --------
    >>> m = LSTMModel(LSTMConfig(lookback=10, horizon=2), alias="lstm-small")
    >>> m.name, m.min_rows
    ('lstm-small', 42)
    """

    def __init__(
        self,
        config: LSTMConfig | None = None,
        *,
        alias: str = "lstm",
        refit_epochs: int = 5,
        warm_start: bool = True,
        on_epoch: Callable[[EpochRecord], None] | None = None,
    ) -> None:
        self.model = LSTMForecaster(config)
        self.name = alias
        self.refit_epochs, self.warm_start = refit_epochs, warm_start
        self.on_epoch = on_epoch
        self.first_history: list[EpochRecord] = []
        self.fits = 0

    @property
    def min_rows(self) -> int:
        """Rows before the first cutoff: a lookback, a horizon and :data:`MIN_WINDOWS` more."""
        cfg = self.model.config
        return cfg.lookback + cfg.horizon + MIN_WINDOWS

    @property
    def dist(self) -> str | None:
        """What its band describes (:mod:`coincast.evaluation.bands`): the Gaussian head's
        normal error is normal in prices, or log-normal when it forecasts log returns; the
        quantile head's outer and middle levels are quantiles; no band, None.

        Examples
        --------
        >>> LSTMModel(LSTMConfig(head="gaussian")).dist, LSTMModel(LSTMConfig()).dist
        ('lognormal', None)
        """
        cfg, head = self.model.config, self.model.head
        if cfg.recursive or cfg.head == "point":
            return None  # no band
        if cfg.head == "gaussian":
            return "lognormal" if cfg.target == "returns" else "normal"
        q = head.quantiles
        if len(q) < 3:
            return None
        levels = (q[0], q[head.mid], q[-1])  # the head's lo, yhat and hi
        return "quantiles" if levels == (0.05, 0.5, 0.95) else "quantiles:" + ",".join(
            f"{v:g}" for v in levels)  # fmt: skip

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
        alias: str = "lstm-global",
        shared: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(config, alias=alias, **kwargs)
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


@dataclass(frozen=True)
class LSTMTraining:
    """How a backtest trains the LSTM.

    ``variants`` lists the ways to train it (see :data:`TRAINING`; default: global when
    ``others`` holds several coins, with ``+exog`` when ``config.exog`` is set); more than one
    puts them side by side, named ``lstm-single``, ``lstm-global``… ``others`` maps every coin
    of the global model to its candles; ``exog`` gives exog coins that are not in ``others``;
    ``shared`` lets backtests of several coins share the global model's fits (see
    :class:`PanelLSTMModel`).

    Examples
    --------
    >>> LSTMTraining(LSTMConfig(epochs=5), refit_epochs=2).config.epochs
    5
    """

    config: LSTMConfig = field(default_factory=LSTMConfig)  #: its horizon is the backtest's
    refit_epochs: int = 5  #: epochs of each warm-started refit
    warm_start: bool = True  #: refits continue from the last weights (else from scratch)
    variants: Sequence[str] | None = None  #: ways to train it, of :data:`TRAINING`
    others: Mapping[str, pd.DataFrame] | None = None  #: coin -> candles of a global model
    exog: Mapping[str, pd.DataFrame] | None = None  #: candles of exog coins not in ``others``
    shared: dict | None = None  #: global fits shared by several coins' backtests
    on_epoch: Callable[[EpochRecord], None] | None = None  #: called after each first-fit epoch

    def __post_init__(self) -> None:
        """Refuse, before the backtest starts, what would fail at its first LSTM fit."""
        r = self.refit_epochs
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= MAX_EPOCHS:
            head = f"refit_epochs is {r!r}; it must be a whole number from 1 to {MAX_EPOCHS}"
            raise worded(f"{head}, e.g. refit_epochs=5", f"{head}, e.g. --refit-epochs 5")
        resolve_device(self.config.device)  # a device this machine lacks: an error now


def lstm_models(frame: pd.DataFrame, training: LSTMTraining, horizon: int) -> list[LSTMModel]:
    """One backtest model per way of training the LSTM on ``frame``'s coin.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> [m.name for m in lstm_models(synthetic_candles(50), LSTMTraining(), horizon=1)]
    ['lstm']
    """
    coin = frame.attrs["coin"]
    others = training.others or {}
    coins = dict(others) if coin in others else {coin: frame, **others}
    cfg = make_config(training.config, horizon=horizon)  # the horizon checked like any setting
    variants = _variants(training.variants, cfg, coins)
    exog = _exog_frames(cfg, coins, training.exog or {})
    plain = cfg.model_copy(update={"exog": []})
    kwargs = dict(refit_epochs=training.refit_epochs, warm_start=training.warm_start,
                  on_epoch=training.on_epoch)  # fmt: skip
    out: list[LSTMModel] = []
    for t in variants:
        alias = "lstm" if len(variants) == 1 else f"lstm-{t}"
        c = cfg if t.endswith("+exog") else plain
        if t == "single":
            out.append(LSTMModel(c, alias=alias, **kwargs))
            continue
        out.append(PanelLSTMModel(
            c, coins if t.startswith("global") else {coin: frame},
            exog=exog if t.endswith("+exog") else None, alias=alias,
            shared=training.shared if t.startswith("global") else None, **kwargs,
        ))  # fmt: skip
    return out


def _variants(
    asked: Sequence[str] | None, cfg: LSTMConfig, coins: Mapping[str, pd.DataFrame]
) -> list[str]:
    """The ways of training asked for (or the default one), checked against the data."""
    if asked is None:
        asked = ["global" if len(coins) > 1 else "single"]
        asked[0] += "+exog" if cfg.exog else ""
    bad = [t for t in asked if t not in TRAINING]
    if bad or not asked:
        raise CoincastError(
            f"unknown training variant(s) {', '.join(bad) or '(none)'}; use a comma-separated "
            f"list of {', '.join(TRAINING)}"
        )
    variants = list(dict.fromkeys(asked))
    if any(t.endswith("+exog") for t in variants) and not cfg.exog:
        head = "a +exog variant needs the coins to read"
        raise worded(f"{head}: exog=['bitcoin']", f"{head}: --exog bitcoin")
    if any(t.startswith("global") for t in variants) and len(coins) < 2:
        raise CoincastError("a global variant needs other coins to train on: list them too")
    return variants


def _exog_frames(
    cfg: LSTMConfig, coins: Mapping[str, pd.DataFrame], exog: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The candles of each of ``cfg.exog``, from the model's coins or the extra ``exog``."""
    frames = {}
    for e in cfg.exog:
        f = coins.get(e) if e in coins else exog.get(e)
        if f is None:
            tail = f"no candles of {e} were given; fetch {e}"
            raise worded(f"exog coin {e}: {tail}", f"--exog {e}: {tail}")
        frames[e] = f
    return frames
