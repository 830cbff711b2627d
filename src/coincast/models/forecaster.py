"""The user-facing LSTM forecaster: a validated config, ``fit(frame)``, ``predict(horizon)``.

By default the LSTM learns log returns (cumulative from the last close, one output per
horizon step), so the price scale is never extrapolated: the usual recipe of min-max scaling
the price level fails as soon as the test prices leave the training range, which for crypto
is most of the time. ``target="price"`` is there to show that.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import CoincastError
from ..features import check_features, compute_features, first_complete_row
from ..intervals import interval_ms
from ..series import describe, ms_from_index, validate_candles
from ..training import EpochRecord, TrainResult, TrainSettings, train
from ..windows import Scaler, Windows, need_rows, target_level, targets_at, window_ends
from .lstm import DEFAULT_QUANTILES, LSTMNet, loss_fn, point_of

Z90 = 1.6448536269514722  # the Gaussian head's lo/hi: a central 90 % interval


class LSTMConfig(BaseModel):
    """Everything that defines an LSTM run; stored whole in ``run.json``."""

    model_config = ConfigDict(extra="forbid")

    lookback: int = Field(30, ge=1, description="input steps per window")
    horizon: int = Field(1, ge=1, description="steps forecast at once")
    hidden: int = Field(64, ge=1, description="LSTM hidden units per layer")
    layers: int = Field(2, ge=1, description="stacked LSTM layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout between LSTM layers")
    epochs: int = Field(50, ge=1, description="maximum epochs")
    batch: int = Field(64, ge=1, description="windows per mini-batch")
    lr: float = Field(1e-3, gt=0.0, description="Adam learning rate")
    target: Literal["returns", "price"] = Field("returns", description="what the LSTM learns")
    head: Literal["point", "quantile", "gaussian"] = Field("point", description="output head")
    quantiles: tuple[float, ...] = Field(DEFAULT_QUANTILES, description="quantile head levels")
    features: list[str] | None = Field(None, description="inputs; default by target")
    recursive: bool = Field(False, description="one-step model applied step by step")
    val_fraction: float = Field(0.1, ge=0.0, lt=0.9, description="last windows for validation")
    patience: int = Field(10, ge=1, description="early-stopping patience in epochs")
    clip: float = Field(1.0, gt=0.0, description="max gradient norm")
    lr_schedule: Literal["none", "cosine", "plateau"] = "none"
    seed: int = Field(0, description="same seed and data give the same model")
    threads: int | None = Field(None, ge=1, description="CPU threads (default: all cores)")
    device: str = Field("auto", description="auto, cpu or cuda")
    log_every: int = Field(10, ge=0, description="epochs between loss lines (0: none)")

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, q: tuple[float, ...]) -> tuple[float, ...]:
        if not q or any(not 0 < x < 1 for x in q) or list(q) != sorted(set(q)):
            raise ValueError("quantiles must be increasing, distinct and inside (0, 1)")
        return q

    @model_validator(mode="after")
    def _defaults(self) -> LSTMConfig:
        if self.features is None:
            self.features = ["log_return"] if self.target == "returns" else ["close"]
        try:
            check_features(self.features)
        except CoincastError as exc:
            raise ValueError(str(exc)) from None
        if self.recursive and self.features != _own_feature(self.target):
            raise ValueError(
                f"recursive mode feeds forecasts back as inputs, so features must be "
                f"{_own_feature(self.target)} for target {self.target!r}"
            )
        return self

    def training(self) -> TrainSettings:
        """The optimisation settings."""
        return TrainSettings(
            self.epochs, self.batch, self.lr, self.clip, self.patience,
            self.lr_schedule, self.seed, self.log_every,
        )  # fmt: skip

    @property
    def trained_horizon(self) -> int:
        """Steps the network outputs: 1 in recursive mode."""
        return 1 if self.recursive else self.horizon


def _own_feature(target: str) -> list[str]:
    return ["log_return"] if target == "returns" else ["close"]


@dataclass
class WindowInputs:
    """One input window as the network sees it (see :meth:`LSTMForecaster.window_inputs`)."""

    x: torch.Tensor  #: (1, lookback, features), scaled
    coin: torch.Tensor | None  #: (1,) coin index for a multi-coin network, else None
    index: pd.DatetimeIndex  #: the bars of the window
    features: list[str]  #: names of the columns of ``x``
    last_close: float  #: close of the last bar


class LSTMForecaster:
    """Forecast a coin's next ``horizon`` closes with an LSTM.

    Examples
    --------
    >>> from coincast.sources import predictable_candles
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
        self.feature_scaler: Scaler | None = None
        self.target_scaler: Scaler | None = None
        self.result = TrainResult()
        self.data: dict[str, object] = {}
        self.metrics: dict[str, float | None] = {}
        self._frame: pd.DataFrame | None = None

    # -- fitting -------------------------------------------------------------------------------

    def fit(
        self,
        frame: pd.DataFrame,
        *,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        checkpoint_dir: Path | None = None,
        resume: bool = False,
        warm_start: bool = False,
        epochs: int | None = None,
    ) -> LSTMForecaster:
        """Train on ``frame`` (a canonical candle frame); the last ``val_fraction`` of the
        windows is the validation slice for early stopping. Returns ``self``.

        ``warm_start`` continues from the current weights (a backtest's refit) instead of new
        ones; ``epochs`` overrides the config's epochs for this call. Scalers are always fit
        anew on this frame's training slice."""
        cfg = self.config
        validate_candles(frame)
        cfg.threads = _set_threads(cfg.threads)  # recorded: results depend on it
        x, level, warm = self._inputs(frame)
        h = cfg.trained_horizon
        need_rows(cfg.lookback, h, warm, describe(frame), len(frame))
        ends = window_ends(warm, len(frame) - 1, cfg.lookback, h)
        train_ends, val_ends = _split(ends, cfg.val_fraction, h)
        if len(train_ends) < 1:
            raise CoincastError(
                f"{describe(frame)}: no training windows are left after the validation slice; "
                "fetch more history, or lower --lookback or --val-fraction"
            )
        first_val_row = int(val_ends[0]) + 1 if len(val_ends) else len(frame)
        # Scalers see only rows before the first validation target: no leakage.
        self.feature_scaler = Scaler.fit(x[warm:first_val_row])
        y_train = targets_at(level, train_ends, h, cfg.target)
        self.target_scaler = Scaler.fit(y_train)
        xs = self.feature_scaler.transform(x)
        train_set = Windows(xs, self.target_scaler.transform(y_train), train_ends, cfg.lookback)
        val_set = None
        if len(val_ends):
            y_val = self.target_scaler.transform(targets_at(level, val_ends, h, cfg.target))
            val_set = Windows(xs, y_val, val_ends, cfg.lookback)
        if not (warm_start and self.net is not None):
            torch.manual_seed(cfg.seed)
            self.net = self._new_net(x.shape[1])
        self.data = data_info(frame)
        settings = cfg.training()
        if epochs is not None:
            settings.epochs = epochs
        self.result = train(
            self.net,
            train_set,
            val_set,
            loss_fn(cfg.head, cfg.quantiles),
            settings,
            device=self.device,
            on_epoch=on_epoch,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            fingerprint=self.fingerprint(),
            keep_start=warm_start,
        )
        self.net.to("cpu").eval()
        self._frame = frame
        self.metrics = self._validation_metrics(frame, val_ends)
        return self

    def _inputs(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
        x = compute_features(frame, self.config.features)
        return x, target_level(frame["close"].to_numpy(), self.config.target), first_complete_row(x)

    def _new_net(self, input_size: int) -> LSTMNet:
        cfg = self.config
        return LSTMNet(
            input_size,
            cfg.hidden,
            cfg.layers,
            cfg.dropout,
            cfg.trained_horizon,
            cfg.head,
            cfg.quantiles,
        )

    @property
    def device(self) -> torch.device:
        """CUDA when available and not disabled, else CPU."""
        if self.config.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.config.device)

    def fingerprint(self) -> str:
        """Hash of the config and the training data (checkpoints must match it)."""
        # More epochs may resume a run, except under a cosine schedule, whose length they set.
        free = {"log_every", "threads", "device"}
        if self.config.lr_schedule != "cosine":
            free.add("epochs")
        text = self.config.model_dump_json(exclude=free)
        return hashlib.sha256((text + str(self.data.get("sha256"))).encode()).hexdigest()

    def _validation_metrics(
        self, frame: pd.DataFrame, val_ends: np.ndarray
    ) -> dict[str, float | None]:
        """Step-1 MAE on the validation slice against the naive forecast (close[t+1] = close[t]).

        The validation slice chose the stopping epoch, so this is optimistic: the honest test
        is a walk-forward backtest on data the model never saw.
        """
        if not len(val_ends):
            return {"val_mae": None, "val_naive_mae": None, "val_rel_mae": None}
        close = frame["close"].to_numpy(dtype="float64")
        pred = self.predict_at(frame, val_ends)[:, 0]
        actual, naive = close[val_ends + 1], close[val_ends]
        mae, naive_mae = (
            float(np.mean(np.abs(pred - actual))),
            float(np.mean(np.abs(naive - actual))),
        )
        return {
            "val_mae": mae,
            "val_naive_mae": naive_mae,
            "val_rel_mae": mae / naive_mae if naive_mae > 0 else None,
        }

    def update(self, frame: pd.DataFrame) -> LSTMForecaster:
        """Forecast from ``frame`` (e.g. data up to a later cutoff) without training."""
        self._fitted()
        self._frame = validate_candles(frame)
        return self

    # -- predicting ------------------------------------------------------------------------------

    @torch.no_grad()
    def predict_at(self, frame: pd.DataFrame, ends: np.ndarray) -> np.ndarray:
        """Point forecasts in price space, ``(len(ends), trained horizon)``, from the windows
        ending at rows ``ends`` of ``frame`` (only rows ``<= end`` are used)."""
        net = self._fitted()
        x, _, _ = self._inputs(frame)
        xs = self.feature_scaler.transform(x)
        windows = Windows(xs, None, np.asarray(ends), self.config.lookback)
        out = []
        for i in range(0, len(windows), 4096):
            xb, _ = windows.batch(torch.arange(i, min(i + 4096, len(windows))))
            out.append(point_of(net(xb), self.config.head, self.config.quantiles).numpy())
        z = np.concatenate(out) if out else np.empty((0, self.config.trained_horizon))
        return self._to_price(self.target_scaler.inverse(z), frame["close"].to_numpy()[ends])

    def _to_price(self, y: np.ndarray, last_close: np.ndarray) -> np.ndarray:
        if self.config.target == "returns":
            return np.asarray(last_close)[:, None] * np.exp(y)  # targets are cumulative log returns
        return y

    @torch.no_grad()
    def predict(
        self, horizon: int | None = None, frame: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` bars after the last row of ``frame`` (default: the frame
        the model was fit on).

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
        if frame is None and self._frame is None:
            raise CoincastError(
                "this model was loaded from a run folder: pass frame=, the candles to forecast from"
            )
        frame = self._frame if frame is None else validate_candles(frame)
        x, _, warm = self._inputs(frame)
        if len(frame) - warm < cfg.lookback:
            raise CoincastError(
                f"lookback ({cfg.lookback}) + feature warm-up ({warm}) needs {cfg.lookback + warm} "
                f"rows; {describe(frame)} has {len(frame)}. Fetch more history"
            )
        xs = self.feature_scaler.transform(x[-cfg.lookback :])
        if cfg.recursive:
            mid, lo, hi = self._recursive(net, xs, horizon)
        else:
            mid, lo, hi = self._direct(net, xs)
        last_close = float(frame["close"].iloc[-1])
        cols = {k: self._to_price(v[None, :horizon], np.array([last_close]))[0] for k, v in
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

    def _direct(self, net: LSTMNet, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        pred = net(torch.as_tensor(xs[None], dtype=torch.float32))[0]  # (H,) | (H, Q) | (H, 2)
        mean, std = self.target_scaler.mean, self.target_scaler.std
        if cfg.head == "point":
            mid = pred.numpy() * std + mean
            return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)
        if cfg.head == "quantile":
            q = pred.sort(dim=-1).values.numpy() * std[:, None] + mean[:, None]  # (H, Q)
            mid = point_of(pred[None], "quantile", cfg.quantiles)[0].numpy() * std + mean
            return mid, q[:, 0], q[:, -1]
        mu = pred[:, 0].numpy()
        sigma = np.exp(0.5 * pred[:, 1].clamp(-12, 12).numpy())
        return mu * std + mean, (mu - Z90 * sigma) * std + mean, (mu + Z90 * sigma) * std + mean

    def _recursive(self, net: LSTMNet, xs: np.ndarray, horizon: int):
        """Apply the one-step model ``horizon`` times, feeding each forecast back as input."""
        cfg, fs = self.config, self.feature_scaler
        window, total, mids = xs.copy(), 0.0, []
        for _ in range(horizon):
            mid, _, _ = self._direct(net, window)
            step = float(mid[0])
            if cfg.target == "returns":
                total += step  # one-step log returns add up to the cumulative return
                mids.append(total)
                new = step
            else:
                mids.append(step)
                new = step
            window = np.vstack([window[1:], fs.transform(np.array([[new]]))])
        mid = np.array(mids)
        return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)

    @torch.no_grad()
    def window_inputs(
        self, frame: pd.DataFrame, end: pd.Timestamp | str | None = None
    ) -> WindowInputs:
        """The scaled input window the network reads to forecast after bar ``end`` (default:
        the last bar of ``frame``), e.g. to look inside the LSTM (:mod:`coincast.explain`)."""
        self._fitted()
        cfg = self.config
        frame = validate_candles(frame)
        x, _, warm = self._inputs(frame)
        row = len(frame) - 1
        if end is not None:
            ts = pd.Timestamp(end)
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            row = int(frame.index.searchsorted(ts, side="right")) - 1
            if row < 0 or frame.index[row] != ts:
                raise CoincastError(
                    f"{describe(frame)} has no bar at {ts}; pick a bar between "
                    f"{frame.index[0]} and {frame.index[-1]}"
                )
        if row - cfg.lookback + 1 < warm:
            raise CoincastError(
                f"the window ending {frame.index[row]} needs {cfg.lookback} rows after the "
                f"feature warm-up ({warm}); pick a later bar"
            )
        rows = slice(row - cfg.lookback + 1, row + 1)
        xs = self.feature_scaler.transform(x[rows])
        return WindowInputs(
            x=torch.as_tensor(xs[None], dtype=torch.float32),
            coin=None,
            index=frame.index[rows],
            features=list(cfg.features),
            last_close=float(frame["close"].iloc[row]),
        )

    def _fitted(self) -> LSTMNet:
        if self.net is None or self.feature_scaler is None or self.target_scaler is None:
            raise CoincastError("the forecaster is not fitted yet: call fit(frame) first")
        return self.net


def _split(ends: np.ndarray, fraction: float, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Last ``fraction`` of window ends for validation; training windows whose targets would
    reach into the validation slice are dropped."""
    n_val = round(len(ends) * fraction)
    if fraction > 0 and len(ends) >= 10:
        n_val = max(n_val, 1)
    if n_val == 0:
        return ends, ends[:0]
    val = ends[-n_val:]
    train = ends[ends + horizon <= val[0]]  # every training target at or before row val[0]
    return train, val


def data_info(frame: pd.DataFrame) -> dict[str, object]:
    """Source, coin, interval, range, rows and a SHA-256 of the candles a model saw."""
    a = frame.attrs
    digest = hashlib.sha256(ms_from_index(frame.index).tobytes())
    digest.update(
        np.ascontiguousarray(frame[["open", "high", "low", "close", "volume"]].to_numpy()).tobytes()
    )
    return {
        "source": a["source"],
        "coin": a["coin"],
        "quote": a["quote"],
        "interval": a["interval"],
        "start": frame.index[0].isoformat() if len(frame) else None,
        "end": frame.index[-1].isoformat() if len(frame) else None,
        "rows": len(frame),
        "sha256": digest.hexdigest(),
    }


def _set_threads(threads: int | None) -> int:
    """Use ``threads``, by default every core; return the number used.

    The count is part of what makes a run reproducible (float sums split across threads
    round differently), so it is recorded in the config. On a 2-core machine two threads
    train 1.3x faster than one when idle, but 2.8x slower than one while another process
    keeps a core busy: pass ``threads=1`` on a busy machine.
    """
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        e = errors()[0]
        where = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", exc)).removeprefix("Value error, ")
        if not where:  # a whole-config rule: its message names the setting
            return msg
        return f"{where}: {msg} (got {e.get('input')!r})"
    return str(exc)
