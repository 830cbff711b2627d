"""Single coin or many: the LSTM trained in different ways, judged against each other.

:func:`pairwise` tests each pair of models on the same forecasts of a backtest table
(Diebold-Mariano on the step-1 errors they share); :func:`by_coin` gathers the backtests
of many coins into one table of MASE and MAE/naive per coin and model, which
:func:`plot_by_coin` draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from .metrics import dm_test
from .verdicts import fmt_p, fmt_ratio, verdict

PAIR_COLUMNS = ("a", "b", "n", "mae_a", "mae_b", "ratio", "dm_stat", "dm_pvalue", "better")


def pairwise(
    table: pd.DataFrame, models: list[str], scale: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Each pair of ``models``: step-1 MAE of both on the forecasts they share (same coin and
    cutoff), their ratio ``mae_a / mae_b``, and a Diebold-Mariano test (squared errors; a
    negative statistic favours ``a``). ``better`` names the better model when
    :func:`~coincast.evaluation.verdicts.verdict` finds one, or is None.

    ``scale`` divides each coin's errors by a number (e.g. its naive MAE), so that a table
    pooling several coins is not dominated by the most expensive one.

    Examples
    --------
    >>> t = pd.DataFrame({"coin": "c", "model": ["a"] * 5 + ["b"] * 5, "cutoff": list(range(5)) * 2,
    ...     "step": 1, "y": 1.0, "yhat": [1.0, 1.1, 0.9, 1.0, 1.05, 2, 0, 2.2, -0.1, 1.9]})
    >>> pairwise(t, ["a", "b"])[["a", "b", "n", "better"]].to_dict("records")
    [{'a': 'a', 'b': 'b', 'n': 5, 'better': 'a'}]
    """
    one = table[table["step"] == 1]
    if scale is not None:
        one = one.assign(y=one["y"] / one["coin"].map(scale),
                         yhat=one["yhat"] / one["coin"].map(scale))  # fmt: skip
    err = {
        m: (g.assign(e=g["yhat"] - g["y"]).set_index(["coin", "cutoff"])["e"])
        for m, g in one.groupby("model")
        if m in models
    }
    rows = []
    for a, b in combinations([m for m in models if m in err], 2):
        both = pd.concat([err[a].rename("a"), err[b].rename("b")], axis=1, join="inner").dropna()
        ea, eb = both["a"].to_numpy(), both["b"].to_numpy()
        mae_a = float(np.mean(np.abs(ea))) if len(ea) else None
        mae_b = float(np.mean(np.abs(eb))) if len(eb) else None
        stat, p = dm_test(ea, eb) if len(ea) else (None, None)
        better = {"better": a, "worse": b}.get(verdict(p, stat))
        ratio = mae_a / mae_b if mae_a is not None and mae_b else None
        rows.append(dict(zip(PAIR_COLUMNS, (a, b, len(ea), mae_a, mae_b, ratio, stat, p, better),
                             strict=True)))  # fmt: skip
    return pd.DataFrame(rows, columns=list(PAIR_COLUMNS))


def comparison_verdicts(pairs: pd.DataFrame) -> list[str]:
    """One sentence per pair of :func:`pairwise`."""
    out = []
    for r in pairs.to_dict("records"):
        if _missing(r["dm_pvalue"]):
            out.append(f"{r['a']} vs {r['b']}: not tested (too few shared forecasts)")
            continue
        ratio = "no MAE ratio" if _missing(r["ratio"]) else f"MAE ratio {fmt_ratio(r['ratio'])}"
        p = fmt_p(r["dm_pvalue"])
        p = f"DM p {p}" if p.startswith("<") else f"DM p = {p}"
        if _missing(r["better"]):
            out.append(f"{r['a']} vs {r['b']}: not distinguishable ({ratio}, {p})")
        else:
            worse = r["b"] if r["better"] == r["a"] else r["a"]
            out.append(f"{r['better']} beats {worse} ({ratio}, {p})")
    return out


def _missing(v: object) -> bool:
    """None or NaN (a DataFrame turns a column's None into NaN)."""
    return v is None or (isinstance(v, float) and np.isnan(v))


def by_coin(scores: Mapping[str, pd.DataFrame], models: list[str]) -> pd.DataFrame:
    """One row per coin: MASE and MAE/naive of each model in ``models``, from each coin's
    backtest scores (:func:`coincast.evaluation.scores.score`), and the model with the
    lowest MASE."""
    rows = []
    for coin, sc in scores.items():
        sc = sc.set_index("model")
        row: dict[str, object] = {"coin": coin}
        for m in models:
            row[f"mase:{m}"] = float(sc.at[m, "mase"]) if m in sc.index else np.nan
            row[f"rel_mae:{m}"] = float(sc.at[m, "rel_mae"]) if m in sc.index else np.nan
        mase = {m: row[f"mase:{m}"] for m in models if np.isfinite(row[f"mase:{m}"])}
        row["best"] = min(mase, key=mase.get) if mase else None
        rows.append(row)
    return pd.DataFrame(rows)
