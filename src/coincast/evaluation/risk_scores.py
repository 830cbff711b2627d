"""Scores of a risk backtest: volatility accuracy and value-at-risk tests per model, from the
tidy table of :func:`coincast.evaluation.risk_backtest.risk_walk_forward`.

Volatility (one-step rows, which do not overlap): QLIKE and MSE of the variance forecast
against the realized measure, QLIKE relative to GARCH's, the Mincer-Zarnowitz regression, and
Diebold-Mariano on the QLIKE loss differential against GARCH and against EWMA. With a horizon
above one bar, QLIKE of the variance summed over the horizon too. VaR and ES at each level of
:data:`~coincast.evaluation.risk_backtest.LEVELS` (one-step): the exceedance rate, Kupiec's
proportion of failures, Christoffersen's independence and conditional coverage, and the
McNeil-Frey test of the ES. The statistics are in :mod:`coincast.evaluation.risk_tests` and
:mod:`coincast.evaluation.var_tests`;
verdicts follow :func:`coincast.evaluation.verdicts.verdict`, the rule of every verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .risk_backtest import LEVELS
from .risk_tests import dm_loss, mincer_zarnowitz, mse_variance, pit_histogram, qlike, qlike_loss
from .var_tests import christoffersen, hits, kupiec, mcneil_frey
from .verdicts import ALPHA, fmt_p, fmt_ratio, verdict

REFERENCES = ("garch", "ewma")  #: the models every other is tested against


def score_risk(table: pd.DataFrame) -> pd.DataFrame:
    """Volatility scores per model (one row each, in the table's order).

    Columns: ``model, n, qlike, mse, rel_qlike`` (QLIKE over GARCH's, when GARCH is in the
    table), ``mz_intercept, mz_slope, mz_r2, mz_pvalue`` (the joint test of intercept 0 and
    slope 1), ``dm_<ref>_stat, dm_<ref>_pvalue`` for each of :data:`REFERENCES` present
    (negative: the model's QLIKE is lower), ``pit_pvalue`` (uniformity of the PIT), and with a
    horizon above one ``qlike_horizon`` and ``rel_qlike_horizon`` (the variance summed over
    the horizon against the measure summed over it).
    """
    one = _usable(table[table["step"] == 1])
    losses = {m: _aligned_loss(g) for m, g in one.groupby("model", sort=False)}
    sums = _horizon_sums(table)
    rows = []
    for model, g in one.groupby("model", sort=False):
        rv, h = g["rv"].to_numpy(), g["variance"].to_numpy()
        mz = mincer_zarnowitz(rv, h)
        row = {"model": model, "n": len(g), "qlike": qlike(rv, h), "mse": mse_variance(rv, h),
               "mz_intercept": mz["intercept"], "mz_slope": mz["slope"], "mz_r2": mz["r2"],
               "mz_pvalue": mz["pvalue"],
               "pit_pvalue": pit_histogram(g["pit"].dropna().to_numpy())["pvalue"]}  # fmt: skip
        for ref in REFERENCES:
            if ref in losses and ref != model:
                row |= _dm(losses[model], losses[ref], ref)
        if sums is not None and model in sums:
            row["qlike_horizon"] = sums[model]
        rows.append(row)
    out = pd.DataFrame(rows)
    _relative(out, "qlike", "rel_qlike")
    if "qlike_horizon" in out:
        _relative(out, "qlike_horizon", "rel_qlike_horizon")
    return out


def var_backtests(table: pd.DataFrame) -> pd.DataFrame:
    """VaR and ES tests per model and level (one-step rows): ``model, level, n, exceedances,
    rate, kupiec_pvalue, ind_pvalue, cc_pvalue, es_pvalue, passes`` (``passes``: neither
    Kupiec nor conditional coverage rejects at :data:`~coincast.evaluation.verdicts.ALPHA`)."""
    one = _usable(table[table["step"] == 1])
    rows = []
    for model, g in one.groupby("model", sort=False):
        r = g["r"].to_numpy()
        for p in LEVELS:
            k = round(p * 100)
            hit = hits(r, g[f"var{k}"].to_numpy())
            ku, ch = kupiec(hit, p), christoffersen(hit, p)
            es = mcneil_frey(r, g[f"var{k}"].to_numpy(), g[f"es{k}"].to_numpy(),
                             np.sqrt(g["variance"].to_numpy()))  # fmt: skip
            rows.append({
                "model": model, "level": p, "n": ku["n"], "exceedances": ku["exceedances"],
                "rate": ku["rate"], "kupiec_pvalue": ku["pvalue"], "ind_pvalue": ch["p_ind"],
                "cc_pvalue": ch["p_cc"], "es_pvalue": es["pvalue"],
                "passes": _passes(ku["pvalue"], ch["p_cc"]),
            })  # fmt: skip
    return pd.DataFrame(rows)


def risk_verdicts(scores: pd.DataFrame, tests: pd.DataFrame) -> list[str]:
    """The scores in plain words, judged by :func:`~coincast.evaluation.verdicts.verdict`."""
    out = []
    for r in scores.to_dict("records"):
        if r["model"] != "garch" and _num(r.get("dm_garch_pvalue")) is not None:
            v = verdict(r["dm_garch_pvalue"], r["dm_garch_stat"])
            word = {"better": "better than GARCH", "worse": "worse than GARCH",
                    "no different": "not distinguishable from GARCH"}[v]  # fmt: skip
            out.append(
                f"{r['model']}: QLIKE {fmt_ratio(r['rel_qlike'])}x GARCH's, {word} "
                f"(DM p = {fmt_p(r['dm_garch_pvalue'])})"
            )
    for r in tests.to_dict("records"):
        out.append(var_words(r))
    return out


def var_words(r: dict) -> str:
    """One VaR test row (:func:`var_backtests`) in plain words."""
    level = f"{100 * r['level']:g} %"
    head = (f"{r['model']}: {level} VaR exceeded on {100 * r['rate']:.1f} % of {r['n']} bars "
            f"(expected {level})")  # fmt: skip
    if r["passes"] is None:
        return f"{head}; too few bars to test"
    tail = (f"Kupiec p = {fmt_p(r['kupiec_pvalue'])}"
            + (f", conditional coverage p = {fmt_p(r['cc_pvalue'])}"
               if _num(r["cc_pvalue"]) is not None else ""))  # fmt: skip
    word = "not rejected" if r["passes"] else "rejected"
    return f"{head}: {word} ({tail})"


def _passes(kupiec_p: float | None, cc_p: float | None) -> bool | None:
    """The VaR survives both coverage tests (None when Kupiec could not be computed)."""
    if _num(kupiec_p) is None:
        return None
    return bool(kupiec_p >= ALPHA and (_num(cc_p) is None or cc_p >= ALPHA))


def _usable(t: pd.DataFrame) -> pd.DataFrame:
    """Rows with a measure, a return and a positive variance forecast."""
    ok = np.isfinite(t["rv"]) & np.isfinite(t["r"]) & (t["variance"] > 0)
    return t[ok]


def _aligned_loss(g: pd.DataFrame) -> pd.Series:
    return pd.Series(qlike_loss(g["rv"].to_numpy(), g["variance"].to_numpy()),
                     index=g["ts"].to_numpy())  # fmt: skip


def _dm(mine: pd.Series, ref: pd.Series, name: str) -> dict:
    """DM on the QLIKE differential on the bars both forecast."""
    both = mine.index.intersection(ref.index)
    d = dm_loss(mine.loc[both].to_numpy(), ref.loc[both].to_numpy(), h=1)
    return {f"dm_{name}_stat": d["stat"], f"dm_{name}_pvalue": d["pvalue"]}


def _horizon_sums(table: pd.DataFrame) -> dict[str, float] | None:
    """QLIKE of the variance summed over the horizon, per model (None for one step)."""
    horizon = int(table["step"].max()) if len(table) else 1
    if horizon <= 1:
        return None
    full = table.groupby(["model", "cutoff"], sort=False).filter(lambda g: len(g) == horizon)
    sums = full.groupby(["model", "cutoff"], sort=False)[["rv", "variance"]].sum()
    return {m: qlike(g["rv"].to_numpy(), g["variance"].to_numpy())
            for m, g in sums.groupby(level="model", sort=False)}  # fmt: skip


def _relative(out: pd.DataFrame, col: str, rel: str) -> None:
    ref = out.loc[out["model"] == "garch", col]
    out[rel] = out[col] / float(ref.iloc[0]) if len(ref) else np.nan


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, int | float | np.floating) and np.isfinite(x) else None
