"""The explain page: what each picture of :mod:`coincast.explain.plots` shows, in plain
language, around the numbers of :mod:`coincast.explain.numbers`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..models.cell import Trace
from ..models.forecaster import LSTMForecaster, WindowInputs
from ..reporting.html import bar_time, e, image, kv, page
from . import plots as ep

CSS = """
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0}
main{max-width:1000px;margin:0 auto;padding:1rem 1.5rem 3rem}h1{font-size:1.6rem}
h2{border-bottom:2px solid #ddd;padding-bottom:.2rem}table{border-collapse:collapse}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee}figure{margin:1rem 0}code{background:#f3f3f3}
.note{color:#555;font-size:.92rem}
"""


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
        f"<li>{e(label)}: {grads[key][k]:.2g}</li>"
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
        ("window", f"{bar_time(inputs.index[0], inputs.index)} to "
                   f"{bar_time(inputs.index[-1], inputs.index)} ({len(inputs.index)} bars)"),
        ("inputs per bar", ", ".join(inputs.features)),
        ("last close", f"{inputs.last_close:,.6g}"),
        ("network", f"{trace.layers} layer(s) x {trace.h[0].shape[-1]} units, "
                    f"{model.config.head} head"),
    ]  # fmt: skip
    if inputs.coin is not None:
        rows.append(("coin index (embedding)", int(inputs.coin.reshape(-1)[0])))
    return kv(rows, cls="")


def render_page(model, inputs, trace, sal, grads, pictures: dict[str, Path], seed: int) -> str:
    """The explain page's HTML: the facts, then each picture with its plain-language text."""
    layers = GATES_TEXT + "".join(
        f"<h3>Layer {k + 1}</h3>" + image(pictures[f"layer{k + 1}"], f"gates of layer {k + 1}")
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
    title = (
        "coincast explain: inside the LSTM, window ending "
        f"{bar_time(inputs.index[-1], inputs.index)}"
    )
    body = (
        f"{_facts(model, inputs, trace)}{intro}"
        f"<h2>Gates and memory</h2>{layers}"
        f"<h2>Which bars the forecast reacts to</h2>"
        f"{image(pictures['saliency'], 'saliency')}{_saliency_text(sal)}"
        f"<h2>Memory through time: LSTM against a plain RNN</h2>"
        f"{image(pictures['gradients'], 'gradient through time')}{_gradient_text(grads, seed)}"
    )
    return page(title, CSS, body)
