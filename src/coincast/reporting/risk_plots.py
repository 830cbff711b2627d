"""Pictures of a risk backtest (PNG, matplotlib): each model's forecast volatility against the
realized measure, the returns against the value-at-risk with its exceedances, and the PIT
histogram of each model. Every function reads the risk backtest's tidy table
(:mod:`coincast.evaluation.risk_backtest`: ``model, ts, step, rv, variance, r, var1, var5,
pit``, ...), uses its one-step rows, saves one PNG and returns its path; NaN values and a single
model are fine.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..intervals import bars_per_year
from .backtest_plots import _COLORS, _dates, _empty, _label
from .plots import save

REALIZED = "#9a9a9a"  # the realized measure: light dots behind the forecasts
RETURN = "#8c8c8c"
PER_PANEL = 3  # models in one panel of the volatility picture
PREFERRED = ("garch", "lstm")  # the models the VaR picture shows when present
PIT_BINS = 10


def _one_step(table: pd.DataFrame) -> pd.DataFrame:
    """The one-step rows, sorted by time, with times without a time zone (shown as UTC)."""
    rows = table[table["step"] == 1].sort_values("ts").copy()
    ts = pd.to_datetime(rows["ts"], utc=True)
    rows["ts"] = ts.dt.tz_convert(None)
    return rows


def _models(rows: pd.DataFrame) -> list[str]:
    return [str(m) for m in pd.unique(rows["model"])]


def annual_vol_pct(variance, interval: str) -> np.ndarray:
    """A one-bar variance as annualised volatility in percent: ``sqrt(variance * bars a
    year) * 100`` (:func:`~coincast.intervals.bars_per_year`).

    Examples
    --------
    >>> float(annual_vol_pct(0.0004, "1d").round(2))
    38.21
    """
    v = np.asarray(variance, dtype="float64")
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.where(v >= 0, v, np.nan) * bars_per_year(interval)) * 100


def plot_volatility(table: pd.DataFrame, path: str | Path, interval: str) -> Path:
    """Each model's one-step forecast volatility (annualised, %) over time against the
    realized measure's (light dots), up to :data:`PER_PANEL` models a panel. Realized dots far
    above every forecast are cut at the top (the title says how many)."""
    rows = _one_step(table) if len(table) else table
    if not len(rows):
        return _empty(path, "no one-step forecasts in the risk table")
    models = _models(rows)
    realized = rows.groupby("ts")["rv"].first().sort_index()
    rv = pd.Series(annual_vol_pct(realized.to_numpy(), interval), index=realized.index)
    forecast = annual_vol_pct(rows["variance"].to_numpy(), interval)
    panels = [models[i : i + PER_PANEL] for i in range(0, len(models), PER_PANEL)]
    top = np.nanmax(np.r_[forecast, np.nanpercentile(rv, 98) if rv.notna().any() else np.nan, 1])
    top *= 1.15
    cut = int((rv > top).sum())
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.3 * len(panels)), squeeze=False,
                             sharex=True)  # fmt: skip
    for p, (ax, names) in enumerate(zip(axes[:, 0], panels, strict=True)):
        ax.plot(rv.index, rv.clip(upper=top), "o", ms=2.5, color=REALIZED, alpha=0.6,
                label="realized measure", zorder=1)  # fmt: skip
        for k, model in enumerate(names):
            m = rows[rows["model"] == model]
            ax.plot(m["ts"], annual_vol_pct(m["variance"], interval), lw=1.6, zorder=3 + k,
                    color=_COLORS[(p * PER_PANEL + k) % len(_COLORS)],
                    label=f"{_label(model)} forecast")  # fmt: skip
        ax.set_ylim(0, top)
        ax.set_ylabel("volatility, annualised (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        _dates(ax)
    note = f"; {cut} realized dot(s) above the top cut" if cut else ""
    axes[0, 0].set_title(
        f"one-bar-ahead forecast volatility vs realized, annualised ({interval} bars, "
        f"{bars_per_year(interval):,} a year){note}",
        fontsize=10,
    )
    axes[-1, 0].set_xlabel("bar (UTC)")
    return save(fig, path, dates=False)


def var_models(models: list[str]) -> list[str]:
    """The models the VaR picture shows: GARCH and the LSTM when present, filled up to two
    with the first others.

    Examples
    --------
    >>> var_models(["ewma", "lstm", "har", "garch"]), var_models(["ewma", "har", "gjr"])
    (['garch', 'lstm'], ['ewma', 'har'])
    """
    chosen = [m for m in PREFERRED if m in models]
    return (chosen + [m for m in models if m not in chosen])[:2]


def plot_var(table: pd.DataFrame, path: str | Path) -> Path:
    """The one-step log returns (grey bars, %) with the 1 % and 5 % VaR of up to two models
    (:func:`var_models`), one panel each; every return below a VaR (an exceedance) marked."""
    rows = _one_step(table) if len(table) else table
    if not len(rows):
        return _empty(path, "no one-step forecasts in the risk table")
    models = var_models(_models(rows))
    fig, axes = plt.subplots(len(models), 1, figsize=(12, 3.4 * len(models)), squeeze=False,
                             sharex=True)  # fmt: skip
    for i, (ax, model) in enumerate(zip(axes[:, 0], models, strict=True)):
        m = rows[rows["model"] == model]
        r, t = 100 * m["r"].to_numpy(dtype="float64"), m["ts"]
        width = _bar_width(t)
        ax.bar(t, r, width=width, color=RETURN, alpha=0.7, label="return", zorder=1)
        color = _COLORS[i % len(_COLORS)]
        for col, ls, level in (("var5", "-", "5 %"), ("var1", "--", "1 %")):
            var = 100 * m[col].to_numpy(dtype="float64")
            hit = r < var
            ax.plot(t, var, ls=ls, lw=1.4, color=color, zorder=3,
                    label=f"{level} VaR ({int(hit.sum())} of {len(r)} exceeded)")  # fmt: skip
            ax.plot(t[hit], r[hit], "v" if col == "var5" else "X", ms=6 if col == "var5" else 8,
                    color="#d62728" if col == "var5" else "#000000", zorder=4,
                    label=f"return below the {level} VaR")  # fmt: skip
        ax.axhline(0, color="#555555", lw=0.6)
        ax.set_title(f"{_label(model)}: one-bar log return against its VaR", fontsize=10)
        ax.set_ylabel("log return (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # clear of the data
        _dates(ax)
    axes[-1, 0].set_xlabel("bar (UTC)")
    return save(fig, path, dates=False)


def _bar_width(ts: pd.Series) -> float:
    """Bar width in days (matplotlib's date unit): most of the typical gap between bars."""
    gaps = pd.Series(ts).diff().dropna()
    return 0.8 * (gaps.median() / pd.Timedelta(days=1)) if len(gaps) else 0.8


def plot_pit(table: pd.DataFrame, path: str | Path) -> Path:
    """A histogram of each model's PIT values (the forecast distribution's CDF at the return;
    :data:`PIT_BINS` bins, as density) with the uniform line a right forecast follows."""
    rows = _one_step(table) if len(table) else table
    if not len(rows):
        return _empty(path, "no one-step forecasts in the risk table")
    models = _models(rows)
    cols = min(3, len(models))
    nrows = -(-len(models) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols + 0.8, 2.9 * nrows),
                             squeeze=False, sharey=True)  # fmt: skip
    bins = np.linspace(0, 1, PIT_BINS + 1)
    for i, ax in enumerate(axes.ravel()):
        if i >= len(models):
            ax.set_axis_off()
            continue
        pit = rows.loc[rows["model"] == models[i], "pit"].to_numpy(dtype="float64")
        pit = pit[np.isfinite(pit)]
        if len(pit):
            ax.hist(pit, bins=bins, density=True, color=_COLORS[i % len(_COLORS)], alpha=0.75,
                    edgecolor="white")  # fmt: skip
        ax.axhline(1, color="#333333", ls="--", lw=1.2, label="uniform (a right forecast)")
        ax.set_xlim(0, 1)
        ax.set_title(f"{_label(models[i])} ({len(pit)} bars)", fontsize=10)
        ax.set_xlabel("PIT: forecast CDF at the return")
        ax.grid(alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel("density")
    axes[0, 0].legend(loc="upper center", fontsize=8)
    fig.suptitle("PIT histograms: flat at 1 when the forecast distribution is right; a U shape "
                 "means too narrow, a hump too wide", fontsize=10)  # fmt: skip
    return save(fig, path, dates=False)


def draw_risk_figures(
    folder: str | Path, table: pd.DataFrame, interval: str
) -> list[tuple[Path, str]]:
    """Draw a risk backtest's pictures into ``folder``; (path, caption) pairs in reading
    order (named ``risk_*.png``, after the tables and ``report.html`` in a listing)."""
    folder = Path(folder)
    shown = ", ".join(var_models(_models(table))) if len(table) else "none"
    return [
        (plot_volatility(table, folder / "risk_volatility.png", interval),
         "Each model's forecast of the next bar's volatility (annualised, %) against the "
         "realized measure of that bar (light dots). A good forecast runs through the middle "
         "of the dots and rises and falls with them."),
        (plot_var(table, folder / "risk_var.png"),
         f"One-bar log returns (grey bars) and the 1 % and 5 % value-at-risk of {shown}. A "
         "return below a VaR line is an exceedance (marked); a right 5 % VaR is exceeded on "
         "about 1 bar in 20, a right 1 % VaR on about 1 in 100, and not in clusters."),
        (plot_pit(table, folder / "risk_pit.png"),
         "PIT histograms: where each return fell in its forecast distribution. Flat bars at "
         "the dashed line mean the distribution was right; high outer bars mean the "
         "forecast was too narrow (tails too thin), a central hump that it was too wide."),
    ]  # fmt: skip
