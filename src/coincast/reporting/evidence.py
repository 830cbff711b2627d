"""The report's sections on the evidence: is a model better than chance (Diebold-Mariano,
Pesaran-Timmermann), does its forecast know more than the last value (the regression of the
actual change on the forecast change), and every figure of a multi-step forecast step by
step. Every judgement comes from :func:`~coincast.evaluation.verdicts.verdict`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..evaluation.verdicts import ALPHA, verdict
from . import html
from .html import DASH, fmt

_DM_WORDS = {"better": "differs from naive: lower errors",
             "worse": "differs from naive: higher errors",
             "no different": "not distinguishable from naive"}  # fmt: skip
_CHANCE_WORDS = {"better": "better than chance", "worse": "worse than chance",
                 "no different": "not distinguishable from chance"}  # fmt: skip
_KNOWS_WORDS = {"better": "yes", "worse": "no: its changes point the wrong way",
                "no different": "no: behaves like the last value"}  # fmt: skip


def _pooled(r: dict) -> bool:
    """A row of several steps pooled (its direction is tested step by step)."""
    return html.num(r.get("steps")) > 1


def _direction_verdict(r: dict) -> str | None:
    stat = html.num(r.get("directional_stat"))
    return verdict(r.get("directional_pvalue"), None if np.isnan(stat) else -stat)


def _knows_more(r: dict) -> str:
    """Does the forecast's change carry information? in words, from the one rule."""
    slope = html.num(r.get("info_slope"))
    judged = verdict(r.get("info_pvalue"), None if np.isnan(slope) else -slope)
    if judged is None:
        copies = r.get("copies_last")
        return "no: never moves (or by a constant)" if html.yes(copies) else DASH
    return _KNOWS_WORDS[judged]


def significance(verdicts: list[str], scores: pd.DataFrame) -> str:
    rows = []
    for r in scores.to_dict("records"):
        p_dm, acc = html.num(r.get("dm_pvalue")), html.num(r.get("directional_accuracy"))
        dm = _DM_WORDS.get(verdict(p_dm, r.get("dm_stat")), DASH)
        chance = _CHANCE_WORDS.get(_direction_verdict(r), DASH)
        if _pooled(r) and not np.isnan(acc):
            chance = "tested step by step"
        right = DASH if np.isnan(acc) else f"{acc:.1%} of {fmt(r.get('directional_n'), 'int')}"
        texts = [fmt(r.get("model")), fmt(r.get("dm_stat"), "stat"), fmt(p_dm, "p"), dm,
                 right, fmt(r.get("directional_pvalue"), "p"), chance]  # fmt: skip
        rows.append([html.tag("td", html.e(t)) for t in texts])
    head = ["model", "DM statistic", "DM p-value", "errors vs naive", "direction right",
            "direction p-value (PT)", "directions vs chance"]  # fmt: skip
    said = html.tag("ul", "".join(html.tag("li", html.e(v)) for v in verdicts), class_="verdicts")
    see = " (see Each step)" if any(_pooled(r) for r in scores.to_dict("records")) else ""
    explain = html.p(
        "A p-value is the chance of a difference at least this large if there were no real "
        "difference. The Diebold-Mariano (DM) test compares each model's absolute errors with "
        "the naive forecast's on the same dates. The Pesaran-Timmermann (PT) test asks whether "
        "the predicted directions (up or down) match the actual ones more often than they "
        "would if the two were independent, so a forecast that always says “up” in a rising "
        "market earns nothing. Forecasts of several steps share bars with each other and with "
        "those of the next cutoffs, so PT runs one step at a time, on every k-th cutoff for "
        f"step k{see}. Below {ALPHA} we call a difference real; above it, what the chart shows "
        "may well be luck."
    )
    return html.section(
        "significance", "Better than chance?", said + html.table(head, rows) + explain
    )


def _move_ratio(table: pd.DataFrame) -> dict[str, float]:
    """Per model: median |forecast - last close| over median |actual - last close|, step 1.
    Near 0 the forecast barely moves from the last value."""
    rows = table[table["step"] == table["step"].min()]
    actual = (rows["y"] - rows["last"]).abs().median()
    if not actual or np.isnan(actual):
        return {}
    moved = (rows["yhat"] - rows["last"]).abs().groupby(rows["model"]).median()
    return {str(m): float(v) / float(actual) for m, v in moved.items()}


