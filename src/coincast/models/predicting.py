"""How a fitted :class:`~coincast.models.forecaster.LSTMForecaster` forecasts: the
coin to forecast, its inputs, the last window, the point forecast over many cutoffs
(``predict_rows``), ``predict`` and ``window_inputs``. The forecaster inherits these from
:class:`Predicting`; fitting, saving and loading stay in :mod:`coincast.models.forecaster`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..dataset.panel import CoinInputs, Scalers, coin_inputs
from ..dataset.windows import Windows, run_net
from ..errors import CoincastError
from ..series import describe, validate_candles
from .config import LSTMConfig
from .heads import Forecast, Head, get_head
from .inference import direct, forecast_frame, recursive, to_price
from .lstm import LSTMNet
from .state import FittedState

if TYPE_CHECKING:
    from ..data.store import Store
    from .run_data import Timestamps


@dataclass
class WindowInputs:
    """One input window as the network sees it (see :meth:`LSTMForecaster.window_inputs`)."""

    x: torch.Tensor  #: (1, lookback, inputs), scaled
    coin: torch.Tensor | None  #: (1,) coin index for a network with a coin embedding, else None
    index: pd.DatetimeIndex  #: the bars of the window
    features: list[str]  #: names of the columns of ``x``
    last_close: float  #: close of the last bar


class Predicting:
    """The forecasting half of :class:`~coincast.models.forecaster.LSTMForecaster`, which
    sets the attributes below when it is made and fitted."""

    config: LSTMConfig
    net: LSTMNet | None
    state: FittedState
    coins: list[str]
    scalers: dict[str, Scalers]
    _frames: dict[str, pd.DataFrame]
    _exog: dict[str, pd.DataFrame]

    @property
    def head(self) -> Head:
        """The output head of the config: its loss, point forecast and band."""
        return get_head(self.config.head, self.config.quantiles)

    def _coin_inputs(
        self, coin: str, frame: pd.DataFrame, exog: Mapping[str, pd.DataFrame]
    ) -> CoinInputs:
        cfg = self.config
        exog = {c: frame if c == coin else exog[c] for c in cfg.exog}  # a coin's own: as given
        return coin_inputs(coin, frame, list(cfg.features), cfg.target, exog)

    def forecast_coin(self, coin: str | None = None, frame: pd.DataFrame | None = None) -> str:
        """The coin to forecast: ``coin``, the frame's coin, the target coin or the only one."""
        return self.state.forecast_coin(coin, frame, self.config.target_coin)

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

    def predict_at(
        self,
        data: pd.DataFrame | Store,
        timestamps: Timestamps,
        *,
        horizon: int | None = None,
        coin: str | None = None,
        exog: Mapping[str, pd.DataFrame] | None = None,
    ) -> pd.DataFrame:
        """Forecasts made at each of ``timestamps`` (cutoffs: each from the bars up to and
        including it, never a later one), from a candle frame or a store: one row per cutoff
        and step, indexed by ``cutoff``, columns ``step ts yhat lo hi`` as :meth:`predict`.
        See :func:`coincast.models.run_data.predict_at`.

        Examples
        --------
        >>> from coincast.data.sources import predictable_candles
        >>> from coincast.models import LSTMForecaster
        >>> frame = predictable_candles(200)
        >>> f = LSTMForecaster(epochs=1, hidden=8, layers=1, log_every=0).fit(frame)
        >>> f.predict_at(frame, frame.index[-3:]).columns.tolist()
        ['step', 'ts', 'yhat', 'lo', 'hi']
        """
        from .run_data import predict_at  # run_data reads the store and imports this module

        return predict_at(self, data, timestamps, horizon=horizon, coin=coin, exog=exog)

    @torch.no_grad()
    def predict_rows(
        self,
        frame: pd.DataFrame,
        ends: np.ndarray,
        *,
        coin: str | None = None,
        exog: Mapping[str, pd.DataFrame] | None = None,
    ) -> np.ndarray:
        """Point forecasts in price space, ``(len(ends), trained horizon)``, from the windows
        ending at rows ``ends`` of ``frame`` (only rows ``<= end`` are used): the fast path
        over many cutoffs, by row number (:meth:`predict_at` takes timestamps)."""
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
        net, sc, cfg, head = self._fitted(), self.scalers[coin], self.config, self.head
        coins = np.full(len(ends), self.coins.index(coin)) if net.embed is not None else None
        windows = Windows(sc.features.transform(ci.x), None, ends, cfg.lookback, coins)
        out = []
        for i in range(0, len(windows), 4096):
            xb, _ = windows.batch(torch.arange(i, min(i + 4096, len(windows))))
            out.append(head.point(run_net(net, xb)).numpy())  # (B, H)
        z = np.concatenate(out) if out else np.empty((0, cfg.trained_horizon))
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
        self._fitted()
        horizon = self._check_horizon(horizon)
        coin = self.forecast_coin(coin, frame)
        frame = self._frame_of(coin, frame)
        ci = self._inputs_for(coin, frame, exog)
        self._check_last_bar(ci, frame)
        values = self._forecast(self._last_window(ci, frame, coin), coin, horizon)
        return forecast_frame(values, frame, self.config.target)

    def _check_horizon(self, horizon: int | None) -> int:
        trained = self.config.horizon
        horizon = trained if horizon is None else horizon
        if not 1 <= horizon <= trained:
            raise CoincastError(
                f"horizon ({horizon}) must be between 1 and the trained horizon ({trained})"
            )
        return horizon

    def _frame_of(self, coin: str, frame: pd.DataFrame | None) -> pd.DataFrame:
        """``frame``, or else the candles of ``coin`` the model was fit on or updated with."""
        if frame is None:
            frame = self._frames.get(coin)
        if frame is None:
            raise CoincastError(
                "this model was loaded from a run folder: pass frame=, the candles to forecast from"
            )
        return frame

    def _last_window(self, ci: CoinInputs, frame: pd.DataFrame, coin: str) -> np.ndarray:
        """The scaled inputs of the last ``lookback`` bars, (lookback, F)."""
        cfg = self.config
        if len(ci.x) - ci.warm < cfg.lookback:
            raise CoincastError(
                f"lookback ({cfg.lookback}) + feature warm-up ({ci.warm}) needs "
                f"{cfg.lookback + ci.warm} rows; {describe(frame)} has {len(ci.x)}. "
                "Fetch more history"
            )
        if not ci.complete[-cfg.lookback :].all():
            raise CoincastError(
                f"the last {cfg.lookback} bars of {describe(frame)} include a return of "
                f"{', '.join(cfg.exog)} after a gap (undefined); fetch the missing bars"
            )
        return self.scalers[coin].features.transform(ci.x[-cfg.lookback :])

    def _forecast(self, xs: np.ndarray, coin: str, horizon: int) -> Forecast:
        """``yhat``, ``lo`` and ``hi`` of the first ``horizon`` steps in target units, from
        the scaled window ``xs`` (lookback, F)."""
        net, cfg, sc = self._fitted(), self.config, self.scalers[coin]
        k = self.coins.index(coin) if net.embed is not None else None
        if cfg.recursive:
            mid, lo, hi = recursive(net, xs, k, sc, self.head, horizon, cfg.target)
        else:
            mid, lo, hi = direct(net, xs, k, sc.target, self.head)
        return mid[:horizon], lo[:horizon], hi[:horizon]

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
        row = len(ci.frame) - 1 if end is None else ci.row_at(end, frame)
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
