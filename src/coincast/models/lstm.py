"""The LSTM network: tensors in, tensors out (see :mod:`coincast.models.forecaster` for the
user-facing model that validates input and turns outputs into prices).

Shapes: ``B`` batch, ``T`` lookback, ``F`` features, ``E`` coin-embedding size, ``H`` horizon,
``Q`` quantiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from .heads import DEFAULT_QUANTILES, get_head

if TYPE_CHECKING:
    from .config import LSTMConfig

__all__ = ["DEFAULT_QUANTILES", "LSTMNet"]


class LSTMNet(nn.Module):
    """``nn.LSTM`` and a linear head on the last hidden state, forecasting ``horizon`` steps
    at once (direct multi-step).

    Outputs by head (:mod:`coincast.models.heads`, kept in ``kind``): ``point`` (B, H);
    ``quantile`` (B, H, Q); ``gaussian`` (B, H, 2) holding mean and log-variance.

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
        self.horizon = horizon
        self.kind = get_head(head, quantiles)  #: output size, loss and readout of the head
        self.embed = nn.Embedding(n_coins, embed_dim) if embed_dim > 0 else None
        self.lstm = nn.LSTM(
            input_size + embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # torch applies it between layers
        )
        self.head = nn.Linear(hidden_size, horizon * self.kind.size)

    @classmethod
    def from_config(cls, config: LSTMConfig, n_coins: int = 1) -> LSTMNet:
        """The network a config describes, for ``n_coins`` coins (a coin embedding when
        there are several and the config asks for one)."""
        embed = config.coin_embedding and n_coins > 1
        return cls(
            len(config.inputs()), config.hidden, config.layers, config.dropout,
            config.trained_horizon, config.head, config.quantiles, n_coins=max(n_coins, 1),
            embed_dim=config.embed_dim if embed else 0,
        )  # fmt: skip

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
        z = self.head(h_last)  # (B, H * size)
        return self.kind.shape(z, self.horizon)  # (B, H), (B, H, Q) or (B, H, 2)
