"""Pictures (PNG, matplotlib): prices, the forecast after the last bar, and :func:`save`, the
one place a picture is written; the backtest's and the explain page's pictures build on it."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import pandas as pd

from .html import bar_time, fmt

DPI = 110
HISTORY = "#1f77b4"  # the actual closes
FORECAST = "#d62728"
MIN_HISTORY = 60  # closes a forecast picture shows at least, before the forecast


def history_bars(lookback: int | None = None) -> int:
    """How many closes a forecast picture shows before the forecast: three lookbacks (the
    model's window, and what came before it), at least :data:`MIN_HISTORY`.

    Examples
    --------
    >>> history_bars(), history_bars(30), history_bars(10)
    (60, 90, 60)
    """
    return max(MIN_HISTORY, 3 * int(lookback or 0))


def price_label(quote: object, what: str = "close") -> str:
    """A price axis label with its unit, the quote currency: ``close (USD)``.

    Examples
    --------
    >>> price_label("usd"), price_label(None)
    ('close (USD)', 'close')
    """
    return f"{what} ({str(quote).upper()})" if quote else what


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
        ax.plot(frame.index, frame["close"], lw=1.2, color=HISTORY)
        ax.set_ylabel(price_label(a.get("quote"), str(a.get("coin", "close"))))
        ax.grid(alpha=0.3)
        ax.set_title(
            f"{a.get('coin', '')} {a.get('interval', '')} close, source: {a.get('source', '')}",
            fontsize=10,
        )
    if title:
        fig.suptitle(title)
    return save(fig, path)


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    path: str | Path,
    *,
    bars: int | None = None,
    lookback: int | None = None,
) -> Path:
    """The recent closes of ``history`` and the forecast after them, with its band
    (``lo``/``hi``) when the model gives one, widening from the last close. Saved as a PNG.

    Parameters
    ----------
    history
        The candles the forecast starts from (at least ``close``; ``attrs`` name the coin,
        interval and quote).
    forecast
        ``yhat`` (and ``lo``, ``hi``) by future timestamp.
    bars
        Closes to show before the forecast (default :func:`history_bars` of ``lookback``:
        three lookbacks, at least 60), so even a one-step forecast stands in its context.
    lookback
        The model's lookback, for the default ``bars``.

    Examples
    --------
    >>> import os, tempfile
    >>> from coincast.data.sources import synthetic_candles
    >>> h = synthetic_candles(200)
    >>> f = pd.DataFrame({"yhat": [1.0], "lo": [0.9], "hi": [1.1]},
    ...                  index=[h.index[-1] + pd.Timedelta(days=1)])
    >>> plot_forecast(h, f, os.path.join(tempfile.mkdtemp(), "f.png"), lookback=30).suffix
    '.png'
    """
    recent = history.iloc[-(bars or history_bars(lookback)) :]
    a = history.attrs
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(recent.index, recent["close"], lw=1.2, color=HISTORY,
            label=f"actual close (last {len(recent)} bars)")  # fmt: skip
    ax.axvline(recent.index[-1], color="#888888", ls=":", lw=1, zorder=1)
    _draw_forecast(ax, recent["close"], forecast)
    n = len(forecast)
    ax.set_title(
        f"{a.get('coin', '')} {a.get('interval', '')}: the next {n} bar{'s' if n != 1 else ''} "
        f"after {bar_time(recent.index[-1], recent.index)}",
        fontsize=10,
    )
    ax.set_ylabel(price_label(a.get("quote")))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return save(fig, path)


def _draw_forecast(ax: plt.Axes, close: pd.Series, forecast: pd.DataFrame) -> None:
    """The forecast line from the last close on, its points, and its band (a fan from the
    last close; with up to three steps each step's band also as an error bar, which stays
    visible where a single bar's width of fan would not); the legend names the last step's
    value and band."""
    yhat = forecast["yhat"]
    start = close.iloc[-1:]
    end = f"{bar_time(yhat.index[-1], close.index)}: {fmt(yhat.iloc[-1], 'price')}"
    ax.plot(pd.concat([start, yhat]), color=FORECAST, lw=1.6, zorder=3)
    ax.plot(yhat, "o", color=FORECAST, ms=5 if len(yhat) <= 3 else 3, zorder=4,
            label=f"forecast, {end}")  # fmt: skip
    if "lo" not in forecast.columns or not forecast["lo"].notna().any():
        return
    lo, hi = forecast["lo"], forecast["hi"]
    band = f"band: {fmt(lo.iloc[-1], 'price')} to {fmt(hi.iloc[-1], 'price')}"
    ax.fill_between(pd.concat([start, yhat]).index, pd.concat([start, lo]),
                    pd.concat([start, hi]), color=FORECAST, alpha=0.18, lw=0,
                    label=f"forecast {band}")  # fmt: skip
    if len(yhat) <= 3:
        ax.errorbar(yhat.index, yhat, yerr=[yhat - lo, hi - yhat], fmt="none",
                    ecolor=FORECAST, elinewidth=1.2, capsize=5, zorder=3)  # fmt: skip


def save(fig: plt.Figure, path: str | Path, *, dates: bool = True) -> Path:
    """Lay out the figure (and its date axis, if ``dates``), write it as a PNG at ``path``
    (folders created) and close it: the one place coincast writes a picture.

    The layout is matplotlib's constrained layout, which keeps a figure title (suptitle)
    clear of the first row of panels however many rows there are (``tight_layout`` does not
    on tall figures). A figure with colour bars must be made with ``layout="constrained"``
    (a colour bar made before the switch has no place in it).
    """
    if dates:
        fig.autofmt_xdate()
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None})  # no version: same data, same bytes
    plt.close(fig)
    return path
