"""Many same-shape LSTMs as one network: weights with a leading member dimension ``M``.

A sweep trains hundreds of small LSTMs; the hope is that one small LSTM leaves a CPU waiting
on per-operation overhead that running many together would fill (measured below: on this
CPU it does not). :class:`BatchedLSTM` holds ``M`` members of
:class:`~coincast.models.lstm.LSTMNet`'s architecture (same inputs, hidden size, layers and
head) and runs them all in one pass: inputs ``(M, B, L, F)``, outputs ``(M, B, ...)``. Each
member is numerically the net it would be alone (same gate equations as ``nn.LSTM``, same
head); :meth:`BatchedLSTM.from_nets` stacks existing nets and :meth:`BatchedLSTM.to_nets`
unstacks them again. Training with per-member data, seed, learning rate, clipping and early
stopping is :func:`coincast.models.batched_training.train_batched`.

How the members run together, measured (``python benchmarks/bench_sweep.py --part methods
--threads 1``): windows per CPU second of one training step (forward, loss, backward) of M
members, LSTM(1 -> 64 x 2), batch 64, lookback 30, 1 thread, median of 5, 2026-12-01 on the
shared 2-core machine with a load average of 8-11 (CPU seconds, because wall times there
swing by 2x from run to run):

=============================================  =======  =======  =======
method                                          M = 1    M = 16   M = 64
=============================================  =======  =======  =======
``nn.LSTM``, one net after another (baseline)    3,998    4,574    5,329
gate equations with ``torch.bmm``, autograd      2,841    4,084    3,525
the same, hand-written backward through time     3,083    2,605    2,911
``torch.func.vmap`` + ``functional_call``        fails: no batching rule for aten::lstm
block-diagonal ``nn.LSTM`` (grouped weights)     5,508      773    (not run: M x the work)
=============================================  =======  =======  =======

``torch.compile`` of the autograd layer (M = 16) gained 12 % (4,358 against 3,953) after a
272 s compile, so it is not used. The autograd ``bmm`` form is the one kept (the default;
``manual_backward = True`` selects the hand-written backward): vmap cannot run ``nn.LSTM``,
the block-diagonal form does M times the arithmetic, and the hand-written backward's extra
elementwise passes cost more than the per-step products it merges.

**None of them gains much over the ordinary loop on this CPU**: ``nn.LSTM``'s oneDNN kernel
already runs one small LSTM at about 40 % of a large sgemm's rate (8.9 MFLOP a window), and
its one pass over the gates beats the gate equations' twenty in Python. Whole trainings on
the quiet machine, 2 threads (``bench_sweep.py --part batched``): 16 batched members at 1.13x
the windows per second of 16 ordinary trainings, 4 members at 0.76x. The matrix products
alone of a batched step (``--part ceiling``) run at 1.6x (1 thread) and 2.3x (2 threads)
``nn.LSTM``'s rate, so no batched network of these equations can reach 4x here. Sweeps fill
two cores with two trial processes instead, and keep ``nn.LSTM``; what batching gives is one
process, one set of stacked weights and exact per-member equivalence, which a GPU can use.

Shapes: ``M`` members, ``B`` batch, ``L`` lookback, ``F`` features, ``G = 4 * hidden``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import CoincastError
from .heads import Head
from .lstm import LSTMNet

__all__ = ["BatchedLSTM", "ShapeMismatch"]


class ShapeMismatch(CoincastError):
    """The members cannot share one batched network (different shapes, or a feature the
    batched network does not have)."""


def _gate_order(hidden: int) -> torch.Tensor:
    """Row order taking ``nn.LSTM``'s ``i, f, g, o`` gate rows to ``i, f, o, g``."""
    h = torch.arange(hidden)
    return torch.cat([h, h + hidden, h + 3 * hidden, h + 2 * hidden])


def _shape_of(net: LSTMNet) -> tuple:
    lstm = net.lstm
    return (lstm.input_size, lstm.hidden_size, lstm.num_layers, net.horizon, net.kind.name,
            getattr(net.kind, "quantiles", None), net.head.out_features)  # fmt: skip


