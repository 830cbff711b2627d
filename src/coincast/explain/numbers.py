"""Look inside a trained LSTM on one input window: its gates and memory step by step, which
bars its forecast reacts to, and how far back a gradient reaches compared with a plain RNN.

Everything is computed with :class:`~coincast.models.cell.ScratchLSTM`, a gate-by-gate copy of
the network's ``nn.LSTM`` (checked against the network's own forecast), in eval mode. The
forecast studied is the network's step-1 point forecast (a point head's value, the median
quantile, or the Gaussian mean) in the scaled units the network works in.

Examples
--------
>>> import tempfile
>>> from coincast.models import LSTMForecaster
>>> from coincast.data.sources import predictable_candles
>>> frame = predictable_candles(200)
>>> model = LSTMForecaster(epochs=1, hidden=4, layers=1, lookback=10, threads=1, log_every=0)
>>> inputs = model.fit(frame).window_inputs(frame)
>>> result = explain(model, inputs, tempfile.mkdtemp())
>>> result.html.name, sorted(result.pictures)
('explain.html', ['gradients', 'layer1', 'saliency'])
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CoincastError
from ..models.cell import ScratchLSTM, Trace
from ..models.forecaster import LSTMForecaster, WindowInputs
from ..models.lstm import LSTMNet
from . import plots as ep

Step = Callable[[torch.Tensor, object], tuple[torch.Tensor, object]]  # (x_t, state) -> (h, state)


@dataclass
class ExplainResult:
    """What :func:`explain` wrote and computed."""

    html: Path  #: the one-page explanation
    pictures: dict[str, Path]  #: ``layer1``, ``layer2``, ..., ``saliency``, ``gradients``
    trace: Trace  #: gates and states of every layer over the window
    saliency: np.ndarray  #: (lookback,) see :func:`saliency`
    gradients: dict[str, np.ndarray]  #: see :func:`gradient_through_time`


# -- the numbers ---------------------------------------------------------------------------------


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


# -- the page ------------------------------------------------------------------------------------


def explain(
    model: LSTMForecaster, inputs: WindowInputs, out_dir: str | Path, seed: int = 0
) -> ExplainResult:
    """Draw every picture into ``out_dir`` (created) and write ``explain.html`` there: one
    self-contained page (pictures inlined) explaining them in plain language. ``seed`` draws
    the fresh networks of :func:`gradient_through_time`."""
    out_dir = Path(out_dir)
    trace = trace_window(model, inputs)
    sal = saliency(model, inputs)
    grads = gradient_through_time(model, inputs, seed)
    pictures = {
        f"layer{k + 1}": ep.plot_layer(trace, k, inputs.index, out_dir / f"layer{k + 1}.png")
        for k in range(trace.layers)
    }
    pictures["saliency"] = ep.plot_saliency(sal, inputs.index, out_dir / "saliency.png")
    pictures["gradients"] = ep.plot_gradients(grads, out_dir / "gradients.png")
    html = out_dir / "explain.html"
    html.write_text(_page(model, inputs, trace, sal, grads, pictures, seed), encoding="utf-8")
    return ExplainResult(html, pictures, trace, sal, grads)


CSS = """
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0}
main{max-width:1000px;margin:0 auto;padding:1rem 1.5rem 3rem}h1{font-size:1.6rem}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem}table{border-collapse:collapse}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee}figure{margin:1rem 0}code{background:#f3f3f3}
.note{color:#555;font-size:.92rem}
"""


def _e(v: object) -> str:
    return escape(str(v), quote=True)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}"></figure>'


def _half_life(f: float) -> str:
    """Bars after which a forget gate of ``f`` leaves half of the memory."""
    if f >= 1.0:
        return "never"
    return "under 1 bar" if f <= 0.5 else f"about {math.log(0.5) / math.log(f):.1f} bars"


GATES_TEXT = (
    "<p>In each picture a row is one unit of the layer and a column one bar of the window, "
    "oldest on the left. The <b>forget gate f</b> near 1 means the unit keeps its memory from "
    "the bar before; near 0 it wipes it. The <b>input gate i</b> says how much of the "
    "<b>candidate g</b> (red up, blue down) is written into the <b>cell state c</b>, the "
    "memory, which unlike h is not limited to (-1, 1). The <b>output gate o</b> decides how "
    "much of the memory shows in the <b>hidden state h</b>, what the next layer (or, after "
    "the last layer's last bar, the forecast head) reads.</p>"
)


def _layer_text(trace: Trace, k: int) -> str:
    f = trace.f[k][0].cpu().numpy()  # (L, N)
    mean_f = float(f.mean())
    keepers = int((f.mean(axis=0) > 0.9).sum())
    return (
        f"<p>Here the forget gate averages <b>{mean_f:.2f}</b>: a memory kept at that rate "
        f"halves in {_half_life(mean_f)}. {keepers} of the {f.shape[1]} units keep more than "
        "90% of their memory per bar on average; such units can carry information from the "
        "start of the window to the forecast.</p>"
    )


def _saliency_text(sal: np.ndarray) -> str:
    total = float(sal.sum())
    share = np.cumsum(sal[::-1]) / total if total > 0 else np.ones(len(sal))
    half = int(np.searchsorted(share, 0.5)) + 1
    return (
        "<p>Each bar shows how much the forecast for the next bar would move if that input bar "
        "were slightly different (the size of the gradient of the forecast with respect to the "
        "bar's inputs). It shows the model's <em>effective memory</em>: bars near zero are in "
        "the window but barely used. It describes this window only, and says nothing about "
        f"whether the forecast is right.</p><p>Half of the total sensitivity lies in the last "
        f"<b>{half}</b> of the {len(sal)} bars.</p>"
    )


def _gradient_text(grads: dict[str, np.ndarray], seed: int) -> str:
    k = min(10, len(grads["steps_back"]) - 1)
    at = "".join(
        f"<li>{_e(label)}: {grads[key][k]:.2g}</li>"
        for key, (label, _, _) in ep.CURVES.items()
        if key in grads
    )
    return (
        "<p>Training adjusts the weights by sending the forecast error back through the bars "
        "(backpropagation through time). At every step back the signal is multiplied by that "
        "step's derivative. In a plain RNN this is a tanh slope times the recurrent weights, "
        "usually below 1, so the signal shrinks geometrically: the <em>vanishing gradient</em>, "
        "why plain RNNs struggle to learn links between bars far apart. In an LSTM the memory "
        "path is multiplied by the forget gate instead, so where f stays near 1 the signal "
        "survives. That is not automatic: with PyTorch's default random weights the forget "
        "gates sit near 0.5 and a fresh LSTM may forget about as fast as the RNN. Setting the "
        "forget-gate bias to 1, a common initialisation, keeps f near 0.73 and the gradient "
        "reaches much further. The solid line shows what training made of this model.</p>"
        "<p class='note'>What is computed: the norm of d forecast / d h<sub>t</sub> for the "
        "top layer's hidden state at each bar t, divided by its value at the last bar. All "
        "curves read this window and use this model's head as readout; the fresh networks "
        f"have this model's sizes and PyTorch's default random weights (seed {seed}) and are "
        "not trained. Log scale: each power of ten on the axis is ten times weaker.</p>"
        f"<p>Gradient {k} bars back, relative to the last bar:</p><ul>{at}</ul>"
    )


def _coin_and_interval(model: LSTMForecaster, inputs: WindowInputs) -> tuple[str, str]:
    """The window's coin (the embedding's coin, or the only one) and interval."""
    coins = model.coins or ["-"]
    k = 0 if inputs.coin is None else int(inputs.coin.reshape(-1)[0])
    coin = coins[k] if k < len(coins) else "-"
    interval = str(model.data.get(coin, {}).get("interval", "-"))
    return coin, interval


def _facts(model: LSTMForecaster, inputs: WindowInputs, trace: Trace) -> str:
    coin, interval = _coin_and_interval(model, inputs)
    rows = [
        ("coin", coin),
        ("interval", interval),
        ("window", f"{inputs.index[0]} to {inputs.index[-1]} ({len(inputs.index)} bars)"),
        ("inputs per bar", ", ".join(inputs.features)),
        ("last close", f"{inputs.last_close:,.6g}"),
        ("network", f"{trace.layers} layer(s) x {trace.h[0].shape[-1]} units, "
                    f"{model.config.head} head"),
    ]  # fmt: skip
    if inputs.coin is not None:
        rows.append(("coin index (embedding)", int(inputs.coin.reshape(-1)[0])))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _page(model, inputs, trace, sal, grads, pictures: dict[str, Path], seed: int) -> str:
    layers = GATES_TEXT + "".join(
        f"<h3>Layer {k + 1}</h3>" + _img(pictures[f"layer{k + 1}"], f"gates of layer {k + 1}")
        + _layer_text(trace, k)
        for k in range(trace.layers)
    )  # fmt: skip
    intro = (
        "<p>An LSTM reads the window one bar at a time, oldest first. At every bar each layer "
        "updates two vectors: the <b>cell state c</b>, its memory, and the <b>hidden state "
        "h</b>, what it passes on. Four gates, each a small network reading the bar and the "
        "previous h, decide what to forget, what to write and what to show. After the last "
        "bar the forecast head reads the top layer's h. This page shows those values for one "
        "window, which bars the forecast reacts to, and how far back a learning signal "
        "reaches. The values come from a gate-by-gate copy of the network "
        "(<code>coincast.models.cell</code>), checked to give the same forecast.</p>"
    )
    title = f"coincast explain: inside the LSTM, window ending {inputs.index[-1]}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1>{_facts(model, inputs, trace)}{intro}"
        f"<h2>Gates and memory</h2>{layers}"
        f"<h2>Which bars the forecast reacts to</h2>"
        f"{_img(pictures['saliency'], 'saliency')}{_saliency_text(sal)}"
        f"<h2>Memory through time: LSTM against a plain RNN</h2>"
        f"{_img(pictures['gradients'], 'gradient through time')}{_gradient_text(grads, seed)}"
        "</main></body></html>\n"
    )
