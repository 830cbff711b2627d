"""Pictures of a backtest (PNG, matplotlib): actual against predicted, errors over time, the
LSTM's loss curves and the forecast fan. Every function reads the backtest's tidy table
(``coin, model, cutoff, ts, step, y, yhat, lo, hi, last``) or plain records, saves one PNG and
returns its path; NaN values and a single model are fine.

The models of interest (the LSTM's) are drawn on top in full lines; the references (the naive
forecast and the other baselines) thinner, dashed and underneath, so they never hide them.
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
from ..models.baselines import BASELINES
from .plots import plot_forecast, price_label, save

ACTUAL = "#333333"
NAIVE = "naive"
FAN_BARS = 240  # closes a backtest folder keeps for the forecast picture (it draws fewer)
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
    """Model names in table order: the models of interest first, then the references, the
    naive forecast last."""
    names = [str(m) for m in pd.unique(rows["model"])]
    refs = references(names)
    last = [m for m in names if m in refs and m != NAIVE] + [m for m in names if m == NAIVE]
    return [m for m in names if m not in refs] + last


def references(models: list[str]) -> set[str]:
    """The reference forecasts among ``models``: the naive forecast and the baselines. With
    no other model the baselines are the ones of interest and only naive is a reference.

    Examples
    --------
    >>> sorted(references(["lstm", "drift", "naive"])), references(["drift", "naive"])
    (['drift', 'naive'], {'naive'})
    """
    refs = {m for m in models if m == NAIVE or m in BASELINES}
    return refs if refs != set(models) else {m for m in models if m == NAIVE}


def _color(i: int, model: str) -> str:
    return NAIVE_COLOR if model == NAIVE else _COLORS[i % len(_COLORS)]


def _actual(table: pd.DataFrame) -> pd.Series:
    """The actual close at every forecast time (one value per ``ts``)."""
    return table.dropna(subset=["y"]).groupby("ts")["y"].first().sort_index()


def _quote(table: pd.DataFrame, quote: str | None) -> str | None:
    """The quote currency: as given, else the table's ``quote`` column when it has one."""
    if quote or "quote" not in table.columns or table["quote"].dropna().empty:
        return quote
    return str(table["quote"].dropna().iloc[0])


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


def plot_actual_vs_predicted(
    table: pd.DataFrame, path: str | Path, step: int = 1, *, quote: str | None = None
) -> Path:
    """Actual close and each model's ``step``-ahead forecasts, one row of panels per model:
    the whole test period on the left, its last 30 forecasts on the right (there the naive
    forecast is plainly the actual shifted by ``step`` bars). ``quote``, the quote currency
    (default: the table's ``quote`` column, if any), is the unit of the price axis.

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
    for ax in axes[:, 0]:
        ax.set_ylabel(price_label(_quote(table, quote)))
    coin = rows["coin"].iloc[0] if "coin" in rows.columns and len(rows) else ""
    fig.suptitle(_label(f"{coin}: actual close vs forecast, step {step}"), fontsize=11)
    return save(fig, path, dates=False)


#: dash patterns of the reference lines: naive's first
_DASHES = [(0, (5, 2)), (0, (2, 1.5)), (0, (6, 1.5, 1.5, 1.5)), (0, (1, 1)), (0, (8, 3))]


def _line_style(model: str, refs: set[str], k: int) -> dict[str, Any]:
    """How a model's line is drawn: a reference thinner, dashed and underneath (its ``k``-th
    dash pattern; naive's is the plain dash), a model of interest full and on top."""
    if model in refs:
        dashes = _DASHES[0] if model == NAIVE else _DASHES[1 + k % (len(_DASHES) - 1)]
        return {"ls": dashes, "lw": 1.0, "alpha": 0.9, "zorder": 2}
    return {"ls": "-", "lw": 1.9, "zorder": 3 + k}


