"""A backtest as a folder: ``table.csv``, the scores, the pictures and ``report.html``, which
``coincast report`` rebuilds from the saved inputs."""

from __future__ import annotations

from pathlib import Path

from ..evaluation.result import BacktestResult
from .inputs import write_report_inputs
from .report import build_report


def save_backtest(result: BacktestResult, folder: str | Path) -> Path:
    """Write the backtest's inputs and its HTML report into ``folder``; return the report.

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.evaluation.run import WalkForward, run_backtest
    >>> r = run_backtest(synthetic_candles(120), WalkForward(test=5), models=["drift"])
    >>> save_backtest(r, tempfile.mkdtemp()).name
    'report.html'
    """
    folder = Path(folder)
    write_report_inputs(folder, result)
    return build_report(folder, result)
