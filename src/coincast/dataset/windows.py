"""Windows: ``lookback`` rows of features in, ``horizon`` future targets out, built lazily.

Nothing is materialised as an ``N x lookback x features`` copy: a :class:`Windows` holds the
scaled feature matrix once and gathers a batch of windows by index when asked, so a
1M-row minute series trains in bounded memory.

Alignment (the contract every model relies on): the window ending at row ``e`` holds feature
rows ``e - lookback + 1 .. e``; its targets are about rows ``e + 1 .. e + horizon``, strictly
after the window. For ``target="returns"`` the target at step ``h`` is the cumulative log
return ``log(close[e + h] / close[e])``; for ``target="price"`` it is ``close[e + h]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ShortHistoryError, worded


@dataclass
class Scaler:
    """Standardisation ``(x - mean) / std`` per column, fit on training rows only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        """Fit on ``x`` (rows are samples); a constant column gets std 1 (no divide by 0)."""
        x = np.asarray(x, dtype="float64")
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        return cls(np.atleast_1d(mean), np.atleast_1d(std))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x``."""
        return (x - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`."""
        return z * self.std + self.mean

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready parameters."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> Scaler:
        """Rebuild from :meth:`to_dict`."""
        return cls(np.asarray(d["mean"], dtype="float64"), np.asarray(d["std"], dtype="float64"))

    def __eq__(self, other: object) -> bool:
        """Same parameters (arrays compared whole, not element by element)."""
        if not isinstance(other, Scaler):
            return NotImplemented
        return np.array_equal(self.mean, other.mean) and np.array_equal(self.std, other.std)


def target_level(close: np.ndarray, target: str) -> np.ndarray:
    """The series targets are differences (returns: log close) or values (price: close) of."""
    return np.log(close) if target == "returns" else np.asarray(close, dtype="float64")


def targets_at(level: np.ndarray, ends: np.ndarray, horizon: int, target: str) -> np.ndarray:
    """``(len(ends), horizon)`` targets of the windows ending at ``ends`` (see module doc)."""
    future = level[ends[:, None] + np.arange(1, horizon + 1)]
    return future - level[ends][:, None] if target == "returns" else future


Inputs = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class Windows:
    """Windows over one series (or several stacked), gathered lazily into torch batches.

    Parameters
    ----------
    x
        Scaled features, ``(n, F)``; several coins are stacked row-wise, and no window
        crosses from one coin's rows into another's (the ``ends`` see to that).
    y
        Scaled targets of each window end, ``(len(ends), horizon)``; ``None`` for inference.
    ends
        Row index of each window's last input row.
    lookback
        Rows per window.
    coins
        Coin index of each window (for a network with a coin embedding), or ``None``.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray | None,
        ends: np.ndarray,
        lookback: int,
        coins: np.ndarray | None = None,
    ):
        if len(ends) and (ends.min() < lookback - 1 or ends.max() >= len(x)):
            raise ValueError("window ends out of range")  # internal invariant
        self.x = torch.as_tensor(np.ascontiguousarray(x, dtype="float32"))  # (n, F)
        self.y = None if y is None else torch.as_tensor(np.asarray(y, dtype="float32"))
        self.ends = torch.as_tensor(np.asarray(ends, dtype="int64"))
        self.coins = None if coins is None else torch.as_tensor(np.asarray(coins, dtype="int64"))
        self.offsets = torch.arange(-lookback + 1, 1)  # (L,)
        self.lookback = lookback

    def __len__(self) -> int:
        return len(self.ends)

    def batch(self, idx: torch.Tensor) -> tuple[Inputs, torch.Tensor | None]:
        """Windows ``idx``: inputs ``(B, L, F)`` (with the ``(B,)`` coin indices when the
        windows have coins) and targets ``(B, horizon)`` (or None)."""
        rows = self.ends[idx][:, None] + self.offsets  # (B, L)
        x = self.x[rows]
        inputs = x if self.coins is None else (x, self.coins[idx])
        return inputs, None if self.y is None else self.y[idx]


def run_net(net: torch.nn.Module, inputs: Inputs, device: torch.device | str = "cpu"):
    """Apply ``net`` to a batch's inputs (features, or features and coin indices)."""
    if isinstance(inputs, tuple):
        return net(*(t.to(device, non_blocking=True) for t in inputs))
    return net(inputs.to(device, non_blocking=True))


def window_ends(first_row: int, last_row: int, lookback: int, horizon: int) -> np.ndarray:
    """Ends ``e`` with inputs in ``[first_row, e]`` and targets ``e + 1 .. e + horizon`` at
    or before ``last_row``."""
    lo = first_row + lookback - 1
    hi = last_row - horizon
    return np.arange(lo, hi + 1, dtype="int64") if hi >= lo else np.empty(0, dtype="int64")


def need_rows(lookback: int, horizon: int, warmup: int, what: str, have: int) -> None:
    """Raise :class:`~coincast.errors.ShortHistoryError` when ``have`` rows cannot hold one
    window plus its targets."""
    need = warmup + lookback + horizon
    if have < need:
        head = (
            f"lookback ({lookback}) + horizon ({horizon}) + feature warm-up ({warmup}) needs at "
            f"least {need} rows; {what} has {have}. Fetch more history or reduce"
        )
        raise worded(ShortHistoryError(f"{head} lookback"), f"{head} --lookback")
