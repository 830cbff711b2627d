"""The user-facing LSTM forecaster: a validated config, ``fit(frame)``, ``predict(horizon)``.

By default the LSTM learns log returns (cumulative from the last close, one output per
horizon step), so the price scale is never extrapolated: the usual recipe of min-max scaling
the price level fails as soon as the test prices leave the training range, which for crypto
is most of the time. ``target="price"`` is there to show that.

One model can also learn from several coins at once (a *global* model): ``fit`` takes a
mapping of coin to candles, each coin is scaled with its own training slice, batches mix
coins, and a learned coin embedding tells the LSTM which coin a window is from. ``exog``
coins' returns at the same timestamps can be added as inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ..dataset.panel import (
    CoinInputs,
    Frames,
    Panel,
    Scalers,
    as_frames,
    build_panel,
    data_info,
    exog_frames_of,
    forecast_coins,
    set_threads,
)
from ..dataset.windows import Scaler
from ..series import validate_candles
from .config import LSTMConfig, make_config
from .devices import resolve_device
from .inference import validation_metrics
from .lstm import LSTMNet
from .predicting import Predicting, WindowInputs
from .state import FittedState, StateField, undoer
from .training import EpochRecord, TrainResult, train

__all__ = ["LSTMConfig", "LSTMForecaster", "WindowInputs", "data_info"]


class LSTMForecaster(Predicting):
    """Forecast a coin's next ``horizon`` closes with an LSTM, trained on that coin or on
    several.

    Examples
    --------
    >>> from coincast.data.sources import predictable_candles
    >>> f = LSTMForecaster(epochs=2, hidden=8, layers=1, log_every=0).fit(predictable_candles(200))
    >>> f.predict().columns.tolist()
    ['yhat', 'lo', 'hi']
    """

    name = "lstm"

    # The fitted state's fields, read and written as attributes (see FittedState).
    coins = StateField[list[str]]()
    scalers = StateField[dict[str, Scalers]]()
    data = StateField[dict[str, dict[str, object]]]()
    exog_data = StateField[dict[str, dict[str, object]]]()
    skipped = StateField[list[str]]()
    dropped = StateField[dict[str, int]]()

    def __init__(self, config: LSTMConfig | None = None, **overrides: object) -> None:
        self.config = make_config(config, **overrides)  # ConfigError naming a bad setting
        self.net: LSTMNet | None = None
        self.state = FittedState()  #: scalers, coins, data... (all but the weights)
        self.result = TrainResult()
        self.metrics: dict[str, float | str | None] = {}
        self._frames: dict[str, pd.DataFrame] = {}  #: per coin, the candles to forecast from
        self._exog: dict[str, pd.DataFrame] = {}  #: per exog coin, its candles

    # -- fitting -------------------------------------------------------------------------------

    def fit(
        self,
        data: Frames,
        *,
        exog: Mapping[str, pd.DataFrame] | None = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        checkpoint_dir: Path | None = None,
        resume: bool = False,
        warm_start: bool = False,
        epochs: int | None = None,
    ) -> LSTMForecaster:
        """Train on ``data``: one canonical candle frame, or a mapping of coin id to frames
        (a global model over several coins). The last ``val_fraction`` of the windows to
        forecast, in calendar time, is the validation slice for early stopping. Returns
        ``self``.

        ``exog`` maps each coin of ``config.exog`` to its candles when it is not in ``data``.
        ``warm_start`` continues from the current weights (a backtest's refit) instead of new
        ones; ``epochs`` overrides the config's epochs for this call. Scalers are always fit
        anew on this data's training slice.

        Raises
        ------
        CoincastError
            When the config's device is not here, the data cannot make one window, or
            training diverges (:class:`~coincast.models.training.TrainingDiverged`: a NaN
            or infinite loss; the weights are then not kept).
        """
        cfg = self.config
        device = self.device  # first: a device this machine lacks is refused up front
        if epochs is not None:
            epochs = make_config(cfg, epochs=epochs).epochs  # the same rule as the config's
        frames = as_frames(data)
        exog_frames = exog_frames_of(cfg.exog, frames, exog)
        forecast = forecast_coins(frames, cfg.target_coin)
        cfg.threads = set_threads(cfg.threads)  # recorded: results depend on it
        inputs = {c: self._coin_inputs(c, f, exog_frames) for c, f in frames.items()}
        panel = build_panel(
            inputs, forecast, lookback=cfg.lookback, horizon=cfg.trained_horizon,
            target=cfg.target, fraction=cfg.val_fraction, on_short=cfg.on_short,
            embed=cfg.coin_embedding and len(frames) > 1,
        )  # fmt: skip
        keep_net = warm_start and self.net is not None and self.coins == list(frames)
        undo = undoer(self, in_place=keep_net)
        self.state = self._fitted_state(frames, exog_frames, inputs, panel)
        if not keep_net:
            torch.manual_seed(cfg.seed)
            self.net = self._new_net()
        settings = replace(
            cfg.training(), device=device, checkpoint_dir=checkpoint_dir, resume=resume,
            fingerprint=self.fingerprint(), keep_start=warm_start,
        )  # fmt: skip
        if epochs is not None:
            settings.epochs = epochs
        try:
            self.result = train(self.net, panel.train, panel.val, self.head.loss, settings,
                                on_epoch=on_epoch)  # fmt: skip
        except BaseException:
            undo()  # a failed fit leaves the model as it was: unfitted, or fitted before
            raise
        self.net.to("cpu").eval()
        self._frames, self._exog = dict(frames), exog_frames
        self.metrics = validation_metrics(
            inputs, panel.val_ends, self._predict_rows, target_coin=cfg.target_coin
        )
        return self

    def _fitted_state(
        self, frames: dict[str, pd.DataFrame], exog: dict[str, pd.DataFrame],
        inputs: dict[str, CoinInputs], panel: Panel,
    ) -> FittedState:  # fmt: skip
        """What this fit leaves besides the weights."""
        return FittedState(
            coins=list(frames),
            features=self.config.inputs(),
            scalers=panel.scalers,
            data={c: data_info(f) for c, f in frames.items() if c not in panel.skipped},
            exog_data={c: data_info(f) for c, f in exog.items() if c not in frames},
            skipped=panel.skipped,
            dropped={c: ci.dropped for c, ci in inputs.items()},
        )

    def _new_net(self) -> LSTMNet:
        return LSTMNet.from_config(self.config, n_coins=len(self.coins))

    @property
    def device(self) -> torch.device:
        """Where it trains: the config's device (``auto``: CUDA when available, else CPU);
        an error listing the devices here when this machine lacks it."""
        return resolve_device(self.config.device)

    @property
    def feature_scaler(self) -> Scaler:
        """The feature scaler of the coin forecast by default."""
        return self.scalers[self.forecast_coin(None)].features

    @property
    def target_scaler(self) -> Scaler:
        """The target scaler of the coin forecast by default."""
        return self.scalers[self.forecast_coin(None)].target

    def fingerprint(self) -> str:
        """Hash of the config and the training data (checkpoints must match it)."""
        # More epochs may resume a run, except under a cosine schedule, whose length they set.
        free = {"log_every", "threads", "device"}
        if self.config.lr_schedule != "cosine":
            free.add("epochs")
        text = self.config.model_dump_json(exclude=free)
        for c, d in (self.data | self.exog_data).items():
            text += f"|{c}:{d.get('sha256')}"
        return hashlib.sha256(text.encode()).hexdigest()

    def update(
        self, data: Frames, *, exog: Mapping[str, pd.DataFrame] | None = None
    ) -> LSTMForecaster:
        """Forecast from ``data`` (e.g. data up to a later cutoff) without training."""
        self._fitted()
        frames = as_frames(data)
        self._frames.update(frames)
        self._exog.update({c: f for c, f in frames.items() if c in self.config.exog})
        self._exog.update({c: validate_candles(f) for c, f in (exog or {}).items()})
        return self

    # -- saving -------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write this fitted model as a run folder (:func:`coincast.models.runs.save_run`).

        Examples
        --------
        >>> import tempfile
        >>> from coincast.data.sources import predictable_candles
        >>> f = LSTMForecaster(epochs=1, hidden=8, layers=1, log_every=0)
        >>> folder = f.fit(predictable_candles(200)).save(Path(tempfile.mkdtemp()) / "demo")
        >>> LSTMForecaster.load(folder).config.hidden
        8
        """
        from .runs import save_run

        return save_run(self, folder)

    @classmethod
    def load(cls, folder: str | Path) -> LSTMForecaster:
        """A model saved by :meth:`save` or :func:`~coincast.models.runs.save_run`, checked
        before its weights are read (:func:`coincast.models.runs.load_run`)."""
        from .runs import load_run

        return load_run(folder)
