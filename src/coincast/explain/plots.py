"""The pictures of :mod:`coincast.explain` (PNG, matplotlib): gates and memory of each layer,
the saliency of each input bar, and the gradient flowing back through time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..models.cell import Trace
from ..reporting.html import bar_time
from ..reporting.plots import plt, save

# panel: (title, signed); a gate (0 to 1) gets a perceptual sequential colour map, a signed
# value a diverging one centred at 0 (see _colours)
PANELS = {
    "f": ("forget gate f: 1 keeps the memory, 0 erases it", False),
    "i": ("input gate i: how much of g is written", False),
    "g": ("candidate g: what could be written", True),
    "c": ("cell state c: the memory", True),
    "o": ("output gate o: how much memory is shown", False),
    "h": ("hidden state h = o * tanh(c)", True),
}
ROBUST = (2, 98)  # percentiles the colours span: one extreme cell does not wash out the rest
CURVES = {  # gradient_through_time key: (label, colour, line style)
    "lstm": ("this LSTM (trained)", "#1f77b4", "-"),
    "lstm_untrained": ("LSTM, fresh default weights", "#1f77b4", ":"),
    "lstm_forget_bias": ("LSTM, fresh, forget-gate bias 1", "#2ca02c", "-."),
    "rnn": ("plain RNN (tanh), fresh weights", "#d62728", "--"),
}


def _date_ticks(ax: plt.Axes, index: pd.DatetimeIndex, n: int = 6) -> None:
    """Label about ``n`` of the steps 0..T-1 on the x axis with their bar dates."""
    at = np.unique(np.linspace(0, len(index) - 1, min(n, len(index))).round().astype(int))
    ax.set_xticks(at)
    ax.set_xticklabels([bar_time(index[k], index) for k in at])


def colour_limits(values: np.ndarray, signed: bool) -> tuple[str, float, float]:
    """The colour map and value range of a heatmap: for a signed value a diverging map
    centred at 0, out to the 98th percentile of ``|values|``; for a gate a perceptual
    sequential map over its 2nd to 98th percentile (cells beyond take the end colours).

    Examples
    --------
    >>> cmap, lo, hi = colour_limits(np.linspace(-1, 1, 101), signed=True)
    >>> cmap, round(lo, 2), round(hi, 2)
    ('RdBu_r', -0.98, 0.98)
    """
    if signed:
        top = float(np.percentile(np.abs(values), ROBUST[1]))
        top = top if top > 1e-6 else max(float(np.abs(values).max()), 1e-6)
        return "RdBu_r", -top, top
    lo, hi = (float(v) for v in np.percentile(values, ROBUST))
    if hi - lo < 1e-6:  # a constant gate: a small range around it
        lo, hi = lo - 0.01, hi + 0.01
    return "viridis", lo, hi


def plot_layer(trace: Trace, layer: int, index: pd.DatetimeIndex, path: str | Path) -> Path:
    """Heatmaps (units x time) of the gates and states of one layer of window 0 of ``trace``.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from coincast.models.cell import ScratchLSTM
    >>> _, trace = ScratchLSTM(1, 4)(torch.randn(1, 10, 1))
    >>> index = pd.date_range("2024-01-01", periods=10, tz="UTC")
    >>> plot_layer(trace.detach(), 0, index, os.path.join(tempfile.mkdtemp(), "l.png")).suffix
    '.png'
    """
    units = trace.h[layer].shape[-1]
    fig, axes = plt.subplots(
        3, 2, figsize=(11, 1.0 + 3 * (1.6 + 0.04 * min(units, 64))), sharex=True,
        layout="constrained",  # colour bars made under it keep the suptitle clear too
    )  # fmt: skip
    for ax, (name, (title, signed)) in zip(axes.ravel(), PANELS.items(), strict=True):
        values = getattr(trace, name)[layer][0].detach().cpu().numpy().T  # (N, T)
        cmap, lo, hi = colour_limits(values, signed)
        im = ax.imshow(values, aspect="auto", cmap=cmap, vmin=lo, vmax=hi,
                       interpolation="nearest", origin="lower")  # fmt: skip
        fig.colorbar(im, ax=ax, pad=0.02, extend="both")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("unit")
        _date_ticks(ax, index)
    fig.suptitle(f"Inside LSTM layer {layer + 1} of {trace.layers}: one row per unit, one "
                 "column per bar\ncolours span the middle 96 % of each panel's values; signed "
                 "values red above 0, blue below, white at 0", fontsize=10)  # fmt: skip
    return save(fig, Path(path))


def plot_saliency(values: np.ndarray, index: pd.DatetimeIndex, path: str | Path) -> Path:
    """Bars: how strongly the step-1 forecast reacts to each input bar of the window."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    top = float(np.max(values)) if len(values) else 0.0
    shares = values / top if top > 0 else values
    ax.bar(np.arange(len(values)), shares, color="#1f77b4", width=0.8)
    ax.set_ylabel("sensitivity (largest = 1)")
    ax.set_title("Which bars the forecast reacts to: |d forecast / d input| per bar", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    _date_ticks(ax, index)
    return save(fig, Path(path))


def plot_gradients(gradients: dict[str, np.ndarray], path: str | Path) -> Path:
    """Log-scale lines: the gradient reaching the hidden state ``k`` steps back, relative to
    the last step, for the LSTM and the plain RNN (see ``gradient_through_time``)."""
    fig, ax = plt.subplots(figsize=(10, 4))
    steps = gradients["steps_back"]
    for key, (label, colour, style) in CURVES.items():
        if key in gradients:
            v = np.asarray(gradients[key], dtype=float)
            ax.semilogy(steps, np.where(v > 0, v, np.nan), style, color=colour, lw=1.6, label=label)
    ax.set_xlabel("steps back from the last bar")
    ax.set_ylabel("gradient norm (last step = 1)")
    ax.set_title("How far back can the forecast reach? Gradient flowing back through time",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    return save(fig, path, dates=False)
