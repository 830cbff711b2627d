"""The sweep's page: one self-contained HTML file, ``report.html`` in the sweep's folder
(``sweeps/NAME/``), its pictures beside it as PNG files and inlined in the page, so it works
offline when moved. Results first: the verdict on the search in the leaderboard's own words
(:func:`~coincast.evaluation.sweep.leaderboard.verdict_words`, the lines ``sweep show``
prints) and the tests behind it; then the validation score against each searched setting
(:mod:`coincast.reporting.sweep_plots`), every trial (pruned ones marked), the best
configuration's backtest on the test period against naive and drift, and the settings. A
sweep that has not reached its test period gets the page of what exists, saying so. Every
string from the user or the data is escaped.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import CoincastError
from ..evaluation.sweep.leaderboard import verdict_words
from ..evaluation.sweep.space import Choice, Range, Space, SpaceError, parse_space
from . import html
from .html import fmt
from .report import CSS

if TYPE_CHECKING:
    from .sweep_plots import Panel

REPORT = "report.html"  #: the page's name in the sweep's folder (the dashboard links to it)
SCORES_PNG = "sweep-scores.png"
TEST_PNG = "sweep-test.png"
BASELINES = ("naive", "drift")
_CSS = CSS + "tr.pruned td{color:#777;font-style:italic}\n"
NOT_YET = (
    "The test period has not been scored yet: the search has not finished (or was stopped "
    "before its one look at the test period), so this page shows the validation period only."
)


def write_sweep_report(board: dict[str, Any], folder: str | Path) -> Path:
    """Draw the pictures of the sweep whose leaderboard is ``board`` into ``folder`` and write
    its page there (``report.html``); return the page's path.

    Parameters
    ----------
    board
        The sweep's leaderboard, as :func:`~coincast.evaluation.sweep.load_leaderboard`
        gives it (saved, or rebuilt from the study of a sweep not finished yet).
    folder
        The sweep's folder (``Place.folder``): the trials' tables are read from it, the page
        and its pictures written into it.

    Examples
    --------
    >>> import tempfile
    >>> from coincast.evaluation.sweep.leaderboard import SCORE
    >>> board = {"name": "empty", "score": SCORE, "settings": {}, "trials": [],
    ...          "baselines": None, "spa": None, "reality_check": None, "mcs": None,
    ...          "verdict": None}
    >>> write_sweep_report(board, tempfile.mkdtemp()).name
    'report.html'
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    space, best = sweep_space(board), best_trial(board)
    pngs = _draw(board, space, folder)
    sections = [
        ("verdict", _verdict(board)),
        ("scores", html.section("scores", "Scores against each setting", _figures(pngs[:1]))),
        ("trials", html.section("trials", "Trials", _trials(board, space, best))),
        ("test", html.section("test", "The best configuration on the test period",
                              _test(board, best, pngs[1:]))),
        ("settings", html.section("settings", "Settings", html.kv(_settings(board, folder)))),
    ]  # fmt: skip
    nav = html.tag("nav", "".join(f'<a href="#{i}">{i}</a>' for i, _ in sections))
    title = f"coincast sweep: {board.get('name', '')}"
    path = folder / REPORT
    path.write_text(html.page(title, _CSS, nav + "".join(s for _, s in sections)), "utf-8")
    return path


def _draw(board: dict[str, Any], space: Space | None, folder: Path) -> list[tuple[Path, str]]:
    """The scores picture, and the test period's once it is scored: (path, caption) each."""
    from .sweep_plots import plot_scores, plot_test

    panels = score_panels(board, space)
    named = ", ".join(p.name for p in panels)
    path = plot_scores(panels, folder / SCORES_PNG)
    pngs = [(path, f"The validation score of every scored trial against each searched setting: "
                   f"{named}")]  # fmt: skip
    lines, best = forecast_lines(board, folder), best_trial(board)
    if lines and best:
        path = plot_test(lines, best["name"], folder / TEST_PNG)
        said = "the best configuration by validation score, on the test period against the "
        pngs.append((path, f"{best['name']}, {said}actual closes, naive and drift"))
    else:  # no picture of a test period not scored, even one left from another page
        (folder / TEST_PNG).unlink(missing_ok=True)
    return pngs


# -- what the pictures and tables are made of -----------------------------------------------


def sweep_space(board: dict[str, Any]) -> Space | None:
    """The search space the sweep was started with (None when its settings lack one)."""
    raw = (board.get("settings") or {}).get("space")
    try:
        return parse_space(raw) if raw else None
    except SpaceError:
        return None


def best_trial(board: dict[str, Any]) -> dict[str, Any] | None:
    """The complete trial with the best validation score (the leaderboard's first)."""
    return next((r for r in board["trials"] if r["state"] == "complete"), None)


def searched(board: dict[str, Any], space: Space | None) -> list[str]:
    """The searched settings: the space's, else every one a trial names."""
    if space is not None:
        return list(space.params)
    return list(dict.fromkeys(k for r in board["trials"] for k in r["params"]))


