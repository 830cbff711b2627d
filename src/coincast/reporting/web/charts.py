"""Plotly figures as plain dicts (JSON for plotly.js in the page; the Python plotly package
is only where plotly.min.js comes from)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...intervals import interval_ms
from ...series import ms_from_index

#: at most this many bars are drawn with a marker on each
MARKERS_UP_TO = 400

_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "hovermode": "x unified",
    "template": None,
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "xaxis": {"gridcolor": "#eee"},
    "yaxis": {"gridcolor": "#eee"},
}


def _times(index: pd.DatetimeIndex) -> list[str]:
    return [t.isoformat() for t in index]


def _values(x: Any) -> list[float | None]:
    """Floats for JSON, NaN as ``None`` (a gap)."""
    a = np.asarray(x, dtype=float)
    values = a.tolist()
    if np.isnan(a).any():
        return [None if v != v else v for v in values]
    return values


def close_figure(frame: pd.DataFrame, title: str) -> dict[str, Any]:
    """The close of a candle frame, zoomable, with a break wherever bars are missing (a gap
    in the store shows as a gap in the line, not as a straight segment)."""
    a = frame.attrs
    ts = ms_from_index(frame.index)
    close = frame["close"].to_numpy(dtype=float)
    x, y = ts, close
    if len(ts) > 1:
        gap = np.flatnonzero(np.diff(ts) > interval_ms(a["interval"]))
        if len(gap):
            at = gap + 1
            x = np.insert(ts, at, ts[gap] + interval_ms(a["interval"]))
            y = np.insert(close, at, np.nan)
    trace = {
        "type": "scatter",
        "mode": "lines+markers" if len(frame) <= MARKERS_UP_TO else "lines",
        "name": "close",
        "x": np.asarray(x, dtype=np.int64).tolist(),  # epoch ms: a date axis reads them
        "y": _values(y),
        "connectgaps": False,
        "marker": {"size": 4},
        "line": {"width": 1.5},
    }
    layout = {
        **_LAYOUT,
        "title": {"text": title},
        "yaxis": {**_LAYOUT["yaxis"], "title": {"text": f"close ({a['quote']})"}},
        "xaxis": {**_LAYOUT["xaxis"], "type": "date", "rangeslider": {"visible": True}},
    }
    return {"data": [trace], "layout": layout}


def training_figure(history: list[dict[str, Any]], best_epoch: int) -> dict[str, Any]:
    """Training and validation loss per epoch, the best epoch marked."""
    epochs = [h["epoch"] for h in history]
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": epochs,
         "y": [h[key] for h in history]}
        for key, name in (("train_loss", "training loss"), ("val_loss", "validation loss"))
    ]  # fmt: skip
    layout = {
        **_LAYOUT,
        "title": {"text": "training curve"},
        "xaxis": {**_LAYOUT["xaxis"], "title": {"text": "epoch"},
                  "dtick": 1 if len(epochs) < 20 else None},
        "yaxis": {**_LAYOUT["yaxis"], "title": {"text": "loss"}},
        "shapes": [
            {"type": "line", "x0": best_epoch, "x1": best_epoch, "yref": "paper", "y0": 0,
             "y1": 1, "line": {"dash": "dot", "color": "#888"}}
        ] if best_epoch else [],
    }  # fmt: skip
    return {"data": data, "layout": layout}


def forecast_figure(frame: pd.DataFrame, forecast: pd.DataFrame, bars: int) -> dict[str, Any]:
    """The last ``bars`` closes and the forecast after them, with its band when it has one."""
    recent = frame.iloc[-bars:]
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": "close", "marker": {"size": 4},
         "x": _times(recent.index), "y": _values(recent["close"])},
    ]  # fmt: skip
    fx = _times(recent.index[-1:]) + _times(forecast.index)
    if forecast[["lo", "hi"]].notna().to_numpy().any():
        data.append({"type": "scatter", "mode": "lines", "name": "band", "line": {"width": 0},
                     "x": fx[1:] + fx[1:][::-1],
                     "y": _values(forecast["hi"]) + _values(forecast["lo"])[::-1],
                     "fill": "toself", "fillcolor": "rgba(214,39,40,0.15)"})  # fmt: skip
    last = float(recent["close"].iloc[-1])
    data.append({"type": "scatter", "mode": "lines+markers", "name": "forecast", "x": fx,
                 "y": [last, *_values(forecast["yhat"])],
                 "line": {"color": "#d62728"}})  # fmt: skip
    return {"data": data, "layout": {**_LAYOUT, "title": {"text": "forecast"}}}


def track_figure(rows: pd.DataFrame, title: str) -> dict[str, Any]:
    """One live record (ledger rows of one coin, interval and run): the actual close of
    every scored target bar, and per step ahead the forecasts, scored and pending (beyond
    the last actual), with their band when they have one. Steps past the first start hidden
    (a click on the legend shows them)."""
    done = rows[rows["actual"].notna()].drop_duplicates("target_ts").sort_values("target_ts")
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": "actual close",
         "x": _times(pd.DatetimeIndex(done["target_ts"])), "y": _values(done["actual"]),
         "marker": {"size": 5}, "line": {"color": "#1f2933"}},
    ]  # fmt: skip
    for step, group in rows.sort_values("target_ts").groupby("step", sort=True):
        data += _step_traces(group, int(step), visible=int(step) == int(rows["step"].min()))
    layout = {**_LAYOUT, "title": {"text": title},
              "xaxis": {**_LAYOUT["xaxis"], "type": "date"}}  # fmt: skip
    return {"data": data, "layout": layout}


def _step_traces(group: pd.DataFrame, step: int, visible: bool) -> list[dict[str, Any]]:
    """The band, the scored forecasts and the pending ones of one step ahead."""
    shown: Any = True if visible else "legendonly"
    ahead = f"{step} ahead"
    out = []
    banded = group[group["lo"].notna() & group["hi"].notna()]
    if len(banded):
        x = _times(pd.DatetimeIndex(banded["target_ts"]))
        out.append({"type": "scatter", "mode": "lines", "name": f"band, {ahead}",
                    "x": x + x[::-1], "y": _values(banded["hi"]) + _values(banded["lo"])[::-1],
                    "fill": "toself", "fillcolor": "rgba(214,39,40,0.15)", "line": {"width": 0},
                    "hoverinfo": "skip", "visible": shown})  # fmt: skip
    for name, part, style in (
        (f"forecast, {ahead}", group[group["actual"].notna()], {"color": "#d62728"}),
        (f"pending, {ahead}", group[group["actual"].isna()], {"color": "#d62728", "dash": "dot"}),
    ):
        if len(part):
            out.append({"type": "scatter", "mode": "lines+markers", "name": name,
                        "x": _times(pd.DatetimeIndex(part["target_ts"])),
                        "y": _values(part["yhat"]), "line": style, "visible": shown,
                        "marker": {"size": 5, "symbol": "circle" if "forecast" in name
                                   else "circle-open"}})  # fmt: skip
    return out
