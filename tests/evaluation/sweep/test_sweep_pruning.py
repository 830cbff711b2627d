"""Pruning inside a series: the job's rule against Optuna's own MedianPruner, the walk's stop,
a real trial that stops, and the driver on a sweep of one series."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from coincast.data.sources import synthetic_candles
from coincast.evaluation.backtest import WalkForward, walk_forward
from coincast.evaluation.engines import InlineEngine
from coincast.evaluation.sweep import Periods, Place, SweepPlan, final, parse_space
from coincast.evaluation.sweep import study as driver
from coincast.evaluation.sweep.pruning import STRIDE, PruneRule, prune_info, segments
from coincast.evaluation.sweep.trials import run_series
from coincast.models.baselines import Drift, Naive

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _rows(value: float) -> dict[str, list]:
    """A walk's rows whose MAE ÷ naive is ``value`` (naive's error 1, the model's value)."""
    return {"y": [1.0], "yhat": [1.0 - value], "last": [0.0]}


@pytest.mark.parametrize("seed", range(40))
def test_the_jobs_rule_decides_as_optunas_median_pruner(seed):
    rng = np.random.default_rng(seed)
    n_segments, series = int(rng.integers(2, 6)), int(rng.integers(0, 2))
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=3))
    for _ in range(int(rng.integers(0, 7))):  # complete trials, some with holes in their steps
        t = study.ask()
        for k in range(series + 1):
            for j in range(1, n_segments + 1):
                if rng.random() < 0.85:
                    t.report(float(rng.uniform(0.8, 1.2)), k * STRIDE + j)
        study.tell(t, 1.0)
    trial = study.ask()
    run = driver._Running(trial, {})
    earlier = [float(rng.uniform(0.8, 1.2)) for _ in range(series)]  # the trial's own series
    for k, score in enumerate(earlier):
        trial.report(score, k * STRIDE + n_segments)
        run.parts.append({"rel_mae": {"lstm": score}})
        run.best = min(run.best, score)
    info = prune_info(study, run, {"bars": 4 * n_segments, "refit_every": 4})
    rule = PruneRule(info["thresholds"], info["before"], info["best"])
    for j in range(1, n_segments):
        partial = float(rng.uniform(0.7, 1.4))
        ours = rule("lstm", _rows(partial))
        value = (sum(earlier) + partial) / (len(earlier) + 1)
        assert rule.values[-1] == pytest.approx(value)
        trial.report(value, series * STRIDE + j)
        assert ours == trial.should_prune(), (j, info, rule.values)
        if ours:
            break


def test_the_rule_never_stops_another_model_or_before_a_threshold():
    rule = PruneRule({2: 0.5})
    assert not rule("naive", _rows(9.0)) and rule.values == []
    assert not rule("lstm", _rows(9.0))  # segment 1 has no threshold
    assert rule("lstm", _rows(9.0)) and rule.stopped


def test_a_walk_stops_where_its_rule_says_and_never_at_the_last_segment():
    frame = synthetic_candles(120)
    asked = []

    def stop(name, rows):
        asked.append((name, len(rows["y"])))
        return name == "drift" and len(rows["y"]) >= 10

    t = walk_forward([Naive(), Drift()], frame, WalkForward(test=30, refit_every=5), stop=stop)
    assert t.groupby("model")["cutoff"].nunique().to_dict() == {"drift": 10, "naive": 30}
    assert [n for n, _ in asked].count("naive") == 5  # segments 1..5 of 6, not the last
    assert ("drift", 10) in asked and ("drift", 15) not in asked


def test_a_real_trial_stops_after_its_first_segment_and_scores_those_bars():
    frames = {"bitcoin": synthetic_candles(160, seed=3)}
    config = {"lookback": 5, "hidden": 4, "layers": 1, "epochs": 1, "seed": 0, "threads": 1}
    prune = {"thresholds": {1: 0.0}, "before": (0.0, 0), "best": float("inf")}
    walk = {"bars": 20, "refit_every": 5, "refit_epochs": 1, "series": "bitcoin/1d",
            "prune": prune}  # fmt: skip
    out = run_series(frames, "bitcoin", config, walk)
    assert out["stopped"] and len(out["partial"]) == 1
    table = out["table"]
    assert table.groupby("model")["cutoff"].nunique().to_dict() == {"lstm": 5, "naive": 5}
    wide = table.pivot_table(index=["cutoff", "step"], columns="model", values="yhat")
    y = table[table["model"] == "lstm"].set_index(["cutoff", "step"])["y"]
    rel = (y - wide["lstm"]).abs().mean() / (y - wide["naive"]).abs().mean()
    assert out["rel_mae"]["lstm"] == pytest.approx(rel) == pytest.approx(out["partial"][0])


def segment_series(frames, coin, config, walk):
    """A job that walks segment by segment with the real rule: every segment of a setting
    scores ``1 + hidden / 100`` (+ 0.5 above 4), so the bad ones stop at the first threshold."""
    f = frames[coin].iloc[-walk["bars"] :]
    hidden = (config or {}).get("hidden", 1)
    value = 1.0 + hidden / 100 + (0.5 if hidden > 4 else 0.0)
    p = walk.get("prune")
    rule = PruneRule(p["thresholds"], tuple(p["before"]), p["best"]) if config and p else None
    n = segments(walk["bars"], walk["refit_every"])
    for _ in range(n - 1):
        if rule is not None and rule("lstm", _rows(value)):
            break
    kept = len(rule.values) * walk["refit_every"] if rule is not None and rule.stopped else len(f)
    y = f["close"].to_numpy()[:kept]
    model = "lstm" if config else "drift"
    table = pd.concat([
        pd.DataFrame({"model": "naive", "yhat": y - 1.0, "y": y, "cutoff": range(kept)}),
        pd.DataFrame({"model": model, "yhat": y - value, "y": y, "cutoff": range(kept)}),
    ]).assign(series=walk["series"], coin=coin, ts=0, step=1)  # fmt: skip
    out = {"table": table, "rel_mae": {model: value, "naive": 1.0}}
    if rule is not None:
        out |= {"partial": rule.values, "stopped": rule.stopped}
    return out


def test_a_sweep_of_one_series_prunes_inside_it(tmp_path, monkeypatch):
    for module in (driver, final):  # the search's jobs and the test period's, no training
        monkeypatch.setattr(module, "run_series", segment_series)
    space = parse_space({"params": {"hidden": [1, 16]}, "fixed": {"epochs": 1},
                         "walk": {"refit_every": 2}})  # fmt: skip
    plan = SweepPlan(space=space, coins=("a",), trials=10, periods=Periods(valid=10, test=5),
                     top_k=2, sampler="random")  # fmt: skip
    place = Place.beside(tmp_path / "c.db", "one")
    frames = {"1d": {"a": synthetic_candles(60, coin="a")}}
    board = driver.run_sweep(frames, plan, place, engine=InlineEngine())
    trials = optuna.load_study(study_name=place.name, storage=place.storage).get_trials()
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert pruned and all(t.params["hidden"] > 4 for t in pruned)
    assert all(t.intermediate_values == {1: 1.66} for t in pruned)  # at its first segment
    assert all(sorted(t.intermediate_values) == [1, 2, 3, 4, 5] for t in complete)
    rows = {r["number"]: r for r in board["trials"]}
    assert {rows[t.number]["state"] for t in pruned} == {"pruned"}
    assert len(pruned) + len(complete) == 10
    head = f"the best of {len(complete)} configurations ({len(pruned)} more pruned) is not"
    assert board["verdict"]["words"][0].startswith(head)
