"""An LSTM written out gate by gate, to read and to look inside (see :mod:`coincast.explain`).

``nn.LSTM`` runs the same arithmetic as this module, fused into a few large matrix products.
Here every gate gets its own line, so the equations in the comments can be checked against the
code, and every gate value of every step can be kept.

How an LSTM step works, in plain words. The layer carries two vectors from step to step:

- the **cell state** ``c``, its long-term memory. It changes only by being partly erased and
  partly written to, both element-wise, so information (and gradient) can travel along it for
  many steps with little loss;
- the **hidden state** ``h``, what the layer shows the next layer (and the forecast head).

At each step four small networks read the input ``x_t`` and the previous hidden state:

- the **forget gate** ``f`` (0..1 per unit): how much of the old memory to keep. Near 1 the
  unit remembers, near 0 it forgets;
- the **input gate** ``i`` (0..1): how much of the new candidate to write;
- the **candidate** ``g`` (-1..1): what could be written;
- the **output gate** ``o`` (0..1): how much of the memory to show as ``h``.

Then ``c_t = f * c_{t-1} + i * g`` and ``h_t = o * tanh(c_t)`` (``*`` element-wise).

:class:`ScratchLSTM` copies the weights of a trained ``nn.LSTM`` (:meth:`ScratchLSTM.from_torch`)
and reproduces its outputs to float32 rounding. It never applies dropout: what it computes, and
what its :class:`Trace` records, is the network in eval mode, as it forecasts.

Shapes: ``B`` batch, ``T`` steps, ``F`` inputs per step, ``N`` hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

GATES = ("i", "f", "g", "o")  # nn.LSTM's order of the gate blocks in its packed weights
FIELDS = (*GATES, "c", "h")  # what a Trace holds


@dataclass
class Gates:
    """The four gate values of one step, each (B, N)."""

    i: torch.Tensor  #: input gate, in (0, 1)
    f: torch.Tensor  #: forget gate, in (0, 1)
    g: torch.Tensor  #: candidate values, in (-1, 1)
    o: torch.Tensor  #: output gate, in (0, 1)


class LSTMCellScratch(nn.Module):
    """One LSTM step, gate by gate (the equations of ``nn.LSTMCell``).

    Each gate has a linear map of the input (``W_i*``, holding ``b_i*``) and one of the previous
    hidden state (``W_h*``, holding ``b_h*``), named as in PyTorch's documentation.

    Examples
    --------
    >>> cell = LSTMCellScratch(input_size=3, hidden_size=4)
    >>> h = c = torch.zeros(2, 4)
    >>> h, c, gates = cell(torch.randn(2, 3), (h, c))
    >>> h.shape, gates.f.shape
    (torch.Size([2, 4]), torch.Size([2, 4]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_ii = nn.Linear(input_size, hidden_size, bias)  # input gate, reading x_t
        self.W_hi = nn.Linear(hidden_size, hidden_size, bias)  # input gate, reading h_{t-1}
        self.W_if = nn.Linear(input_size, hidden_size, bias)  # forget gate
        self.W_hf = nn.Linear(hidden_size, hidden_size, bias)
        self.W_ig = nn.Linear(input_size, hidden_size, bias)  # candidate
        self.W_hg = nn.Linear(hidden_size, hidden_size, bias)
        self.W_io = nn.Linear(input_size, hidden_size, bias)  # output gate
        self.W_ho = nn.Linear(hidden_size, hidden_size, bias)

    def forward(
        self, x_t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, Gates]:
        """One step: input ``x_t`` (B, F) and ``(h_{t-1}, c_{t-1})`` (B, N) each, to
        ``(h_t, c_t, gates)``."""
        h, c = state
        # f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf): how much memory to keep
        f = torch.sigmoid(self.W_if(x_t) + self.W_hf(h))
        # i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi): how much to write
        i = torch.sigmoid(self.W_ii(x_t) + self.W_hi(h))
        # g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg): what to write
        g = torch.tanh(self.W_ig(x_t) + self.W_hg(h))
        # c_t = f_t * c_{t-1} + i_t * g_t: keep part of the old memory, add part of the new
        c = f * c + i * g
        # o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho): how much memory to show
        o = torch.sigmoid(self.W_io(x_t) + self.W_ho(h))
        # h_t = o_t * tanh(c_t): the hidden state, squashed into (-1, 1)
        h = o * torch.tanh(c)
        return h, c, Gates(i=i, f=f, g=g, o=o)

    @torch.no_grad()
    def load_packed(
        self,
        weight_ih: torch.Tensor,
        weight_hh: torch.Tensor,
        bias_ih: torch.Tensor | None,
        bias_hh: torch.Tensor | None,
    ) -> None:
        """Copy one layer of ``nn.LSTM``: weights (4N, F) and (4N, N), biases (4N,), each
        four blocks stacked in the order i, f, g, o."""
        n = self.hidden_size
        for k, gate in enumerate(GATES):
            rows = slice(k * n, (k + 1) * n)
            for source, w, b in (("i", weight_ih, bias_ih), ("h", weight_hh, bias_hh)):
                layer: nn.Linear = getattr(self, f"W_{source}{gate}")
                layer.weight.copy_(w[rows])
                if b is not None:
                    layer.bias.copy_(b[rows])


@dataclass
class Trace:
    """Every value inside a :class:`ScratchLSTM` over a window: one tensor (B, T, N) per layer
    (index 0 is the layer reading the input) for each gate and state, recorded in eval mode
    (no dropout)."""

    i: list[torch.Tensor]  #: input gates
    f: list[torch.Tensor]  #: forget gates
    g: list[torch.Tensor]  #: candidates
    o: list[torch.Tensor]  #: output gates
    c: list[torch.Tensor]  #: cell states (memory)
    h: list[torch.Tensor]  #: hidden states

    @property
    def layers(self) -> int:
        """How many stacked layers were traced."""
        return len(self.h)

    @property
    def h_n(self) -> torch.Tensor:
        """Last hidden state of every layer (layers, B, N), as ``nn.LSTM`` returns it."""
        return torch.stack([h[:, -1] for h in self.h])

    @property
    def c_n(self) -> torch.Tensor:
        """Last cell state of every layer (layers, B, N)."""
        return torch.stack([c[:, -1] for c in self.c])

    def detach(self) -> Trace:
        """A copy without autograd history (for pictures and numbers)."""
        return Trace(*([t.detach() for t in getattr(self, k)] for k in FIELDS))


class ScratchLSTM(nn.Module):
    """Stacked LSTM layers (batch first) built from :class:`LSTMCellScratch`; layer ``k + 1``
    reads the hidden states of layer ``k``.

    Examples
    --------
    >>> lstm = nn.LSTM(2, 5, num_layers=2, batch_first=True)
    >>> scratch = ScratchLSTM.from_torch(lstm)
    >>> x = torch.randn(3, 7, 2)
    >>> out, trace = scratch(x)
    >>> torch.allclose(out, lstm(x)[0], atol=1e-6), trace.f[0].shape
    (True, torch.Size([3, 7, 5]))
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers ({num_layers}) must be >= 1")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(LSTMCellScratch(n, hidden_size, bias) for n in sizes)

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> ScratchLSTM:
        """A copy of ``lstm`` (same weights, dtype and device; the global random generator is
        not used); it must be a one-direction, batch-first LSTM without projections."""
        if lstm.bidirectional:
            raise ValueError("ScratchLSTM runs forwards only: the nn.LSTM is bidirectional")
        if lstm.proj_size:
            raise ValueError(
                f"ScratchLSTM has no projections: the nn.LSTM has proj_size={lstm.proj_size}"
            )
        if not lstm.batch_first:
            raise ValueError("ScratchLSTM is batch first: build the nn.LSTM with batch_first=True")
        with torch.device("meta"):  # no random initialisation: the weights are copied below
            scratch = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bias)
        first = lstm.weight_ih_l0
        scratch = scratch.to_empty(device=first.device).to(first.dtype)
        for k, cell in enumerate(scratch.cells):
            cell.load_packed(
                getattr(lstm, f"weight_ih_l{k}"),
                getattr(lstm, f"weight_hh_l{k}"),
                getattr(lstm, f"bias_ih_l{k}", None),
                getattr(lstm, f"bias_hh_l{k}", None),
            )
        return scratch

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, Trace]:
        """Run windows ``x`` (B, T, F) from ``state`` = ``(h_0, c_0)``, each (layers, B, N)
        (default zeros); returns the top layer's hidden states (B, T, N) and the :class:`Trace`.
        """
        b, n = x.shape[0], self.hidden_size
        if state is None:
            zeros = x.new_zeros(self.num_layers, b, n)
            state = (zeros, zeros)
        record: dict[str, list[torch.Tensor]] = {name: [] for name in FIELDS}
        inp = x
        for k, cell in enumerate(self.cells):
            h, c = state[0][k], state[1][k]  # (B, N)
            steps: dict[str, list[torch.Tensor]] = {name: [] for name in record}
            for t in range(inp.shape[1]):
                h, c, gates = cell(inp[:, t], (h, c))
                for name, value in (*vars(gates).items(), ("c", c), ("h", h)):
                    steps[name].append(value)
            for name, values in steps.items():
                record[name].append(torch.stack(values, dim=1))  # (B, T, N)
            inp = record["h"][-1]  # the next layer reads this layer's hidden states
        return inp, Trace(**record)