def last_value(scores: pd.DataFrame, table: pd.DataFrame) -> str:
    ratio = _move_ratio(table) if "last" in table.columns else {}
    recs = scores.to_dict("records")
    words = {str(r.get("model")): _knows_more(r) for r in recs}
    copies = [m for m, w in words.items() if w.startswith("no")]
    said = (
        "No detectable information beyond the last value: " + ", ".join(copies) + "."
        if copies
        else "Every model's forecast changes carry information about the actual changes."
    )
    rows = [
        [html.tag("td", html.e(r.get("model"))),
         html.tag("td", html.e(fmt(r.get("info_slope"), "num")), class_="num"),
         html.tag("td", html.e(fmt(r.get("info_pvalue"), "p")), class_="num"),
         html.tag("td", html.e(words[str(r.get("model"))])),
         html.tag("td", html.e(fmt(ratio.get(str(r.get("model"))), "ratio")), class_="num")]
        for r in recs
    ]  # fmt: skip
    head = ["model", "slope", "p-value", "knows more than the last value?",
            "forecast move ÷ actual move"]  # fmt: skip
    several = any(_pooled(r) for r in recs)
    return html.section(
        "last-value", "Does the forecast know more than the last value?",
        html.p(html.e(said), "verdict") + html.table(head, rows, "last-value")
        + _last_value_text(several),
    )  # fmt: skip


def _last_value_text(several: bool) -> str:
    step = (
        " With several steps, this table holds the first step's test; each step's is under "
        "Each step."
        if several
        else ""
    )
    test = html.p(
        "The test regresses the actual change (the price at the target minus the last price "
        "the model saw) on the forecast's change (the forecast minus that last price). "
        "<strong>Null hypothesis: the forecast's change says nothing about the actual change "
        "(slope 0)</strong>, as for the naive forecast or the last price plus noise. A p-value "
        f"below {ALPHA} rejects it: the forecast knows something the last price did not. The "
        "best possible forecast has slope 1, however small its moves; standard errors allow "
        "for overlapping forecasts (Newey-West), on every k-th cutoff for step k." + step
    )
    why = html.p(
        "Why this matters: a “prediction” that is just the last price, drawn one bar later, "
        "lies almost on top of the actual line on a chart of months or years, because prices "
        "rarely move far in one bar. It looks like a model that has learnt the market, yet it "
        "knows nothing the last price did not already say: it is always one bar late, and it "
        "misses every turn. An LSTM trained to minimise squared error on a near-random walk "
        "often learns exactly this. The last column compares how far each forecast moves away "
        "from the last close with how far the price really moved (median of both, first "
        "step): near 0 means the model barely moves, the naive forecast is 0 by construction."
    )
    return test + why


# column, header, format
_STEP_COLUMNS = [
    ("n", "n", "int"), ("rel_mae", "MAE ÷ naive", "ratio"), ("mae", "MAE", "price"),
    ("dm_pvalue", "DM p", "p"), ("directional_accuracy", "direction right", "pct1"),
    ("directional_pvalue", "PT p", "p"), ("info_slope", "slope", "num"),
    ("info_pvalue", "slope p", "p"), ("coverage", "coverage", "pct1"), ("crps", "CRPS", "price"),
]  # fmt: skip


def each_step(steps: pd.DataFrame | None) -> str:
    """Every figure of each step of the horizon: empty for one step (or no per-step scores)."""
    if steps is None or steps.empty or steps["step"].nunique() < 2:
        return ""
    cols = [c for c in _STEP_COLUMNS if c[0] in steps.columns]
    rows = []
    for r in steps.to_dict("records"):
        cells = [html.tag("td", html.e(fmt(r.get("model")))), html.tag("td", fmt(r["step"], "int"))]
        cells += [html.tag("td", html.e(fmt(r.get(c), kind)), class_="num") for c, _, kind in cols]
        vs = "reference" if r.get("model") == "naive" else _DM_WORDS.get(
            verdict(r.get("dm_pvalue"), r.get("dm_stat")), DASH)  # fmt: skip
        chance = _CHANCE_WORDS.get(_direction_verdict(r), DASH)
        rows.append([*cells, html.tag("td", html.e(vs)), html.tag("td", html.e(chance))])
    head = ["model", "step", *(html.e(h) for _, h, _ in cols), "errors vs naive",
            "directions vs chance"]  # fmt: skip
    explain = html.p(
        "Each step of the horizon scored on its own: MAE and MAE ÷ naive on that step's "
        "forecasts, the DM test against the naive forecast on the same points (with as many "
        "lags as that step's forecasts overlap), the share of directions right with its PT "
        "test and the slope of the actual change on the forecast change with its p-value "
        "(both on every k-th cutoff for step k, so that no two actual moves share a bar), the "
        "band's coverage and CRPS."
    )
    return html.section("steps", "Each step", html.table(head, rows, "steps") + explain)


