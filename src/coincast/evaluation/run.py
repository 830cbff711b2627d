"""The whole honest evaluation in one call: backtest the LSTM and the baselines on one coin,
score them, test the differences and simulate a trading rule.

Library first: :func:`run_backtest` returns a :class:`~coincast.evaluation.result.BacktestResult`;
:func:`coincast.reporting.folder.save_backtest` writes it as a folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import CoincastError
from ..intervals import bars_per_year
from ..models.baselines import BASELINES, make_baseline
from ..models.runs import package_versions
from . import trading
from .adapters import LSTMModel, LSTMTraining, lstm_models
from .backtest import Forecaster, Plan, Stop, WalkForward, min_rows, plan, walk_forward, worded
from .compare import comparison_verdicts, pairwise
from .conformal import conformalize
from .price_var import price_var_tests
from .regimes import RULE, by_regime, label_rows, regime_labels
from .result import BacktestResult
from .risk_scores import var_words
from .scores import score
from .scoring import recent_naive_scale
from .verdicts import verdicts

if TYPE_CHECKING:
    from .engines import Engine

__all__ = ["DEFAULT_MODELS", "BacktestResult", "check_models", "run_backtest", "scores_json"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("lstm", "naive", "drift", "seasonal", "ma", "arima")


def check_models(models: Sequence[str | Forecaster]) -> list[str | Forecaster]:
    """Known model names (or models), the naive forecast always included (every score is
    relative to it).

    Examples
    --------
    >>> check_models(["lstm", "drift"])
    ['lstm', 'drift', 'naive']
    """
    known = ("lstm", *BASELINES)
    bad = [n for n in models if isinstance(n, str) and n not in known]
    if bad:
        raise CoincastError(f"unknown model(s) {', '.join(bad)}; known: {', '.join(known)}")
    models = list(dict.fromkeys(models))
    return models if "naive" in map(_name, models) else [*models, "naive"]


def run_backtest(
    frame: pd.DataFrame,
    spec: WalkForward | None = None,
    *,
    models: Sequence[str | Forecaster] = DEFAULT_MODELS,
    lstm: LSTMTraining | None = None,
    fee: float = 0.001,
    slippage: float = 0.0005,
    intervals: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
    engine: Engine | None = None,
    stop: Stop | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``models`` on ``frame`` with scores against the naive forecast.

    Parameters
    ----------
    frame
        The backtested coin's candles.
    spec
        How the backtest walks (default :class:`WalkForward`: the last 365 bars, refit
        every 30 cutoffs).
    models
        Names of :data:`DEFAULT_MODELS` (``"lstm"`` and the baselines, with their default
        settings) or models themselves, named by their ``alias``.
    lstm
        How to train the LSTM (its ``config.horizon`` becomes ``spec.horizon``). More than one
        of its ``variants`` puts them side by side and tests each pair
        (:func:`coincast.evaluation.compare.pairwise`).
    fee, slippage
        Costs of the trading simulation (:func:`coincast.evaluation.trading.simulate`).
    intervals
        The 90 % bands scored (:data:`INTERVALS`): ``conformal`` (every model's band from its
        own past errors, :func:`coincast.evaluation.conformal.conformalize`), ``model`` (each
        model's own band, none for a point forecast), ``none``, or ``auto`` (the default:
        the model's own band, conformal for a model without one).
    progress
        ``progress(model, done, total)`` after each cutoff (with an engine: as each model's
        walk finishes).
    engine
        Where the models walk (:mod:`coincast.evaluation.engines`): each one a job, in
        parallel, the table the same as without (the default: one after another, here).
    stop
        Ends a model's walk early, after a refit segment (:data:`~.backtest.Stop`); its
        scores are then on the bars it forecast (a sweep's pruner uses it).

    Returns
    -------
    BacktestResult
        ``scores`` per model and ``steps`` per model and step. MASE is scaled by the naive
        forecast's MAE over the last year of bars before the test period
        (:func:`~coincast.intervals.bars_per_year`: 365 daily bars, 8760 hourly), recorded in
        ``meta["mase_scale"]``; with the LSTM, ``forecast`` is its last refit's forecast from
        all of ``frame``.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> r = run_backtest(synthetic_candles(200), WalkForward(test=20), models=["drift"])
    >>> r.scores["model"].tolist()
    ['drift', 'naive']
    """
    spec = spec or WalkForward()
    asked = check_models(models)
    built, lstms = _build(frame, asked, lstm, spec.horizon)
    p = plan(frame, spec, min_rows=min_rows(built))
    walked = walk_forward(built, frame, spec, progress=progress, engine=engine, stop=stop)
    table = apply_intervals(walked, intervals)
    window = bars_per_year(frame.attrs["interval"])
    train_close = frame["close"].to_numpy(dtype="float64")[: p.first_target]
    scale = recent_naive_scale(train_close, window=window)
    scores = score(table, scale=scale)
    sim = trading.simulate(
        table, fee=fee, slippage=slippage,
        periods_per_year=trading.periods_per_year(frame.attrs["interval"]),
    )  # fmt: skip
    meta = _meta(frame, p, spec, [_name(m) for m in asked], lstm)
    meta["intervals"] = intervals
    meta["mase_scale"] = {"window": min(window, len(train_close)), "value": scale}
    result = BacktestResult(table, scores, verdicts(scores), sim, meta)
    result.steps = score(table, scale=scale, per_step=True)
    result.regimes = regime_scores(table, regime_labels(frame, frame.index[p.cutoffs]))
    result.var_tests = price_var_tests(table)
    result.verdicts += [var_words(r) for r in result.var_tests.to_dict("records")]
    meta["regime_rule"] = RULE
    if len(lstms) > 1:
        result.comparison = pairwise(table, [m.name for m in lstms])
        result.verdicts += comparison_verdicts(result.comparison)
        meta["training"] = [m.name for m in lstms]
    if lstms:
        _add_forecast(result, lstms[0], frame, spec.horizon)
    return result


