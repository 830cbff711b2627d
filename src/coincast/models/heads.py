"""Output heads: what the LSTM's last linear layer outputs per horizon step, the loss that
trains it, and how its outputs become a point forecast and a band.

A head is a small stateless object; :class:`~coincast.models.lstm.LSTMNet` owns the linear
layer and asks its head how many numbers to output per step and how to shape them. The
config names a head by a string (``LSTMConfig.head``); :func:`get_head` turns the name into
the object. A new head (e.g. one for a volatility target) is one subclass of :class:`Head`
added to :data:`HEADS` and to the choices of ``LSTMConfig.head`` (a test checks that they
agree); every other part of the project asks the object.

Shapes: ``B`` batch, ``H`` horizon, ``Q`` quantiles. Every method takes and returns scaled
target units; callers undo the target scaler (an affine map, so the order of quantiles and
the band's sides are kept).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from .base import Z90  # the Gaussian head's lo/hi: a central 90 % interval

DEFAULT_QUANTILES = (0.05, 0.5, 0.95)

Forecast = tuple[np.ndarray, np.ndarray, np.ndarray]  #: yhat, lo, hi, each (..., H)


class Head(ABC):
    """The interface of an output head.

    A subclass sets :attr:`name` and :attr:`size`, defines :meth:`loss` and :meth:`point`,
    and overrides :meth:`forecast` when it has a band and :meth:`shape` unless its outputs
    are (B, H, size).
    """

    name: ClassVar[str] = ""
    size: int = 1  #: numbers output per horizon step

    @classmethod
    def create(cls, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> Head:
        """The head for a config's settings (only the quantile head reads ``quantiles``)."""
        return cls()

    def shape(self, z: torch.Tensor, horizon: int) -> torch.Tensor:
        """The linear layer's output (B, H * size) as this head's output (B, H, size)."""
        return z.view(len(z), horizon, self.size)

    @abstractmethod
    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean training loss of outputs ``pred`` against targets ``y`` (B, H)."""

    @abstractmethod
    def point(self, pred: torch.Tensor) -> torch.Tensor:
        """The point forecast (..., H) from outputs (..., H[, size])."""

    def forecast(self, pred: torch.Tensor) -> Forecast:
        """``yhat``, ``lo`` and ``hi`` (..., H) from outputs on the CPU without gradients
        (NaN ``lo`` and ``hi``: no band)."""
        mid = self.point(pred).numpy()
        return mid, np.full_like(mid, np.nan), np.full_like(mid, np.nan)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PointHead(Head):
    """One value per step (B, H), trained with the mean squared error; no band.

    Examples
    --------
    >>> PointHead().point(torch.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 2.0]]
    """

    name = "point"
    size = 1

    def shape(self, z: torch.Tensor, horizon: int) -> torch.Tensor:
        return z  # (B, H)

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(pred, y)

    def point(self, pred: torch.Tensor) -> torch.Tensor:
        return pred


class QuantileHead(Head):
    """One value per quantile level and step (B, H, Q), trained with the pinball loss; the
    point forecast is the median (or the middle level), the band the outer levels.

    Examples
    --------
    >>> head = QuantileHead((0.1, 0.5, 0.9))
    >>> head.point(torch.tensor([[[3.0, 1.0, 2.0]]])).tolist()  # sorted: 1, 2, 3
    [[2.0]]
    """

    name = "quantile"

    def __init__(self, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> None:
        self.quantiles = tuple(quantiles)
        self.size = len(self.quantiles)
        self.mid = self.quantiles.index(0.5) if 0.5 in self.quantiles else self.size // 2
        self.levels = torch.tensor(self.quantiles)  # (Q,)

    @classmethod
    def create(cls, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> Head:
        return cls(quantiles)

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        err = y.unsqueeze(-1) - pred  # (B, H, Q)
        q = self.levels.to(err)
        return torch.maximum(q * err, (q - 1) * err).mean()

    def point(self, pred: torch.Tensor) -> torch.Tensor:
        # sorted first: the outputs are not forced to be monotone in the level
        return pred.sort(dim=-1).values[..., self.mid]

    def forecast(self, pred: torch.Tensor) -> Forecast:
        q = pred.sort(dim=-1).values.numpy()  # (..., H, Q)
        return self.point(pred).numpy(), q[..., 0], q[..., -1]

    def __repr__(self) -> str:
        return f"QuantileHead({self.quantiles})"


class GaussianHead(Head):
    """Mean and log-variance per step (B, H, 2), trained with the Gaussian negative
    log-likelihood; the point forecast is the mean, the band a central 90 % interval.

    Examples
    --------
    >>> GaussianHead().point(torch.tensor([[[1.5, 0.0]]])).tolist()
    [[1.5]]
    """

    name = "gaussian"
    size = 2

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mean, log_var = pred[..., 0], pred[..., 1].clamp(-12.0, 12.0)
        return 0.5 * (log_var + (y - mean) ** 2 * torch.exp(-log_var)).mean()

    def point(self, pred: torch.Tensor) -> torch.Tensor:
        return pred[..., 0]

    def forecast(self, pred: torch.Tensor) -> Forecast:
        mu = pred[..., 0].numpy()
        sigma = np.exp(0.5 * pred[..., 1].clamp(-12, 12).numpy())
        return mu, mu - Z90 * sigma, mu + Z90 * sigma


#: Every head by the name a config gives it.
HEADS: dict[str, type[Head]] = {h.name: h for h in (PointHead, QuantileHead, GaussianHead)}


def get_head(name: str, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> Head:
    """The head called ``name`` (``quantiles``: the quantile head's levels).

    Examples
    --------
    >>> get_head("quantile", (0.1, 0.5, 0.9)).size
    3
    """
    if name not in HEADS:
        raise ValueError(f"head {name!r} is not one of {tuple(HEADS)}")
    return HEADS[name].create(tuple(quantiles))
