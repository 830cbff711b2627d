"""The whole honest evaluation in one call: backtest the LSTM and the baselines on one coin,
score them, test the differences, simulate a trading rule, and write the report.

Library first: :func:`run_backtest` returns everything; :func:`save_backtest` writes a folder
(``table.csv``, scores, the pictures and ``report.html``) that ``coincast report`` rebuilds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics, trading
from .backtest import LSTMModel, plan, walk_forward
from .baselines import BASELINES, make_baseline
from .errors import CoincastError
from .models.forecaster import LSTMConfig
from .runs import package_versions
from .training import EpochRecord

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("lstm", "naive", "drift", "seasonal", "ma", "arima")


@dataclass
class BacktestResult:
    """Everything a backtest produced."""

    table: pd.DataFrame
    scores: pd.DataFrame
    verdicts: list[str]
    trading: pd.DataFrame
    meta: dict
    history: list[dict] = field(default_factory=list)
    forecast: pd.DataFrame | None = None
    recent: pd.DataFrame | None = None


def check_models(names: list[str] | tuple[str, ...]) -> list[str]:
    """Known model names, the naive forecast always included (every score is relative to it)."""
    known = ("lstm", *BASELINES)
    bad = [n for n in names if n not in known]
    if bad:
        raise CoincastError(f"unknown model(s) {', '.join(bad)}; known: {', '.join(known)}")
    names = list(dict.fromkeys(names))
    return names if "naive" in names else [*names, "naive"]


def run_backtest(
    frame: pd.DataFrame,
    *,
    models: list[str] | tuple[str, ...] = DEFAULT_MODELS,
    horizon: int = 1,
    test: int | None = None,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    refit_every: int = 30,
    window: str = "expanding",
    window_size: int | None = None,
    lstm: LSTMConfig | None = None,
    refit_epochs: int = 5,
    warm_start: bool = True,
    fee: float = 0.001,
    slippage: float = 0.0005,
    progress: Callable[[str, int, int], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``models`` on ``frame`` with scores against the naive forecast.

    ``lstm`` configures the LSTM (its ``horizon`` is set to ``horizon``); the baselines need
    no settings. MASE is scaled by the naive forecast's in-sample error on the rows before
    the test period.
    """
    names = check_models(models)
    cfg = (lstm or LSTMConfig()).model_copy(update={"horizon": horizon})
    lstm_model = None
    built = []
    for name in names:
        if name == "lstm":
            lstm_model = LSTMModel(
                cfg, refit_epochs=refit_epochs, warm_start=warm_start, on_epoch=on_epoch
            )
            built.append(lstm_model)
        else:
            built.append(make_baseline(name))
    min_train = cfg.lookback + cfg.horizon + 30 if lstm_model else 30
    p = plan(frame, test=test, start=start, end=end, min_train=min_train)
    table = walk_forward(
        built, frame, horizon, test=test, start=start, end=end, refit_every=refit_every,
        window=window, window_size=window_size, min_train=min_train, progress=progress,
    )  # fmt: skip
    train_close = frame["close"].to_numpy(dtype="float64")[: p.first_target]
    scores = metrics.score(table, scale=metrics.in_sample_naive_scale(train_close))
    sim = trading.simulate(
        table, fee=fee, slippage=slippage,
        periods_per_year=trading.periods_per_year(frame.attrs["interval"]),
    )  # fmt: skip
    meta = _meta(
        frame, table, p, horizon, refit_every, window, names, cfg, refit_epochs, warm_start
    )
    result = BacktestResult(table, scores, metrics.verdicts(scores), sim, meta)
    if lstm_model is not None:
        result.history = [
            {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
            for r in lstm_model.first_history
        ]
        # The future: the last refit's model, forecasting from all the data.
        lstm_model.update(frame)
        result.forecast = lstm_model.predict(horizon)
        result.recent = frame
    return result


def _meta(
    frame, table, p, horizon, refit_every, window, names, cfg, refit_epochs, warm_start
) -> dict:
    a = frame.attrs
    return {
        "coin": a["coin"],
        "interval": a["interval"],
        "horizon": horizon,
        "models": names,
        "test_start": frame.index[p.first_target].isoformat(),
        "test_end": frame.index[p.last_target].isoformat(),
        "cutoffs": len(p.cutoffs),
        "refit_every": refit_every,
        "window": window,
        "data": {
            "source": a["source"],
            "quote": a["quote"],
            "start": frame.index[0].isoformat(),
            "end": frame.index[-1].isoformat(),
            "rows": len(frame),
        },
        "config": {**cfg.model_dump(), "refit_epochs": refit_epochs, "warm_start": warm_start}
        if "lstm" in names
        else {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }


def save_backtest(result: BacktestResult, folder: str | Path) -> Path:
    """Write the backtest's inputs and its HTML report into ``folder``; return the report."""
    from .report import build_report, write_report_inputs

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


def scores_json(result: BacktestResult) -> dict:
    """The ``--json`` answer of ``coincast backtest``."""
    keep = (
        "model", "mae", "rmse", "mape", "smape", "mase", "rel_mae", "directional_accuracy",
        "directional_pvalue", "dm_stat", "dm_pvalue", "lagged_copy", "coverage",
    )  # fmt: skip
    rows = []
    for rec in result.scores.to_dict("records"):
        rows.append({k: _plain(rec.get(k)) for k in keep})
    m = result.meta
    return {
        "coin": m["coin"],
        "interval": m["interval"],
        "horizon": m["horizon"],
        "test_start": m["test_start"],
        "test_end": m["test_end"],
        "metrics": rows,
    }


def _plain(x: object) -> object:
    if x is None:
        return None
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else float(x)
    return x
