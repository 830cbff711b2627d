"""The risk report: one self-contained HTML page of a volatility backtest — the verdicts, the
volatility scores against GARCH, the VaR and ES tests, each figure by regime, and how it was
made. Every string from the user or the data is escaped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..evaluation.risk_run import RiskResult
from . import html
from .html import fmt
from .report import CSS

#: column, header, format of the volatility scores table
SCORES = [
    ("model", "model", "text"), ("n", "n", "int"), ("rel_qlike", "QLIKE ÷ GARCH", "ratio"),
    ("qlike", "QLIKE", "num"), ("mse", "MSE (variance)", "num"),
    ("mz_intercept", "MZ intercept", "num"), ("mz_slope", "MZ slope", "num"),
    ("mz_r2", "MZ R²", "num"), ("mz_pvalue", "MZ p (0, 1)", "p"),
    ("dm_garch_pvalue", "DM p vs GARCH", "p"), ("dm_ewma_pvalue", "DM p vs EWMA", "p"),
    ("pit_pvalue", "PIT uniform p", "p"),
]  # fmt: skip
TESTS = [
    ("model", "model", "text"), ("level", "level", "pct1"), ("n", "bars", "int"),
    ("exceedances", "exceeded", "int"), ("rate", "rate", "pct1"),
    ("kupiec_pvalue", "Kupiec p", "p"), ("ind_pvalue", "independence p", "p"),
    ("cc_pvalue", "cond. coverage p", "p"), ("es_pvalue", "ES p (McNeil-Frey)", "p"),
    ("passes", "not rejected", "bool"),
]  # fmt: skip


def build_risk_report(folder: str | Path, result: RiskResult) -> Path:
    """Write ``report.html`` of ``result`` into ``folder``; return its path."""
    folder = Path(folder)
    m = result.meta
    body = "".join([
        _summary(result),
        html.section("scores", "Volatility scores (one bar ahead)", _table(result.scores, SCORES)),
        html.section("var", "Value-at-risk and expected shortfall", _table(result.tests, TESTS)),
        html.section("regimes", "By regime", html.p(html.e(m["regime_rule"]))
                     + _regimes(result.regimes)),
        html.section("settings", "Settings", html.kv(_settings(m))),
    ])  # fmt: skip
    title = f"coincast risk backtest: {m['coin']} {m['interval']}"
    path = folder / "report.html"
    path.write_text(html.page(title, CSS, body), encoding="utf-8")
    return path


def _summary(result: RiskResult) -> str:
    m = result.meta
    what = html.p(
        html.e(
            f"{m['coin']} {m['interval']}: the variance of each of the next {m['horizon']} "
            f"bar(s) forecast from {m['cutoffs']} cutoffs, {html.when(m['test_start'])} to "
            f"{html.when(m['test_end'])}; realized measure: {m['measure_detail']}."
        )
    )
    items = "".join(html.tag("li", html.e(v)) for v in result.verdicts)
    return html.section("summary", "Summary", what + html.tag("ul", items, class_="headline"))


def _table(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    head = [html.e(h) for _, h, _ in columns]
    rows = [[html.tag("td", html.e(fmt(r.get(c), kind))) for c, _, kind in columns]
            for r in frame.to_dict("records")]  # fmt: skip
    return html.table(head, rows)


def _regimes(frame: pd.DataFrame) -> str:
    if frame is None or not len(frame):
        return html.p("no regime had a scored bar")
    cols = [(c, c, "num" if frame[c].dtype.kind == "f" else "text") for c in frame.columns]
    return _table(frame, cols)


def _settings(m: dict) -> list[tuple[str, object]]:
    keys = ("coin", "interval", "horizon", "models", "measure_detail", "cutoffs", "refit_every",
            "window", "test_start", "test_end", "created")  # fmt: skip
    return [(k, ", ".join(m[k]) if isinstance(m[k], list) else m[k]) for k in keys if k in m]