def score_panels(board: dict[str, Any], space: Space | None) -> list[Panel]:
    """One :class:`~coincast.reporting.sweep_plots.Panel` per searched setting, of the
    trials that have a validation score."""
    rows = [r for r in board["trials"] if r.get("valid_score") is not None]
    best = best_trial(board)
    params = space.params if space is not None else {}
    return [_panel(n, params.get(n), rows, best) for n in searched(board, space)]


def _panel(name: str, param: Any, rows: list[dict], best: dict | None) -> Panel:
    from .sweep_plots import Panel

    have = [r for r in rows if name in r["params"]]
    raw = [r["params"][name] for r in have]
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
    if isinstance(param, Range) or (param is None and numbers):
        kind, labels, values = "range", [], [float(v) for v in raw]
    else:  # a choice: its values in the space's order, any other one found after them
        order = param.encoded() if isinstance(param, Choice) else []
        kind, labels = "choice", list(dict.fromkeys([*order, *raw]))
        values = [float(labels.index(v)) for v in raw]
    at = next((i for i, r in enumerate(have) if best and r["number"] == best["number"]), None)
    return Panel(name, kind, isinstance(param, Range) and param.log, tuple(values),
                 tuple(str(v) for v in labels), tuple(float(r["valid_score"]) for r in have),
                 tuple(r["state"] for r in have), at,
                 (param.low, param.high) if isinstance(param, Range) else None)  # fmt: skip


def forecast_lines(board: dict[str, Any], folder: Path) -> dict[str, pd.DataFrame]:
    """Per series, over the test period: the actual closes and the best trial's, naive's and
    drift's one-bar-ahead forecasts, by time; empty before the test period is scored."""
    best = best_trial(board)
    if board.get("baselines") is None or best is None or best.get("test") is None:
        return {}
    mine = _read(folder / best["name"] / "test-table.csv")
    base = _read(folder / "baselines" / "test-table.csv")
    both = pd.concat([mine.replace({"model": {"lstm": best["name"]}}),
                      base[base["model"] != "naive"]], ignore_index=True)  # fmt: skip
    rows = both[both["step"] == both["step"].min()]
    out = {}
    for key, part in rows.groupby("series", sort=False):
        wide = part.pivot_table(index="ts", columns="model", values="yhat", aggfunc="first")
        wide.insert(0, "actual", part.groupby("ts")["y"].first())
        wide.index = pd.to_datetime(wide.index, utc=True).tz_convert(None)
        wide.columns.name = None
        out[str(key)] = wide[[c for c in ("actual", best["name"], *BASELINES) if c in wide]]
    return out


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CoincastError(f"the sweep's table {path} is missing; the sweep's folder was "
                            "changed: run the sweep again under another --name")  # fmt: skip
    return pd.read_csv(path)


# -- sections -------------------------------------------------------------------------------


def _verdict(board: dict[str, Any]) -> str:
    words = html.tag("ul", "".join(html.tag("li", html.e(w)) for w in verdict_words(board)),
                     class_="headline")  # fmt: skip
    how = html.p(html.e(
        f"Each trial is scored by {board.get('score', '')}, on the validation period only. "
        "The best of many configurations looks good by chance, so the search is judged as a "
        "whole: Hansen's SPA test and White's reality check of every trial against naive, then "
        "the same over the top trials on the test period, touched once, and a Model "
        "Confidence Set of those trials and the baselines."))  # fmt: skip
    later = "" if board.get("baselines") is not None else html.p(html.e(NOT_YET), "disclaimer")
    return html.section("verdict", "Verdict", words + later + how + _tests(board))


def _tests(board: dict[str, Any]) -> str:
    rows = []
    for key, what in (("spa", "SPA (Hansen)"), ("reality_check", "reality check (White)")):
        for period in ("valid", "test"):
            r = (board.get(key) or {}).get(period)
            if r:
                p = r["consistent"] if key == "spa" else r["pvalue"]
                rows.append([what, _PERIOD[period], fmt(p, "p"), r["best"], fmt(r["models"]),
                             fmt(r["bars"])])  # fmt: skip
    if not rows:
        return ""
    head = ["test", "period", "p-value", "best", "models", "bars"]
    cells = [[html.tag("td", html.e(v)) for v in r] for r in rows]
    return html.table([html.e(h) for h in head], cells, "tests") + _mcs(board)


_PERIOD = {"valid": "validation", "test": "test"}


def _mcs(board: dict[str, Any]) -> str:
    """The Model Confidence Set on the test period: each model's p-value, in or out."""
    mcs = (board.get("mcs") or {}).get("test")
    if not mcs:
        return ""
    level = round(100 * (1 - mcs["size"]))
    rows = [[html.tag("td", html.e(m), class_="model"),
             html.tag("td", html.e(fmt(p, "p")), class_="num"),
             html.tag("td", html.e("yes" if m in mcs["included"] else "no"))]
            for m, p in mcs["pvalues"].items()]  # fmt: skip
    head = ["model", "MCS p-value", f"in the {level} % set"]
    words = html.p(html.e(f"The {level} % Model Confidence Set on the test period "
                          f"({mcs['bars']} bars): the models not distinguishable from the "
                          "best there."))  # fmt: skip
    return words + html.table([html.e(h) for h in head], rows, "mcs")


