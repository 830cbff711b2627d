"""``coincast backtest --learn volatility``: the risk backtest from the command line, its
tables of volatility scores and VaR tests, and the next bars' volatility and VaR."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
from rich.table import Table

from ..evaluation.adapters import LSTMTraining
from ..evaluation.backtest import WalkForward
from ..evaluation.risk_run import RiskResult, risk_json, run_risk_backtest
from ..evaluation.verdicts import fmt_ratio, verdict
from ..models.config import LSTMConfig
from ..models.run_data import Frames
from .common import err, out, print_json, progress_bar
from .evaluate import _f, _p, per_model
from .options import EngineChoice


def risk_backtest(
    coin: str,
    frames: Frames,
    exog: Frames,
    models: list[str],
    lstm: LSTMConfig,
    walk: dict[str, Any],
    finer: pd.DataFrame | None,
    engine: EngineChoice,
) -> RiskResult:
    """The one call of :func:`~coincast.evaluation.risk_run.run_risk_backtest` for ``coin``,
    on ``engine``; ``finer``: finer bars of it (its measure is then realized variance)."""
    walk = dict(walk)
    training_opts = {k: walk.pop(k) for k in ("refit_epochs", "warm_start")}
    how = LSTMTraining(lstm, others=frames, exog=exog, **training_opts)
    with engine.open() as pool, progress_bar("cutoffs", err) as bar:
        return run_risk_backtest(
            frames[coin], WalkForward(**walk), models=models, lstm=how, finer=finer,
            progress=per_model(bar), engine=pool,
        )  # fmt: skip


def show_risk(result: RiskResult, folder: Path, as_json: bool) -> None:
    """Print the result: JSON, or the QLIKE table, the VaR table, the next bars and the
    verdicts."""
    if as_json:
        print_json(risk_json(result) | {"folder": str(folder)})
        return
    m = result.meta
    table = Table(
        "model", "QLIKE/GARCH", "QLIKE", "MSE (var)", "MZ slope", "MZ R²", "MZ p",
        "DM p vs GARCH", "DM p vs EWMA", "PIT p",
        title=f"{m['coin']} {m['interval']} volatility, horizon {m['horizon']}: "
        f"{m['test_start'][:10]} .. {m['test_end'][:10]} ({m['cutoffs']} cutoffs)",
    )  # fmt: skip
    for r in result.scores.to_dict("records"):
        rel = r.get("rel_qlike")
        judged = verdict(r.get("dm_garch_pvalue"), r.get("dm_garch_stat"))
        word = f" {judged}" if judged in ("better", "worse") else ""
        table.add_row(
            r["model"], "-" if _no(rel) else fmt_ratio(rel) + word, _f(r["qlike"]),
            _f(r["mse"]), _f(r["mz_slope"], 3), _f(r["mz_r2"], 3), _p(r["mz_pvalue"]),
            _p(r.get("dm_garch_pvalue")), _p(r.get("dm_ewma_pvalue")), _p(r["pit_pvalue"]),
        )  # fmt: skip
    out.print(f"Realized measure: {m['measure_detail']}")
    out.print(table)
    out.print(_var_table(result))
    out.print(_next_table(result))
    for line in result.verdicts:
        out.print(f"- {line}")


def _var_table(result: RiskResult) -> Table:
    t = Table("model", "level", "exceeded", "Kupiec p", "independence p", "cond. coverage p",
              "ES p (McNeil-Frey)", "verdict", title="Value-at-risk, one bar ahead")  # fmt: skip
    for r in result.tests.to_dict("records"):
        verdict_text = {True: "not rejected", False: "rejected"}.get(r["passes"], "-")
        t.add_row(
            r["model"], f"{100 * r['level']:g} %", f"{100 * r['rate']:.1f} % of {r['n']}",
            _p(r["kupiec_pvalue"]), _p(r["ind_pvalue"]), _p(r["cc_pvalue"]),
            _p(r["es_pvalue"]), verdict_text,
        )  # fmt: skip
    return t


def _next_table(result: RiskResult) -> Table:
    t = Table("model", "bar", "volatility (annual)", "variance", "VaR 1 %", "VaR 5 %", "ES 5 %",
              title="Next bar")  # fmt: skip
    f = result.forecast
    if f is None or not len(f):
        return t
    for r in f[f["step"] == 1].to_dict("records"):
        t.add_row(
            r["model"], str(r["ts"])[:16], f"{r['vol_annual_pct']:.1f} %", _f(r["variance"]),
            _pct(r["var1"]), _pct(r["var5"]), _pct(r["es5"]),
        )  # fmt: skip
    return t


def _no(x: object) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def _pct(x) -> str:
    """A log return as a simple return in percent."""
    return "-" if _no(x) else f"{100 * math.expm1(x):.2f} %"


def print_volatility(forecast: pd.DataFrame, frame: pd.DataFrame, as_json: bool) -> None:
    """A volatility run's forecast: each bar's variance, its annualised volatility, the
    variance summed to that bar, and the bar's VaR and ES (the run's errors: the returns
    over their realized volatility on the stored candles)."""
    from ..evaluation.risk_models import fitted_errors
    from ..intervals import bars_per_year

    a, errors = forecast.attrs, fitted_errors(frame)
    year = bars_per_year(a["interval"])
    rows = []
    for ts, v in zip(forecast.index, forecast["yhat"].to_numpy(), strict=True):
        s = math.sqrt(v)
        row = {"ts": ts.isoformat(), "variance": float(v),
               "vol_annual_pct": 100 * s * math.sqrt(year)}  # fmt: skip
        for p in (0.01, 0.05):
            row[f"var{round(p * 100)}"] = s * errors.quantile(p)
            row[f"es{round(p * 100)}"] = s * errors.es(p)
        rows.append(row)
    total = 0.0
    for r in rows:
        total += r["variance"]
        r["variance_horizon"] = total
    if as_json:
        print_json({"coin": a["coin"], "interval": a["interval"], "learn": "volatility",
                    "last_ts": frame.index[-1].isoformat(), "forecast": rows})  # fmt: skip
        return
    t = Table("ts (UTC)", "volatility (annual)", "variance", "to this bar", "VaR 1 %", "VaR 5 %",
              "ES 5 %", title=f"{a['coin']}/{a['quote']} {a['interval']} volatility after "
              f"{str(frame.index[-1])[:16]}")  # fmt: skip
    for r in rows:
        t.add_row(
            r["ts"][:16],
            f"{r['vol_annual_pct']:.1f} %",
            _f(r["variance"]),
            _f(r["variance_horizon"]),
            _pct(r["var1"]),
            _pct(r["var5"]),
            _pct(r["es5"]),
        )
    out.print(t)
    out.print("VaR and ES: the bar's return (simple, in %) that is undercut with 1 % or 5 % "
              "chance, and the mean return beyond it.")  # fmt: skip