def _check_net(net: object, k: int) -> None:
    if not isinstance(net, LSTMNet):
        raise ShapeMismatch(f"member {k} is a {type(net).__name__}, not an LSTMNet")
    if net.embed is not None:
        raise ShapeMismatch(
            f"member {k} has a coin embedding; batched training is for one-coin networks "
            "(train several-coin models one at a time)"
        )
    lstm = net.lstm
    if lstm.dropout > 0 and lstm.num_layers > 1:
        raise ShapeMismatch(
            f"member {k} has dropout {lstm.dropout:g} between LSTM layers; batched training "
            "supports dropout 0 only (it could not draw nn.LSTM's dropout masks)"
        )
    if lstm.bidirectional or lstm.proj_size or not lstm.bias or not lstm.batch_first:
        raise ShapeMismatch(f"member {k}'s nn.LSTM is not the one LSTMNet builds")


class BatchedLSTM(nn.Module):
    """``M`` LSTMNets of one shape with stacked weights: ``forward`` (M, B, L, F) to
    (M, B, H) (point head), (M, B, H, Q) (quantile) or (M, B, H, 2) (Gaussian).

    Parameters per layer ``k``: ``w_ih{k}`` (M, G, in), ``w_hh{k}`` (M, G, hidden),
    ``b_ih{k}``, ``b_hh{k}`` (M, G); the head ``head_w`` (M, out, hidden), ``head_b``
    (M, out). Gate rows are ``i, f, o, g``.

    Examples
    --------
    >>> nets = [LSTMNet(1, 8, 2, horizon=3) for _ in range(4)]
    >>> b = BatchedLSTM.from_nets(nets)
    >>> b(torch.zeros(4, 5, 30, 1)).shape
    torch.Size([4, 5, 3])
    >>> len(b.to_nets())
    4
    """

    def __init__(
        self,
        members: int,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        horizon: int,
        kind: Head,
    ) -> None:
        super().__init__()
        if members < 1:
            raise ShapeMismatch(f"a batched network needs at least one member, not {members}")
        self.members, self.input_size, self.hidden_size = members, input_size, hidden_size
        self.manual_backward = False  #: True: the hand-written backward (measured slower)
        self.num_layers, self.horizon, self.kind = num_layers, horizon, kind
        g, m = 4 * hidden_size, members
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            self.register_parameter(f"w_ih{k}", nn.Parameter(torch.zeros(m, g, width)))
            self.register_parameter(f"w_hh{k}", nn.Parameter(torch.zeros(m, g, hidden_size)))
            self.register_parameter(f"b_ih{k}", nn.Parameter(torch.zeros(m, g)))
            self.register_parameter(f"b_hh{k}", nn.Parameter(torch.zeros(m, g)))
        out = horizon * kind.size
        self.head_w = nn.Parameter(torch.zeros(m, out, hidden_size))
        self.head_b = nn.Parameter(torch.zeros(m, out))

    # -- stacking and unstacking ---------------------------------------------------------------

    @classmethod
    def from_nets(cls, nets: Sequence[LSTMNet]) -> BatchedLSTM:
        """Stack the weights of ``nets`` (copies; the nets are left as they are).

        Raises
        ------
        ShapeMismatch
            When ``nets`` is empty, a net has a coin embedding or dropout between layers, or
            the nets differ in inputs, hidden size, layers, horizon or head.
        """
        nets = list(nets)
        if not nets:
            raise ShapeMismatch("from_nets needs at least one LSTMNet")
        for k, net in enumerate(nets):
            _check_net(net, k)
        first = _shape_of(nets[0])
        for k, net in enumerate(nets[1:], 1):
            if _shape_of(net) != first:
                raise ShapeMismatch(
                    f"member {k} has shape {_describe(_shape_of(net))} but member 0 has "
                    f"{_describe(first)}; a batched network needs one shape"
                )
        n0 = nets[0]
        b = cls(len(nets), n0.lstm.input_size, n0.lstm.hidden_size, n0.lstm.num_layers,
                n0.horizon, n0.kind)  # fmt: skip
        order = _gate_order(b.hidden_size)
        with torch.no_grad():
            for k in range(b.num_layers):
                for ours, theirs in (("w_ih", "weight_ih_l"), ("w_hh", "weight_hh_l"),
                                     ("b_ih", "bias_ih_l"), ("b_hh", "bias_hh_l")):  # fmt: skip
                    stacked = torch.stack([getattr(n.lstm, f"{theirs}{k}") for n in nets])
                    getattr(b, f"{ours}{k}").copy_(stacked[:, order])
            b.head_w.copy_(torch.stack([n.head.weight for n in nets]))
            b.head_b.copy_(torch.stack([n.head.bias for n in nets]))
        return b.to(n0.head.weight.device)

    def new_net(self) -> LSTMNet:
        """An LSTMNet of the members' shape (fresh weights)."""
        quantiles = getattr(self.kind, "quantiles", None)
        extra = {} if quantiles is None else {"quantiles": quantiles}
        return LSTMNet(self.input_size, self.hidden_size, self.num_layers, 0.0, self.horizon,
                       self.kind.name, **extra)  # fmt: skip

    def member_state(self, m: int) -> dict[str, torch.Tensor]:
        """Member ``m``'s weights as an LSTMNet ``state_dict`` (copies, on the CPU)."""
        back = torch.argsort(_gate_order(self.hidden_size))
        state = {}
        for k in range(self.num_layers):
            for ours, theirs in (("w_ih", "weight_ih_l"), ("w_hh", "weight_hh_l"),
                                 ("b_ih", "bias_ih_l"), ("b_hh", "bias_hh_l")):  # fmt: skip
                state[f"lstm.{theirs}{k}"] = getattr(self, f"{ours}{k}")[m][back].detach().cpu()
        state["head.weight"] = self.head_w[m].detach().cpu().clone()
        state["head.bias"] = self.head_b[m].detach().cpu().clone()
        return state

    def to_nets(self) -> list[LSTMNet]:
        """Each member as its own LSTMNet (on the CPU), to save or predict like any run."""
        nets = []
        for m in range(self.members):
            net = self.new_net()
            net.load_state_dict(self.member_state(m))
            nets.append(net.eval())
        return nets

    # -- running -------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs of each member on its own windows: ``x`` (M, B, L, F); with ``members``
        (a (K,) index), only those members run and ``x`` is (K, B, L, F)."""
        p = dict(self.named_parameters())
        if members is not None:
            p = {k: v.index_select(0, members) for k, v in p.items()}
        m, b, steps, f = x.shape
        if f != self.input_size:
            raise ShapeMismatch(f"inputs have {f} features; the members take {self.input_size}")
        if m != len(p["head_b"]):
            raise ShapeMismatch(f"inputs are for {m} members; the network runs {len(p['head_b'])}")
        seq = x.transpose(1, 2).reshape(m, steps * b, f)  # time-major: each step contiguous
        layer = _LSTMLayer.apply if self.manual_backward else _layer_autograd
        for k in range(self.num_layers):
            bias = (p[f"b_ih{k}"] + p[f"b_hh{k}"]).unsqueeze(1)  # (M, 1, G)
            proj = torch.baddbmm(bias, seq, p[f"w_ih{k}"].transpose(1, 2))  # (M, L * B, G)
            hs = layer(proj.view(m, steps, b, -1), p[f"w_hh{k}"])  # (M, L, B, hidden)
            seq = hs.view(m, steps * b, -1)
        h = hs[:, -1]  # (M, B, hidden)
        z = torch.baddbmm(p["head_b"].unsqueeze(1), h, p["head_w"].transpose(1, 2))
        out = self.kind.shape(z.reshape(m * b, -1), self.horizon)  # (M * B, H[, size])
        return out.view(m, b, *out.shape[1:])


def _layer_autograd(proj: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """One LSTM layer, autograd through every step: ``proj`` (M, L, B, G) holds each
    step's input projection and both biases; returns every step's hidden state."""
    hd = w_hh.shape[-1]
    w_hh_t = w_hh.transpose(1, 2)  # (M, hidden, G)
    h = c = None
    outs = []
    for x_t in proj.unbind(1):  # unbind: one cheap backward, not one per step
        gates = x_t if h is None else torch.baddbmm(x_t, h, w_hh_t)
        ifo, g = gates.split([3 * hd, hd], dim=-1)
        i, fg, o = torch.sigmoid(ifo).chunk(3, dim=-1)
        g = torch.tanh(g)
        c = i * g if c is None else torch.addcmul(i * g, fg, c)
        h = o * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, dim=1)


class _LSTMLayer(torch.autograd.Function):
    """The same layer with a hand-written backward through time: the gate derivatives
    step by step, then the recurrent weights' gradient as one product over every step
    (autograd would make one small product, a copy and a concatenation per step)."""

    @staticmethod
    def forward(ctx, proj: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
        m, steps, b, g4 = proj.shape
        hd = g4 // 4
        w_hh_t = w_hh.transpose(1, 2)
        acts = torch.empty_like(proj)  # sigmoid(i, f, o) and tanh(g), per step
        cs = proj.new_empty(m, steps, b, hd)
        hs = proj.new_empty(m, steps, b, hd)
        for t in range(steps):
            gates = proj[:, t] if t == 0 else torch.baddbmm(proj[:, t], hs[:, t - 1], w_hh_t)
            a = acts[:, t]
            torch.sigmoid(gates[..., : 3 * hd], out=a[..., : 3 * hd])
            torch.tanh(gates[..., 3 * hd :], out=a[..., 3 * hd :])
            i, fg, o, g = a.split(hd, dim=-1)
            c = i * g if t == 0 else torch.addcmul(i * g, fg, cs[:, t - 1])
            cs[:, t] = c
            torch.mul(o, torch.tanh(c), out=hs[:, t])
        ctx.save_for_backward(w_hh, acts, cs, hs)
        return hs

    @staticmethod
    def backward(ctx, grad_hs: torch.Tensor):
        w_hh, acts, cs, hs = ctx.saved_tensors
        m, steps, b, hd = hs.shape
        d_gates = torch.empty_like(acts)  # (M, L, B, G), before the nonlinearities
        dh = dc = None
        for t in reversed(range(steps)):
            i, fg, o, g = acts[:, t].split(hd, dim=-1)
            tc = torch.tanh(cs[:, t])
            dh_t = grad_hs[:, t] if dh is None else grad_hs[:, t] + dh
            dct = dh_t * o * (1 - tc * tc)
            if dc is not None:
                dct = dct + dc
            d = d_gates[:, t]
            di, df, do, dg = d.split(hd, dim=-1)
            torch.mul(dct * g, i * (1 - i), out=di)
            if t > 0:
                torch.mul(dct * cs[:, t - 1], fg * (1 - fg), out=df)
            else:
                df.zero_()
            torch.mul(dh_t * tc, o * (1 - o), out=do)
            torch.mul(dct * i, 1 - g * g, out=dg)
            dc = dct * fg
            if t > 0:
                dh = torch.bmm(d, w_hh)  # (M, B, hidden)
        g4 = 4 * hd
        grad_w = torch.bmm(
            d_gates[:, 1:].reshape(m, (steps - 1) * b, g4).transpose(1, 2),
            hs[:, :-1].reshape(m, (steps - 1) * b, hd),
        )  # (M, G, hidden)
        return d_gates, grad_w


def _describe(shape: tuple) -> str:
    inputs, hidden, layers, horizon, head, quantiles, _ = shape
    q = f" {quantiles}" if quantiles is not None else ""
    return f"(inputs {inputs}, hidden {hidden}, layers {layers}, horizon {horizon}, {head}{q})"
