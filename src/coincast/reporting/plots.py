"""Pictures (PNG, matplotlib): prices now; forecasts and backtests as they arrive."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import pandas as pd


def plot_prices(frames: list[pd.DataFrame], path: str | Path, *, title: str | None = None) -> Path:
    """Close prices of one or more coins, one panel each, saved as a PNG.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> import tempfile, os
    >>> p = plot_prices([synthetic_candles(60)], os.path.join(tempfile.mkdtemp(), "p.png"))
    >>> p.suffix
    '.png'
    """
    path = Path(path)
    fig, axes = plt.subplots(
        len(frames), 1, figsize=(10, 3.2 * len(frames)), sharex=True, squeeze=False
    )
    for ax, frame in zip(axes[:, 0], frames, strict=True):
        a = frame.attrs
        ax.plot(frame.index, frame["close"], lw=1.2, color="#1f77b4")
        ax.set_ylabel(f"{a.get('coin', '')} ({a.get('quote', '').upper()})")
        ax.grid(alpha=0.3)
        ax.set_title(
            f"{a.get('coin', '')} {a.get('interval', '')} close, source: {a.get('source', '')}",
            fontsize=10,
        )
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_forecast(
    history: pd.DataFrame, forecast: pd.DataFrame, path: str | Path, *, bars: int = 120
) -> Path:
    """The last ``bars`` closes of ``history`` and the forecast after them, with its band
    (``lo``/``hi``) when the model gives one. Saved as a PNG."""
    path = Path(path)
    recent = history.iloc[-bars:]
    a = history.attrs
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(recent.index, recent["close"], lw=1.2, color="#1f77b4", label="actual close")
    joined = pd.concat([recent["close"].iloc[-1:], forecast["yhat"]])
    ax.plot(
        joined.index, joined.values, lw=1.6, color="#d62728", marker="o", ms=3, label="forecast"
    )
    if forecast["lo"].notna().any():
        ax.fill_between(
            forecast.index, forecast["lo"], forecast["hi"], color="#d62728", alpha=0.18,
            label="forecast band",
        )  # fmt: skip
    ax.set_title(
        f"{a.get('coin', '')} {a.get('interval', '')}: next {len(forecast)} bars", fontsize=10
    )
    ax.set_ylabel(f"close ({str(a.get('quote', '')).upper()})")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save(fig, path)


DPI = 110


def save(fig: plt.Figure, path: str | Path, *, dates: bool = True) -> Path:
    """Lay out the figure (and its date axis, if ``dates``), write it as a PNG at ``path``
    (folders created) and close it: the one place coincast writes a picture."""
    if dates:
        fig.autofmt_xdate()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})  # no version: same data, same bytes
    plt.close(fig)
    return path
