"""The LSTM network: tensors in, tensors out (see :mod:`coincast.models.forecaster` for the
user-facing model that validates input and turns outputs into prices).

Shapes: ``B`` batch, ``T`` lookback, ``F`` features, ``H`` horizon, ``Q`` quantiles.
"""

from __future__ import annotations

import torch
from torch import nn

HEADS = ("point", "quantile", "gaussian")
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)


class LSTMNet(nn.Module):
    """``nn.LSTM`` and a linear head on the last hidden state, forecasting ``horizon`` steps
    at once (direct multi-step).

    Outputs by head: ``point`` (B, H); ``quantile`` (B, H, Q); ``gaussian`` (B, H, 2) holding
    mean and log-variance.

    Examples
    --------
    >>> net = LSTMNet(input_size=1, hidden_size=8, num_layers=2, horizon=3)
    >>> net(torch.zeros(4, 30, 1)).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        horizon: int = 1,
        head: str = "point",
        quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head {head!r} is not one of {HEADS}")
        self.horizon, self.head_kind = horizon, head
        self.quantiles = tuple(quantiles)
        self.per_step = {"point": 1, "quantile": len(self.quantiles), "gaussian": 2}[head]
        self.lstm = nn.LSTM(
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # torch applies it between layers
        )
        self.head = nn.Linear(hidden_size, horizon * self.per_step)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (B, T, hidden)
        z = self.head(out[:, -1])  # (B, H * per_step): from the last step's hidden state
        if self.head_kind == "point":
            return z  # (B, H)
        return z.view(len(x), self.horizon, self.per_step)  # (B, H, Q) or (B, H, 2)


def loss_fn(head: str, quantiles: tuple[float, ...] = DEFAULT_QUANTILES):
    """The training loss of a head: MSE, pinball (quantile) or Gaussian NLL."""
    if head == "point":
        return nn.functional.mse_loss
    if head == "quantile":
        q = torch.tensor(quantiles)

        def pinball(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            err = y.unsqueeze(-1) - pred  # (B, H, Q)
            return torch.maximum(q.to(err) * err, (q.to(err) - 1) * err).mean()

        return pinball

    def gaussian_nll(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mean, log_var = pred[..., 0], pred[..., 1].clamp(-12.0, 12.0)
        return 0.5 * (log_var + (y - mean) ** 2 * torch.exp(-log_var)).mean()

    return gaussian_nll


def point_of(pred: torch.Tensor, head: str, quantiles: tuple[float, ...]) -> torch.Tensor:
    """(B, H) point forecast: the value, the median quantile (or middle one), or the mean."""
    if head == "point":
        return pred
    if head == "quantile":
        mid = quantiles.index(0.5) if 0.5 in quantiles else len(quantiles) // 2
        return pred.sort(dim=-1).values[..., mid]
    return pred[..., 0]
