"""Pictures of a backtest (PNG, matplotlib): actual against predicted, errors over time, the
LSTM's loss curves and the forecast fan. Every function reads the backtest's tidy table
(``coin, model, cutoff, ts, step, y, yhat, lo, hi, last``) or plain records, saves one PNG and
returns its path; NaN values and a single model are fine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..errors import CoincastError
from .plots import plot_forecast, save

ACTUAL = "#333333"
NAIVE = "naive"
FAN_BARS = 120  # closes drawn before the future forecast
NAIVE_COLOR = "#ff7f0e"  # orange: never confused with the dark actual line
_COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2"]


def _label(text: object) -> str:
    """User text made safe for matplotlib titles (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _empty(path: str | Path, message: str) -> Path:
    fig, ax = plt.subplots(figsize=(10, 2))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11)
    ax.set_axis_off()
    return save(fig, path, dates=False)


def _step_rows(table: pd.DataFrame, step: int) -> pd.DataFrame:
    """Rows of one forecast step, sorted by time; an unknown step is refused."""
    steps = sorted(int(s) for s in table["step"].dropna().unique())
    if step not in steps:
        raise CoincastError(
            f"step ({step}) is not in the backtest table; steps present: {steps}. "
            "Pick one of them (step 1 is the next bar)."
        )
    return table[table["step"] == step].sort_values("ts")


def _models(rows: pd.DataFrame) -> list[str]:
    """Model names in table order, the naive reference last."""
    names = [str(m) for m in pd.unique(rows["model"])]
    return [m for m in names if m != NAIVE] + [m for m in names if m == NAIVE]


def _color(i: int, model: str) -> str:
    return NAIVE_COLOR if model == NAIVE else _COLORS[i % len(_COLORS)]


def _actual(table: pd.DataFrame) -> pd.Series:
    """The actual close at every forecast time (one value per ``ts``)."""
    return table.dropna(subset=["y"]).groupby("ts")["y"].first().sort_index()


