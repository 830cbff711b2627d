"""A backtest as a folder: ``table.csv``, the scores, the pictures and ``report.html``, which
``coincast report`` rebuilds from the saved inputs."""

from __future__ import annotations

import json
from pathlib import Path

from ..evaluation.result import BacktestResult
from ..evaluation.risk_run import RiskResult, risk_json
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


def save_risk_backtest(result: RiskResult, folder: str | Path) -> Path:
    """Write a risk backtest (:func:`coincast.evaluation.risk_run.run_risk_backtest`) into
    ``folder``: its tables as CSV, ``risk.json`` and ``report.html``; return the folder.

    Examples
    --------
    >>> import tempfile
    >>> from coincast.data.sources import synthetic_candles
    >>> from coincast.evaluation.backtest import WalkForward
    >>> from coincast.evaluation.risk_run import run_risk_backtest
    >>> r = run_risk_backtest(synthetic_candles(300), WalkForward(test=20), models=["ewma"])
    >>> sorted(p.name for p in save_risk_backtest(r, tempfile.mkdtemp()).iterdir())[:3]
    ['forecast.csv', 'regimes.csv', 'report.html']
    """
    from .risk_report import build_risk_report

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("table", "scores", "tests", "regimes", "forecast"):
        frame = getattr(result, name)
        if frame is not None:
            frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "risk.json").write_text(json.dumps(risk_json(result), indent=2) + "\n")
    build_risk_report(folder, result)
    return folder