def plot_errors(
    table: pd.DataFrame, path: str | Path, step: int = 1, *, quote: str | None = None
) -> Path:
    """Absolute error of each model's ``step``-ahead forecast over time, as a rolling mean
    (about a tenth of the test period, 3 to 30 bars) so the lines can be read. The models of
    interest are full lines on top; the naive forecast and the baselines, the references,
    thinner dashed lines underneath. ``quote`` gives the unit (see
    :func:`plot_actual_vs_predicted`)."""
    if table.empty:
        return _empty(path, "no forecasts in the backtest table")
    rows = _step_rows(table, step)
    models = _models(rows)
    refs = references(models)
    window = int(np.clip(rows["ts"].nunique() // 10, 3, 30))
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, model in enumerate(models):
        mrows = rows[rows["model"] == model].set_index("ts")
        err = (mrows["y"] - mrows["yhat"]).abs()
        smooth = err.rolling(window, min_periods=1).mean()
        ax.plot(smooth.index, smooth.values, color=_color(i, model), label=_label(model),
                **_line_style(model, refs, i))  # fmt: skip
    ax.set_title(
        f"absolute error of the {step}-step-ahead forecast, rolling mean over {window} bars "
        "(lower is better)",
        fontsize=10,
    )
    ax.set_ylabel(price_label(_quote(table, quote), "|actual - forecast|"))
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
    history_frame: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
    *,
    bars: int | None = None,
    lookback: int | None = None,
) -> Path:
    """The recent closes and the future forecast with its band (``lo``/``hi`` when the model
    gives one), via :func:`coincast.reporting.plots.plot_forecast`: ``bars`` closes (default
    :func:`~coincast.reporting.plots.history_bars` of ``lookback``, at least 60)."""
    if forecast is None or forecast.empty or history_frame is None or history_frame.empty:
        return _empty(path, "no forecast to draw")
    fc = forecast.copy()
    for col in ("lo", "hi"):
        if col not in fc.columns:
            fc[col] = np.nan
    recent = history_frame[["close"]].copy()
    recent.attrs = {k: _label(v) for k, v in history_frame.attrs.items() if isinstance(v, str)}
    plot_forecast(recent, fc, path, bars=bars, lookback=lookback)
    return Path(path)


def draw_figures(
    folder: Path,
    table: pd.DataFrame,
    history: Sequence[Any] | None = None,
    forecast: pd.DataFrame | None = None,
    recent: pd.DataFrame | None = None,
    attrs: dict[str, str] | None = None,
    lookback: int | None = None,
) -> list[tuple[Path, str]]:
    """Draw a backtest's pictures into ``folder``: actual vs predicted and errors at the first
    and last step, the loss curves when there is a ``history``, the forecast fan when there
    are ``forecast`` and ``recent`` closes (``attrs`` name coin, interval and quote, the unit
    of every price axis; ``lookback``, the LSTM's, sets how much history the fan shows).
    Returns (path, caption) pairs in reading order."""
    folder = Path(folder)
    attrs = attrs or {}
    pngs = _step_figures(folder, table, attrs.get("quote"))
    if history:
        pngs.append((plot_loss_curves(history, folder / "loss_curves.png"),
                     "LSTM training and validation loss per epoch. Validation loss rising while "
                     "training loss falls is overfitting; training keeps the weights with the "
                     "lowest validation loss."))  # fmt: skip
    if forecast is not None and recent is not None and len(forecast):
        recent = recent.copy()
        recent.attrs = {**recent.attrs, **attrs}
        fan = plot_forecast_fan(recent, forecast, folder / "forecast.png", lookback=lookback)
        pngs.append((fan, "The forecast after the last bar of data, with its band when the "
                     "model gives one, after the last closes. Whether such bands held in the "
                     "backtest is the coverage column of the metrics."))  # fmt: skip
    return pngs


def _step_figures(folder: Path, table: pd.DataFrame, quote: str | None) -> list[tuple[Path, str]]:
    """Actual vs predicted and the errors, at the first and the last step of the horizon."""
    steps = sorted({int(s) for s in table["step"].dropna()}) or [1]
    pngs = []
    for step in dict.fromkeys([steps[0], steps[-1]]):
        ahead = "the next bar" if step == 1 else f"{step} bars ahead"
        actual = plot_actual_vs_predicted(table, folder / f"actual_step{step}.png", step,
                                          quote=quote)  # fmt: skip
        pngs.append((actual, f"Actual close (dark) and each model's forecast of {ahead}. Over "
                     "the whole test period every line seems to hug the price; the close-ups on "
                     "the right show that the naive forecast is the actual shifted right, and "
                     "whether a model does anything else."))  # fmt: skip
        errors = plot_errors(table, folder / f"errors_step{step}.png", step, quote=quote)
        pngs.append((errors, f"Absolute error of the forecast of {ahead} over time, smoothed. "
                     "The references (the naive forecast and the baselines) are the thin dashed "
                     "lines underneath; where a model's full line runs below the naive one, it "
                     "beats the naive forecast there, and where it hides a reference, it "
                     "forecasts what that reference does."))  # fmt: skip
    return pngs


def plot_coverage(
    table: pd.DataFrame, path: str | Path, *, target: float = 0.90, window: int = 30
) -> Path | None:
    """Each model's band coverage over time: the share of its one-step actuals inside its
    band over the last ``window`` bars (:func:`coincast.evaluation.conformal.coverage_over_time`,
    step 1), against the ``target`` line. None, and nothing drawn, when no model has a band."""
    from ..evaluation.conformal import coverage_over_time

    one = table[table["step"] == 1] if len(table) else table
    cov = coverage_over_time(one, window=window) if len(one) else pd.DataFrame()
    if not len(cov) or not cov["coverage"].notna().any():
        Path(path).unlink(missing_ok=True)  # never leave a stale one from an earlier run
        return None
    fig, ax = plt.subplots(figsize=(10, 3.8))
    models = [m for m in _models(one) if m in set(cov["model"].astype(str))]
    refs = references(models)
    for i, model in enumerate(models):
        c = cov[cov["model"].astype(str) == model]
        ts = pd.to_datetime(c["ts"], utc=True).dt.tz_convert(None)
        ax.plot(ts, 100 * c["coverage"], color=_color(i, model), label=_label(model),
                **_line_style(model, refs, i))  # fmt: skip
    ax.axhline(100 * target, color=ACTUAL, ls=":", lw=1.3, label=f"target {target:.0%}")
    ax.set_ylim(0, 102)
    ax.set_ylabel(f"actuals inside the band (%, last {window} bars)")
    ax.set_xlabel("bar (UTC)")
    ax.set_title(f"coverage of the {target:.0%} band of the next bar's forecast, rolling over "
                 f"{window} bars (near the target line is right)", fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    _dates(ax)
    return save(fig, path, dates=False)
