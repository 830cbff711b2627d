"""The LSTM network: tensors in, tensors out (see :mod:`coincast.models.forecaster` for the
user-facing model that validates input and turns outputs into prices).

Shapes: ``B`` batch, ``T`` lookback, ``F`` features, ``E`` coin-embedding size, ``H`` horizon,
``Q`` quantiles.
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

    A model trained on several coins (``n_coins > 1``, ``embed_dim > 0``) learns one vector
    of ``embed_dim`` numbers per coin and concatenates it to every step's features, so the
    LSTM sees ``F + E`` inputs per step and ``forward`` needs each window's coin index.

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
        n_coins: int = 1,
        embed_dim: int = 0,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head {head!r} is not one of {HEADS}")
        self.horizon, self.head_kind = horizon, head
        self.quantiles = tuple(quantiles)
        self.per_step = {"point": 1, "quantile": len(self.quantiles), "gaussian": 2}[head]
        self.embed = nn.Embedding(n_coins, embed_dim) if embed_dim > 0 else None
        self.lstm = nn.LSTM(
            input_size + embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # torch applies it between layers
        )
        self.head = nn.Linear(hidden_size, horizon * self.per_step)

    def forward(self, x: torch.Tensor, coin: torch.Tensor | None = None) -> torch.Tensor:
        """Forecast from windows ``x`` (B, T, F); ``coin`` (B,) indexes each window's coin."""
        out, _ = self.lstm(self.lstm_input(x, coin))  # (B, T, hidden)
        return self.project(out[:, -1])  # from the last step's hidden state

    def lstm_input(self, x: torch.Tensor, coin: torch.Tensor | None = None) -> torch.Tensor:
        """What the LSTM reads at each step: the features, and the coin's vector if any."""
        if self.embed is None:
            return x
        if coin is None:
            raise ValueError("this network was trained on several coins: pass coin indices")
        e = self.embed(coin)[:, None, :].expand(-1, x.shape[1], -1)  # (B, T, E)
        return torch.cat([x, e], dim=-1)  # (B, T, F + E)

    def project(self, h_last: torch.Tensor) -> torch.Tensor:
        """The head: last hidden state (B, hidden) to the output of the head kind."""
        z = self.head(h_last)  # (B, H * per_step)
        if self.head_kind == "point":
            return z  # (B, H)
        return z.view(len(h_last), self.horizon, self.per_step)  # (B, H, Q) or (B, H, 2)


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
