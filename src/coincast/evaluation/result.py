"""What a backtest produced, in one object: the report's input, saved and read back whole
(:func:`coincast.reporting.inputs.write_report_inputs`, ``load_report_inputs``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .trading import DISCLAIMER


@dataclass
class BacktestResult:
    """Everything a backtest produced, and everything its report shows."""

    table: pd.DataFrame  #: the walk-forward table, one row per model, cutoff and step
    scores: pd.DataFrame  #: the metrics per model (:func:`coincast.evaluation.scores.score`)
    verdicts: list[str]  #: the scores in words
    trading: pd.DataFrame  #: the trading simulation per model
    meta: dict  #: coin, interval, test period, settings, data range, package versions
    history: list[dict] = field(default_factory=list)  #: the LSTM's first fit, per epoch
    forecast: pd.DataFrame | None = None  #: the LSTM's forecast after the last bar
    recent: pd.DataFrame | None = None  #: the candles that forecast starts from
    comparison: pd.DataFrame | None = None  #: LSTM variants against each other
    steps: pd.DataFrame | None = None  #: the metrics per model and step of the horizon
    disclaimer: str = DISCLAIMER  #: shown beside the trading figures