def _dates(ax) -> None:
    """Short, non-overlapping date ticks."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _draw_model(ax, actual: pd.Series, rows: pd.DataFrame, model: str, color: str, ms: float):
    ax.plot(actual.index, actual.values, color=ACTUAL, lw=1.1, marker="o", ms=ms, label="actual")
    ax.plot(rows["ts"], rows["yhat"], color=color, lw=1.3, marker="o", ms=ms, label=_label(model))
    if {"lo", "hi"} <= set(rows.columns) and rows["lo"].notna().any():
        ax.fill_between(
            rows["ts"], rows["lo"], rows["hi"], color=color, alpha=0.18, label="forecast band"
        )
    ax.grid(alpha=0.3)
    _dates(ax)


def plot_actual_vs_predicted(table: pd.DataFrame, path: str | Path, step: int = 1) -> Path:
    """Actual close and each model's ``step``-ahead forecasts, one row of panels per model:
    the whole test period on the left, its last 30 forecasts on the right (there the naive
    forecast is plainly the actual shifted by ``step`` bars).

    Examples
    --------
    >>> import tempfile, os
    >>> ts = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    >>> t = pd.DataFrame({"model": "naive", "ts": ts, "step": 1, "y": [1.0, 2, 3, 4, 5],
    ...                   "yhat": [0.5, 1, 2, 3, 4], "lo": np.nan, "hi": np.nan})
    >>> plot_actual_vs_predicted(t, os.path.join(tempfile.mkdtemp(), "a.png")).suffix
    '.png'
    """
    if table.empty:
        return _empty(path, "no forecasts in the backtest table")
    rows = _step_rows(table, step)
    models = _models(rows)
    actual = _actual(rows)
    zoom_start = actual.index[-min(30, len(actual))] if len(actual) else None
    fig, axes = plt.subplots(
        len(models), 2, figsize=(12, 2.9 * len(models)), squeeze=False,
        gridspec_kw={"width_ratios": [2, 1]},
    )  # fmt: skip
    for i, model in enumerate(models):
        mrows = rows[rows["model"] == model]
        left, right = axes[i]
        _draw_model(left, actual, mrows, model, _color(i, model), ms=0)
        zoom = mrows[mrows["ts"] >= zoom_start] if zoom_start is not None else mrows
        _draw_model(right, actual[actual.index >= zoom_start], zoom, model, _color(i, model), 2.5)
        note = f" = the actual shifted right by {step} bar(s)" if model == NAIVE else ""
        left.set_title(f"{_label(model)}: {step}-step-ahead forecast{note}", fontsize=10)
        right.set_title("last 30 forecasts, close up", fontsize=9)
        left.legend(loc="best", fontsize=8)
    for ax in axes.ravel():
        ax.tick_params(axis="x", labelsize=8)
    coin = rows["coin"].iloc[0] if "coin" in rows.columns and len(rows) else ""
    fig.suptitle(_label(f"{coin}: actual close vs forecast, step {step}"), fontsize=11)
    return save(fig, path, dates=False)


def plot_errors(table: pd.DataFrame, path: str | Path, step: int = 1) -> Path:
    """Absolute error of each model's ``step``-ahead forecast over time, as a rolling mean
    (about a tenth of the test period, 3 to 30 bars) so the lines can be read; the naive
    forecast is the dashed reference."""
    if table.empty:
        return _empty(path, "no forecasts in the backtest table")
    rows = _step_rows(table, step)
    models = _models(rows)
    window = int(np.clip(rows["ts"].nunique() // 10, 3, 30))
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, model in enumerate(models):
        mrows = rows[rows["model"] == model].set_index("ts")
        err = (mrows["y"] - mrows["yhat"]).abs()
        smooth = err.rolling(window, min_periods=1).mean()
        style = "--" if model == NAIVE else "-"
        ax.plot(smooth.index, smooth.values, style, color=_color(i, model), lw=1.4,
                label=_label(model))  # fmt: skip
    ax.set_title(
        f"absolute error of the {step}-step-ahead forecast, rolling mean over {window} bars "
        "(lower is better)",
        fontsize=10,
    )
    ax.set_ylabel("|actual - forecast|")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    _dates(ax)
    return save(fig, path, dates=False)


def _history_frame(history: Sequence[Any]) -> pd.DataFrame:
    rows = [asdict(r) if is_dataclass(r) else dict(r) for r in history]
    frame = pd.DataFrame(rows, columns=None if rows else ["epoch", "train_loss", "val_loss"])
    for col in ("epoch", "train_loss", "val_loss"):
        if col not in frame.columns:
            frame[col] = np.nan
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.sort_values("epoch")


def plot_loss_curves(history: Sequence[Any], path: str | Path) -> Path:
    """Training and validation loss per epoch (dicts or records with ``epoch``,
    ``train_loss``, ``val_loss``); a dot every 10 epochs, as the training log prints them,
    and the epoch with the lowest validation loss marked."""
    frame = _history_frame(history)
    if frame["train_loss"].notna().sum() == 0:
        return _empty(path, "no training history recorded")
    fig, ax = plt.subplots(figsize=(10, 3.6))
    every = [i for i, e in enumerate(frame["epoch"]) if e % 10 == 0] or None
    ax.plot(frame["epoch"], frame["train_loss"], color="#1f77b4", lw=1.4, marker="o", ms=3,
            markevery=every, label="training loss")  # fmt: skip
    if frame["val_loss"].notna().any():
        ax.plot(frame["epoch"], frame["val_loss"], color="#ff7f0e", lw=1.4, marker="o", ms=3,
                markevery=every, label="validation loss")  # fmt: skip
        best = frame.loc[frame["val_loss"].idxmin()]
        ax.axvline(best["epoch"], color="#2ca02c", ls=":", lw=1.2,
                   label=f"lowest validation loss (epoch {int(best['epoch'])})")  # fmt: skip
    positive = pd.concat([frame["train_loss"], frame["val_loss"]]).dropna()
    if (positive > 0).all() and positive.max() / positive.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("epoch (dots every 10th epoch, as the training log prints them)")
    ax.set_ylabel("loss")
    ax.set_title("LSTM training: loss per epoch (training keeps the lowest-validation weights)",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save(fig, path, dates=False)


def plot_forecast_fan(
    history_frame: pd.DataFrame, forecast: pd.DataFrame, path: str | Path, *, bars: int = FAN_BARS
) -> Path:
    """The last ``bars`` closes and the future forecast with its band (``lo``/``hi`` when the
    model gives one), via :func:`coincast.reporting.plots.plot_forecast`."""
    if forecast is None or forecast.empty or history_frame is None or history_frame.empty:
        return _empty(path, "no forecast to draw")
    fc = forecast.copy()
    for col in ("lo", "hi"):
        if col not in fc.columns:
            fc[col] = np.nan
    recent = history_frame[["close"]].copy()
    recent.attrs = {k: _label(v) for k, v in history_frame.attrs.items() if isinstance(v, str)}
    plot_forecast(recent, fc, path, bars=bars)
    return Path(path)


def draw_figures(
    folder: Path,
    table: pd.DataFrame,
    history: Sequence[Any] | None = None,
    forecast: pd.DataFrame | None = None,
    recent: pd.DataFrame | None = None,
    attrs: dict[str, str] | None = None,
) -> list[tuple[Path, str]]:
    """Draw a backtest's pictures into ``folder``: actual vs predicted and errors at the first
    and last step, the loss curves when there is a ``history``, the forecast fan when there
    are ``forecast`` and ``recent`` closes (``attrs`` name coin, interval, quote for it).
    Returns (path, caption) pairs in reading order."""
    folder = Path(folder)
    steps = sorted({int(s) for s in table["step"].dropna()}) or [1]
    pngs = []
    for step in dict.fromkeys([steps[0], steps[-1]]):
        ahead = "the next bar" if step == 1 else f"{step} bars ahead"
        pngs.append((plot_actual_vs_predicted(table, folder / f"actual_step{step}.png", step),
                     f"Actual close (dark) and each model's forecast of {ahead}. Over the whole "
                     "test period every line seems to hug the price; the close-ups on the right "
                     "show that the naive forecast is the actual shifted right, and whether a "
                     "model does anything else."))  # fmt: skip
        pngs.append((plot_errors(table, folder / f"errors_step{step}.png", step),
                     f"Absolute error of the forecast of {ahead} over time, smoothed. Where a "
                     "model's line runs below the dashed naive line, it beats the naive "
                     "forecast there."))  # fmt: skip
    if history:
        pngs.append((plot_loss_curves(history, folder / "loss_curves.png"),
                     "LSTM training and validation loss per epoch. Validation loss rising while "
                     "training loss falls is overfitting; training keeps the weights with the "
                     "lowest validation loss."))  # fmt: skip
    if forecast is not None and recent is not None and len(forecast):
        recent = recent.copy()
        recent.attrs = {**recent.attrs, **(attrs or {})}
        pngs.append((plot_forecast_fan(recent, forecast, folder / "forecast.png", bars=FAN_BARS),
                     "The forecast after the last bar of data, with its band when the model "
                     "gives one. Whether such bands held in the backtest is the coverage "
                     "column of the metrics."))  # fmt: skip
    return pngs
