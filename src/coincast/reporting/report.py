"""The backtest report: one self-contained HTML file (pictures inlined as data URIs; no
external CSS, JS or fonts, so it works offline when moved) that says how good the forecasts
are, and the inputs it is built from, saved in the backtest folder so ``coincast report DIR``
rebuilds it. Every string from the user (coin, model names, settings) is escaped.

Results first, then how they were made: summary (what was tested and the verdict), metrics,
pictures, calibration (the bands' coverage over time and by regime), significance,
last-value, steps (a horizon of several steps), trading, settings and reproduce (the exact
command, :mod:`coincast.reporting.reproduce`); the sections on the tests and the bands live
in :mod:`coincast.reporting.evidence`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluation.result import BacktestResult
from ..evaluation.verdicts import ALPHA, fmt_p, fmt_ratio, verdict
from . import backtest_plots as bp
from . import evidence, html, reproduce
from .html import DASH, fmt
from .inputs import INPUTS, ReportError, load_report_inputs, write_report_inputs

__all__ = [
    "DASH", "INPUTS", "ReportError", "build_report", "fmt", "load_report_inputs",
    "write_report_inputs",
]  # fmt: skip

COVERAGE_TARGET = 0.90  # band coverage aimed at, unless meta["coverage_level"] says otherwise
NAIVE = bp.NAIVE
# column, header, format, when a value is good (see RULES), what it means
METRICS = [
    ("n", "n", "int", None, "forecasts scored"),
    ("rel_mae", "MAE ÷ naive", "ratio", "below_one",
     "the headline: MAE over the naive forecast's MAE on the same forecasts; < 1 is lower"),
    ("mae", "MAE", "price", "below_naive", "mean absolute error, in the quote currency"),
    ("rmse", "RMSE", "price", "below_naive", "root mean squared error: big misses count more"),
    ("mape", "MAPE", "pct", "below_naive", "mean absolute percentage error"),
    ("smape", "sMAPE", "pct", "below_naive", "symmetric mean absolute percentage error"),
    ("mase", "MASE", "ratio", "below_one",
     "MAE over the naive forecast's one-step MAE on training bars"),
    ("directional_accuracy", "direction right", "pct1", "above_half",
     "share of up/down calls right"),
    ("coverage", "coverage (nominal 90 %)", "pct1", "nominal",
     "share of actuals inside the central 90 % band; well calibrated near 90 %"),
    ("pinball", "pinball", "price", "below_naive", "quantile (pinball) loss of the band"),
    ("crps", "CRPS", "price", "below_naive", "continuous ranked probability score of the band"),
]  # fmt: skip
#: when a column's value is good in absolute terms: below 1 (a ratio to the naive forecast),
#: below the naive forecast's own value, above 50 % (a coin flip), or within sampling error of
#: the nominal coverage; the best value is marked only when it is good
RULES = {
    "below_one": "below 1",
    "below_naive": "below the naive forecast's",
    "above_half": "above 50 %",
    "nominal": "within sampling error (2 standard errors) of the nominal {target:.0%}",
}
TRADING = [
    ("total_return", "total return", "pct1"),
    ("sharpe", "Sharpe", "num"),
    ("max_drawdown", "max drawdown", "pct1"),
    ("trades", "trades", "int"),
    ("exposure", "time in market", "pct1"),
    ("hold_pvalue", "p vs buy-and-hold", "p"),
    ("vs_hold", "return vs buy-and-hold", "text"),
]


# ---------------------------------------------------------------- sections


def _summary(meta: dict, scores: pd.DataFrame) -> str:
    """What was tested, in one line, and the verdict on each model against naive."""
    what = html.p(
        f"{html.e(fmt(meta.get('coin')))} {html.e(fmt(meta.get('interval')))}: forecasts "
        f"{html.e(fmt(meta.get('horizon')))} bar(s) ahead from "
        f"{html.e(fmt(meta.get('cutoffs'), 'int'))} cutoffs, tested on "
        f"{html.e(html.when(meta.get('test_start')))} to "
        f"{html.e(html.when(meta.get('test_end')))} (settings and the command that reruns "
        "it: see Settings and Reproduce).",
        "what",
    )
    lines = []
    for r in scores.to_dict("records"):
        rel = html.num(r.get("rel_mae"))
        if r.get("model") != NAIVE and not np.isnan(rel):
            p, judged = html.num(r.get("dm_pvalue")), verdict(r.get("dm_pvalue"), r.get("dm_stat"))
            said = _SUMMARY_WORDS.get(judged or "", "not tested against naive")
            luck = "" if judged is None else f", DM p {_p_text(p)}"
            lines.append(f"{r['model']}: MAE ÷ naive {fmt_ratio(rel)} ({said}{luck}).")
    intro = html.p(
        "The naive forecast says <em>the next price is the last price</em>. It costs nothing, "
        "and on prices that move almost like a random walk it is hard to beat. A model earns "
        "its keep only if its errors are lower than the naive forecast's (MAE ÷ naive below "
        "1) by more than chance (see Significance)."
    )
    headline = html.tag("ul", "".join(html.tag("li", html.e(s)) for s in lines), class_="headline")
    return html.section("summary", "Summary", what + (headline if lines else "") + intro)


_SUMMARY_WORDS = {"better": "lower than naive's by more than chance",
                  "worse": "higher than naive's by more than chance",
                  "no different": "not distinguishable from naive's"}  # fmt: skip


def _good(arr: np.ndarray, rule: str, target: float, naive: float, n: np.ndarray) -> np.ndarray:
    """Which values of a column are good in absolute terms (see :data:`RULES`); NaN never."""
    with np.errstate(invalid="ignore"):
        if rule == "below_one":
            return arr < 1
        if rule == "below_naive":
            return arr < naive  # False against a missing naive value: no reference, no mark
        if rule == "above_half":
            return arr > 0.5
        error = 2 * np.sqrt(target * (1 - target) / n)  # binomial: coverage of n forecasts
        return np.abs(arr - target) <= np.where(np.isnan(error), 0.0, error)


def _best(
    values: list[float],
    rule: str | None,
    target: float,
    naive: float = float("nan"),
    n: list[float] | None = None,
) -> set[int]:
    """Rows holding the best value of a column when that value is also good in absolute
    terms (:func:`_good`: ``naive`` is the naive forecast's value, ``n`` each row's count of
    forecasts); ties all marked; it needs two values to compare, and else marks nothing."""
    arr = np.array(values, dtype=float)
    if rule is None or np.count_nonzero(~np.isnan(arr)) < 2:
        return set()
    key = {"above_half": -arr, "nominal": np.abs(arr - target)}.get(rule, arr)
    low = np.nanmin(key)
    counts = np.array(n if n is not None else [np.nan] * len(arr), dtype=float)
    good = _good(arr, rule, target, naive, counts)
    return {
        i for i, k in enumerate(key) if good[i] and np.isclose(k, low, rtol=1e-12)
    }  # fmt: skip


def _p_text(p: float) -> str:
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def _versus_naive(r: dict) -> tuple[str, str]:
    """The text and class of a model's "vs naive" cell: beats or loses to naive only when the
    DM test says so (:func:`~coincast.evaluation.verdicts.verdict`); every model that does not
    beat it is marked."""
    if r.get("model") == NAIVE:
        return "reference", ""
    if np.isnan(html.num(r.get("rel_mae"))):
        return DASH, ""
    judged = verdict(r.get("dm_pvalue"), r.get("dm_stat"))
    if judged == "better":
        return "beats naive", "beats"
    words = {"worse": "loses to naive", "no different": "not better than naive"}
    return words.get(judged or "", "not tested"), "loses-to-naive"


def _tips(meta: dict, scores: pd.DataFrame) -> dict[str, str]:
    """What the MASE and CRPS columns mean for this backtest: MASE's scale, CRPS's methods."""
    scale = meta.get("mase_scale") or {}
    bars = f"the last {scale['window']:,} training bars" if scale.get("window") else "training bars"
    tips = {"mase": f"MASE (scale: naive MAE over {bars}); MAE ÷ naive is the headline"}
    if "crps_method" in scores.columns:
        used = {str(r["model"]): r["crps_method"] for r in scores.to_dict("records")
                if not html.missing(r.get("crps_method"))}  # fmt: skip
        how = "; ".join(f"{m}: {v}" for m, v in used.items()) or "no model stated its band"
        tips["crps"] = (
            "continuous ranked probability score of the band, in prices (lower is better): the "
            "closed form for a normal or (shifted) log-normal band; from lo, yhat and hi as three "
            "quantiles otherwise, which reads lower than the exact CRPS (by about 28 % for a "
            f"normal band), so compare models of one method only. Here: {how}"
        )
    return tips


def _metrics(scores: pd.DataFrame, target: float, meta: dict) -> str:
    tips = _tips(meta, scores)
    cols = [(c, h, k, rule, tips.get(c, tip)) for c, h, k, rule, tip in METRICS
            if c in scores.columns]  # fmt: skip
    recs = scores.to_dict("records")
    best = _marked(recs, cols, target)
    head = (
        ["model"]
        + [html.tag("span", html.e(h), title=tip) for _, h, _, _, tip in cols]
        + ["vs naive"]
    )
    rows, row_cls = [], []
    for i, r in enumerate(recs):
        cells = [html.tag("td", html.e(r.get("model")), class_="model", data_col="model")]
        for c, _, kind, _, _ in cols:
            cls = "num best" if i in best[c] else "num"
            cells.append(html.tag("td", html.e(fmt(r.get(c), kind)), class_=cls, data_col=c))
        text, cls = _versus_naive(r)
        cells.append(html.tag("td", html.e(text), class_=cls, data_col="vs_naive"))
        rows.append(cells)
        row_cls.append(cls)
    glossary = "".join(f"<dt>{html.e(h)}</dt><dd>{html.e(tip)}</dd>" for _, h, _, _, tip in cols)
    good = "; ".join(
        f"{h}: {RULES[rule].format(target=target)}" for _, h, _, rule, _ in cols if rule
    )
    note = html.p(
        "The best value of a column is <span class='best'>marked</span> only when it is also "
        f"good in itself ({html.e(good)}); where no model's value is, nothing is marked. Rows "
        "<span class='loses-to-naive'>marked red</span> do not beat the naive forecast."
    )
    details = html.tag(
        "details", "<summary>What the columns mean</summary>" + html.tag("dl", glossary)
    )
    table = html.table(head, rows, "metrics", row_cls)
    return html.section("metrics", "Forecast errors", table + note + details)


def _marked(recs: list[dict], cols: list[tuple], target: float) -> dict[str, set[int]]:
    """Per column, the rows whose value is marked best (see :func:`_best`)."""
    naive = next((r for r in recs if r.get("model") == NAIVE), {})
    n = [html.num(r.get("n")) for r in recs]
    return {
        c: _best([html.num(r.get(c)) for r in recs], rule, target, html.num(naive.get(c)), n)
        for c, _, _, rule, _ in cols
    }


def _pictures(pngs: list[tuple[Path, str]]) -> str:
    figs = [html.image(path, caption, caption) for path, caption in pngs]
    return html.section("pictures", "Pictures", "".join(figs) or html.p("No pictures."))


def _trading(trading: pd.DataFrame, disclaimer: str) -> str:
    words = {"better": "beat buy-and-hold", "worse": "trailed buy-and-hold",
             "no different": "not distinguishable from buy-and-hold"}  # fmt: skip
    cols = [c for c in TRADING if c[0] in trading.columns]
    rows, row_cls = [], []
    for r in trading.to_dict("records"):
        word = None if html.missing(r.get("vs_hold")) else str(r.get("vs_hold"))
        reference = r.get("model") == "buy-and-hold"
        cells = [html.tag("td", html.e(r.get("model")))]
        for c, _, kind in cols:
            text = fmt(r.get(c), kind)
            if c == "vs_hold":
                text = "reference" if reference else words.get(word or "", text)
            cells.append(html.tag("td", html.e(text), class_="" if kind == "text" else "num"))
        rows.append(cells)
        row_cls.append("no-different" if word == "no different" else "")
    warn = html.p(
        f"<strong>An illustration, not advice.</strong> {html.e(disclaimer)}", "disclaimer"
    )
    table = html.table(["model"] + [html.e(h) for _, h, _ in cols], rows, "trading", row_cls)
    luck = html.p(
        "A few lucky trades can make a fine return and Sharpe ratio. The p-value is the chance "
        "of a gap in mean return per bar at least this large, either way, if the rule earned "
        "the same as buy-and-hold over the same bars (a stationary block bootstrap of both "
        f"return series, seeded). Below {ALPHA} we call the gap real; above it, the rule is "
        "not distinguishable from buy-and-hold, however good its figures look. Count the "
        "trades too: a result from a handful of trades rests on a handful of bets."
    )
    body = warn + table + (luck if "hold_pvalue" in trading.columns else "")
    return html.section("trading", "Trading simulation: an illustration, not advice", body)


# ---------------------------------------------------------------- the page

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0}
main{max-width:1120px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem}
nav a{margin-right:.8rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:left}thead th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.best{background:#d9f2d9;font-weight:700}.loses-to-naive{background:#fbe3e3;color:#8a1c1c}
tr.loses-to-naive td.model{font-weight:700}.beats{color:#1c6b1c}
.disclaimer{border-left:4px solid #d98c00;background:#fff6e5;padding:.5rem .8rem}
.verdict{font-weight:600}figure{margin:1rem 0}img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}
pre.command{background:#f3f3f3;padding:.6rem .8rem;overflow-x:auto}
"""