#: what each ``--intervals`` rule (``meta["intervals"]``) does, in words
INTERVAL_WORDS = {
    "conformal": "conformal: every model's band is built from its own past errors (adaptive "
    "conformal prediction), whatever band the model gives itself",
    "model": "model: each model's own band; a point forecast (no band) has none and no coverage",
    "auto": "auto: each model's own band where it gives one, a conformal band (from its own "
    "past errors) for a model without one",
    "none": "none: no bands, so no coverage",
}


def calibration(
    picture: Path | None, meta: dict, regimes: pd.DataFrame | None, target: float
) -> str:
    """The Calibration section: band coverage over time (``picture``, None when no model has
    a band), the rule that made the bands, and coverage and MAE ÷ naive by regime (when the
    backtest has ``regimes``)."""
    rule = str(meta.get("intervals") or "auto")
    words = INTERVAL_WORDS.get(rule, rule)
    parts = [html.p(f"Bands: <strong>{html.e(words)}</strong>.")]
    if picture is not None:
        caption = (
            f"Share of each model's next-bar actuals inside its {target:.0%} band, over the "
            f"last 30 bars. A right band stays near {target:.0%}; below, it is too narrow "
            "(too sure); above, too wide. Drifting away over time means it fails in some "
            "markets: see the regimes below."
        )
        parts.append(html.image(picture, caption, caption))
    else:
        parts.append(html.p("No model has a band, so there is no coverage to show."))
    parts.append(_by_regime(regimes, meta))
    return html.section("calibration", "Calibration", "".join(parts))


_REGIME_ORDER = {"trend": ["up", "sideways", "down"], "vol": ["low", "high"]}


def _by_regime(regimes: pd.DataFrame | None, meta: dict) -> str:
    """Coverage and MAE ÷ naive per model (rows) and regime (columns)."""
    need = {"model", "kind", "regime"}
    if regimes is None or not len(regimes) or not need <= set(regimes.columns):
        return html.p("No figures by regime (this backtest did not record them).")
    frame = regimes.assign(kind=regimes["kind"].astype(str), regime=regimes["regime"].astype(str))
    cols = []
    for kind in dict.fromkeys([*_REGIME_ORDER, *frame["kind"]]):
        found = list(dict.fromkeys(frame.loc[frame["kind"] == kind, "regime"]))
        order = _REGIME_ORDER.get(kind, [])
        cols += [(kind, g) for g in order if g in found] + [
            (kind, g) for g in found if g not in order
        ]
    head = ["model"]
    for kind, g in cols:
        at = frame[(frame["kind"] == kind) & (frame["regime"] == g)]
        n = fmt(at["n"].max(), "int") if "n" in at.columns else DASH
        head += [html.e(f"{kind} {g} (n {n}): coverage"), html.e(f"{kind} {g}: MAE ÷ naive")]
    rows = []
    for model in dict.fromkeys(frame["model"].astype(str)):
        cells = [html.tag("td", html.e(model), class_="model")]
        mine = frame[frame["model"].astype(str) == model]
        for kind, g in cols:
            r = mine[(mine["kind"] == kind) & (mine["regime"] == g)]
            rec = r.iloc[0].to_dict() if len(r) else {}
            cells.append(html.tag("td", html.e(fmt(rec.get("coverage"), "pct1")), class_="num"))
            cells.append(html.tag("td", html.e(fmt(rec.get("rel_mae"), "ratio")), class_="num"))
        rows.append(cells)
    rule = meta.get("regime_rule")
    explain = html.p(
        "By regime: the next-bar forecasts made at cutoffs of each regime (n of them), their "
        "band coverage (right near the nominal level) and MAE over the naive forecast's on the "
        "same bars (below 1 is lower). A regime of few bars says little."
        + (" How the regimes are labelled: " + html.e(rule) if rule else "")
    )
    return html.tag("h3", "By regime") + html.table(head, rows, "by-regime") + explain
