"""The risk report: one self-contained HTML page of a volatility backtest. Results first: the
verdicts (the volatility scores against GARCH in the summary, the VaR tests in words), then
the pictures (:mod:`coincast.reporting.risk_plots`: forecast against realized volatility, VaR
exceedances, PIT histograms), the tables (scores, VaR and ES tests, each figure by regime)
and how it was made. Every string from the user or the data is escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..evaluation.risk_run import RiskResult
from ..evaluation.verdicts import ALPHA
from . import html
from .html import fmt
from .report import CSS
from .risk_plots import draw_risk_figures

#: column, header, format of the volatility scores table
SCORES = [
    ("model", "model", "text"), ("n", "n", "int"), ("rel_qlike", "QLIKE ÷ GARCH", "ratio"),
    ("qlike", "QLIKE", "num"), ("mse", "MSE (variance)", "g"),
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
    """Draw the risk backtest's pictures into ``folder`` and write its ``report.html`` there;
    return its path. Results first (summary, the VaR tests in words), then the pictures, the
    tables and the settings."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m = result.meta
    vol, var = _split_verdicts(list(result.verdicts or []))
    pngs = draw_risk_figures(folder, result.table, str(m["interval"]))
    sections = [
        ("summary", _summary(result, vol, var)),
        ("var-words", _var_words(var)),
        ("pictures", _pictures(pngs)),
        ("scores", html.section("scores", "Volatility scores (one bar ahead)",
                                _table(result.scores, SCORES) + _SCORES_NOTE)),
        ("var", html.section("var", "Value-at-risk and expected shortfall: the tests",
                             _table(result.tests, TESTS) + _TESTS_NOTE)),
        ("regimes", html.section("regimes", "By regime", _regimes(result.regimes, m))),
        ("settings", html.section("settings", "Settings", html.kv(_settings(m)))),
    ]  # fmt: skip
    nav = html.tag("nav", "".join(f'<a href="#{i}">{i}</a>' for i, _ in sections))
    title = f"coincast risk backtest: {m['coin']} {m['interval']}"
    path = folder / "report.html"
    path.write_text(html.page(title, CSS, nav + "".join(s for _, s in sections)), "utf-8")
    return path


#: a verdict on a VaR level (risk_scores' sentences: "<model>: 5 % VaR exceeded on ...")
_VAR_SENTENCE = re.compile(r"^.*: \d+(\.\d+)? % VaR exceeded on ")


def _split_verdicts(verdicts: list[str]) -> tuple[list[str], list[str]]:
    """The verdicts on the volatility scores, and those on the VaR levels."""
    var = [v for v in verdicts if _VAR_SENTENCE.match(str(v))]
    return [v for v in verdicts if v not in var], var


def _summary(result: RiskResult, vol: list[str], var: list[str]) -> str:
    m = result.meta
    what = html.p(
        html.e(
            f"{m['coin']} {m['interval']}: the variance of each of the next {m['horizon']} "
            f"bar(s) forecast from {m['cutoffs']} cutoffs, {html.when(m['test_start'])} to "
            f"{html.when(m['test_end'])}; realized measure: {m['measure_detail']}."
        )
    )
    items = "".join(html.tag("li", html.e(v)) for v in vol)
    tests = result.tests
    if tests is not None and len(tests) and "passes" in tests.columns:
        judged = [bool(v) for v in tests["passes"] if v is not None and not html.missing(v)]
        held = sum(judged)
        items += html.tag("li", html.e(
            f"Value-at-risk: {held} of {len(judged)} model and level pair(s) not rejected by "
            "the coverage tests (see Value-at-risk in words)."))  # fmt: skip
    how = html.p(
        "Volatility forecasts are scored by QLIKE against the realized measure (lower is "
        "better), as a ratio to GARCH's on the same bars: below 1 beats GARCH, by more than "
        "chance only when the Diebold-Mariano test says so."
    )
    body = what + (html.tag("ul", items, class_="headline") if items else "") + how
    return html.section("summary", "Summary", body)


def _var_words(var: list[str]) -> str:
    said = html.tag("ul", "".join(html.tag("li", html.e(v)) for v in var), class_="verdicts")
    explain = html.p(
        "A 5 % value-at-risk is the return a model expects to fall below on 1 bar in 20, a "
        "1 % VaR on 1 bar in 100. The Kupiec test asks whether the share of bars below it "
        "(exceedances) is the expected one; the independence test whether exceedances come in "
        "clusters (a forecast slow to react to a storm); conditional coverage asks both at "
        f"once. A level is rejected when a p-value is below {ALPHA}; not rejected says the data "
        "cannot tell it from right, not that it is right (with few bars the tests see little)."
    )
    body = (said if var else html.p("No VaR level was tested.")) + explain
    return html.section("var-words", "Value-at-risk in words", body)


