"""Better, worse or no different? The one rule every verdict follows (:func:`verdict`: a
test's p-value below :data:`ALPHA`, and the sign of its statistic), and the scores of a
backtest in plain words (:func:`verdicts`). The CLI's table, the HTML report and the
comparisons of LSTM variants all judge through :func:`verdict`.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from .metrics import _plain

#: Significance level of every verdict.
ALPHA = 0.05

Verdict = Literal["better", "worse", "no different"]


def verdict(pvalue: float | None, stat: float | None, alpha: float = ALPHA) -> Verdict | None:
    """Is a forecast better than the one it is tested against? The one rule of every verdict.

    ``"better"`` or ``"worse"`` when the two-sided ``pvalue`` is below ``alpha``, by the sign
    of ``stat`` (negative favours the forecast, as a Diebold-Mariano statistic of its losses
    minus the other's does); ``"no different"`` otherwise; None when there was no test
    (``pvalue`` or ``stat`` None or NaN).

    Examples
    --------
    >>> verdict(0.004, -3.0), verdict(0.01, 2.6), verdict(0.41, -0.8), verdict(None, None)
    ('better', 'worse', 'no different', None)
    """
    p, s = _plain(pvalue), _plain(stat)
    if not isinstance(p, float | int) or not isinstance(s, float | int):
        return None
    if p >= alpha:
        return "no different"
    return "better" if s < 0 else "worse"


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def verdicts(scores: pd.DataFrame, baseline: str = "naive") -> list[str]:
    """Plain-language sentences about each model's scores, judged by :func:`verdict`.

    Examples
    --------
    >>> verdicts(pd.DataFrame([{"model": "lstm", "rel_mae": 1.0, "dm_stat": 0.8,
    ...     "dm_pvalue": 0.41, "lagged_copy": False, "directional_accuracy": 0.512,
    ...     "directional_n": 250, "directional_pvalue": 0.68}]))  # doctest: +NORMALIZE_WHITESPACE
    ["lstm: errors not distinguishable from the naive forecast's (DM p = 0.41)",
     'lstm: 51.2 % of directions right, not different from a coin flip (p = 0.68)']
    """
    out = []
    for raw in scores.to_dict("records"):
        r = {k: _plain(v) for k, v in raw.items()}
        name = f"{r['model']} (step {r['step']})" if r.get("step") is not None else r["model"]
        if r["model"] != baseline:
            out.append(f"{name}: {_accuracy_words(r, baseline)}")
        if r.get("lagged_copy"):
            out.append(f"{name}: mostly repeats the last value (lagged-copy check)")
        out.append(f"{name}: {_direction_words(r)}")
        if r.get("coverage") is not None:
            out.append(f"{name}: the 90 % interval held {100 * r['coverage']:.1f} % of actuals")
    return out


def _accuracy_words(r: dict, baseline: str) -> str:
    rel, stat, p = r.get("rel_mae"), r.get("dm_stat"), r.get("dm_pvalue")
    ratio = f"MAE {rel:.2f}x {baseline}" if rel is not None else None
    word = verdict(p, stat)
    if word is None:
        why = "too few points or identical errors" if ratio else f"no {baseline} forecast to match"
        return f"not tested against the {baseline} forecast ({why}{'; ' + ratio if ratio else ''})"
    if word == "no different":
        return f"errors not distinguishable from the {baseline} forecast's (DM {_fmt_p(p)})"
    return f"{word} than {baseline} ({', '.join(filter(None, [ratio, f'DM {_fmt_p(p)}']))})"


def _direction_words(r: dict) -> str:
    share, p = r.get("directional_accuracy"), r.get("directional_pvalue")
    if not r.get("directional_n") or share is None or p is None:
        return "no direction to score (the forecast or the actual never moved from the last value)"
    word = verdict(p, 0.5 - share)  # a share above one half is the better one
    judged = f"{'not different from' if word == 'no different' else word + ' than'} a coin flip"
    return f"{100 * share:.1f} % of directions right, {judged} ({_fmt_p(p)})"
