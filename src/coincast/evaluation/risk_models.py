"""The LSTM as a volatility model for risk backtests, beside GARCH, GJR, HAR, EWMA and rolling
historical volatility (:mod:`coincast.models.volatility`).

:class:`VolLSTMModel` drives an LSTM trained with ``target="volatility"`` (it forecasts the
log realized measure of each of the next bars with a Gaussian head, so the variance
``exp(mu + s^2 / 2)`` is a log-normal's mean and never negative) through the same
fit/update/predict calls as the baselines. Its error distribution, for VaR and ES, is the
empirical one of the training returns over their realized volatility, rescaled to variance 1
(filtered historical simulation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..dataset.realized import HAR_SPANS, choose_measure
from ..errors import CoincastError
from ..models.config import make_config
from ..models.innovations import Empirical, Normal
from ..models.volatility import VOL_MODELS, make_vol_model
from .adapters import LSTMModel, LSTMTraining, lstm_models
from .risk_backtest import VolForecaster

#: The models of a risk backtest by default.
DEFAULT_RISK_MODELS = ("lstm", "garch", "gjr", "har", "ewma", "histvol")


class VolLSTMModel:
    """An LSTM adapter (:class:`~coincast.evaluation.adapters.LSTMModel`) forecasting
    variances.

    Examples
    --------
    >>> from coincast.models.config import LSTMConfig
    >>> m = VolLSTMModel(LSTMModel(LSTMConfig(target="volatility", lookback=10)), "1d")
    >>> m.name, m.min_rows
    ('lstm', 71)
    """

    def __init__(self, inner: LSTMModel, interval: str) -> None:
        if inner.model.config.target != "volatility":
            raise CoincastError("VolLSTMModel needs an LSTM with target='volatility'")
        self.inner, self.name = inner, inner.name
        self.min_rows = inner.min_rows + HAR_SPANS[interval][2]  # the long span's warm-up
        self.innovation = Normal()

    def fit(self, frame: pd.DataFrame) -> VolLSTMModel:
        self.inner.fit(frame)
        self.innovation = fitted_errors(frame)
        return self

    def update(self, frame: pd.DataFrame) -> VolLSTMModel:
        self.inner.update(frame)
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        f = self.inner.predict(horizon)
        out = pd.DataFrame(
            {"variance": f["yhat"], "mean": 0.0, "lo": f["lo"], "hi": f["hi"]}, index=f.index
        )
        out.attrs.update(f.attrs)
        return out

    @property
    def first_history(self):
        """The first fit's training history, per epoch."""
        return self.inner.first_history


def fitted_errors(frame: pd.DataFrame) -> Empirical | Normal:
    """Returns over their bar's realized volatility on ``frame``, rescaled to variance 1, as
    an empirical distribution; Normal with fewer than 30 usable bars.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> type(fitted_errors(synthetic_candles(200))).__name__
    'Empirical'
    """
    rv = choose_measure(frame).values
    r = np.r_[np.nan, np.diff(np.log(frame["close"].to_numpy(dtype="float64")))]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = r / np.sqrt(rv)
    z = z[np.isfinite(z)]
    if len(z) < 30 or z.std() == 0:
        return Normal()
    return Empirical(z / z.std())


def build_risk_models(
    frame: pd.DataFrame, names: Sequence[str], lstm: LSTMTraining | None, horizon: int
) -> list[VolForecaster]:
    """The models ``names`` (``lstm`` and the names of
    :data:`~coincast.models.volatility.VOL_MODELS`) for a risk backtest of ``frame``."""
    check_risk_models(names)
    out: list[VolForecaster] = []
    for name in names:
        if name != "lstm":
            out.append(make_vol_model(name))
            continue
        training = lstm or LSTMTraining()
        cfg = training.config
        if cfg.target != "volatility":  # a price config: the volatility target's own inputs
            cfg = make_config(cfg, target="volatility", features=None)
        training = replace(training, config=cfg)
        inner = lstm_models(frame, training, horizon)
        out.extend(VolLSTMModel(m, frame.attrs["interval"]) for m in inner)
    return out


def check_risk_models(names: Sequence[str]) -> list[str]:
    """``names`` if each is ``lstm`` or a volatility baseline, else an error listing them.

    Examples
    --------
    >>> check_risk_models(["garch", "ewma"])
    ['garch', 'ewma']
    """
    known = ("lstm", *VOL_MODELS)
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise CoincastError(
            f"unknown volatility model(s) {', '.join(bad) or '(none)'}; known: {', '.join(known)}"
        )
    return list(dict.fromkeys(names))
