"""A whole risk backtest in one call: the LSTM's volatility forecasts against GARCH, GJR, HAR,
EWMA and rolling volatility on one coin, scored, with VaR and ES tested and every figure split
by regime.

Library first: :func:`run_risk_backtest` returns a :class:`RiskResult`;
:func:`risk_json` is the ``--json`` answer of ``coincast backtest --learn volatility``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..intervals import bars_per_year
from ..models.runs import package_versions
from .adapters import LSTMTraining
from .backtest import WalkForward, min_rows, plan
from .regimes import RULE, by_regime, label_rows, regime_labels
from .risk_backtest import LEVELS, risk_walk_forward, with_measure
from .risk_models import DEFAULT_RISK_MODELS, build_risk_models
from .risk_scores import risk_verdicts, score_risk, var_backtests
from .risk_tests import qlike

if TYPE_CHECKING:
    from .engines import Engine

__all__ = ["DEFAULT_RISK_MODELS", "RiskResult", "risk_json", "run_risk_backtest"]


@dataclass
class RiskResult:
    """Everything a risk backtest produced.

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> r = run_risk_backtest(synthetic_candles(300), WalkForward(test=10), models=["ewma"])
    >>> r.tests[["model", "level"]].values.tolist()
    [['ewma', 0.01], ['ewma', 0.05]]
    """

    table: pd.DataFrame  #: one row per model, cutoff and step (see risk_backtest)
    scores: pd.DataFrame  #: volatility scores per model
    tests: pd.DataFrame  #: VaR and ES tests per model and level
    regimes: pd.DataFrame  #: QLIKE and VaR exceedances per model and regime
    verdicts: list[str]  #: the scores in words
    meta: dict  #: coin, interval, measure, test period, regime rule, versions
    forecast: pd.DataFrame | None = None  #: each model's forecast of the next bars
    history: list[dict] = field(default_factory=list)  #: the LSTM's first fit, per epoch


def run_risk_backtest(
    frame: pd.DataFrame,
    spec: WalkForward | None = None,
    *,
    models: Sequence[str] = DEFAULT_RISK_MODELS,
    lstm: LSTMTraining | None = None,
    finer: pd.DataFrame | None = None,
    measure: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
    engine: Engine | None = None,
) -> RiskResult:
    """Walk-forward backtest of volatility ``models`` on ``frame``, scored against GARCH.

    Parameters
    ----------
    frame
        The coin's candles.
    spec
        How the backtest walks (default: the last 365 bars, refit every 30 cutoffs).
    models
        ``lstm`` and names of :data:`coincast.models.volatility.VOL_MODELS`.
    lstm
        How to train the LSTM (its config's target becomes ``volatility``).
    finer
        Finer candles of the same coin: the realized measure is then realized variance
        (:func:`coincast.dataset.realized.choose_measure`).
    measure
        ``auto`` or a method of :data:`coincast.dataset.realized.METHODS`.
    progress
        ``progress(model, done, total)`` after each cutoff (with an engine: as each model's
        walk finishes).
    engine
        Where the models walk, each one a job (:mod:`coincast.evaluation.engines`); the
        table is the same as without (the default: one after another, here).

    Examples
    --------
    >>> from coincast.data.sources import synthetic_candles
    >>> r = run_risk_backtest(synthetic_candles(300), WalkForward(test=20),
    ...                       models=["ewma", "histvol"])
    >>> r.scores["model"].tolist(), r.meta["measure"]
    (['ewma', 'histvol'], 'garman-klass')
    """
    spec = spec or WalkForward()
    frame, m = with_measure(frame, finer, measure)
    built = build_risk_models(frame, models, lstm, spec.horizon)
    p = plan(frame, spec, min_rows=min_rows(built))
    table = risk_walk_forward(built, frame, spec, progress=progress, engine=engine)
    scores, tests = score_risk(table), var_backtests(table)
    labels = regime_labels(frame, frame.index[p.cutoffs])
    meta = _meta(frame, p, spec, [b.name for b in built], m)
    result = RiskResult(
        table, scores, tests, _by_regime(label_rows(table, labels)),
        risk_verdicts(scores, tests), meta,
    )  # fmt: skip
    result.forecast = next_bars(built, frame, spec.horizon)
    lstm_model = next((b for b in built if hasattr(b, "first_history")), None)
    if lstm_model is not None:
        result.history = [
            {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
            for r in lstm_model.first_history
        ]
    return result


def next_bars(models: Sequence, frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Each model's forecast of the ``horizon`` bars after ``frame``'s last (updated with
    all of it, no re-estimation): variance, annualised volatility in percent, VaR and ES."""
    year = bars_per_year(frame.attrs["interval"])
    rows = []
    for model in models:
        model.update(frame)
        f = model.predict(horizon)
        for step, (ts, r) in enumerate(f.iterrows(), start=1):
            sigma = float(np.sqrt(r["variance"]))
            row = {"model": model.name, "ts": ts, "step": step, "variance": r["variance"],
                   "vol_annual_pct": 100 * sigma * np.sqrt(year)}  # fmt: skip
            for p in LEVELS:
                k = round(p * 100)
                row[f"var{k}"] = r["mean"] + sigma * model.innovation.quantile(p)
                row[f"es{k}"] = r["mean"] + sigma * model.innovation.es(p)
            rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out["variance_horizon"] = out.groupby("model")["variance"].cumsum()
    return out


def _by_regime(labelled: pd.DataFrame) -> pd.DataFrame:
    """QLIKE and the 5 % VaR exceedance rate per model and regime (one-step rows)."""
    one = labelled[(labelled["step"] == 1) & (labelled["variance"] > 0)]
    one = one[np.isfinite(one["rv"]) & np.isfinite(one["r"])]

    def figures(g: pd.DataFrame) -> dict:
        return {"n": len(g), "qlike": qlike(g["rv"].to_numpy(), g["variance"].to_numpy()),
                "var5_rate": float((g["r"] < g["var5"]).mean()),
                "var1_rate": float((g["r"] < g["var1"]).mean())}  # fmt: skip

    return by_regime(one, figures)


def _meta(frame: pd.DataFrame, p, spec: WalkForward, names: list[str], m) -> dict:
    a = frame.attrs
    return {
        "coin": a["coin"], "interval": a["interval"], "horizon": spec.horizon,
        "learn": "volatility", "models": names, "measure": m.method, "measure_detail": m.detail,
        "test_start": frame.index[p.first_target].isoformat(),
        "test_end": frame.index[p.last_target].isoformat(), "cutoffs": len(p.cutoffs),
        "refit_every": spec.refit_every, "window": spec.window, "test": spec.test,
        "levels": list(LEVELS), "regime_rule": RULE,
        "data": {"source": a["source"], "quote": a["quote"], "start": frame.index[0].isoformat(),
                 "end": frame.index[-1].isoformat(), "rows": len(frame)},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "packages": package_versions(),
    }  # fmt: skip


def risk_json(result: RiskResult) -> dict:
    """The ``--json`` answer: meta, then per model its scores, VaR tests, regimes and next
    bars, and the verdicts."""
    m = result.meta
    models = []
    for rec in result.scores.to_dict("records"):
        name = rec["model"]
        tests = result.tests[result.tests["model"] == name].drop(columns="model")
        reg = result.regimes[result.regimes["model"] == name].drop(columns="model")
        f = result.forecast if result.forecast is not None else pd.DataFrame(columns=["model"])
        nxt = f[f["model"] == name].drop(columns="model")
        models.append({
            **{k: _plain(v) for k, v in rec.items()},
            "var_tests": _records(tests), "regimes": _records(reg), "next": _records(nxt),
        })  # fmt: skip
    keys = ("coin", "interval", "horizon", "learn", "measure", "measure_detail", "test_start",
            "test_end", "cutoffs", "levels", "regime_rule")  # fmt: skip
    return {**{k: m[k] for k in keys}, "models": models, "verdicts": list(result.verdicts)}


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _plain(x: object) -> object:
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if np.isfinite(x) else None
    return x
