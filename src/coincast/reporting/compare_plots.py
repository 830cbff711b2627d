"""The picture of many coins' backtests side by side: each model's MASE per coin, absolute and
relative to the naive forecast, from :func:`coincast.evaluation.compare.by_coin`'s table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .plots import plt, save


def plot_by_coin(table: pd.DataFrame, models: list[str], path: str | Path, title: str) -> Path:
    """Two panels per coin: each model's MASE (top; the naive forecast's as a black tick when
    it is among ``models``), and the same MASE divided by the naive forecast's (bottom; below
    the line at 1 is better than naive), where small differences between models show."""
    coins = table["coin"].tolist()
    x = np.arange(len(coins))
    bars = [m for m in models if m != "naive"]
    width = 0.8 / max(len(bars), 1)
    fig, (top, low) = plt.subplots(2, 1, figsize=(max(7.0, 0.75 * len(coins) + 2), 7.0),
                                   sharex=True, height_ratios=[1, 1.2])  # fmt: skip
    for i, m in enumerate(bars):
        dx = (i - (len(bars) - 1) / 2) * width
        top.bar(x + dx, table[f"mase:{m}"], width, label=m, color=f"C{i}")
        if "naive" in models:
            low.bar(x + dx, table[f"mase:{m}"] / table["mase:naive"] - 1, width, bottom=1,
                    color=f"C{i}")  # fmt: skip
    if "naive" in models:
        top.scatter(x, table["mase:naive"], marker="_", s=400, color="black", zorder=3,
                    label="naive")  # fmt: skip
        low.axhline(1, color="black", lw=1)
    top.set_ylabel("MASE (lower is better)")
    top.set_title(title)
    # in the lower panel's corner, where bars around 1 leave room (the top one is crowded)
    low.legend(*top.get_legend_handles_labels(), fontsize=8, ncols=min(4, len(models)),
               loc="lower left")  # fmt: skip
    low.set_ylabel("MASE / naive's MASE")
    low.set_title("relative to the naive forecast (below 1: better than naive)", fontsize=10)
    low.set_xticks(x, coins, rotation=45, ha="right")
    for ax in (top, low):
        ax.grid(axis="y", alpha=0.3)
    return save(fig, Path(path), dates=False)
