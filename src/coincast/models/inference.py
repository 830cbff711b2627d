"""From the network's scaled outputs to forecasts: the head's point and band, one step
after another in recursive mode, log returns back to prices, and the forecast table."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..dataset.panel import CoinInputs, Scalers
from ..dataset.windows import Scaler
from ..series import future_index
from .heads import Z90, Forecast, Head


def to_price(y: np.ndarray, last_close: np.ndarray, target: str) -> np.ndarray:
    """Targets (rows of horizon steps) as prices: cumulative log returns from each row's
    last close, or prices already; for a volatility target, the log measure as a variance
    (its median: :func:`forecast_frame` gives the mean)."""
    if target == "returns":
        return np.asarray(last_close)[:, None] * np.exp(y)
    if target == "volatility":
        return np.exp(y)
    return y


def variance_forecast(values: Forecast) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gaussian forecast of the log measure (mean, and its central 90 % band) as the
    variance's mean ``exp(mu + s^2 / 2)`` (a log-normal's) and its 90 % band."""
    mu, lo, hi = values
    s = (np.asarray(hi) - np.asarray(lo)) / (2 * Z90)
    return np.exp(mu + 0.5 * s**2), np.exp(lo), np.exp(hi)


def direct(net: nn.Module, xs: np.ndarray, k: int | None, scaler: Scaler, head: Head) -> Forecast:
    """Point, low and high (NaN without a band) of each horizon step, in target units,
    from one scaled window ``xs`` (L, F) (coin index ``k`` for a coin embedding)."""
    coin = None if k is None else torch.tensor([k])
    pred = net(torch.as_tensor(xs[None], dtype=torch.float32), coin)[0]  # (H,)|(H, Q)|(H, 2)
    mid, lo, hi = head.forecast(pred)  # (H,) each, scaled
    return scaler.inverse(mid), scaler.inverse(lo), scaler.inverse(hi)


def recursive(
    net: nn.Module, xs: np.ndarray, k: int | None, sc: Scalers, head: Head, horizon: int,
    target: str,
) -> Forecast:  # fmt: skip
    """Apply a one-step model ``horizon`` times, feeding each point forecast back as the
    next input (the window's only feature is the target's own); no band."""
    window, total, mids = xs.copy(), 0.0, []
    for _ in range(horizon):
        mid, _, _ = direct(net, window, k, sc.target, head)  # (1,)
        step = float(mid[0])
        if target == "returns":
            total += step  # one-step log returns add up to the cumulative return
            mids.append(total)
        else:
            mids.append(step)
        window = np.vstack([window[1:], sc.features.transform(np.array([[step]]))])
    mid = np.array(mids)
    return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)


def forecast_frame(values: Forecast, frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The forecast table of the bars after ``frame``'s last: ``yhat``, ``lo`` and ``hi``
    from ``values`` (each (H,), in target units) as prices, indexed by the future bar
    starts ``ts``; ``frame``'s attrs, with ``last_ts`` and ``last_close``."""
    last_close = float(frame["close"].iloc[-1])
    if target == "volatility":  # each future bar's variance, not a price
        cols = dict(zip(("yhat", "lo", "hi"), variance_forecast(values), strict=True))
    else:
        cols = {name: to_price(v[None], np.array([last_close]), target)[0]
                for name, v in zip(("yhat", "lo", "hi"), values, strict=True)}  # fmt: skip
    index = future_index(frame.index[-1], frame.attrs["interval"], len(values[0]))
    out = pd.DataFrame(cols, index=index)
    out.attrs.update(frame.attrs, last_ts=frame.index[-1], last_close=last_close)
    return out


def validation_metrics(
    inputs: Mapping[str, CoinInputs],
    val_ends: Mapping[str, np.ndarray],
    predict_rows: Callable[[CoinInputs, np.ndarray, str], np.ndarray],
    *,
    target_coin: str | None = None,
) -> dict[str, float | str | None]:
    """Step-1 MAE on the validation slice against the naive forecast (close[t+1] =
    close[t]), headed by ``val_of``: in words, whose figures the headline ones are.

    One coin validated (the only coin, or ``target_coin``): its ``val_mae``, ``val_naive_mae``
    and ``val_rel_mae`` (MAE / naive). Several: ``val_rel_mae`` is the median of the coins'
    MAE / naive, ``val_mae`` and ``val_naive_mae`` are None (MAEs in different coins' prices
    do not add up; ``val_of`` says so), and each coin's three figures follow as
    ``val_mae:COIN`` etc. Where MAE / naive is undefined (no validation slice, or a naive MAE
    of 0), it is None and ``val_of`` says why.

    ``predict_rows(inputs, ends, coin)`` gives price forecasts from windows ending at
    ``ends``. The validation slice chose the stopping epoch, so this is optimistic: the
    honest test is a walk-forward backtest on data the model never saw.
    """
    per = {c: _coin_figures(inputs[c], ends, predict_rows(inputs[c], ends, c)[:, 0])
           for c, ends in val_ends.items()}  # fmt: skip
    out: dict[str, float | str | None] = {"val_of": _val_of(per, target_coin)}
    measures = {ci.measure for ci in inputs.values() if ci.measure}
    if measures:  # a volatility target: what it was measured with
        out["measure"] = "; ".join(sorted(measures))
    if len(per) == 1:
        return out | dict(zip(_KEYS, next(iter(per.values())), strict=True))
    known = [rel for _, _, rel in per.values() if rel is not None]
    out |= {"val_mae": None, "val_naive_mae": None}
    out["val_rel_mae"] = float(np.median(known)) if known else None
    for c, figures in per.items():
        out |= {f"{k}:{c}": v for k, v in zip(_KEYS, figures, strict=True)}
    return out


_KEYS = ("val_mae", "val_naive_mae", "val_rel_mae")


def _coin_figures(
    ci: CoinInputs, ends: np.ndarray, pred: np.ndarray
) -> tuple[float, float, float | None]:
    """MAE, naive MAE and their ratio (None when the naive MAE is 0) of one coin: of the
    close, or (a volatility target) of the realized measure, naive being the last bar's."""
    actual, naive = ci.actual[ends + 1], ci.actual[ends]
    mae, naive_mae = float(np.mean(np.abs(pred - actual))), float(np.mean(np.abs(naive - actual)))
    return mae, naive_mae, (mae / naive_mae if naive_mae > 0 else None)


def _val_of(per: Mapping[str, tuple], target_coin: str | None) -> str:
    """Whose figures the headline ones are, or why there are none, in words."""
    flat = [c for c, (_, _, rel) in per.items() if rel is None]
    why = "the naive forecast's MAE is 0 (the close never moved in the validation slice)"
    if not per:
        return "none: no validation windows (val_fraction is 0, or too few bars for one)"
    if len(per) == 1:
        coin = next(iter(per))
        name = f"{coin} (the target coin)" if coin == target_coin else coin
        return f"{name}; MAE / naive undefined: {why}" if flat else name
    n = len(per) - len(flat)
    if not n:
        return f"none: MAE / naive undefined for all {len(per)} coins: {why}"
    text = f"median MAE / naive over {n} coins ({', '.join(c for c in per if c not in flat)})"
    if flat:
        text += f"; left out {', '.join(flat)}: {why}"
    return text + "; MAE and naive MAE are per coin (val_mae:COIN), in each coin's price"