def _pictures(pngs: list[tuple[Path, str]]) -> str:
    figs = [html.image(path, caption, caption) for path, caption in pngs]
    return html.section("pictures", "Pictures", "".join(figs) or html.p("No pictures."))


_SCORES_NOTE = html.p(
    "QLIKE: the loss of a variance forecast against the realized measure, robust to its noise "
    "(lower is better). MZ: the Mincer-Zarnowitz regression of the realized measure on the "
    "forecast; a right forecast has intercept 0 and slope 1 (its p-value tests both). DM p: "
    "the Diebold-Mariano test of the QLIKE gap. PIT uniform p: whether the returns fall in "
    "the forecast distribution as they should (see the PIT histograms)."
)
_TESTS_NOTE = html.p(
    "Kupiec: is the exceedance rate the level? independence: are exceedances unclustered? "
    "conditional coverage: both. ES (McNeil-Frey): are the returns beyond the VaR as deep "
    f"as the expected shortfall says? p-values below {ALPHA} reject."
)


def _table(frame: pd.DataFrame, columns: list[tuple[str, str, str]]) -> str:
    head = [html.e(h) for _, h, _ in columns]
    rows = [[html.tag("td", html.e(fmt(r.get(c), kind))) for c, _, kind in columns]
            for r in frame.to_dict("records")]  # fmt: skip
    return html.table(head, rows)


#: regimes of each kind, in reading order (others after them, as found)
REGIME_ORDER = {"trend": ["up", "sideways", "down"], "vol": ["low", "high"]}
KIND_TITLES = {"trend": "Trend regimes", "vol": "Volatility regimes"}


def _regimes(frame: pd.DataFrame | None, meta: dict) -> str:
    """One table per regime kind: a row per model, per regime its QLIKE and 5 % VaR
    exceedance rate; then the rule that labels the regimes, in words."""
    rule = meta.get("regime_rule")
    words = html.p("How the regimes are labelled: " + html.e(rule)) if rule else ""
    if frame is None or not len(frame) or "kind" not in frame.columns:
        return html.p("No regime had a scored bar.") + words
    parts = []
    for kind in list(dict.fromkeys([*REGIME_ORDER, *map(str, frame["kind"])])):
        part = frame[frame["kind"].astype(str) == kind]
        if len(part):
            parts.append(html.tag("h3", html.e(KIND_TITLES.get(kind, kind))) + _regime_table(part))
    explain = html.p(
        "Each cell: QLIKE (lower is better; compare models within a column, as regimes differ "
        "in how hard they are) and the share of bars whose return fell below the 5 % VaR "
        "(right near 5 %), over the one-bar forecasts made at cutoffs of that regime; n is "
        "the bars of the regime. A regime of few bars says little."
    )
    return "".join(parts) + explain + words


def _regime_table(part: pd.DataFrame) -> str:
    kind = str(part["kind"].iloc[0])
    order = REGIME_ORDER.get(kind, [])
    found = [str(g) for g in pd.unique(part["regime"])]
    regimes = [g for g in order if g in found] + [g for g in found if g not in order]
    bars = {g: part.loc[part["regime"].astype(str) == g, "n"].max() for g in regimes}
    head = ["model"]
    for g in regimes:
        n = fmt(bars[g], "int")
        head += [html.e(f"{g} (n {n}): QLIKE"), html.e(f"{g}: 5 % VaR exceeded")]
    rows = []
    for model in pd.unique(part["model"]):
        cells = [html.tag("td", html.e(model), class_="model")]
        mine = part[part["model"] == model]
        for g in regimes:
            r = mine[mine["regime"].astype(str) == g]
            rec = r.iloc[0].to_dict() if len(r) else {}
            cells.append(html.tag("td", html.e(fmt(rec.get("qlike"), "g")), class_="num"))
            cells.append(html.tag("td", html.e(fmt(rec.get("var5_rate"), "pct1")), class_="num"))
        rows.append(cells)
    return html.table(head, rows, f"regimes regimes-{kind}")


def _settings(m: dict) -> list[tuple[str, object]]:
    keys = ("coin", "interval", "horizon", "models", "measure_detail", "cutoffs", "refit_every",
            "window", "test_start", "test_end", "created")  # fmt: skip
    return [(k, ", ".join(m[k]) if isinstance(m[k], list) else m[k]) for k in keys if k in m]
