"""A backtest as a folder: ``table.csv``, the scores, the pictures and ``report.html``, which
``coincast report`` rebuilds from the saved inputs."""

from __future__ import annotations

from pathlib import Path

from ..evaluation import trading
from ..evaluation.run import BacktestResult
from .inputs import write_report_inputs
from .report import build_report


def save_backtest(result: BacktestResult, folder: str | Path) -> Path:
    """Write the backtest's inputs and its HTML report into ``folder``; return the report."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kwargs = _report_kwargs(result)
    write_report_inputs(folder, **kwargs)
    return build_report(folder, **kwargs)


def _report_kwargs(result: BacktestResult) -> dict:
    return {
        "table": result.table,
        "scores": result.scores,
        "verdicts": result.verdicts,
        "trading": result.trading,
        "disclaimer": trading.DISCLAIMER,
        "meta": result.meta,
        "history": result.history or None,
        "forecast": result.forecast,
        "recent": result.recent,
    }
