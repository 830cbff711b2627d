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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..dataset.panel import (
    CoinInputs,
    Frames,
    Scalers,
    as_frames,
    build_panel,
    coin_inputs,
    data_info,
    set_threads,
)
from ..dataset.windows import Scaler, Windows, run_net
from ..errors import CoincastError
from ..intervals import interval_ms
from ..series import describe, ms_from_index, validate_candles
from .config import LSTMConfig, _first_error
from .inference import direct, recursive, to_price, validation_metrics
from .lstm import LSTMNet, loss_fn, point_of
from .training import EpochRecord, TrainResult, train

__all__ = ["LSTMConfig", "LSTMForecaster", "WindowInputs", "data_info"]


@dataclass
class WindowInputs:
    """One input window as the network sees it (see :meth:`LSTMForecaster.window_inputs`)."""

    x: torch.Tensor  #: (1, lookback, inputs), scaled
    coin: torch.Tensor | None  #: (1,) coin index for a network with a coin embedding, else None
    index: pd.DatetimeIndex  #: the bars of the window
    features: list[str]  #: names of the columns of ``x``
    last_close: float  #: close of the last bar


class LSTMForecaster:
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

    def __init__(self, config: LSTMConfig | None = None, **overrides: object) -> None:
        base = config.model_dump() if config is not None else {}
        try:
            self.config = LSTMConfig(**{**base, **overrides})
        except ValueError as exc:
            raise CoincastError(_first_error(exc)) from None
        self.net: LSTMNet | None = None
        self.coins: list[str] = []  #: coins trained on, in coin-embedding order
        self.scalers: dict[str, Scalers] = {}  #: per coin, fit on its training slice
        self.result = TrainResult()
        self.data: dict[str, dict[str, object]] = {}  #: per coin trained on: data_info
        self.exog_data: dict[str, dict[str, object]] = {}  #: per exog-only coin
        self.metrics: dict[str, float | None] = {}
        self.skipped: list[str] = []  #: coins left out for too short a history
        self.dropped: dict[str, int] = {}  #: per coin, bars without matching exog bars
        self._frames: dict[str, pd.DataFrame] = {}
        self._exog: dict[str, pd.DataFrame] = {}

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
        """
        cfg = self.config
        frames = as_frames(data)
        exog_frames = self._exog_frames(frames, exog)
        forecast = self._forecast_coins(frames)
        cfg.threads = set_threads(cfg.threads)  # recorded: results depend on it
        inputs = {c: self._coin_inputs(c, f, exog_frames) for c, f in frames.items()}
        embed = cfg.coin_embedding and len(frames) > 1
        panel = build_panel(
            inputs, forecast, lookback=cfg.lookback, horizon=cfg.trained_horizon,
            target=cfg.target, fraction=cfg.val_fraction, on_short=cfg.on_short, embed=embed,
        )  # fmt: skip
        if not (warm_start and self.net is not None and self.coins == list(frames)):
            torch.manual_seed(cfg.seed)
            self.coins = list(frames)
            self.net = self._new_net()
        self.scalers, self.skipped = panel.scalers, panel.skipped
        self.dropped = {c: ci.dropped for c, ci in inputs.items()}
        self.data = {c: data_info(f) for c, f in frames.items() if c not in self.skipped}
        self.exog_data = {c: data_info(f) for c, f in exog_frames.items() if c not in frames}
        settings = cfg.training()
        if epochs is not None:
            settings.epochs = epochs
        self.result = train(
            self.net, panel.train, panel.val, loss_fn(cfg.head, cfg.quantiles), settings,
            device=self.device, on_epoch=on_epoch, checkpoint_dir=checkpoint_dir,
            resume=resume, fingerprint=self.fingerprint(), keep_start=warm_start,
        )  # fmt: skip
        self.net.to("cpu").eval()
        self._frames, self._exog = dict(frames), exog_frames
        self.metrics = validation_metrics(inputs, panel.val_ends, self._predict_rows)
        return self

    def _exog_frames(
        self, frames: dict[str, pd.DataFrame], exog: Mapping[str, pd.DataFrame] | None
    ) -> dict[str, pd.DataFrame]:
        out = {}
        for c in self.config.exog:
            f = (exog or {}).get(c)
            if f is None:
                f = frames.get(c)
            if f is None:
                raise CoincastError(
                    f"--exog {c}: no candles of {c} were given; fetch {c} at the same "
                    "interval (its returns are inputs at every bar)"
                )
            out[c] = validate_candles(f)
        return out

    def _forecast_coins(self, frames: dict[str, pd.DataFrame]) -> list[str]:
        target = self.config.target_coin
        if target is None:
            return list(frames)
        if target not in frames:
            raise CoincastError(
                f"--target {target} is not among the coins trained on ({', '.join(frames)}); "
                "list it too"
            )
        return [target]

    def _coin_inputs(
        self, coin: str, frame: pd.DataFrame, exog: Mapping[str, pd.DataFrame]
    ) -> CoinInputs:
        cfg = self.config
        exog = {c: frame if c == coin else exog[c] for c in cfg.exog}  # a coin's own: as given
        return coin_inputs(coin, frame, list(cfg.features), cfg.target, exog)

    def _new_net(self) -> LSTMNet:
        cfg = self.config
        embed = cfg.coin_embedding and len(self.coins) > 1
        return LSTMNet(
            len(cfg.inputs()), cfg.hidden, cfg.layers, cfg.dropout, cfg.trained_horizon,
            cfg.head, cfg.quantiles, n_coins=max(len(self.coins), 1),
            embed_dim=cfg.embed_dim if embed else 0,
        )  # fmt: skip

    @property
    def device(self) -> torch.device:
        """CUDA when available and not disabled, else CPU."""
        if self.config.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.config.device)

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

    # -- predicting ------------------------------------------------------------------------------

    def forecast_coin(self, coin: str | None = None, frame: pd.DataFrame | None = None) -> str:
        """The coin to forecast: ``coin``, the frame's coin, the target coin or the only one."""
        if not self.coins:
            raise CoincastError("the forecaster is not fitted yet: call fit(frame) first")
        if len(self.coins) == 1 and coin is None:
            return self.coins[0]  # a one-coin model may be applied to any coin's candles
        if coin is None and frame is not None and frame.attrs.get("coin") in self.scalers:
            coin = frame.attrs["coin"]
        coin = coin or self.config.target_coin
        if coin is None:
            raise CoincastError(
                f"this model forecasts {len(self.coins)} coins ({', '.join(self.coins)}); "
                "say which: --coin COIN"
            )
        if coin not in self.scalers:
            known = ", ".join(c for c in self.coins if c in self.scalers)
            if coin in self.skipped:
                raise CoincastError(
                    f"--coin {coin} was skipped in training (too short a history for the "
                    f"lookback); this model forecasts {known}"
                )
            raise CoincastError(
                f"--coin {coin} is not one of the coins this model was trained on: {known}"
            )
        return coin

    def _inputs_for(
        self, coin: str, frame: pd.DataFrame, exog: Mapping[str, pd.DataFrame] | None
    ) -> CoinInputs:
        have = {**self._exog, **(exog or {})}
        missing = [c for c in self.config.exog if c != coin and c not in have]
        if missing:
            raise CoincastError(
                f"this model reads the returns of {', '.join(missing)} as inputs: pass their "
                "candles (exog=) or fetch them"
            )
        return self._coin_inputs(coin, validate_candles(frame), have)

    @torch.no_grad()
    def predict_at(
        self,
        frame: pd.DataFrame,
        ends: np.ndarray,
        *,
        coin: str | None = None,
        exog: Mapping[str, pd.DataFrame] | None = None,
    ) -> np.ndarray:
        """Point forecasts in price space, ``(len(ends), trained horizon)``, from the windows
        ending at rows ``ends`` of ``frame`` (only rows ``<= end`` are used)."""
        self._fitted()
        coin = self.forecast_coin(coin, frame)
        ci = self._inputs_for(coin, frame, exog)
        rows = ci.frame.index.get_indexer(frame.index[np.asarray(ends)])
        if (rows < 0).any():
            raise CoincastError(
                f"{describe(frame)}: some bars have no bar of {', '.join(self.config.exog)} "
                "at the same time, so no forecast can be made from them"
            )
        return self._predict_rows(ci, rows, coin)

    @torch.no_grad()
    def _predict_rows(self, ci: CoinInputs, ends: np.ndarray, coin: str) -> np.ndarray:
        net, sc, cfg = self._fitted(), self.scalers[coin], self.config
        coins = np.full(len(ends), self.coins.index(coin)) if net.embed is not None else None
        windows = Windows(sc.features.transform(ci.x), None, ends, self.config.lookback, coins)
        out = []
        for i in range(0, len(windows), 4096):
            xb, _ = windows.batch(torch.arange(i, min(i + 4096, len(windows))))
            pred = run_net(net, xb)
            out.append(point_of(pred, self.config.head, self.config.quantiles).numpy())
        z = np.concatenate(out) if out else np.empty((0, self.config.trained_horizon))
        return to_price(sc.target.inverse(z), ci.frame["close"].to_numpy()[ends], cfg.target)

    @torch.no_grad()
    def predict(
        self,
        horizon: int | None = None,
        frame: pd.DataFrame | None = None,
        *,
        coin: str | None = None,
        exog: Mapping[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` bars after the last row of ``frame`` (default: the
        candles the model was fit on or last updated with).

        ``coin`` picks the coin of a model trained on several (default: the target coin, or
        the coin of ``frame``); ``exog`` gives the exog coins' candles up to the same bar.

        Returns
        -------
        DataFrame
            Indexed by the future bar starts ``ts``: ``yhat`` (point forecast of the close),
            ``lo`` and ``hi`` (the band of a quantile or Gaussian head; NaN for a point head).
        """
        net = self._fitted()
        cfg = self.config
        horizon = cfg.horizon if horizon is None else horizon
        if not 1 <= horizon <= cfg.horizon:
            raise CoincastError(
                f"horizon ({horizon}) must be between 1 and the trained horizon ({cfg.horizon})"
            )
        coin = self.forecast_coin(coin, frame)
        if frame is None:
            frame = self._frames.get(coin)
        if frame is None:
            raise CoincastError(
                "this model was loaded from a run folder: pass frame=, the candles to forecast from"
            )
        ci = self._inputs_for(coin, frame, exog)
        self._check_last_bar(ci, frame)
        if len(ci.x) - ci.warm < cfg.lookback:
            raise CoincastError(
                f"lookback ({cfg.lookback}) + feature warm-up ({ci.warm}) needs "
                f"{cfg.lookback + ci.warm} rows; {describe(frame)} has {len(ci.x)}. "
                "Fetch more history"
            )
        sc = self.scalers[coin]
        if not ci.complete[-cfg.lookback :].all():
            raise CoincastError(
                f"the last {cfg.lookback} bars of {describe(frame)} include a return of "
                f"{', '.join(cfg.exog)} after a gap (undefined); fetch the missing bars"
            )
        xs = sc.features.transform(ci.x[-cfg.lookback :])
        k = self.coins.index(coin) if net.embed is not None else None
        if cfg.recursive:
            mid, lo, hi = recursive(net, xs, k, sc, horizon, cfg.target)
        else:
            mid, lo, hi = direct(net, xs, k, sc.target, cfg.head, cfg.quantiles)
        last_close = float(frame["close"].iloc[-1])
        cols = {k: to_price(v[None, :horizon], np.array([last_close]), cfg.target)[0] for k, v in
                (("yhat", mid), ("lo", lo), ("hi", hi))}  # fmt: skip
        step = interval_ms(frame.attrs["interval"])
        last_ms = int(ms_from_index(frame.index)[-1])
        index = pd.DatetimeIndex(
            pd.to_datetime(last_ms + step * np.arange(1, horizon + 1), unit="ms", utc=True),
            name="ts",
        )
        out = pd.DataFrame(cols, index=index)
        out.attrs.update(frame.attrs, last_ts=frame.index[-1], last_close=last_close)
        return out

    def _check_last_bar(self, ci: CoinInputs, frame: pd.DataFrame) -> None:
        if len(frame) and (not len(ci.frame) or ci.frame.index[-1] != frame.index[-1]):
            raise CoincastError(
                f"{', '.join(self.config.exog)} has no bar at {frame.index[-1]}, the last bar "
                f"of {frame.attrs.get('coin')}; fetch it up to the same time"
            )

    @torch.no_grad()
    def window_inputs(
        self,
        frame: pd.DataFrame,
        end: pd.Timestamp | str | None = None,
        *,
        coin: str | None = None,
        exog: Mapping[str, pd.DataFrame] | None = None,
    ) -> WindowInputs:
        """The scaled input window the network reads to forecast after bar ``end`` (default:
        the last bar of ``frame``), e.g. to look inside the LSTM (:mod:`coincast.explain`)."""
        net = self._fitted()
        cfg = self.config
        coin = self.forecast_coin(coin, frame)
        ci = self._inputs_for(coin, frame, exog)
        row = len(ci.frame) - 1
        if end is not None:
            ts = pd.Timestamp(end)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            row = int(ci.frame.index.searchsorted(ts, side="right")) - 1
            if row < 0 or ci.frame.index[row] != ts:
                raise CoincastError(
                    f"{describe(frame)} has no bar at {ts}; pick a bar between "
                    f"{frame.index[0]} and {frame.index[-1]}"
                )
        if row - cfg.lookback + 1 < ci.warm or not len(ci.whole(np.array([row]), cfg.lookback)):
            raise CoincastError(
                f"the window ending {ci.frame.index[row]} needs {cfg.lookback} rows with every "
                f"input defined, after the feature warm-up ({ci.warm}); pick a later bar"
            )
        rows = slice(row - cfg.lookback + 1, row + 1)
        xs = self.scalers[coin].features.transform(ci.x[rows])
        k = self.coins.index(coin)
        return WindowInputs(
            x=torch.as_tensor(xs[None], dtype=torch.float32),
            coin=torch.tensor([k]) if net.embed is not None else None,
            index=ci.frame.index[rows],
            features=cfg.inputs(),
            last_close=float(ci.frame["close"].iloc[row]),
        )

    def _fitted(self) -> LSTMNet:
        if self.net is None or not self.scalers:
            raise CoincastError("the forecaster is not fitted yet: call fit(frame) first")
        return self.net
