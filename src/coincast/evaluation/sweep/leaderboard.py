"""A sweep's results in one dict: every trial (its settings, config, scores and folder), the
tests of the search (SPA, reality check, MCS) and the verdict in plain words. Saved as
``leaderboard.json`` in the sweep's folder; :func:`load_leaderboard` reads it back (or builds
a partial one, validation only, from a sweep that has not reached its test period).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...errors import CoincastError
from ..verdicts import fmt_ratio
from . import verdicts as tests
from .final import BASELINES
from .trials import losses

if TYPE_CHECKING:
    from .study import Place

#: How a trial is scored, in words (also in the JSON).
SCORE = "MAE ÷ naive's MAE on the same bars (the backtest's rel_mae), averaged over the series"


def leaderboard(study: Any, place: Place) -> dict[str, Any]:
    """The leaderboard of the sweep kept at ``place`` (see the module docstring)."""
    from .study import finished, trial_folder

    settings = study.user_attrs.get("settings", {})
    seed = int(settings.get("seed", 0))
    test = study.user_attrs.get("test")
    rows = [_row(t, place, test) for t in finished(study)]
    rows.sort(key=lambda r: (r["state"] != "complete", r["valid_score"], r["number"]))
    complete = [r for r in rows if r["state"] == "complete"]
    board: dict[str, Any] = {
        "name": place.name, "score": SCORE, "settings": settings,
        "trials": rows, "baselines": None, "spa": None, "reality_check": None, "mcs": None,
        "verdict": None,
    }  # fmt: skip
    if not complete:
        return board
    valid = _losses([trial_folder(place, r["number"]) / "table.csv" for r in complete],
                    [r["name"] for r in complete])  # fmt: skip
    naive = valid.pop("naive")
    board["spa"] = {"valid": tests.spa(naive, valid, seed=seed)}
    board["reality_check"] = {"valid": tests.reality_check(naive, valid, seed=seed)}
    pruned = sum(r["state"] == "pruned" for r in rows)
    word, line = tests.headline(board["spa"]["valid"], len(complete), pruned=pruned)
    board["verdict"] = {"valid": word, "test": None, "words": [line]}
    if test:
        _add_test(board, study, place, test, seed)
    return board


def _row(t: Any, place: Place, test: dict | None) -> dict[str, Any]:
    from .study import trial_folder

    valid = t.user_attrs.get("valid", {})
    mine = (test or {}).get("trials", {}).get(str(t.number))
    return {
        "number": t.number, "name": f"trial-{t.number:04d}", "state": t.state.name.lower(),
        "params": t.params, "config": t.user_attrs.get("config"),
        "valid": valid, "valid_score": sum(valid.values()) / len(valid) if valid else None,
        "test": mine, "test_score": sum(mine.values()) / len(mine) if mine else None,
        "folder": str(trial_folder(place, t.number)),
    }  # fmt: skip


def _losses(paths: list[Path], names: list[str]) -> pd.DataFrame:
    """Every listed table's per-bar losses side by side, and naive's (from the first)."""
    cols = {}
    for path, name in zip(paths, names, strict=True):
        wide = losses(pd.read_csv(path))
        cols.setdefault("naive", wide["naive"])
        for model in wide.columns.drop("naive"):
            cols[name if model == "lstm" else model] = wide[model]
    frame = pd.DataFrame(cols)
    if frame.isna().any().any():
        raise CoincastError("the trials' tables do not cover the same bars; the sweep's tables "
                            "were changed or mixed")  # fmt: skip
    return frame


def _add_test(board: dict, study: Any, place: Place, test: dict, seed: int) -> None:
    from .study import trial_folder

    top = list(test["top"])  # the trials that were looked at, whatever came after
    names = [f"trial-{n:04d}" for n in top]
    paths = [trial_folder(place, n) / "test-table.csv" for n in top]
    both = _losses([*paths, place.folder / "baselines" / "test-table.csv"], [*names, "baselines"])
    naive, trials = both["naive"], both[names]
    figures = test["baselines"]
    board["baselines"] = {m: {"test": figures[m], "test_score": _mean(figures[m])}
                          for m in BASELINES}  # fmt: skip
    board["spa"]["test"] = tests.spa(naive, trials, seed=seed)
    board["reality_check"]["test"] = tests.reality_check(naive, trials, seed=seed)
    board["mcs"] = {"test": tests.mcs(both[[*names, *BASELINES]], seed=seed)}
    word, line = tests.headline(board["spa"]["test"], len(top), "on the test period")
    board["verdict"]["test"] = word
    kept = ", ".join(board["mcs"]["test"]["included"])
    level = round(100 * (1 - board["mcs"]["test"]["size"]))
    board["verdict"]["words"] += [
        line.replace("the best of", "the best of the top"),
        f"the {level} % model confidence set on the test period: {kept}",
    ]


def _mean(d: dict[str, float]) -> float:
    return sum(d.values()) / len(d)


def save_leaderboard(board: dict, place: Place) -> Path:
    """Write ``board`` as ``leaderboard.json`` in the sweep's folder."""
    place.folder.mkdir(parents=True, exist_ok=True)
    path = place.folder / "leaderboard.json"
    path.write_text(json.dumps(board, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def load_leaderboard(place: Place) -> dict[str, Any]:
    """The leaderboard of the sweep at ``place``: as saved when it finished, else built from
    its study (validation only).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from coincast.evaluation.sweep import Place
    >>> load_leaderboard(Place.beside(Path(tempfile.mkdtemp()) / "coincast.db", "nope"))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    coincast.errors.CoincastError: no sweep named 'nope' in sqlite:///.../sweeps.db
    """
    path = place.folder / "leaderboard.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=place.name, storage=place.storage)
    except KeyError:
        raise CoincastError(f"no sweep named {place.name!r} in {place.storage}") from None
    return leaderboard(study, place)


def verdict_words(board: dict) -> list[str]:
    """The verdict on the search in plain words, as :func:`lines` and the sweep's page show it.

    Examples
    --------
    >>> verdict_words({"verdict": None})
    ['no trial has finished yet']
    """
    return list((board.get("verdict") or {}).get("words") or ["no trial has finished yet"])


def lines(board: dict) -> list[str]:
    """The leaderboard as plain text lines: the verdict first, then the trials."""
    out = verdict_words(board)
    out.append(f"score: {board['score']}")
    for r in board["trials"]:
        test = "" if r["test_score"] is None else f"  test {fmt_ratio(r['test_score'])}"
        score = "-" if r["valid_score"] is None else fmt_ratio(r["valid_score"])
        shown = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        out.append(f"{r['name']}  {r['state']:<8}  valid {score}{test}  {shown}")
    return out
