"""Pictures of a sweep (PNG, matplotlib): the validation score against each searched setting
(one panel a setting: a scatter over a range, on a log axis for a log range; a box and its
points for each value of a choice), and the best trial's forecasts on the test period against
the actual closes and the baselines' (one panel a series). Each function takes what
:mod:`coincast.reporting.sweep_report` prepared, saves one PNG and returns its path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .backtest_plots import ACTUAL, NAIVE_COLOR, _empty, _label
from .plots import save

COMPLETE = "#1f77b4"
PRUNED = "#8c8c8c"
BEST = "#d62728"
DRIFT = "#2ca02c"
PER_ROW = 3  # panels in a row of the score picture
JITTER = 0.12  # half the spread of a choice's points around its column


@dataclass(frozen=True)
class Panel:
    """One searched setting's panel: every scored trial's value of it and its score."""

    name: str
    kind: str  #: ``"range"`` (a number axis) or ``"choice"`` (a column per value)
    log: bool  #: a log x axis (a log range)
    values: tuple[float, ...]  #: per trial: the value (range) or its column (choice)
    labels: tuple[str, ...]  #: a choice's values as text, in the space's order
    scores: tuple[float, ...]  #: per trial: its validation score
    states: tuple[str, ...]  #: per trial: complete or pruned
    best: int | None  #: the position of the best trial, if it is here
    bounds: tuple[float, float] | None = None  #: a range's low and high: the x axis spans it


def plot_scores(panels: list[Panel], path: str | Path) -> Path:
    """The validation score of every scored trial against each searched setting: complete
    trials as dots, pruned ones hollow (their score covers the series they reached), the
    best as a star, naive's score (1) as a dashed line."""
    if not any(p.scores for p in panels):
        return _empty(path, "no trial has a validation score yet")
    cols = min(PER_ROW, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.5 * rows), squeeze=False)
    for i, (ax, panel) in enumerate(zip(axes.flat, panels, strict=False)):
        _draw_panel(ax, panel, legend=i == 0)
    for ax in axes.flat[len(panels) :]:
        ax.set_axis_off()
    fig.suptitle("validation score (MAE ÷ naive; lower is better) against each searched setting",
                 fontsize=11)  # fmt: skip
    return save(fig, path, dates=False)


def _draw_panel(ax: plt.Axes, panel: Panel, legend: bool) -> None:
    x = np.asarray(panel.values, dtype="float64")
    y = np.asarray(panel.scores, dtype="float64")
    done = np.asarray(panel.states) == "complete"
    if panel.kind == "choice":
        _draw_boxes(ax, panel, x, y, done)
        x = x + np.random.default_rng(0).uniform(-JITTER, JITTER, len(x))  # seeded: same bytes
    ax.scatter(x[done], y[done], s=24, color=COMPLETE, zorder=3, label="complete trial")
    if (~done).any():
        ax.scatter(x[~done], y[~done], s=28, facecolors="none", edgecolors=PRUNED, zorder=2,
                   label="pruned (score over the series it reached)")  # fmt: skip
    if panel.best is not None:
        ax.scatter(x[panel.best], y[panel.best], marker="*", s=160, color=BEST, zorder=4,
                   label="best (by validation score)")  # fmt: skip
    ax.axhline(1.0, color=NAIVE_COLOR, ls="--", lw=1, zorder=1, label="naive (1)")
    if panel.log:
        ax.set_xscale("log")
    if panel.bounds is not None and panel.bounds[0] < panel.bounds[1]:
        ax.set_xlim(*_padded(*panel.bounds, panel.log))
    ax.set_title(_label(panel.name) + (" (log scale)" if panel.log else ""), fontsize=10)
    ax.set_ylabel("validation score")
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize=7)


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    """``[low, high]`` widened by 4 % of its width (on the log axis for a log range)."""
    if log:
        a, b = np.log10(low), np.log10(high)
        return 10 ** (a - 0.04 * (b - a)), 10 ** (b + 0.04 * (b - a))
    return low - 0.04 * (high - low), high + 0.04 * (high - low)


def _draw_boxes(ax: plt.Axes, panel: Panel, x: np.ndarray, y: np.ndarray, done: np.ndarray):
    """A box of the complete trials' scores at each value of a choice that has some."""
    groups = [(i, y[done & (x == i)]) for i in range(len(panel.labels))]
    kept = [(i, g) for i, g in groups if len(g)]
    if kept:
        ax.boxplot([g for _, g in kept], positions=[i for i, _ in kept], widths=0.5,
                   showfliers=False, medianprops={"color": COMPLETE},
                   boxprops={"color": "#bbbbbb"}, whiskerprops={"color": "#bbbbbb"},
                   capprops={"color": "#bbbbbb"})  # fmt: skip
    ax.set_xticks(range(len(panel.labels)), [_label(v) for v in panel.labels])
    ax.set_xlim(-0.6, len(panel.labels) - 0.4)


def plot_test(lines: dict[str, pd.DataFrame], best: str, path: str | Path) -> Path:
    """Per series, over the test period: the actual closes, the best trial's forecasts (named
    ``best``) and naive's and drift's, one column each of ``lines`` (indexed by time)."""
    if not lines:
        return _empty(path, "the test period has not been scored yet")
    fig, axes = plt.subplots(len(lines), 1, figsize=(10, 3.4 * len(lines)), squeeze=False)
    for ax, (series, wide) in zip(axes[:, 0], lines.items(), strict=True):
        ax.plot(wide.index, wide["actual"], color=ACTUAL, lw=1.5, zorder=3, label="actual")
        styles = {best: (BEST, "-", 1.6), "naive": (NAIVE_COLOR, "--", 1.0),
                  "drift": (DRIFT, "--", 1.0)}  # fmt: skip
        for model, (color, ls, lw) in styles.items():
            if model in wide.columns:
                ax.plot(wide.index, wide[model], color=color, ls=ls, lw=lw, zorder=2,
                        label=_label(model if model != best else f"{best} (best)"))  # fmt: skip
        ax.set_title(_label(f"{series}: the test period, forecasts one bar ahead"), fontsize=10)
        ax.set_ylabel("close")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    return save(fig, path)
