"""From the network's scaled outputs to forecasts: the head's point and band, one step
after another in recursive mode, and log returns back to prices."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..dataset.panel import CoinInputs, Scalers
from ..dataset.windows import Scaler
from .lstm import LSTMNet, point_of

Z90 = 1.6448536269514722  # the Gaussian head's lo/hi: a central 90 % interval


def to_price(y: np.ndarray, last_close: np.ndarray, target: str) -> np.ndarray:
    """Targets (rows of horizon steps) as prices: cumulative log returns from each row's
    last close, or prices already."""
    if target == "returns":
        return np.asarray(last_close)[:, None] * np.exp(y)
    return y


def direct(
    net: LSTMNet, xs: np.ndarray, k: int | None, scaler: Scaler, head: str,
    quantiles: tuple[float, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Point, low and high (NaN for a point head) of each horizon step, in target units,
    from one scaled window ``xs`` (coin index ``k`` for a coin embedding)."""
    coin = None if k is None else torch.tensor([k])
    pred = net(torch.as_tensor(xs[None], dtype=torch.float32), coin)[0]  # (H,)|(H, Q)|(H, 2)
    mean, std = scaler.mean, scaler.std
    if head == "point":
        mid = pred.numpy() * std + mean
        return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)
    if head == "quantile":
        q = pred.sort(dim=-1).values.numpy() * std[:, None] + mean[:, None]  # (H, Q)
        mid = point_of(pred[None], "quantile", quantiles)[0].numpy() * std + mean
        return mid, q[:, 0], q[:, -1]
    mu = pred[:, 0].numpy()
    sigma = np.exp(0.5 * pred[:, 1].clamp(-12, 12).numpy())
    return mu * std + mean, (mu - Z90 * sigma) * std + mean, (mu + Z90 * sigma) * std + mean


def recursive(
    net: LSTMNet, xs: np.ndarray, k: int | None, sc: Scalers, horizon: int, target: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply a one-step point model ``horizon`` times, feeding each forecast back as the
    next input (the window's only feature is the target's own)."""
    window, total, mids = xs.copy(), 0.0, []
    for _ in range(horizon):
        mid, _, _ = direct(net, window, k, sc.target, "point", ())
        step = float(mid[0])
        if target == "returns":
            total += step  # one-step log returns add up to the cumulative return
            mids.append(total)
        else:
            mids.append(step)
        window = np.vstack([window[1:], sc.features.transform(np.array([[step]]))])
    mid = np.array(mids)
    return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)


def validation_metrics(
    inputs: Mapping[str, CoinInputs],
    val_ends: Mapping[str, np.ndarray],
    predict_rows: Callable[[CoinInputs, np.ndarray, str], np.ndarray],
) -> dict[str, float | None]:
    """Step-1 MAE on the validation slice against the naive forecast (close[t+1] =
    close[t]); with several coins, each coin's MAE / naive and their median.

    ``predict_rows(inputs, ends, coin)`` gives price forecasts from windows ending at
    ``ends``. The validation slice chose the stopping epoch, so this is optimistic: the
    honest test is a walk-forward backtest on data the model never saw.
    """
    out: dict[str, float | None] = {"val_mae": None, "val_naive_mae": None, "val_rel_mae": None}
    rel = {}
    for c, ends in val_ends.items():
        close = inputs[c].frame["close"].to_numpy(dtype="float64")
        pred = predict_rows(inputs[c], ends, c)[:, 0]
        actual, naive = close[ends + 1], close[ends]
        mae, naive_mae = np.mean(np.abs(pred - actual)), np.mean(np.abs(naive - actual))
        rel[c] = float(mae / naive_mae) if naive_mae > 0 else None
        if len(val_ends) == 1:
            out.update(val_mae=float(mae), val_naive_mae=float(naive_mae), val_rel_mae=rel[c])
    if len(val_ends) > 1:
        known = [r for r in rel.values() if r is not None]
        out["val_rel_mae"] = float(np.median(known)) if known else None
        out |= {f"val_rel_mae:{c}": r for c, r in rel.items()}
    return out