def _trials(board: dict[str, Any], space: Space | None, best: dict | None) -> str:
    names = searched(board, space)
    s = board.get("settings") or {}
    total = len(s.get("coins") or []) * len(s.get("intervals") or [])
    head = ["trial", "state", "series scored", *names, "validation score", "test score"]
    rows, classes = [], []
    for r in board["trials"]:
        n = len(r.get("valid") or {})
        scored = f"{n} of {total}" if total else str(n)
        values = [_value(r["params"].get(n)) for n in names]
        cells = [r["name"], r["state"], scored, *values, fmt(r.get("valid_score"), "ratio"),
                 fmt(r.get("test_score"), "ratio")]  # fmt: skip
        rows.append([html.tag("td", html.e(c)) for c in cells])
        classes.append("best" if best and r["number"] == best["number"] else
                       "pruned" if r["state"] != "complete" else "")  # fmt: skip
    count = html.p(html.e(_count(board["trials"])), "trial-count")
    return count + html.table([html.e(h) for h in head], rows, "trials", classes)


def _count(trials: list[dict]) -> str:
    """How many trials finished, complete and pruned (and in any other state), in words."""
    states = Counter(r["state"] for r in trials)
    others = "".join(f", {n} {s}" for s, n in states.items() if s not in ("complete", "pruned"))
    return (
        f"{len(trials)} trials finished: {states['complete']} complete, {states['pruned']} "
        f"pruned{others}. A pruned trial was stopped between series, its partial score worse "
        "than the median of earlier trials at that point; its score covers the series it "
        "reached, and the tests of the search leave it out. A trial cut short (a crash, a lost "
        "worker) is not listed: its settings ran again as a new trial. The best trial is "
        "highlighted; only the top trials have a test score."
    )


def _value(v: Any) -> str:
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4g}"
    return fmt(v)


def _test(board: dict[str, Any], best: dict | None, pngs: list[tuple[Path, str]]) -> str:
    if board.get("baselines") is None or best is None or best.get("test") is None:
        return html.p(html.e(NOT_YET), "disclaimer")
    shown = ", ".join(f"{k}={_value(v)}" for k, v in best["params"].items())
    intro = html.p(html.e(
        f"{best['name']} ({shown}), the best configuration by its validation score, "
        "backtested once on the test period; naive and drift on the same bars. The figures "
        "are MAE ÷ naive's MAE on each series (the backtest's rel_mae; below 1 beats naive)."
    ))  # fmt: skip
    series = list(best["test"])
    models = [(best["name"], best["test"], best["test_score"])] + [
        (m, board["baselines"][m]["test"], board["baselines"][m]["test_score"])
        for m in BASELINES if m in board["baselines"]
    ]  # fmt: skip
    head = ["model", *series, "mean over the series"]
    rows = [[html.tag("td", html.e(m), class_="model")]
            + [html.tag("td", html.e(fmt(fig.get(s), "ratio")), class_="num") for s in series]
            + [html.tag("td", html.e(fmt(mean, "ratio")), class_="num")]
            for m, fig, mean in models]  # fmt: skip
    rows_cls = ["best"] + [""] * (len(models) - 1)
    return intro + html.table([html.e(h) for h in head], rows, "test", rows_cls) + _figures(pngs)


def _figures(pngs: list[tuple[Path, str]]) -> str:
    return "".join(html.image(path, caption, caption) for path, caption in pngs)


def _settings(board: dict[str, Any], folder: Path) -> list[tuple[str, Any]]:
    s = board.get("settings") or {}
    space = s.get("space") or {}
    periods = s.get("periods") or {}
    best = best_trial(board)
    valid = _span(folder / best["name"] / "table.csv") if best else ""
    test = _span(folder / best["name"] / "test-table.csv") if best else ""
    pairs: list[tuple[str, Any]] = [
        ("sweep", board.get("name", "")), ("score", board.get("score", "")),
        ("coins", ", ".join(s.get("coins") or [])),
        ("intervals", ", ".join(s.get("intervals") or [])),
        ("sampler", s.get("sampler", "")), ("top-k", s.get("top_k", "")),
        ("seed", s.get("seed", "")),
        ("validation period", _period(periods.get("valid")) + valid),
        ("test period", _period(periods.get("test")) + test),
    ]  # fmt: skip
    for table in ("params", "fixed", "walk"):
        for k, v in (space.get(table) or {}).items():
            pairs.append((f"[{table}] {k}", json.dumps(v)))
    return pairs


def _period(p: Any) -> str:
    if p is None:
        return html.DASH
    return f"{p} bars" if isinstance(p, int) else " .. ".join(map(str, p))


def _span(path: Path) -> str:
    """`` (first bar to last bar)`` of a table's forecasts, or nothing when it is absent."""
    if not path.is_file():
        return ""
    ts = pd.to_datetime(pd.read_csv(path, usecols=["ts"])["ts"], utc=True)
    return f" ({html.when(ts.min())} to {html.when(ts.max())})" if len(ts) else ""
