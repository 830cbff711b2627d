"""What a backtest folder holds so its report can be rebuilt offline (``coincast report``):
a :class:`~coincast.evaluation.result.BacktestResult`, written by :func:`write_report_inputs`
and read back whole by :func:`load_report_inputs`."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..evaluation.result import BacktestResult
from .backtest_plots import FAN_BARS

FORMAT = "coincast-report-inputs/1"
#: files of a backtest folder: name -> (required, what it holds)
INPUTS = {
    "table.csv": (True, "the backtest's forecasts, one row per model, cutoff and step"),
    "scores.csv": (True, "the metrics per model"),
    "steps.csv": (False, "the metrics per model and step of the horizon"),
    "trading.csv": (True, "the trading simulation per model"),
    "report.json": (True, "meta, verdicts and the trading disclaimer"),
    "history.json": (False, "the LSTM's loss per epoch"),
    "forecast.csv": (False, "the future forecast"),
    "recent.csv": (False, "the last closes before the forecast"),
    "regimes.csv": (False, "MAE ÷ naive and coverage per model and regime"),
}


class ReportError(CoincastError):
    """A backtest folder lacks a report input, or an input cannot be read."""


# ---------------------------------------------------------------- formatting


def _clean(o: Any) -> Any:
    """Plain JSON: numpy numbers, times, paths and dataclasses converted, NaN as null."""
    if is_dataclass(o) and not isinstance(o, type):
        o = asdict(o)
    elif hasattr(o, "model_dump"):  # a pydantic config such as LSTMConfig
        o = o.model_dump(mode="json")
    if isinstance(o, dict | list | tuple):
        return {str(k): _clean(v) for k, v in o.items()} if isinstance(o, dict) else list(
            map(_clean, o))  # fmt: skip
    o = o.item() if isinstance(o, np.generic) else o
    if isinstance(o, pd.Timestamp | datetime):
        return o.isoformat()
    if isinstance(o, float) and np.isnan(o):
        return None
    return o if isinstance(o, str | int | float | bool | type(None)) else str(o)


def write_report_inputs(folder: Path, result: BacktestResult) -> Path:
    """Save everything :func:`~coincast.reporting.report.build_report` needs of ``result``
    into ``folder`` (see :data:`INPUTS`; the LSTM comparison table is not kept: its verdicts
    are); :func:`load_report_inputs` reads it back. Returns ``folder``.

    Examples
    --------
    >>> # write_report_inputs(Path("backtests/btc"), run_backtest(frame))
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(folder / "table.csv", index=False)
    result.scores.to_csv(folder / "scores.csv", index=False)
    result.trading.to_csv(folder / "trading.csv", index=False)
    record = {"format": FORMAT, "meta": result.meta, "verdicts": list(result.verdicts),
              "disclaimer": result.disclaimer}  # fmt: skip
    (folder / "report.json").write_text(json.dumps(_clean(record), indent=2), encoding="utf-8")
    for name in ("history.json", "forecast.csv", "recent.csv", "steps.csv", "regimes.csv"):
        (folder / name).unlink(missing_ok=True)  # never leave a stale one from an earlier run
    if result.steps is not None:
        result.steps.to_csv(folder / "steps.csv", index=False)
    if result.regimes is not None:
        result.regimes.to_csv(folder / "regimes.csv", index=False)
    if result.history:
        (folder / "history.json").write_text(json.dumps(_clean(list(result.history))), "utf-8")
    if result.forecast is not None:
        result.forecast.to_csv(folder / "forecast.csv", index_label="ts")
    if result.recent is not None:  # the fan draws only the last closes
        result.recent.iloc[-FAN_BARS:].to_csv(folder / "recent.csv", index_label="ts")
    return folder


def _read_csv(path: Path, times: tuple[str, ...] = (), index: str | None = None):
    """A saved table, or None when an optional file is absent."""
    if not path.is_file():
        return None
    try:  # only an empty field is missing: a coin or model named "nan" stays a name
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], index_col=index)
        for col in times:
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        if index:
            frame.index = pd.to_datetime(frame.index, utc=True, format="ISO8601")
    except (ValueError, KeyError, pd.errors.ParserError) as exc:
        raise ReportError(f"{path} cannot be read as a table: {exc}") from exc
    return frame


def load_report_inputs(folder: Path) -> BacktestResult:
    """Read back what :func:`write_report_inputs` saved, for
    ``build_report(folder, load_report_inputs(folder))``.

    Raises :class:`ReportError` naming a missing or unreadable file.
    """
    folder = Path(folder)
    for name, (required, what) in INPUTS.items():
        if required and not (folder / name).is_file():
            raise ReportError(
                f"{folder} has no {name} ({what}). A backtest writes it: run "
                f"`coincast backtest ...` with this folder as its output, then "
                f"`coincast report {folder}`."
            )
    try:
        record = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        history_file = folder / "history.json"
        history = json.loads(history_file.read_text("utf-8")) if history_file.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"a JSON file in {folder} cannot be read: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ReportError(f"{folder / 'report.json'} is not a {FORMAT} file; rerun the backtest.")
    result = BacktestResult(
        table=_read_csv(folder / "table.csv", ("cutoff", "ts")),
        scores=_read_csv(folder / "scores.csv"),
        verdicts=list(record.get("verdicts") or []),
        trading=_read_csv(folder / "trading.csv"),
        meta=record.get("meta") or {},
        history=list(history or []),
        forecast=_read_csv(folder / "forecast.csv", index="ts"),
        recent=_read_csv(folder / "recent.csv", index="ts"),
        steps=_read_csv(folder / "steps.csv"),
        regimes=_read_csv(folder / "regimes.csv"),
    )
    if record.get("disclaimer"):  # else the one every backtest shows
        result.disclaimer = str(record["disclaimer"])
    return result
