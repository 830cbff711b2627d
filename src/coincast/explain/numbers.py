"""The numbers inside a trained LSTM on one input window: its gates and memory step by step
(:func:`trace_window`), which bars its forecast reacts to (:func:`saliency`), and how far back a
gradient reaches compared with a plain RNN (:func:`gradient_through_time`).

Everything is computed with :class:`~coincast.models.cell.ScratchLSTM`, a gate-by-gate copy of
the network's ``nn.LSTM`` (checked against the network's own forecast), in eval mode. The
forecast studied is the network's step-1 point forecast (a point head's value, the median
quantile, or the Gaussian mean) in the scaled units the network works in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CoincastError
from ..models.cell import ScratchLSTM, Trace
from ..models.forecaster import LSTMForecaster, WindowInputs
from ..models.lstm import LSTMNet

Step = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]  # (x_t, state) -> (h, state)


@contextmanager
def _evaluating(net: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) for the block; the previous mode is restored after it."""
    was = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was)


def _setup(model: LSTMForecaster, inputs: WindowInputs):
    """The network and the window's tensors on the network's device."""
    net: LSTMNet | None = model.net
    if net is None:
        raise CoincastError("the forecaster is not fitted yet: call fit(frame) or load a run")
    device = next(net.parameters()).device
    coin = None if inputs.coin is None else inputs.coin.to(device)
    return net, inputs.x.detach().to(device), coin


def _step1(model: LSTMForecaster, head_out: torch.Tensor) -> torch.Tensor:
    """(B,) step-1 point forecast from any head's output."""
    return model.head.point(head_out)[:, 0]


def trace_window(model: LSTMForecaster, inputs: WindowInputs) -> Trace:
    """Gates and states of every layer over the window, via a :class:`ScratchLSTM` copy of
    the network, after checking that the copy gives the network's own forecast."""
    net, x, coin = _setup(model, inputs)
    with torch.no_grad(), _evaluating(net):
        out, trace = ScratchLSTM.from_torch(net.lstm)(net.lstm_input(x, coin))
        ours, theirs = net.project(out[:, -1]), net(x, coin)
    if not torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5):
        raise RuntimeError(
            "ScratchLSTM does not reproduce the network's forecast "
            f"(max difference {float((ours - theirs).abs().max()):.3g})"
        )
    return trace.detach()


def saliency(model: LSTMForecaster, inputs: WindowInputs) -> np.ndarray:
    """How strongly the step-1 forecast reacts to each bar of the window: the norm over the
    features of d forecast / d x (scaled units), one value per bar, oldest first.

    Bars near zero are inside the window but barely used: the model's effective memory.
    """
    net, x, coin = _setup(model, inputs)
    x = x.clone().requires_grad_(True)
    with _evaluating(net):
        out, _ = ScratchLSTM.from_torch(net.lstm)(net.lstm_input(x, coin))
        (grad,) = torch.autograd.grad(_step1(model, net.project(out[:, -1])).sum(), x)
    return grad[0].norm(dim=-1).cpu().numpy()  # (L,)


def _lstm_steps(lstm: ScratchLSTM) -> list[Step]:
    def step_of(cell) -> Step:
        def step(x_t: torch.Tensor, state: object) -> tuple[torch.Tensor, object]:
            zeros = x_t.new_zeros(len(x_t), cell.hidden_size)
            h, c, _ = cell(x_t, state or (zeros, zeros))
            return h, (h, c)

        return step

    return [step_of(cell) for cell in lstm.cells]


def _rnn_steps(rnn: nn.RNN) -> list[Step]:
    def step_of(k: int) -> Step:
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")

        def step(x_t: torch.Tensor, h: object) -> tuple[torch.Tensor, object]:
            h = x_t.new_zeros(len(x_t), rnn.hidden_size) if h is None else h
            # h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
            h = torch.tanh(F.linear(x_t, w_ih, b_ih) + F.linear(h, w_hh, b_hh))
            return h, h

        return step

    return [step_of(k) for k in range(rnn.num_layers)]


@torch.no_grad()
def _forget_bias(lstm: ScratchLSTM, value: float) -> ScratchLSTM:
    """Set every forget gate's bias to ``value`` (the input side; the hidden side to 0)."""
    for cell in lstm.cells:
        cell.W_if.bias.fill_(value)
        cell.W_hf.bias.zero_()
    return lstm


def _grad_norms(steps: list[Step], seq: torch.Tensor, readout) -> np.ndarray:
    """||d readout(h_T) / d h_t|| for the top layer's hidden state at every step t, listed by
    steps back from the last (0 = the last step)."""
    inp, hs = seq, []
    for step in steps:
        state, hs = None, []
        for t in range(inp.shape[1]):
            h, state = step(inp[:, t], state)
            hs.append(h)
        inp = torch.stack(hs, dim=1)
    grads = torch.autograd.grad(readout(hs[-1]).sum(), hs)
    return np.array([float(g.norm()) for g in reversed(grads)])


def gradient_through_time(
    model: LSTMForecaster, inputs: WindowInputs, seed: int = 0
) -> dict[str, np.ndarray]:
    """The gradient flowing back through time: for every step ``t`` of the window, the norm
    of d forecast / d h_t, ``h_t`` the top layer's hidden state, for four networks that read
    the same window (features and coin vector) and share one readout (this model's head,
    step-1 point forecast):

    - ``lstm``: this trained LSTM;
    - ``lstm_untrained``: an ``nn.LSTM`` of the same sizes with PyTorch's default weights
      (forget gates near 0.5);
    - ``lstm_forget_bias``: the same fresh LSTM with every forget-gate bias set to 1
      (``bias_ih`` 1, ``bias_hh`` 0; forget gates near 0.73), a common initialisation;
    - ``rnn``: a plain ``nn.RNN`` (tanh) of the same sizes with PyTorch's default weights.

    The fresh networks are drawn with ``torch.manual_seed(seed)`` (the global generator is
    left as it was) and never trained. Each curve is divided by its value at the last step.

    Returns
    -------
    dict
        ``steps_back`` (0 = the last bar), the four normalised curves, and the raw norms
        under the same names plus ``_raw``; arrays of length lookback.
    """
    net, x, coin = _setup(model, inputs)
    lstm = net.lstm
    with torch.no_grad():
        seq = net.lstm_input(x, coin)  # (1, L, F + E)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = nn.LSTM(lstm.input_size, lstm.hidden_size, lstm.num_layers, batch_first=True)
        rnn = nn.RNN(lstm.input_size, lstm.hidden_size, lstm.num_layers, batch_first=True)
    fresh, rnn = fresh.to(seq), rnn.to(seq)
    nets = {
        "lstm": _lstm_steps(ScratchLSTM.from_torch(lstm)),
        "lstm_untrained": _lstm_steps(ScratchLSTM.from_torch(fresh)),
        "lstm_forget_bias": _lstm_steps(_forget_bias(ScratchLSTM.from_torch(fresh), 1.0)),
        "rnn": _rnn_steps(rnn),
    }
    out: dict[str, np.ndarray] = {"steps_back": np.arange(seq.shape[1])}
    with _evaluating(net):
        for name, steps in nets.items():
            raw = _grad_norms(steps, seq, lambda h: _step1(model, net.project(h)))
            out[name] = raw / raw[0] if raw[0] > 0 else raw
            out[f"{name}_raw"] = raw
    return out