def _fan_attrs(meta: dict) -> dict[str, str]:
    data = meta.get("data") or {}
    found = {"coin": meta.get("coin"), "interval": meta.get("interval"),
             "quote": data.get("quote"), "source": data.get("source")}  # fmt: skip
    return {k: str(v) for k, v in found.items() if v}


def _check_table(table: pd.DataFrame) -> None:
    need = ["model", "ts", "step", "y", "yhat"]
    lacking = [c for c in need if c not in table.columns]
    if lacking:
        raise ReportError(
            f"the backtest table lacks column(s) {lacking}; it needs {need} "
            "(coincast.evaluation.backtest writes it)."
        )


def build_report(folder: Path, result: BacktestResult, *, out: Path | None = None) -> Path:
    """Draw the backtest's pictures into ``folder`` and write one self-contained HTML page
    (default ``folder / "report.html"``); returns its path.

    Examples
    --------
    >>> # build_report(Path("backtests/btc"), load_report_inputs(Path("backtests/btc")))
    """
    r = result
    _check_table(r.table)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = Path(out) if out is not None else folder / "report.html"
    meta = r.meta
    target = float(meta.get("coverage_level") or COVERAGE_TARGET)
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    title = f"coincast backtest: {fmt(meta.get('coin'))} {fmt(meta.get('interval'))}"
    lookback = (meta.get("config") or {}).get("lookback")
    pngs = bp.draw_figures(
        folder, r.table, r.history, r.forecast, r.recent, _fan_attrs(meta), lookback
    )
    coverage = bp.plot_coverage(r.table, folder / "coverage.png", target=target)
    sections = [  # results first, then how they were made
        _summary(meta, r.scores),
        _metrics(r.scores, target, meta),
        _pictures(pngs),
        evidence.calibration(coverage, meta, r.regimes, target),
        evidence.significance(list(r.verdicts or []), r.scores),
        evidence.last_value(r.scores, r.table),
        evidence.each_step(r.steps),
        _trading(r.trading, r.disclaimer),
        reproduce.settings(meta),
        reproduce.section(meta, built),
    ]
    ids = ["summary", "metrics", "pictures", "calibration", "significance", "last-value",
           "steps", "trading", "settings", "reproduce"]  # fmt: skip
    ids = [i for i, text in zip(ids, sections, strict=True) if text]
    nav = html.tag("nav", "".join(f'<a href="#{i}">{i}</a>' for i in ids))
    lede = html.p(
        "How good are these forecasts, honestly? Each model is scored on forecasts it made "
        "without seeing the future, and compared with the naive forecast.",
        "lede",
    )
    page = html.page(title, CSS, lede + nav + "\n".join(sections))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