#: How a backtest's bands are made (see :func:`run_backtest`).
INTERVALS = ("auto", "conformal", "model", "none")


def apply_intervals(table: pd.DataFrame, how: str) -> pd.DataFrame:
    """``table`` with the bands ``how`` says (see ``intervals`` of :func:`run_backtest`).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> from coincast.models.baselines import Naive
    >>> t = walk_forward([Naive()], random_walk(100), WalkForward(test=30))
    >>> apply_intervals(t, "conformal")["dist"].unique().tolist()
    ['conformal']
    """
    if how not in INTERVALS:
        raise worded(
            f"intervals is {how!r}; use one of {', '.join(INTERVALS)}",
            f"--intervals {how}: use one of {', '.join(INTERVALS)}",
        )
    if how == "model" or not len(table):
        return table
    if how == "none":
        return table.assign(lo=np.nan, hi=np.nan, dist=None)
    if how == "conformal":
        return conformalize(table)
    own = table.groupby("model")["lo"].transform(lambda s: s.notna().any())
    if own.all():
        return table
    out = table.copy()
    out.loc[~own] = conformalize(table[~own])
    return out


def regime_scores(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """One-step MAE, MAE ÷ naive's on the same bars, and band coverage per model and regime
    (:mod:`coincast.evaluation.regimes`: each cutoff labelled from data up to it).

    Examples
    --------
    >>> from coincast.data.sources import random_walk
    >>> from coincast.models.baselines import Naive
    >>> f = random_walk(300)
    >>> t = walk_forward([Naive()], f, WalkForward(test=100))
    >>> r = regime_scores(t, regime_labels(f, f.index[199:299]))
    >>> sorted(set(r["kind"])), float(r["rel_mae"].iloc[0])
    (['trend', 'vol'], 1.0)
    """
    one = label_rows(table[table["step"] == 1], labels)

    def figures(g: pd.DataFrame) -> dict:
        band = g["lo"].notna() & g["hi"].notna()
        inside = (g["lo"] <= g["y"]) & (g["y"] <= g["hi"])
        return {"mae": float((g["y"] - g["yhat"]).abs().mean()),
                "coverage": float(inside[band].mean()) if band.any() else np.nan}  # fmt: skip

    out = by_regime(one, figures)
    naive = out[out["model"] == "naive"].set_index(["kind", "regime"])["mae"]
    ref = [naive.get((k, r), np.nan) for k, r in zip(out["kind"], out["regime"], strict=True)]
    out["rel_mae"] = out["mae"] / np.asarray(ref, dtype="float64")
    return out


def _name(model: str | Forecaster) -> str:
    return model if isinstance(model, str) else model.name


def _build(
    frame: pd.DataFrame,
    asked: Sequence[str | Forecaster],
    lstm: LSTMTraining | None,
    horizon: int,
) -> tuple[list[Forecaster], list[LSTMModel]]:
    """The backtest's models, and among them the LSTM's variants."""
    built: list[Forecaster] = []
    lstms: list[LSTMModel] = []
    for model in asked:
        if model == "lstm":
            lstms = lstm_models(frame, lstm or LSTMTraining(), horizon)
            built.extend(lstms)
        else:
            built.append(make_baseline(model) if isinstance(model, str) else model)
    return built, lstms


def _add_forecast(
    result: BacktestResult, model: LSTMModel, frame: pd.DataFrame, horizon: int
) -> None:
    """The LSTM's training history, and the future: the last refit's model forecasting from
    all the data."""
    result.history = [
        {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
        for r in model.first_history
    ]
    model.update(frame)
    result.forecast = model.predict(horizon)
    result.recent = frame


def _meta(
    frame: pd.DataFrame, p: Plan, spec: WalkForward, names: list[str], lstm: LSTMTraining | None
) -> dict:
    a = frame.attrs
    meta = {
        "coin": a["coin"],
        "interval": a["interval"],
        "horizon": spec.horizon,
        "models": names,
        "test_start": frame.index[p.first_target].isoformat(),
        "test_end": frame.index[p.last_target].isoformat(),
        "cutoffs": len(p.cutoffs),
        "test": spec.test,  # None when the test period was given by start (and end)
        "refit_every": spec.refit_every,
        "window": spec.window,
        "window_size": spec.window_size,
        "data": {
            "source": a["source"],
            "quote": a["quote"],
            "start": frame.index[0].isoformat(),
            "end": frame.index[-1].isoformat(),
            "rows": len(frame),
            "min_complete": a.get("min_complete", 1.0),  # of bars resampled from finer ones
        },
        "config": _lstm_settings(lstm or LSTMTraining(), spec.horizon) if "lstm" in names else {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }
    if lstm is not None and lstm.others:  # what a global LSTM learned from, beside the coin
        meta["coins"] = list(dict.fromkeys([a["coin"], *lstm.others]))
    return meta


def _lstm_settings(lstm: LSTMTraining, horizon: int) -> dict:
    cfg = lstm.config.model_copy(update={"horizon": horizon})
    return {**cfg.model_dump(), "refit_epochs": lstm.refit_epochs, "warm_start": lstm.warm_start}


#: What ``scores_json`` keeps of each model's scores, and of each step's.
JSON_KEYS = (
    "model", "n", "rel_mae", "mae", "rmse", "mape", "smape", "mase", "dm_stat", "dm_pvalue",
    "directional_accuracy", "directional_n", "directional_stat", "directional_pvalue",
    "info_slope", "info_pvalue", "copies_last", "coverage", "crps", "crps_method",
)  # fmt: skip
STEP_KEYS = ("step", *(k for k in JSON_KEYS if k != "model"))


def scores_json(result: BacktestResult) -> dict:
    """The ``--json`` answer of ``coincast backtest``: per model its scores over every step,
    and under ``per_step`` the same figures for each step of the horizon on its own."""
    steps = result.steps if result.steps is not None else pd.DataFrame(columns=["model"])
    rows = []
    for rec in result.scores.to_dict("records"):
        row = {k: _plain(rec.get(k)) for k in JSON_KEYS}
        mine = steps[steps["model"] == rec["model"]].to_dict("records")
        rows.append(row | {"per_step": [{k: _plain(s.get(k)) for k in STEP_KEYS} for s in mine]})
    m = result.meta
    tests = result.var_tests if result.var_tests is not None else pd.DataFrame(columns=["model"])
    for row in rows:
        mine = tests[tests["model"] == row["model"]].drop(columns="model")
        row["var_tests"] = [{k: _plain(v) for k, v in r.items()} for r in mine.to_dict("records")]
    return {
        "coin": m["coin"],
        "interval": m["interval"],
        "horizon": m["horizon"],
        "test_start": m["test_start"],
        "test_end": m["test_end"],
        "mase_scale": m.get("mase_scale"),
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
