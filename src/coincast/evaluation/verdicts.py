"""Better, worse or no different? The one rule every verdict follows (:func:`verdict`: a
test's p-value below :data:`ALPHA`, and the sign of its statistic), and the scores of a
backtest in plain words (:func:`verdicts`). The CLI's table, the HTML report and the
comparisons of LSTM variants all judge through :func:`verdict`, and print p-values and ratios
through :func:`fmt_p` and :func:`fmt_ratio`, so that rounding never says what the test did not.
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


def fmt_p(p: float, alpha: float = ALPHA) -> str:
    """A p-value as text, with the digits it takes to stay on its side of ``alpha``: two
    significant ones, more when rounding would carry it across (0.0496 is not "0.05").

    Examples
    --------
    >>> fmt_p(0.41), fmt_p(0.0496), fmt_p(0.05), fmt_p(0.0004)
    ('0.41', '0.0496', '0.05', '< 0.001')
    """
    if p < 0.001:
        return "< 0.001"
    for digits in range(2, 10):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == (p < alpha):
            return text
    return repr(float(p))


def fmt_ratio(x: float) -> str:
    """A ratio such as MAE ÷ naive with four decimals, more when rounding would make it 1:
    a ratio that differs from 1 never prints as 1.

    Examples
    --------
    >>> fmt_ratio(0.98765), fmt_ratio(1.0004), fmt_ratio(1.00004), fmt_ratio(1.0)
    ('0.9877', '1.0004', '1.00004', '1.0000')
    """
    for digits in range(4, 12):
        text = f"{x:.{digits}f}"
        if x == 1 or float(text) != 1:
            return text
    return repr(float(x))


def _fmt_p(p: float) -> str:
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def verdicts(scores: pd.DataFrame, baseline: str = "naive") -> list[str]:
    """Plain-language sentences about each model's scores, judged by :func:`verdict`.

    Examples
    --------
    >>> verdicts(pd.DataFrame([{"model": "lstm", "steps": 1, "rel_mae": 1.0004, "dm_stat": 0.8,
    ...     "dm_pvalue": 0.41, "info_slope": 0.02, "info_pvalue": 0.61, "copies_last": True,
    ...     "directional_accuracy": 0.512, "directional_n": 250, "directional_stat": 0.4,
    ...     "directional_pvalue": 0.68}]))  # doctest: +NORMALIZE_WHITESPACE
    ["lstm: errors not distinguishable from the naive forecast's (MAE 1.0004x naive,
      DM p = 0.41)",
     'lstm: its forecast changes carry no detectable information about the actual changes
      (slope 0.02, p = 0.61): it behaves like the last value',
     'lstm: 51.2 % of directions right, not different from chance (Pesaran-Timmermann
      p = 0.68)']
    """
    out = []
    for raw in scores.to_dict("records"):
        r = {k: _plain(v) for k, v in raw.items()}
        name = f"{r['model']} (step {r['step']})" if r.get("step") is not None else r["model"]
        if r["model"] != baseline:
            out.append(f"{name}: {_accuracy_words(r, baseline)}")
            out.append(f"{name}: {_information_words(r)}")
        out.append(f"{name}: {_direction_words(r)}")
        if r.get("coverage") is not None:
            out.append(f"{name}: the 90 % interval held {100 * r['coverage']:.1f} % of actuals")
    return out


def _accuracy_words(r: dict, baseline: str) -> str:
    rel, stat, p = r.get("rel_mae"), r.get("dm_stat"), r.get("dm_pvalue")
    ratio = f"MAE {fmt_ratio(rel)}x {baseline}" if rel is not None else None
    word = verdict(p, stat)
    if word is None:
        why = "too few points or identical errors" if ratio else f"no {baseline} forecast to match"
        return f"not tested against the {baseline} forecast ({why}{'; ' + ratio if ratio else ''})"
    said = ", ".join(filter(None, [ratio, f"DM {_fmt_p(p)}"]))
    if word == "no different":
        return f"errors not distinguishable from the {baseline} forecast's ({said})"
    return f"{word} than {baseline} ({said})"


def _information_words(r: dict) -> str:
    """Does the forecast know more than the last value? (the change-information test)"""
    slope, p = r.get("info_slope"), r.get("info_pvalue")
    at = " at its first step" if (r.get("steps") or 1) > 1 else ""
    if r.get("copies_last") is None:
        why = "too few points, or the actual change never varies"
        return f"not tested for information in its forecast changes{at} ({why})"
    if slope is None or p is None:  # no test: the change never varies
        return (
            f"its forecast moves from the last value by a constant (or not at all){at}: "
            "it behaves like the last value"
        )
    said = f"slope {slope:.2g}, {_fmt_p(p)}"
    word = verdict(p, -slope)  # a positive slope is the informative one
    if word == "no different":
        return (
            f"its forecast changes carry no detectable information about the actual changes{at} "
            f"({said}): it behaves like the last value"
        )
    if word == "better":
        return f"its forecast changes carry information about the actual changes{at} ({said})"
    return f"its forecast changes point against the actual changes{at} ({said})"


def _direction_words(r: dict) -> str:
    share, p, stat = (
        r.get("directional_accuracy"),
        r.get("directional_pvalue"),
        r.get("directional_stat"),
    )
    if not r.get("directional_n") or share is None:
        return "no direction to score (the forecast or the actual never moved from the last value)"
    right = f"{100 * share:.1f} % of directions right"
    if (r.get("steps") or 1) > 1:
        return f"{right} over its {r['steps']} steps (tested one step at a time: see each step)"
    word = verdict(p, None if stat is None else -stat)  # above independence is the better one
    if word is None:
        return f"{right}, not tested (the forecast or the actual always points the same way)"
    judged = {"better": "better than", "worse": "worse than"}.get(word, "not different from")
    return f"{right}, {judged} chance (Pesaran-Timmermann {_fmt_p(p)})"
